"""Every pathway scenario in workflows/scenarios/*.json, run against the published diagrams; and the runner itself."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from engine.errors import InvalidInput
from engine.persistence import summary, tallies
from engine.services import scenarios
from tests.scenario import WORKFLOWS, publish_workflows

DOCUMENTS = scenarios.scenario_files(WORKFLOWS / "scenarios")
ALL = [(key, i, s) for key, d in sorted(DOCUMENTS.items()) for i, s in enumerate(d["scenarios"], start=1)]


def test_every_pathway_has_scenarios():
    assert set(DOCUMENTS) == {"ppm_to_adm", "relinquished_baby", "sgo_assessment", "placement_order_revocation"}


@pytest.mark.parametrize(("key", "index", "scenario"), ALL, ids=[f"{k}-{i}" for k, i, _ in ALL])
def test_scenario(rt, key, index, scenario):
    publish_workflows(rt)
    outcome = scenarios.run_scenario(rt, key, scenario, index, DOCUMENTS[key]["today"])
    assert outcome.passed, f"{scenario['name']}: step {outcome.failed_step}: {outcome.message}"
    assert outcome.steps == len(scenario["steps"])
    assert_summaries_hold(rt)


def assert_summaries_hold(rt) -> None:
    """Every case's stored summary (cases at risk rank by it) equals one worked out afresh from its rows,
    and every kept tally (the managers' figures) equals one counted afresh, before and after folding."""
    columns = "id, next_step_due, next_deadline_due, waiting_since, delay_noted, risk_due"
    with rt.db.connect() as conn:
        stored = conn.execute(text(f"SELECT {columns} FROM cases ORDER BY id")).all()
        summary.refresh(conn)
        fresh = conn.execute(text(f"SELECT {columns} FROM cases ORDER BY id")).all()
        conn.rollback()
    assert stored == fresh
    with rt.uow() as uow:
        assert tallies.kept(uow.session) == tallies.recount(uow.session)
        assert tallies.fold(uow.session) > 0
        uow.commit()
    with rt.uow() as uow:
        assert tallies.kept(uow.session) == tallies.recount(uow.session)
        assert uow.session.scalar(text("SELECT count(*) FROM tally_deltas")) == 0


def _first(key: str) -> dict:
    return json.loads(json.dumps(DOCUMENTS[key]["scenarios"][0]))  # a copy to change


def test_a_wrong_expectation_fails_at_its_step_with_what_was_found(rt):
    publish_workflows(rt)
    scenario = _first("ppm_to_adm")
    scenario["steps"][0]["due"] = {"Task_FirstReview": "2027-01-19"}
    outcome = scenarios.run_scenario(rt, "ppm_to_adm", scenario)
    assert (outcome.passed, outcome.failed_step) == (False, 1)
    assert outcome.message == "due date of Task_FirstReview: expected '2027-01-19', found '2027-01-20'"


def test_a_step_that_is_not_open_or_refused_fails_the_scenario(rt):
    publish_workflows(rt)
    scenario = _first("ppm_to_adm")
    scenario["steps"][1]["do"] = "Task_HoldPPM"
    outcome = scenarios.run_scenario(rt, "ppm_to_adm", scenario)
    assert (
        outcome.failed_step == 2
        and "'Task_HoldPPM' is not open (open: Task_FamilyNetworkMeeting, Task_FirstReview, Task_ParallelPlan)"
        in outcome.message
    )
    scenario = _first("ppm_to_adm")
    scenario["steps"][1]["answers"] = {"first_review_date": "not a date", "ppm_requested": True}
    outcome = scenarios.run_scenario(rt, "ppm_to_adm", scenario, index=2)
    assert outcome.failed_step == 2 and "first_review_date" in outcome.message
    scenario = _first("ppm_to_adm")
    scenario["steps"][1]["refused"] = "GateClosed"
    outcome = scenarios.run_scenario(rt, "ppm_to_adm", scenario, index=3)
    assert (outcome.failed_step, outcome.message) == (2, "expected GateClosed, but it was accepted")


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "not a readable scenario file"),
    ('{"scenarios": []}', "needs a 'pathway'"),
    ('{"pathway": "x", "scenarios": [{"name": "a"}]}', "scenario 1 needs a 'name' and a list of 'steps'"),
    ('{"pathway": "x", "scenarios": [{"name": "a", "steps": [{"do": "T", "expect": 1}]}]}', "step 1: unknown expect"),
])  # fmt: skip
def test_a_malformed_file_is_refused_before_anything_runs(tmp_path, content, message):
    (tmp_path / "x.json").write_text(content)
    with pytest.raises(InvalidInput, match=message):
        scenarios.scenario_files(tmp_path)
