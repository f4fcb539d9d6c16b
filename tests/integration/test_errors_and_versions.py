"""Error isolation and retry; publishing versions; refusing hostile diagrams."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine import services
from engine.errors import DefinitionInvalid, NotAllowed
from tests.conftest import DIAGRAMS, load
from tests.scenario import complete_review_setup


def test_a_failing_script_puts_only_that_case_in_error_and_retry_after_a_fix_works(rt, now):
    load(rt, "broken_script.bpmn", "review_cycle.bpmn")
    bad = services.start_case(rt, "test_broken_script", "CH-1", {"divisor": 0}, "sw.alice")
    good = services.start_case(rt, "test_broken_script", "CH-2", {"divisor": 2}, "sw.alice")
    other = services.start_case(rt, "test_review_cycle", "CH-3", {"looked_after_date": "2026-12-18"}, "sw.alice")
    assert bad["status"] == "error"
    assert bad["error"]["element"] == "Script_Divide" and "ZeroDivisionError" in bad["error"]["message"]
    assert other["status"] == "running"
    # CH-2 passes the script but its step's due date refers to data nobody recorded.
    assert good["status"] == "error" and good["error"]["element"] == "Task_Record"
    assert "could not work out the date" in good["error"]["message"]

    with pytest.raises(NotAllowed):
        services.retry_case(rt, "CH-3", "tm.carol")
    after = services.retry_case(rt, "CH-1", "tm.carol", {"divisor": 5})
    assert after["status"] == "error" and after["error"]["element"] == "Task_Record"  # the next problem
    fixed = services.retry_case(rt, "CH-1", "tm.carol", {"today_marker": "2026-12-18"})
    assert fixed["status"] == "running" and fixed["error"] is None
    assert fixed["open_tasks"][0]["due"] == "2026-12-29"
    actions = [e["action"] for e in fixed["audit"]]
    assert actions.count("case.error") == 1 and actions.count("case.retried") == 2
    services.complete_task(rt, fixed["open_tasks"][0]["id"], {"noted": True}, "sw.alice")
    done = services.show_case(rt, "CH-1")
    assert (done["status"], done["outcome"]) == ("completed", "ratio recorded")


def test_the_timer_sweep_goes_on_past_a_broken_case(rt, now, monkeypatch):
    load(rt, "review_cycle.bpmn")
    for ref, looked_after in (("CH-1", "2026-12-18"), ("CH-2", "2026-12-17"), ("CH-3", "2026-12-18")):
        services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": looked_after}, "sw")
        complete_review_setup(rt, ref, looked_after)
    original = rt.bpmn.fire_timers

    def explode_for_ch2(workflow):  # an unexpected failure inside one case (CH-2's data)
        if str(rt.bpmn.data(workflow)["looked_after_date"]) == "2026-12-17":
            raise RuntimeError("disk on fire")
        return original(workflow)

    monkeypatch.setattr(rt.bpmn, "fire_timers", explode_for_ch2)
    counts = services.fire_due_timers(rt, datetime(2027, 1, 21, 1, tzinfo=UTC))
    assert counts["cases_fired"] == 2 and counts["cases_failed"] == 1
    assert "Task_ChaseReview" not in [t["element"] for t in services.list_tasks(rt, ref="CH-2")]
    monkeypatch.setattr(rt.bpmn, "fire_timers", original)  # the cause is fixed: the next sweep fires it
    assert services.fire_due_timers(rt, datetime(2027, 1, 21, 2, tzinfo=UTC))["cases_fired"] == 1


def test_unchanged_files_do_not_publish_and_running_cases_keep_their_version(rt, now, tmp_path):
    source = (DIAGRAMS / "review_cycle.bpmn").read_text()
    (tmp_path / "review_cycle.bpmn").write_text(source)
    first = services.publish_directory(rt, tmp_path, "po.erin")
    again = services.publish_directory(rt, tmp_path, "po.erin")
    assert [(r.version, r.changed) for r in first + again] == [(1, True), (1, False)]
    old_case = services.start_case(rt, "test_review_cycle", "CH-1", {"looked_after_date": "2026-12-18"}, "sw")

    (tmp_path / "review_cycle.bpmn").write_text(source.replace("add_working_days(looked_after_date, 10)",
                                                               "add_working_days(looked_after_date, 15)"))  # fmt: skip
    changed = services.publish_directory(rt, tmp_path, "po.erin")
    assert [(r.version, r.changed) for r in changed] == [(2, True)]
    new_case = services.start_case(rt, "test_review_cycle", "CH-2", {"looked_after_date": "2026-12-18"}, "sw")
    assert (old_case["version"], old_case["open_tasks"][0]["due"]) == (1, "2027-01-06")
    assert (new_case["version"], new_case["open_tasks"][0]["due"]) == (2, "2027-01-13")
    task = services.list_tasks(rt, ref="CH-1")[0]
    services.complete_task(rt, task["id"], {"care_plan_date": "2026-12-18"}, "sw")
    assert services.show_case(rt, "CH-1")["version"] == 1
    assert services.list_definitions(rt)[0]["version"] == 2


HOSTILE_PROPERTY = "<camunda:property name=\"due\" value=\"__import__('os').system('id')\" />"


@pytest.mark.parametrize(
    "change",
    [
        ("next_review_due</bpmn:timeDate>", "open('/etc/passwd').read()</bpmn:timeDate>"),
        ("continue_reviews == True</bpmn:conditionExpression>",
         "().__class__.__bases__[0]</bpmn:conditionExpression>"),
        ("reviews_held = 0", "import os"),
        ('<camunda:property name="due" value="add_working_days(looked_after_date, 10)" />', HOSTILE_PROPERTY),
        ('<?xml version="1.0" encoding="UTF-8"?>',
         '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>'),
    ],
)  # fmt: skip
def test_hostile_diagrams_are_refused_and_nothing_is_published(rt, tmp_path, change):
    source = (DIAGRAMS / "review_cycle.bpmn").read_text()
    assert change[0] in source
    (tmp_path / "review_cycle.bpmn").write_text(source.replace(change[0], change[1]))
    (tmp_path / "called_panel.bpmn").write_text((DIAGRAMS / "called_panel.bpmn").read_text())
    with pytest.raises(DefinitionInvalid, match="nothing was loaded"):
        services.publish_directory(rt, tmp_path, "po.erin")
    assert services.list_definitions(rt) == []


def test_a_call_activity_in_another_file_runs_and_records_its_outcome(rt, now):
    load(rt, "calls_panel.bpmn", "called_panel.bpmn")
    now.set(datetime(2027, 4, 1, 10, tzinfo=UTC))  # started the day the request came
    case = services.start_case(rt, "test_caller", "CH-9", {"request_date": "2027-04-01"}, "sw")
    assert case["open_tasks"][0]["element"] == "Task_PanelDecision"
    assert case["open_tasks"][0]["due"] == "2027-04-28"  # last Wednesday of April 2027
    services.complete_task(rt, case["open_tasks"][0]["id"], {"panel_decision": "reject"}, "chair")
    assert services.show_case(rt, "CH-9")["outcome"] == "rejected at panel"


def test_a_call_to_an_unknown_process_is_refused(rt, tmp_path):
    (tmp_path / "calls_panel.bpmn").write_text((DIAGRAMS / "calls_panel.bpmn").read_text())
    with pytest.raises(DefinitionInvalid, match="test_panel"):
        services.publish_directory(rt, tmp_path, "po.erin")
