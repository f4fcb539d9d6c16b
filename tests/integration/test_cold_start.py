"""A cold process on a loaded machine starts cases with none in error (issue 15, defect 1).

Each process is new (nothing cached, the holiday tables not built) and two other processes keep
both cores busy. The expression budget is set twenty times stricter than production (50 ms): it
counts only the expression's own CPU time, and the calendar is built at start, untraced, so the
first working-day expression of a process costs microseconds. Before the fix the first one built
the tables under a wall-clock tracer (0.87-1.01 s measured) and fell into error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from engine.persistence.models import Case
from tests.scenario import publish_workflows

ROOT = Path(__file__).parents[2]
COLD_PROCESS = """
import json, sys
from engine import services
from engine.bootstrap import bootstrap
from engine.config import Settings

rt = bootstrap(Settings(database_url=sys.argv[1]))
rt.bpmn.script_engine.environment.time_limit = 0.05
from datetime import date, timedelta
looked_after = (date.today() - timedelta(days=5)).isoformat()  # this process runs on the real clock
start = {"date_of_birth": "2020-03-01", "looked_after_date": looked_after, "in_care_proceedings": False}
states = [services.start_case(rt, "ppm_to_adm", f"CH-C{sys.argv[2]}{n:02}", start, "sw.alice", team="north")["status"]
          for n in range(int(sys.argv[3]))]
print(json.dumps(states))
"""
BUSY = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end:\n    pass\n"


def test_cold_processes_on_a_busy_machine_start_fifty_cases_with_none_in_error(rt, subprocess_database_url):
    publish_workflows(rt)
    load = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        states = []
        for process in range(5):
            done = subprocess.run([sys.executable, "-c", COLD_PROCESS, subprocess_database_url, str(process), "10"],
                                  cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
            states += json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        for busy in load:
            busy.kill()
            busy.wait()
    assert len(states) == 50
    assert "error" not in states, states
    with rt.uow() as uow:
        stored = list(uow.session.scalars(select(Case.status)))
    assert len(stored) == 50 and set(stored) <= {"running", "waiting"}
