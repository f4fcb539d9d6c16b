"""Route tests: sign-in, CSRF, cookies, and every role's access to steps and cases (server-side, not hidden buttons)."""

from __future__ import annotations

import pytest

from engine import services
from engine.services import accounts
from engine.services.accounts import DEMO_PASSWORD
from tests.webclient import Staff, care_plan_step, form_fields

START = {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False}


@pytest.fixture
def north_case(app, rt):
    return care_plan_step(rt, "CH-3001")


def _alice(app):
    return accounts.person(app.extensions["pathways"], "sw.alice")


def test_pages_need_sign_in(app):
    client = app.test_client()
    for path in ("/", "/tasks/1", "/cases/1", "/start", "/team/reassign"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_wrong_password_is_refused_with_a_message_and_five_failures_hold_back_that_address(app):
    client = app.test_client()
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    for _ in range(5):
        refused = client.post("/login", data={"csrf_token": token, "username": "sw.alice", "password": "nope"})
        assert refused.status_code == 401 and "The username or password is not right" in refused.text
    held = client.post("/login", data={"csrf_token": token, "username": "sw.alice", "password": DEMO_PASSWORD})
    assert held.status_code == 429 and "Too many tries to sign in" in held.text  # even the right password


def test_forms_without_the_session_csrf_token_are_refused(app, north_case):
    alice = Staff(app, "sw.alice")
    response = alice.client.post(f"/tasks/{north_case['id']}/claim", data={"csrf_token": "forged"})
    assert response.status_code == 400 and "This form has expired" in response.text
    assert services.worklist.task_page(app.extensions["pathways"], north_case["id"], _alice(app))["assignee"] is None
    anonymous = app.test_client().post("/login", data={"username": "sw.alice", "password": DEMO_PASSWORD})
    assert anonymous.status_code == 400


def test_session_cookie_is_http_only_and_same_site_and_secure_behind_https(app, rt, monkeypatch):
    response = Staff(app, "sw.alice").client.get("/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    from dataclasses import replace

    from web import create_app

    rt.settings = replace(rt.settings, app_url="https://pathways.example.gov.uk")
    secure = create_app({"SECRET_KEY": "s"}, runtime=rt)
    client = secure.test_client()
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    signed_in = client.post("/login", data={"csrf_token": token, "username": "sw.alice", "password": DEMO_PASSWORD})
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_no_open_redirect_after_sign_in(app):
    client = app.test_client()
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login", data={"csrf_token": token, "username": "sw.alice", "password": DEMO_PASSWORD,
                                           "next": "//evil.example/"})  # fmt: skip
    assert response.headers["Location"] == "/"


def test_sign_out_ends_the_session(app):
    alice = Staff(app, "sw.alice")
    alice.post("/logout")
    assert alice.client.get("/").status_code == 302


@pytest.mark.parametrize("who", ["sw.sam", "iro.bob", "tm.tom", "po.erin", "panel.pat"])
def test_other_teams_and_roles_cannot_see_claim_or_complete_a_step(app, north_case, who):
    other = Staff(app, who)
    task_id = north_case["id"]
    other.get(f"/tasks/{task_id}", status=403)
    other.post(f"/tasks/{task_id}/claim", status=403)
    answers = form_fields({"care_plan_updated_date": "2027-02-01"})
    other.post(f"/tasks/{task_id}", {"action": "complete", **answers}, status=403)
    other.post(f"/tasks/{task_id}", {"action": "save"}, status=403)
    assert f'data-task="{task_id}"' not in other.get("/?tab=team").text
    assert services.worklist.task_page(app.extensions["pathways"], task_id, _alice(app))["status"] == "open"


@pytest.mark.parametrize("who", ["sw.sam", "po.erin", "tm.tom"])
def test_case_pages_are_for_the_team_holding_the_case(app, north_case, who):
    other = Staff(app, who)
    other.get(f"/cases/{north_case['case_id']}", status=403)
    other.get(f"/cases/{north_case['case_id']}/diagram.bpmn", status=403)


def test_a_team_manager_sees_and_assigns_the_teams_steps_but_cannot_do_a_social_workers_step(app, rt, north_case):
    carol = Staff(app, "tm.carol")
    task_id = north_case["id"]
    assert f'data-task="{task_id}"' in carol.get("/?tab=team").text
    page = carol.get(f"/tasks/{task_id}").text
    assert 'id="task-form"' not in page and "Assign to a colleague" in page
    carol.complete(task_id, status=403, version="1", care_plan_updated_date="2027-02-10")
    carol.post(f"/tasks/{task_id}/assign", {"assignee": "iro.bob"}, status=400)  # not a social worker
    carol.post(f"/tasks/{task_id}/assign", {"assignee": "sw.sam"}, status=400)  # another team
    carol.post(f"/tasks/{task_id}/assign", {"assignee": "sw.alice"})
    assert services.worklist.task_page(rt, task_id, _alice(app))["assignee"] == "sw.alice"
    Staff(app, "tm.tom").post(f"/tasks/{task_id}/assign", {"assignee": "sw.alice"}, status=403)
    Staff(app, "sw.alice").post(f"/tasks/{task_id}/assign", {"assignee": "sw.alice"}, status=403)


def test_a_step_assigned_to_someone_else_cannot_be_completed_by_a_colleague(app, rt, north_case):
    accounts.add_user(rt, "sw.nia", DEMO_PASSWORD, ["social_worker"], ["north"], "Nia", "test")
    Staff(app, "sw.alice").post(f"/tasks/{north_case['id']}/claim")
    nia = Staff(app, "sw.nia")
    nia.post(f"/tasks/{north_case['id']}/claim", status=409)
    refused = nia.complete(north_case["id"], status=403, care_plan_updated_date="2027-02-10")
    assert "assigned to sw.alice" in refused.text


def test_head_of_service_sees_every_teams_steps_and_process_owners_cannot_start_pathways(app, north_case):
    assert f'data-task="{north_case["id"]}"' in Staff(app, "hos.hana").get("/?tab=team").text
    Staff(app, "po.erin").get("/start", status=403)
    Staff(app, "iro.bob").get("/start", status=403)
    Staff(app, "sw.alice").get("/start?pathway=ppm_to_adm")


def test_a_social_worker_cannot_start_a_case_for_another_team(app, rt):
    sam = Staff(app, "sw.sam")
    page = sam.post("/start", {"pathway": "ppm_to_adm", "ref": "CH-3100", "team": "north", "in_care_proceedings": "no",
                               "date_of_birth-day": "1", "date_of_birth-month": "3", "date_of_birth-year": "2020",
                               "looked_after_date-day": "18", "looked_after_date-month": "12",
                               "looked_after_date-year": "2026"}, status=400)  # fmt: skip
    assert "Select the team holding the case" in page.text
    assert services.list_tasks(rt, ref="CH-3100") == []


def test_unknown_pages_and_steps_say_so(app):
    alice = Staff(app, "sw.alice")
    assert "there is no step 999" in alice.get("/tasks/999", status=404).text
    alice.get("/cases/999", status=404)
    alice.get("/vendor/govuk/../../package.json", status=404)
