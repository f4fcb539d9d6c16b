"""Process owners: drafts, four-eyes publishing, version diffs and moving running cases to a new version."""

from __future__ import annotations

import pytest

from engine import services
from engine.errors import Conflict, DefinitionInvalid, InvalidInput, NotAllowed
from engine.services import accounts, modelling, versions
from tests.scenario import publish_workflows
from tests.unit.test_xml import HOSTILE
from tests.webclient import PPM_START

FIRST_REVIEW_20 = b"add_working_days(looked_after_date, 20)"
FIRST_REVIEW_25 = b"add_working_days(looked_after_date, 25)"
FAILING = "the scenarios still expect the first review after 20 working days"  # they fail: the reason is recorded


@pytest.fixture
def owners(rt):
    publish_workflows(rt)
    accounts.ensure_demo_users(rt)
    return accounts.person(rt, "po.erin"), accounts.person(rt, "po.omar")


def _edit(rt, person, old: bytes, new: bytes, key: str = "ppm_to_adm") -> dict:
    draft = modelling.start_draft(rt, person, key)
    xml = modelling.get_draft(rt, person, draft["id"])["xml"].encode()
    assert old in xml
    return modelling.save_draft_xml(rt, person, draft["id"], xml.replace(old, new), draft["revision"])


def _publish(rt, erin, omar, old: bytes, new: bytes, reason: str = "local timescale changed") -> dict:
    draft = _edit(rt, erin, old, new)
    modelling.submit_draft(rt, erin, draft["id"], reason, FAILING)
    return modelling.approve_draft(rt, omar, draft["id"], "checked against the policy")


def test_publishing_needs_a_second_process_owner_and_records_who_why_and_who_approved(rt, owners):
    erin, omar = owners
    draft = _edit(rt, erin, FIRST_REVIEW_20, FIRST_REVIEW_25)
    with pytest.raises(InvalidInput, match="say why"):
        modelling.submit_draft(rt, erin, draft["id"], " ")
    modelling.submit_draft(rt, erin, draft["id"], "first review within 25 working days (local decision)", FAILING)
    with pytest.raises(NotAllowed, match="a second process owner must approve"):
        modelling.approve_draft(rt, erin, draft["id"])
    with pytest.raises(NotAllowed, match="only process owners"):
        modelling.approve_draft(rt, accounts.person(rt, "tm.carol"), draft["id"])
    done = modelling.approve_draft(rt, omar, draft["id"], "agreed at the practice board")
    assert (done["status"], done["published_version"]) == ("published", 2)
    [v2, v1] = versions.pathway_versions(rt, erin, "ppm_to_adm")["versions"]
    assert (v2["version"], v2["published_by"], v2["approved_by"], v2["reason"]) == (
        2,
        "po.erin",
        "po.omar",
        "first review within 25 working days (local decision)",
    )
    assert v1["approved_by"] is None  # loaded from the repository by the CLI


def test_editing_a_submitted_draft_withdraws_the_submission_and_stale_saves_are_refused(rt, owners):
    erin, omar = owners
    draft = _edit(rt, erin, FIRST_REVIEW_20, FIRST_REVIEW_25)
    modelling.submit_draft(rt, erin, draft["id"], "why", FAILING)
    again = modelling.get_draft(rt, omar, draft["id"])
    assert again["status"] == "submitted"
    saved = modelling.save_draft_xml(rt, omar, draft["id"], again["xml"].encode(), again["revision"])
    assert saved["status"] == "draft"  # an approval is for what was submitted
    with pytest.raises(Conflict, match="po.omar saved this draft since you opened it"):
        modelling.save_draft_xml(rt, erin, draft["id"], again["xml"].encode(), draft["revision"])
    modelling.submit_draft(rt, omar, draft["id"], "why", FAILING)
    with pytest.raises(NotAllowed, match="submitted or last edited"):
        modelling.approve_draft(rt, omar, draft["id"])
    assert modelling.approve_draft(rt, erin, draft["id"])["published_version"] == 2  # erin did not make this one


def test_a_draft_with_problems_cannot_be_submitted_and_hostile_uploads_change_nothing(rt, owners):
    erin, _ = owners
    draft = _edit(
        rt, erin, b'name="due_source" value="Care Planning, Placement', b'name="x" value="Care Planning, Placement'
    )
    with pytest.raises(DefinitionInvalid, match="cites no source"):
        modelling.submit_draft(rt, erin, draft["id"], "why")
    for name in ("xxe", "billion laughs", "not xml"):
        with pytest.raises(DefinitionInvalid):
            modelling.upload_draft(rt, erin, "ppm_to_adm.bpmn", HOSTILE[name].encode())
    assert modelling.get_draft(rt, erin, draft["id"])["revision"] == draft["revision"]
    with pytest.raises(InvalidInput, match=".bpmn file"):
        modelling.upload_draft(rt, erin, "notes.txt", b"hello")


def test_an_upload_from_camunda_modeler_becomes_the_open_draft(rt, owners):
    erin, _ = owners
    from tests.scenario import WORKFLOWS

    content = (
        (WORKFLOWS / "sgo_assessment.bpmn")
        .read_bytes()
        .replace(b"add_weeks(expression_of_interest_date, 2)", b"add_weeks(expression_of_interest_date, 3)")
    )
    draft = modelling.upload_draft(rt, erin, "sgo_assessment.bpmn", content)
    assert (draft["key"], draft["based_on_version"], draft["status"]) == ("sgo_assessment", 1, "draft")
    assert b"expression_of_interest_date, 3)" in modelling.get_draft(rt, erin, draft["id"])["xml"].encode()
    assert modelling.upload_draft(rt, erin, "sgo_assessment.bpmn", content)["id"] == draft["id"]


def test_the_version_diff_lists_elements_added_removed_and_changed(rt, owners):
    erin, omar = owners
    _publish(rt, erin, omar, FIRST_REVIEW_20, FIRST_REVIEW_25)
    diff = versions.version_diff(rt, erin, "ppm_to_adm", 1, 2)
    [changed] = [c for c in diff["changed"] if c["id"] == "Task_FirstReview"]
    assert (
        "due date: '20 working days after the looked after date' → '25 working days after the looked after date'"
        in (changed["what"])
    )
    assert diff["added"] == [] and diff["removed"] == []
    renamed = versions.diff_diagrams(
        '<?xml version="1.0"?>' + _ppm_xml(rt), _ppm_xml(rt).replace("Task_CPR", "Task_ChildPermanenceReport")
    )
    assert {"id": "Task_ChildPermanenceReport", "kind": "userTask", "name": "Write the Child's Permanence Report"} in (
        renamed["added"]
    )
    assert "Task_CPR" in [r["id"] for r in renamed["removed"]]


def _ppm_xml(rt) -> str:
    from engine.services import worklist

    return worklist.pathway_diagram(rt, "ppm_to_adm", 1).split("?>", 1)[1]


def _first_review(case: dict) -> dict:
    return next(t for t in case["open_tasks"] if t["element"] == "Task_FirstReview")


def test_running_cases_stay_on_their_version_until_moved_and_then_follow_the_new_dates(rt, owners, now):
    erin, omar = owners
    old = services.start_case(rt, "ppm_to_adm", "CH-OLD", PPM_START, "sw.alice", team="north")
    assert _first_review(old)["due"] == "2027-01-20"
    _publish(rt, erin, omar, FIRST_REVIEW_20, FIRST_REVIEW_25)
    new = services.start_case(rt, "ppm_to_adm", "CH-NEW", PPM_START, "sw.alice", team="north")
    assert (new["version"], _first_review(new)["due"]) == (2, "2027-01-27")
    assert services.show_case(rt, "CH-OLD")["version"] == 1  # stays on its version
    assert [c["ref"] for c in versions.running_cases(rt, erin, "ppm_to_adm")] == ["CH-OLD"]
    with pytest.raises(InvalidInput, match="say why"):
        versions.migrate_cases(rt, erin, "ppm_to_adm", [old["id"]], 2, "")
    changes = [
        {"kind": "step", "name": "Hold the first CLA review", "before": "2027-01-20", "after": "2027-01-27"},
        {"kind": "clock", "name": "First CLA review (running)", "before": "2027-01-20", "after": "2027-01-27"},
    ]
    preview = versions.preview_migration(rt, erin, "ppm_to_adm", [old["id"], new["id"]], 2, "new local timescale")
    assert preview["moving"] == [{"case_id": old["id"], "ref": "CH-OLD", "from": 1, "to": 2, "changes": changes}]
    assert services.show_case(rt, "CH-OLD")["version"] == 1  # a preview moves nothing
    result = versions.migrate_cases(rt, erin, "ppm_to_adm", [old["id"], new["id"]], 2, "new local timescale")
    assert result["migrated"] == [{"case_id": old["id"], "ref": "CH-OLD", "from": 1, "to": 2, "changes": changes}]
    assert result["refused"] == [{"case_id": new["id"], "reason": "case CH-NEW is already on version 2"}]
    moved = services.show_case(rt, "CH-OLD")
    assert (moved["version"], _first_review(moved)["due"]) == (2, "2027-01-27")
    assert [
        (e["actor"], e["detail"], e["before"], e["after"]) for e in moved["audit"] if e["action"] == "case.migrated"
    ] == [("po.erin", "new local timescale", {"version": 1}, {"version": 2, "dates_changed": changes})]
    [clock] = [d for d in moved["deadlines"] if d["name"] == "First CLA review"]
    assert (clock["due"], clock["status"]) == ("2027-01-27", "running")  # the running clock follows the new rule
    review = _first_review(moved)
    now.advance(days=33)  # the review is held on 20 January, and recorded that day
    services.complete_task(rt, review["id"], {"first_review_date": "2027-01-20", "ppm_requested": True}, "iro.bob")
    assert "Task_UpdateCarePlan" in [t["element"] for t in services.list_tasks(rt, ref="CH-OLD")]


def test_moving_a_case_never_moves_a_met_or_breached_clock(rt, owners, now):
    erin, omar = owners
    held = services.start_case(rt, "ppm_to_adm", "CH-MET", PPM_START, "sw.alice", team="north")
    late = services.start_case(rt, "ppm_to_adm", "CH-LATE", PPM_START, "sw.alice", team="north")
    now.advance(days=35)  # 22 January: CH-MET's review was held on 20 January; CH-LATE's is still not held
    services.complete_task(rt, _first_review(held)["id"], {"first_review_date": "2027-01-20", "ppm_requested": True},
                           "iro.bob")  # fmt: skip
    services.mark_breached_deadlines(rt, now())
    _publish(rt, erin, omar, FIRST_REVIEW_20, FIRST_REVIEW_25)
    result = versions.migrate_cases(rt, erin, "ppm_to_adm", [held["id"], late["id"]], 2, "new local timescale")
    assert [m["ref"] for m in result["migrated"]] == ["CH-MET", "CH-LATE"]
    met = next(d for d in services.show_case(rt, "CH-MET")["deadlines"] if d["name"] == "First CLA review")
    assert (met["status"], met["due"], met["met_on"]) == ("met", "2027-01-20", "2027-01-20")
    shown = services.show_case(rt, "CH-LATE")
    breached = next(d for d in shown["deadlines"] if d["name"] == "First CLA review")
    assert (breached["status"], breached["due"]) == ("breached", "2027-01-20")  # a fact of the plan: never moved
    assert _first_review(shown)["due"] == "2027-01-27"  # the open step takes the new version's due date
    assert not [c for m in result["migrated"] for c in m["changes"] if c["kind"] == "clock"]


def test_a_case_waiting_at_an_element_the_new_version_lacks_is_refused_with_the_reason(rt, owners, now):
    erin, omar = owners
    case = services.start_case(rt, "ppm_to_adm", "CH-1", PPM_START, "sw.alice", team="north")
    _publish(rt, erin, omar, b"Task_FirstReview", b"Task_FirstCLAReview", reason="renamed step")
    result = versions.migrate_cases(rt, erin, "ppm_to_adm", [case["id"]], 2, "tidy up")
    assert result["migrated"] == []
    assert result["refused"][0]["reason"] == "case CH-1 waits at Task_FirstReview, which version 2 does not have"
    after = services.show_case(rt, "CH-1")
    assert after["version"] == 1 and "case.migrated" not in [e["action"] for e in after["audit"]]
    with pytest.raises(NotAllowed, match="only process owners"):
        versions.migrate_cases(rt, accounts.person(rt, "tm.carol"), "ppm_to_adm", [case["id"]], 2, "x")
