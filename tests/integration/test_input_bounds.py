"""Bad input is answered 4xx, never 500 (issue 15, defect 8): bounded before it is parsed or queried."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, select

from engine import services
from engine.domain import forms
from engine.errors import InvalidInput
from engine.persistence.models import AuditEvent
from engine.services import accounts, subscriptions
from engine.services.subscriptions import Outgoing
from tests.cms import event, signed
from tests.webclient import PPM_START, Staff
from web import create_app, inputs
from webhooks.outbound import HttpPoster

DEEP = ("[" * 5000 + "]" * 5000).encode()


@pytest.fixture
def manager(app, rt):
    accounts.add_user(rt, "tm.admin", accounts.DEMO_PASSWORD, ["team_manager", "admin"], ["north"], "TM", "test")
    return Staff(app, "tm.admin")


@pytest.mark.parametrize("page", ["99999999999999999999", "²", "٣", "0", "-1", "1_0", " 2", "1e3"])
@pytest.mark.parametrize("path", ["/", "/manage", "/admin/events"])
def test_page_numbers_out_of_bounds_or_not_ascii_digits_are_400(manager, path, page):
    response = manager.client.get(path, query_string={"page": page})
    assert response.status_code == 400, (path, page, response.status_code)
    assert "whole number from 1 to 100,000" in response.text


def test_a_plain_page_number_still_works(manager):
    assert manager.client.get("/", query_string={"page": "2"}).status_code == 200


def test_ids_and_numbers_in_forms_take_ascii_digits_only():
    assert inputs.ids(["1", "²", "٣", "12", "99999999999", "-3", ""]) == [1, 12]
    assert inputs.whole("٣") is None and inputs.whole("42") == 42
    field = forms.FormField.from_dict({"id": "n", "label": "Number", "type": "long"})
    with pytest.raises(InvalidInput):
        forms.validate([field], {"n": "٣"})
    with pytest.raises(InvalidInput):
        forms.validate([field], {"n": "1" * 400})


def test_deeply_nested_json_is_400_in_the_api_the_webhooks_and_the_modeller(app, rt):
    client = app.test_client()
    for path in ("/api/v1/cases", "/webhooks/events", "/modeller/drafts/1/check"):
        response = client.post(path, data=DEEP, content_type="application/json")
        assert response.status_code == 400, (path, response.status_code)
        assert "nested more than 32 levels" in response.text
    assert inputs.json_depth(b'{"a": "[[[[[[", "b": [1, {"c": []}]}') == 4


def test_a_400_digit_webhook_timestamp_is_refused_before_any_signature_check(app, rt):
    services.add_sender(rt, "lcs", "admin.ada")
    raw = json.dumps(event("child.looked_after", "CH-1", "2026-12-18T09:00:00Z")).encode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "9" * 400, "webhook-signature": "v1,abc"}
    response = app.test_client().post("/webhooks/events", data=raw, headers=headers, content_type="application/json")
    assert response.status_code == 401 and "whole seconds since 1970" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("occurred", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "1066-10-14T09:00Z"])
def test_occurred_at_past_the_calendar_or_too_old_is_400(app, rt, occurred):
    secret = services.add_sender(rt, "lcs", "admin.ada")
    raw, headers = signed(secret, event("child.looked_after", "CH-1", occurred))
    response = app.test_client().post("/webhooks/events", data=raw, headers=headers)
    assert response.status_code == 400 and "occurred_at" in response.get_json()["error"]["message"]


def test_an_event_dated_in_the_future_is_refused_and_recorded(app, rt, now):
    """A typo's 2062, applied, would have parked every real event of the child as out of order."""
    secret = services.add_sender(rt, "lcs", "admin.ada")
    raw, headers = signed(secret, event("child.looked_after", "CH-1", "2062-12-18T09:00:00Z"))
    response = app.test_client().post("/webhooks/events", data=raw, headers=headers)
    assert response.status_code == 400 and "in the future" in response.get_json()["error"]["message"]
    assert services.list_events(rt)["total"] == 0
    with rt.uow() as uow:
        refused = uow.session.scalar(select(func.count()).where(AuditEvent.action == "event.refused"))
    assert refused == 1
    soon = now.now.replace(minute=30).isoformat()  # within the hour's skew: a case system's clock a little fast
    raw, headers = signed(secret, event("child.looked_after", "CH-2", soon))
    assert app.test_client().post("/webhooks/events", data=raw, headers=headers).status_code == 202


def test_the_api_takes_the_same_child_references_as_the_engine_and_webhooks(app, rt):
    token = services.create_token(rt, "sys", "sw.alice", ["cases:write", "cases:read"], "admin.ash")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    ref = "CH.2026/" + "7" * 80  # dots and up to 100 characters: the engine's rule (the API's allowed 40)
    made = client.post("/api/v1/cases", headers=headers, json={"key": "ppm_to_adm", "ref": ref, "data": PPM_START})
    assert made.status_code == 201, made.text
    named = client.post("/api/v1/cases", headers=headers, json={"key": "ppm_to_adm", "ref": "Jane Smith",
                                                                "data": PPM_START})  # fmt: skip
    assert named.status_code == 422


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hooks", "https://127.0.0.1/hooks", "https://localhost/hooks",
                                 "https://169.254.169.254/latest/meta-data", "https://10.1.2.3/hooks",
                                 "https://192.168.0.10/hooks", "https://[::ffff:127.0.0.1]/hooks",
                                 "https://[fd00:ec2::254]/hooks", "https://0.0.0.0/hooks"])  # fmt: skip
def test_subscription_urls_to_this_machine_private_or_metadata_addresses_are_refused(rt, monkeypatch, url):
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, allow_local_subscriptions=False))
    with pytest.raises(InvalidInput, match="points at|use https"):
        services.add_subscription(rt, url, ["task.created"], "admin.ash")


def test_localhost_subscriptions_only_when_explicitly_allowed_for_development(rt):
    assert rt.settings.allow_local_subscriptions  # the test settings, as ALLOW_LOCAL_SUBSCRIPTIONS=1
    made = services.add_subscription(rt, "http://127.0.0.1:8099/hooks", ["task.created"], "admin.ash")
    assert made["url"] == "http://127.0.0.1:8099/hooks"
    with pytest.raises(InvalidInput):
        services.add_subscription(rt, "https://10.1.2.3/hooks", ["task.created"], "admin.ash")


def test_a_delivery_whose_host_now_points_inside_is_not_sent():
    outgoing = Outgoing(1, "http://127.0.0.1:9/hooks", ["secret"], "msg_1", b"{}")
    result = HttpPoster(allow_local=False).post(outgoing)
    assert result.status_code is None and "not sent" in (result.error or "")
    assert subscriptions.refused_destination("169.254.169.254") is not None


def test_an_unreachable_database_answers_503_with_retry_after(rt):
    down = dataclasses.replace(rt.settings, database_url="postgresql://nobody@127.0.0.1:9/none")
    from engine.bootstrap import bootstrap

    app = create_app({"SECRET_KEY": "test", "TESTING": True}, runtime=bootstrap(down))
    client = app.test_client()
    api = client.get("/api/v1/cases", headers={"Authorization": "Bearer pp_abc_def"})
    assert api.status_code == 503 and api.headers["Retry-After"] == "30"
    assert api.get_json()["error"]["code"] == "unavailable"
    page = client.get("/healthz")
    assert page.status_code == 503 and page.headers["Retry-After"] == "30"
