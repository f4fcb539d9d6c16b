"""Issue 21 item 3: the approver decides on evidence. A draft's failing scenario tests are updated in the app
(each to what the draft now does) or the failure is explained; the approver sees the change in words, the
sample case's dates before and after, the tests as they ran at submit and the expectations changed; the
changed scenarios are published with the draft and used from then on."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from engine.errors import InvalidInput, NotAllowed
from engine.persistence.models import AuditEvent, ScenarioDocument
from engine.services import accounts, approval, modelling, scenarios
from tests.scenario import publish_workflows

TWO_WEEKS = "add_weeks(expression_of_interest_date, 2)"
THREE_WEEKS = "add_weeks(expression_of_interest_date, 3)"


@pytest.fixture
def owners(rt):
    publish_workflows(rt)
    accounts.ensure_demo_users(rt)
    return accounts.person(rt, "po.erin"), accounts.person(rt, "po.omar")


def _three_week_visit(rt, erin) -> dict:
    draft = modelling.start_draft(rt, erin, "sgo_assessment")
    xml = modelling.get_draft(rt, erin, draft["id"])["xml"]
    assert TWO_WEEKS in xml
    return modelling.save_draft_xml(rt, erin, draft["id"], xml.replace(TWO_WEEKS, THREE_WEEKS).encode(),
                                    draft["revision"])  # fmt: skip


def _accept_every_fix(rt, erin, draft_id: int) -> list[dict]:
    """What an owner does on the scenario page: "Expect ... instead" on each failing check, until none fails."""
    accepted = []
    for _ in range(20):
        failing = [o for o in scenarios.run_for_draft(rt, erin, draft_id).outcomes if not o.passed]
        if not failing:
            return accepted
        for outcome in failing:
            assert outcome.fix, outcome  # every failure this change causes is a date the owner can accept
            fix = outcome.fix
            accepted.append(scenarios.update_scenario(rt, erin, draft_id, outcome.pathway, outcome.scenario,
                                                      outcome.failed_step, fix["path"], fix["value"]))  # fmt: skip
    raise AssertionError("the scenarios never settled")


def test_failing_scenarios_need_a_reason_and_the_approver_sees_it_with_the_dates_and_the_change(rt, owners):
    erin, omar = owners
    draft = _three_week_visit(rt, erin)
    with pytest.raises(InvalidInput, match="8 scenario test.s. fail against this draft") as refused:
        modelling.submit_draft(rt, erin, draft["id"], "Derby now allows three weeks for the first visit")
    assert {o["fix"]["value"] for o in refused.value.details["failing"]} == {"2027-01-25", "2027-05-17"}
    modelling.submit_draft(rt, erin, draft["id"], "Derby now allows three weeks for the first visit",
                           "the scenarios will be updated after the practice board")  # fmt: skip

    shown = approval.evidence(rt, omar, draft["id"], {"expression_of_interest_date": date(2027, 1, 4)})
    [visit] = [c for c in shown["diff"]["changed"] if c["id"] == "Task_VisitCarers"]
    assert visit["what"] == ["due date: '2 weeks after the expression of interest date' → "
                             "'3 weeks after the expression of interest date'"]  # fmt: skip
    [due] = [r for r in shown["dates"] if r["element"] == "Task_VisitCarers" and r["kind"] == "step"]
    assert (due["before"], due["after"], due["changed"]) == ("2027-01-18", "2027-01-25", True)
    assert shown["dates"][0]["changed"]  # what changes comes first
    assert len(shown["failing"]) == 8 and len(shown["scenario_run"]["outcomes"]) == 12
    assert shown["failing_reason"] == "the scenarios will be updated after the practice board"
    assert shown["scenario_changes"] == []


def test_an_owner_updates_the_failing_scenarios_submits_clean_and_they_publish_with_the_draft(rt, owners):
    erin, omar = owners
    draft = _three_week_visit(rt, erin)
    accepted = _accept_every_fix(rt, erin, draft["id"])
    assert {(a["before"], a["after"]) for a in accepted} == {("2027-01-18", "2027-01-25"), ("2027-05-10", "2027-05-17")}
    modelling.submit_draft(rt, erin, draft["id"], "Derby now allows three weeks for the first visit")  # none needed
    with pytest.raises(NotAllowed, match="scenarios change only with a draft being edited"):
        scenarios.update_scenario(rt, erin, draft["id"], "sgo_assessment", 1, 1, ["due", "Task_VisitCarers"], "x")

    shown = approval.evidence(rt, omar, draft["id"])
    assert shown["failing"] == [] and shown["failing_reason"] is None
    first = "Foster carers assessed in twelve weeks approved at panel and sgo made"
    change = {"key": "sgo_assessment", "scenario": first, "step": 1, "check": "due Task_VisitCarers",
              "before": "2027-01-18", "after": "2027-01-25"}  # fmt: skip
    assert change in shown["scenario_changes"]
    modelling.approve_draft(rt, omar, draft["id"], "agreed")

    with rt.uow() as uow:
        published = uow.session.scalars(select(ScenarioDocument).where(ScenarioDocument.state == "published")).all()
        assert [row.key for row in published] == ["sgo_assessment"]
        audited = {e.action for e in uow.session.scalars(select(AuditEvent).where(AuditEvent.case_id.is_(None)))}
        assert {"scenario.updated", "scenario.published", "draft.approved"} <= audited
        documents = scenarios.current_documents(rt, uow.session)
    first = documents["sgo_assessment"]["scenarios"][0]["steps"][0]
    assert first["due"] == {"Task_VisitCarers": "2027-01-25"}  # the published expectations are used from now on
    again = modelling.start_draft(rt, erin, "sgo_assessment")
    assert all(o.passed for o in scenarios.run_for_draft(rt, erin, again["id"]).outcomes)


def test_a_scenario_change_must_name_a_check_that_exists(rt, owners):
    erin, _ = owners
    draft = _three_week_visit(rt, erin)
    for path in (["due", "Task_Nowhere"], ["answers", "carers_proceed"], []):
        with pytest.raises(InvalidInput, match="checks nothing at"):
            scenarios.update_scenario(rt, erin, draft["id"], "sgo_assessment", 1, 1, path, "2027-01-25")
    with pytest.raises(InvalidInput, match="checks nothing at"):
        scenarios.update_scenario(rt, erin, draft["id"], "sgo_assessment", 99, 1, ["due", "Task_VisitCarers"], "x")
