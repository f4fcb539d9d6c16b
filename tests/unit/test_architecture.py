"""The engine knows nothing of Flask, APScheduler or webhooks; the domain does no I/O."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _imports(folder: str) -> dict[str, set[str]]:
    found = {}
    for path in (ROOT / folder).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_engine_does_not_import_web_worker_or_webhooks():
    forbidden = {"flask", "apscheduler", "web", "worker", "webhooks", "pathways"}
    offenders = {p: n & forbidden for p, n in _imports("engine").items() if n & forbidden}
    assert offenders == {}


def test_only_engine_bpmn_imports_spiffworkflow():
    offenders = [p for p, n in _imports("engine").items() if "SpiffWorkflow" in n and "/bpmn/" not in p]
    assert offenders == []


def test_domain_and_calendar_do_no_io():
    io = {"sqlalchemy", "requests", "socket", "os", "subprocess", "SpiffWorkflow", "lxml"}
    modules = {**_imports("engine/domain"), "engine/calendar.py": _imports("engine")["engine/calendar.py"]}
    assert {p: n & io for p, n in modules.items() if n & io} == {}
