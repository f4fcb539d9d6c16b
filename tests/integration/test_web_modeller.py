"""Process owners in the web app: versions, the draft page, save/check JSON, four eyes, diff, migration."""

from __future__ import annotations

import json
import re

from engine import services
from engine.services import accounts, modelling
from tests.scenario import WORKFLOWS
from tests.webclient import PPM_START, Staff

TWENTY, TWENTY_FIVE = "add_working_days(looked_after_date, 20)", "add_working_days(looked_after_date, 25)"


def _json(staff: Staff, path: str, body: dict, status: int = 200):
    response = staff.client.post(path, json=body, headers={"X-CSRF-Token": staff.csrf})
    assert response.status_code == status, (path, response.status_code, response.text[:2000])
    return response.json


def test_only_process_owners_reach_the_modeller(app):
    carol = Staff(app, "tm.carol")
    for path in ("/modeller", "/modeller/pathways/ppm_to_adm", "/modeller/pathways/ppm_to_adm/v1.bpmn"):
        carol.get(path, status=403)
    carol.post("/modeller/pathways/ppm_to_adm/draft", status=403)
    assert "Pathway diagrams" in Staff(app, "po.erin").get("/modeller").text


def test_edit_check_submit_approve_diff_and_migrate_in_the_app(app, rt):
    old = services.start_case(rt, "ppm_to_adm", "CH-OLD", PPM_START, "sw.alice", team="north")
    erin, omar = Staff(app, "po.erin"), Staff(app, "po.omar")
    opened = erin.post("/modeller/pathways/ppm_to_adm/draft")
    draft_url = opened.headers["Location"]
    page = erin.get(draft_url).text
    assert "No problems: this draft can be published." in page and 'data-revision="1"' in page
    xml = erin.get(draft_url + "/diagram.bpmn").text
    edited = xml.replace(TWENTY, TWENTY_FIVE)
    checked = _json(erin, draft_url + "/check", {"xml": edited, "anchors": {"looked_after_date": "2026-12-18"}})
    review = next(d for d in checked["dates"] if d["element"] == "Task_FirstReview" and d["kind"] == "step")
    assert review["due"] == "2027-01-27"
    assert [p for p in checked["problems"] if p["severity"] != "warning"] == []  # bpmnlint's advice only
    broken = _json(erin, draft_url + "/check", {"xml": edited.replace(TWENTY_FIVE, "add_working_days(lookd, 25)")})
    assert any(p["element"] == "Task_FirstReview" and "lookd" in p["message"] for p in broken["problems"])
    saved = _json(erin, draft_url + "/save", {"xml": edited, "revision": 1})
    assert saved["revision"] == 2
    stale = _json(omar, draft_url + "/save", {"xml": xml, "revision": 1}, status=409)
    assert "po.erin saved this draft since you opened it" in stale["error"]
    hostile = _json(erin, draft_url + "/save", {"xml": "<!DOCTYPE x [<!ENTITY a 'b'>]><x/>", "revision": 2}, status=400)
    assert "DOCTYPE" in hostile["error"]
    refused = erin.post(draft_url + "/submit", {"reason": "first review within 25 working days"})
    assert refused.headers["Location"].endswith("#failing_reason")  # its scenario tests fail: say why, or update them
    page = erin.get(draft_url).text
    assert "scenario test(s) fail against this draft" in page and "first review within 25 working days" in page
    erin.post(draft_url + "/submit", {"reason": "first review within 25 working days",
                                      "failing_reason": "the scenarios still expect 20 working days"})  # fmt: skip
    assert "a second process owner must approve" in erin.post(draft_url + "/approve", {}, status=403).text
    assert "Approve and publish" not in erin.get(draft_url).text and "Approve and publish" in omar.get(draft_url).text
    evidence = omar.get(draft_url).text  # the approver decides on the change in words, the dates and the tests
    assert "due date: &#39;20 working days after the looked after date&#39; → &#39;25 working days" in evidence
    assert re.search(r'data-element="Task_FirstReview">.*?20 January 2027.*?27 January 2027', evidence, re.S)
    assert "scenario tests fail against this draft" in evidence
    assert "the scenarios still expect 20 working days" in evidence
    done = omar.post(draft_url + "/approve", {"note": "agreed"})
    assert done.headers["Location"] == "/modeller/pathways/ppm_to_adm"
    versions = omar.get("/modeller/pathways/ppm_to_adm").text
    assert "first review within 25 working days" in versions and "po.omar" in versions and "CH-OLD" in versions
    diff = omar.get("/modeller/pathways/ppm_to_adm/diff?from=1&to=2").text
    assert "Hold the first CLA review" in diff and "25 working days after the looked after date" in diff
    new = services.start_case(rt, "ppm_to_adm", "CH-NEW", PPM_START, "sw.alice", team="north")
    assert (new["version"], services.show_case(rt, "CH-OLD")["version"]) == (2, 1)
    move = {"csrf_token": erin.csrf, "case_id": [str(old["id"])], "to_version": "2", "reason": "new timescale"}
    check = erin.client.post("/modeller/pathways/ppm_to_adm/migrate", data=move)
    assert check.status_code == 200 and "Check the dates before you move 1 case to version 2" in check.text
    assert re.search(r"Hold the first CLA review.*?20 January 2027.*?27 January 2027", check.text, re.S)
    assert services.show_case(rt, "CH-OLD")["version"] == 1  # nothing moves until it is confirmed
    erin.client.post("/modeller/pathways/ppm_to_adm/migrate", data={**move, "confirmed": "yes"})
    assert "Moved 1 case(s) to version 2: CH-OLD." in erin.get("/modeller/pathways/ppm_to_adm").text
    [review] = [t for t in services.show_case(rt, "CH-OLD")["open_tasks"] if t["element"] == "Task_FirstReview"]
    assert review["due"] == "2027-01-27"


def test_upload_and_download(app, rt):
    erin = Staff(app, "po.erin")
    content = erin.get("/modeller/pathways/sgo_assessment/v1.bpmn").data
    assert content.startswith(b"<?xml")
    import io

    response = erin.client.post("/modeller/upload", data={"csrf_token": erin.csrf, "diagram": (io.BytesIO(
        content.replace(b"add_weeks(expression_of_interest_date, 2)", b"add_weeks(expression_of_interest_date, 3)")),
        "sgo_assessment.bpmn")}, content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302
    [draft] = modelling.list_drafts(rt, accounts.person(rt, "po.erin"))
    assert draft["key"] == "sgo_assessment"
    evil = erin.client.post("/modeller/upload", data={"csrf_token": erin.csrf, "diagram": (io.BytesIO(
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'), "evil.bpmn")},
        content_type="multipart/form-data")  # fmt: skip
    assert evil.status_code == 400 and "DOCTYPE" in evil.text
    assert len(modelling.list_drafts(rt, accounts.person(rt, "po.erin"))) == 1
    from_bpmn_io = content.replace(b' camunda:historyTimeToLive="36500"', b"")  # the gate runs at upload too
    stored = erin.client.post("/modeller/upload", data={"csrf_token": erin.csrf, "diagram": (io.BytesIO(
        from_bpmn_io), "sgo_assessment.bpmn")}, content_type="multipart/form-data", follow_redirects=True)  # fmt: skip
    assert "It has 1 problem(s) to fix before it can be submitted" in stored.text
    assert "has no camunda:historyTimeToLive" in stored.text


def test_scenario_tests_run_against_a_draft_on_a_scratch_database(app, rt):
    erin = Staff(app, "po.erin")
    draft_url = erin.post("/modeller/pathways/ppm_to_adm/draft").headers["Location"]
    assert "Run the scenario tests" in erin.get(draft_url).text
    passed = erin.post(draft_url + "/scenarios", status=200).text
    written = len(json.loads((WORKFLOWS / "scenarios" / "ppm_to_adm.json").read_text())["scenarios"])
    assert f"All {written} scenario tests passed" in passed and 'data-passed="no"' not in passed
    xml = erin.get(draft_url + "/diagram.bpmn").text
    _json(erin, draft_url + "/save", {"xml": xml.replace(TWENTY, TWENTY_FIVE), "revision": 1})
    failed = erin.post(draft_url + "/scenarios", status=200).text
    assert "scenario tests failed" in failed
    assert "due date of Task_FirstReview: expected &#39;2027-01-20&#39;, found &#39;2027-01-27&#39;" in failed
    assert services.list_tasks(rt) == []  # nothing ran on the real database
    panel = erin.post("/modeller/pathways/permanency_panel/draft").headers["Location"]
    callers = erin.post(panel + "/scenarios", status=200).text
    # the panel has no scenarios of its own: those of every pathway that calls it run against the draft
    assert "Pathways run: permanency_panel, placement_order_revocation, ppm_to_adm, sgo_assessment." in callers
    calling = sum(len(json.loads((WORKFLOWS / "scenarios" / f"{key}.json").read_text())["scenarios"])
                  for key in ("placement_order_revocation", "ppm_to_adm", "sgo_assessment"))  # fmt: skip
    assert "Without scenario tests: permanency_panel." in callers and f"All {calling} scenario tests passed" in callers
    Staff(app, "tm.carol").post(draft_url + "/scenarios", status=403)


def test_a_draft_that_does_not_publish_says_why_instead_of_running(app, rt):
    erin = Staff(app, "po.erin")
    draft_url = erin.post("/modeller/pathways/ppm_to_adm/draft").headers["Location"]
    xml = erin.get(draft_url + "/diagram.bpmn").text
    _json(erin, draft_url + "/save", {"xml": xml.replace(TWENTY, "add_working_days(lookd, 25)"), "revision": 1})
    refused = erin.post(draft_url + "/scenarios", status=400).text
    assert "The scenario tests could not run" in refused and "lookd" in refused


def test_the_modellers_check_refuses_bombs_and_a_zero_cycle_within_a_second(app):
    """Issue 15: three gunicorn workers were killed from this check by one expression each."""
    import re
    import time

    erin = Staff(app, "po.erin")
    draft_url = erin.post("/modeller/pathways/ppm_to_adm/draft").headers["Location"]
    xml = erin.get(draft_url + "/diagram.bpmn").text
    for bomb, expected in (("(((10**64)**64)**64)**12", "too large"), ("'a'.ljust(900000000)", "too large"),
                           ("'ab' * 900000000", "too large")):  # fmt: skip
        started = time.monotonic()
        checked = _json(erin, draft_url + "/check", {"xml": xml.replace(TWENTY, bomb.replace("'", "&apos;"))})
        assert time.monotonic() - started < 1.0
        assert any(expected in p["message"] for p in checked["problems"]), checked["problems"]
    timer = re.search(r"<bpmn:(timeDate|timeDuration)[^>]*>[^<]*</bpmn:\1>", xml)
    assert timer is not None
    cycle = xml.replace(timer.group(0), '<bpmn:timeCycle>"R/PT0S"</bpmn:timeCycle>')
    checked = _json(erin, draft_url + "/check", {"xml": cycle})
    assert any("repeats every 0:00:00" in p["message"] for p in checked["problems"]), checked["problems"]


def test_a_failing_scenario_is_updated_from_its_result_and_the_tests_run_again(app, rt):
    erin = Staff(app, "po.erin")
    draft_url = erin.post("/modeller/pathways/sgo_assessment/draft").headers["Location"]
    xml = erin.get(draft_url + "/diagram.bpmn").text
    two, three = "add_weeks(expression_of_interest_date, 2)", "add_weeks(expression_of_interest_date, 3)"
    _json(erin, draft_url + "/save", {"xml": xml.replace(two, three), "revision": 1})
    failed = erin.post(draft_url + "/scenarios", status=200).text
    assert "8 of 12 scenario tests failed" in failed and "Expect all 8 new values" in failed
    forms = re.findall(r'<form method="post" action="[^"]+/scenarios/update" class="pp-inline-form">.*?</form>', failed,
                       re.S)  # fmt: skip
    assert len(forms) == 8 and "due date of Task_VisitCarers: expected &#39;2027-01-18&#39;, found" in failed
    one = json.loads(html_unescape(re.search(r'name="changes" value="([^"]*)"', forms[0]).group(1)))
    assert one == [{"key": "sgo_assessment", "scenario": one[0]["scenario"], "step": 1,
                    "path": ["due", "Task_VisitCarers"], "value": "2027-01-25"}]  # fmt: skip
    updated = erin.post(draft_url + "/scenarios/update", {"changes": json.dumps(one)}, status=200).text
    assert "1 expectation updated" in updated and "7 of 12 scenario tests failed" in updated
    every = re.search(r'id="accept-all">.*?name="changes" value="([^"]*)"', updated, re.S).group(1)
    done = erin.post(draft_url + "/scenarios/update", {"changes": html_unescape(every)}, status=200).text
    assert "7 expectations updated" in done and "All 12 scenario tests passed" in done
    bad = erin.post(draft_url + "/scenarios/update", {"changes": "not json"}, status=400)
    assert "not understood" in bad.text
    Staff(app, "tm.carol").post(draft_url + "/scenarios/update", {"changes": json.dumps(one)}, status=403)


def html_unescape(value: str) -> str:
    import html

    return html.unescape(value)
