"""The REST API under /api/v1: tokens and scopes, cases, steps, deadlines, definitions, events, subscriptions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import services
from engine.persistence.models import ApiToken
from tests.webclient import PPM_START, finish_early_planning

EVERYTHING = ["cases:read", "cases:write", "tasks:read", "tasks:write", "deadlines:read", "definitions:read"]


class Client:
    def __init__(self, app, token: str | None) -> None:
        self.client, self.token = app.test_client(), token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path, status=200, **params):
        response = self.client.get(f"/api/v1{path}", headers=self._headers(), query_string=params)
        assert response.status_code == status, (path, response.status_code, response.text)
        return response.get_json()

    def post(self, path, body=None, status=200, method="post"):
        response = getattr(self.client, method)(f"/api/v1{path}", headers=self._headers(), json=body)
        assert response.status_code == status, (path, response.status_code, response.text)
        return response.get_json()


@pytest.fixture
def token(rt, app):
    def make(account="sw.alice", scopes=EVERYTHING, name=None, **kwargs):
        return services.create_token(rt, name or f"t-{account}-{len(scopes)}", account, scopes, "admin.ash", **kwargs)

    return make


@pytest.fixture
def alice(app, token):
    return Client(app, token())


def _ppm(rt, ref="CH-5001", team="north"):
    """A PPM case waiting for its first review (its family network meeting and parallel plan done)."""
    case = services.start_case(rt, "ppm_to_adm", ref, PPM_START, "sw.alice", team=team)
    finish_early_planning(rt, ref)
    return case


def test_the_openapi_document_and_its_page_are_served_without_a_token(app):
    client = app.test_client()
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and spec["info"]["title"] == "Permanence Pathways API"
    for path in ("/api/v1/cases", "/api/v1/tasks/{task_id}/claim", "/api/v1/tasks/{task_id}/complete",
                 "/api/v1/deadlines", "/api/v1/definitions", "/api/v1/events", "/api/v1/subscriptions"):  # fmt: skip
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    errors = spec["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409"} <= set(errors)
    page = client.get("/api/v1/docs").text
    assert re.search(r"POST\s*</strong>\s*<code>/api/v1/tasks/\{task_id\}/complete</code>", page)
    assert "tasks:write" in page


def test_without_a_valid_token_every_operation_is_refused_with_the_error_shape(app, rt, token, now):
    for bad in (None, "pp_nope_nope", "not-even-a-token"):
        body = Client(app, bad).get("/tasks", status=401)
        assert body["error"]["status"] == 401 and body["error"]["code"] == "unauthorised"
    revoked = token(name="revoked")
    services.revoke_token(rt, "revoked", "admin.ash")
    Client(app, revoked).get("/tasks", status=401)
    expiring = token(name="expiring", expires_in_days=1)
    Client(app, expiring).get("/tasks")
    now.advance(days=1, seconds=1)
    assert "expired or revoked" in Client(app, expiring).get("/tasks", status=401)["error"]["message"]


def test_tokens_are_hashed_at_rest_and_shown_once(rt, token):
    made = token(name="lcs-north")
    with rt.uow() as uow:
        row = uow.session.scalar(select(ApiToken).where(ApiToken.name == "lcs-north"))
        assert made not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
        assert made.startswith(f"pp_{row.prefix}_")
    listed = services.list_tokens(rt)
    assert made not in str(listed) and listed[0]["prefix"].startswith("pp_")


def test_a_scope_the_token_lacks_is_refused(app, token):
    reader = Client(app, token(scopes=["tasks:read"]))
    reader.get("/tasks")
    body = reader.post("/tasks/1/claim", status=403)
    assert body["error"]["details"] == {"needs": "tasks:write"}
    reader.get("/cases", status=403)


def test_a_system_lists_claims_and_completes_a_step_and_the_pathway_moves_on(app, rt, alice, token):
    _ppm(rt)
    iro = Client(app, token("iro.bob", ["tasks:read", "tasks:write", "cases:read"]))
    page = iro.get("/tasks", ref="CH-5001")
    assert (page["total"], page["page"], page["per_page"]) == (1, 1, 50)
    [review] = page["items"]
    assert review["element"] == "Task_FirstReview" and review["role"] == "iro"
    assert alice.get("/tasks", ref="CH-5001")["total"] == 0  # a social worker does not see the IRO's step
    detail = iro.get(f"/tasks/{review['id']}")
    assert [f["id"] for f in detail["form"]][:2] == ["first_review_date", "ppm_requested"]
    claimed = iro.post(f"/tasks/{review['id']}/claim")
    assert claimed["assignee"] == "iro.bob"
    assert iro.get("/tasks", mine="true")["total"] == 1
    wrong = iro.post(f"/tasks/{review['id']}/complete", {"data": {"first_review_date": "soon"}}, status=400)
    assert wrong["error"]["code"] == "invalid_input" and "first_review_date" in wrong["error"]["details"]["errors"]
    stale = iro.post(f"/tasks/{review['id']}/complete", {"data": {"first_review_date": "2026-12-18",
                     "ppm_requested": True}, "case_version": detail["case_version"] - 1}, status=409)  # fmt: skip
    assert stale["error"]["details"]["data"]["first_review_date"] == "2026-12-18"  # the answers handed back
    done = iro.post(f"/tasks/{review['id']}/complete", {"data": {"first_review_date": "2026-12-18",
                                                                 "ppm_requested": True}})  # fmt: skip
    assert (done["status"], done["completed_by"]) == ("completed", "iro.bob")
    iro.post(f"/tasks/{review['id']}/complete", {"data": {}}, status=409)  # already done
    case = iro.get(f"/cases/{done['case_id']}")
    assert "Task_UpdateCarePlan" in [t["element"] for t in case["open_tasks"]]
    assert any(a["action"] == "task.completed" and a["actor"] == "iro.bob" for a in case["audit"])
    assert iro.get("/tasks/99999", status=404)["error"]["code"] == "not_found"
    bad = iro.get("/tasks", status=422, per_page=1000)
    assert "per_page" in bad["error"]["details"]["fields"]["query"]


def test_a_system_starts_a_pathway_and_reads_cases_deadlines_and_definitions(app, rt, alice, token, now):
    started = alice.post(
        "/cases",
        {
            "key": "ppm_to_adm",
            "ref": "CH-5002",
            "data": {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False},
        },
        status=201,
    )
    assert (started["ref"], started["team"], started["started_by"]) == ("CH-5002", "north", "sw.alice")
    again = alice.post(
        "/cases",
        {
            "key": "ppm_to_adm",
            "ref": "CH-5002",
            "data": {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False},
        },
        status=409,
    )
    assert "already" in again["error"]["message"] and again["error"]["details"]["case_id"] == started["id"]
    missing = alice.post("/cases", {"key": "ppm_to_adm", "ref": "CH-5003", "data": {}}, status=400)
    assert "date_of_birth" in missing["error"]["details"]["errors"]
    alice.post("/cases", {"key": "ppm_to_adm", "ref": "CH-5004", "team": "south", "data": {}}, status=403)
    _ppm(rt, "CH-5005", team="south")
    cases = alice.get("/cases")
    assert [c["ref"] for c in cases["items"]] == ["CH-5002"]  # the south team's case is not hers to see
    assert Client(app, token("hos.hana", ["cases:read"])).get("/cases")["total"] == 2
    deadlines = alice.get("/deadlines", ref="CH-5002")["items"]
    first = next(d for d in deadlines if d["key"] == "first_review")
    assert (first["due"], first["status"], first["ref"]) == ("2027-01-20", "running", "CH-5002")
    assert alice.get("/deadlines", overdue="true")["total"] == 0
    now.set(now() + timedelta(days=40))
    assert "first_review" in [d["key"] for d in alice.get("/deadlines", overdue="true")["items"]]
    keys = [d["key"] for d in alice.get("/definitions")]
    assert {"ppm_to_adm", "sgo_assessment", "relinquished_baby", "placement_order_revocation"} <= set(keys)
    paged = alice.get("/deadlines", per_page=1, page=2)
    assert paged["page"] == 2 and len(paged["items"]) == 1 and paged["total"] > 1


def test_events_and_subscriptions_need_an_administrators_account(app, rt, token):
    scopes = ["events:read", "events:write", "subscriptions:admin"]
    body = Client(app, token("hos.hana", scopes)).get("/events", status=403)
    assert "not an administrator" in body["error"]["message"]
    admin = Client(app, token("admin.ash", scopes))
    assert admin.get("/events")["counts"]["applied"] == 0
    made = admin.post("/subscriptions", {"url": "https://lcs.example.gov.uk/hooks", "event_types": ["task.created"],
                                         "description": "LCS"}, status=201)  # fmt: skip
    assert made["secret"].startswith("whsec_")
    assert "secret" not in admin.get(f"/subscriptions/{made['id']}")
    refused = admin.post("/subscriptions", {"url": "http://lcs.example.gov.uk", "event_types": ["task.created"]},
                         status=400)  # fmt: skip
    assert "https" in refused["error"]["message"]
    changed = admin.post(f"/subscriptions/{made['id']}", {"active": False}, method="patch")
    assert changed["active"] is False and changed["disabled_reason"] == "disabled by admin.ash"
    admin.post(f"/subscriptions/{made['id']}", {"active": True, "event_types": ["case.completed"]}, method="patch")
    assert admin.post(f"/subscriptions/{made['id']}/rotate")["secret"].startswith("whsec_")
    assert admin.get(f"/subscriptions/{made['id']}/deliveries")["total"] == 0
    admin.post("/deliveries/12345/redeliver", status=404)
    admin.get("/subscriptions/999", status=404)


def test_the_cli_makes_lists_and_revokes_tokens(cli, rt):
    services.accounts.ensure_demo_users(rt)
    made = cli("tokens", "add", "lcs", "--account", "sw.alice", "--scope", "tasks:read", "--user", "admin.ash")
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("pp_")
    assert token not in cli("tokens", "list").output and "lcs" in cli("tokens", "list").output
    assert "choose scopes" in cli("tokens", "add", "x1", "--account", "sw.alice", "--scope", "all", ok=False).stderr
    cli("tokens", "revoke", "lcs")
    assert "revoked" in cli("tokens", "list").output


def test_a_nul_character_is_refused_before_it_reaches_the_database(app, alice):
    """PostgreSQL cannot store or compare NUL: it was a server error there, in a filter or a body."""
    for path in ("/cases", "/tasks", "/deadlines"):
        body = alice.get(path, status=400, ref="CH\x001")
        assert "NUL" in body["error"]["message"]
    alice.post("/cases", {"key": "ppm\x00", "ref": "CH-1", "data": {}}, status=400)
    page = app.test_client().get("/login?next=%00")
    assert page.status_code == 400 and "NUL character" in page.text
