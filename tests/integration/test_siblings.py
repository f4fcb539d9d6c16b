"""Issue 17, sibling groups: link children as brothers and sisters (CLI, API, case page), merge
groups, take a child out with a reason; nothing is deleted and every change is on the children's
cases' histories."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from engine import clock, services
from engine.domain.access import Person
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.persistence.models import AuditEvent, SiblingLink
from tests.integration.test_api import Client
from tests.scenario import publish_workflows
from tests.webclient import PPM_START, Staff

IRO = Person("iro.bob", frozenset({"iro"}), frozenset({"north"}))
WORKER = Person("sw.alice", frozenset({"social_worker"}), frozenset({"north"}))


def _refs(group: dict) -> list[str]:
    return [s["ref"] for s in group["siblings"]]


def test_children_linked_as_siblings_see_each_other_and_linking_again_changes_nothing(rt):
    first = services.link_siblings(rt, ["CH-1", "CH-2"], "sw.alice")
    assert (first["ref"], _refs(first), first["joined"]) == ("CH-1", ["CH-2"], ["CH-1", "CH-2"])
    assert _refs(services.siblings_of(rt, "CH-2")) == ["CH-1"]
    again = services.link_siblings(rt, ["CH-2", "CH-1"], "sw.alice")
    assert (again["group_id"], again["joined"]) == (first["group_id"], [])
    third = services.link_siblings(rt, ["CH-3", "CH-1"], "sw.alice")  # a third child joins the group
    assert third["group_id"] == first["group_id"] and sorted(_refs(third)) == ["CH-1", "CH-2"]
    assert services.siblings_of(rt, "CH-9") == {"ref": "CH-9", "group_id": None, "siblings": []}


def test_linking_children_of_two_groups_merges_them_into_the_older_and_keeps_the_old_links(rt):
    older = services.link_siblings(rt, ["CH-A", "CH-B"], "sw.alice")["group_id"]
    services.link_siblings(rt, ["CH-C", "CH-D"], "sw.alice")
    merged = services.link_siblings(rt, ["CH-B", "CH-C"], "tm.carol")
    assert merged["group_id"] == older
    assert sorted(_refs(services.siblings_of(rt, "CH-D"))) == ["CH-A", "CH-B", "CH-C"]
    with rt.uow() as uow:
        ended = uow.session.scalars(select(SiblingLink).where(SiblingLink.removed_at.is_not(None))).all()
        assert sorted(link.child_ref for link in ended) == ["CH-C", "CH-D"]
        assert {link.removed_reason for link in ended} == {f"moved into sibling group {older}"}


def test_a_child_leaves_a_group_only_with_a_reason_and_the_link_is_kept(rt):
    services.link_siblings(rt, ["CH-1", "CH-2", "CH-3"], "sw.alice")
    with pytest.raises(InvalidInput):
        services.unlink_sibling(rt, "CH-3", "tm.carol", "  ")
    shown = services.unlink_sibling(rt, "CH-3", "tm.carol", "adopted before the others came into care")
    assert shown["siblings"] == ["CH-1", "CH-2"]
    assert _refs(services.siblings_of(rt, "CH-1")) == ["CH-2"]
    with pytest.raises(NotFound):
        services.unlink_sibling(rt, "CH-3", "tm.carol", "again")
    with rt.uow() as uow:
        link = uow.session.scalars(select(SiblingLink).where(SiblingLink.child_ref == "CH-3")).one()
        assert (link.removed_by, link.removed_reason) == ("tm.carol", "adopted before the others came into care")
        with pytest.raises(sa.exc.DBAPIError):  # never deleted, even by hand
            uow.session.execute(sa.delete(SiblingLink))
            uow.session.flush()


def test_bad_references_fewer_than_two_children_and_roles_that_may_not_link_are_refused(rt):
    with pytest.raises(InvalidInput):
        services.link_siblings(rt, ["CH-1", "Jane Smith"], "sw.alice")
    with pytest.raises(InvalidInput):
        services.link_siblings(rt, ["CH-1", "CH-1"], "sw.alice")
    with pytest.raises(NotAllowed):
        services.link_siblings(rt, ["CH-1", "CH-2"], "iro.bob", person=IRO)
    group = services.link_siblings(rt, ["CH-1", "CH-2"], "x")["group_id"]
    with rt.uow() as uow:  # a second current link for a child cannot exist, whatever the code does
        uow.session.add(SiblingLink(group_id=group, child_ref="CH-1", added_at=clock.utcnow(), added_by="x"))
        with pytest.raises(sa.exc.IntegrityError):
            uow.session.flush()


def test_each_child_s_cases_record_the_link_in_their_history_and_other_teams_cases_are_not_shown(rt, now):
    publish_workflows(rt)
    north = services.start_case(rt, "ppm_to_adm", "CH-N1", PPM_START, "sw.alice", team="north")
    services.start_case(rt, "ppm_to_adm", "CH-S1", PPM_START, "sw.sam", team="south")
    services.link_siblings(rt, ["CH-N1", "CH-S1"], "sw.alice", person=WORKER)
    with rt.uow() as uow:
        linked = uow.session.scalars(select(AuditEvent).where(
            AuditEvent.case_id == north["id"], AuditEvent.action == "siblings.linked")).one()  # fmt: skip
        assert (linked.actor, linked.detail) == ("sw.alice", "brothers and sisters: CH-S1")
    [south] = services.siblings_of(rt, "CH-N1", WORKER)["siblings"]
    assert south["cases"] == [{"id": None, "key": "ppm_to_adm", "name": south["cases"][0]["name"],
                               "status": "running", "team": "south", "visible": False}]  # fmt: skip


def test_the_cli_links_shows_and_unlinks(cli):
    out = cli("siblings", "link", "CH-1", "CH-2", "CH-3", "--user", "sw.alice").output
    assert "CH-1: sibling group" in out and "CH-2: no pathway" in out
    shown = json.loads(cli("siblings", "show", "CH-3", "--json").output)
    assert [s["ref"] for s in shown["siblings"]] == ["CH-1", "CH-2"]
    assert "no longer in sibling group" in cli("siblings", "unlink", "CH-3", "--reason", "not a sibling").output
    assert "Error: say why" in cli("siblings", "unlink", "CH-2", "--reason", " ", ok=False).stderr
    assert "at least two" in cli("siblings", "link", "CH-1", ok=False).stderr


def test_the_api_links_shows_and_unlinks_with_the_cases_write_scope(app, rt):
    reader = Client(app, services.create_token(rt, "reader", "sw.alice", ["cases:read"], "admin.ash"))
    writer = Client(app, services.create_token(rt, "writer", "sw.alice", ["cases:read", "cases:write"], "admin.ash"))
    reader.post("/siblings", {"refs": ["CH-1", "CH-2"]}, status=403)
    linked = writer.post("/siblings", {"refs": ["CH-1", "CH-2"]})
    assert linked["joined"] == ["CH-1", "CH-2"]
    assert [s["ref"] for s in reader.get("/children/CH-2/siblings")["siblings"]] == ["CH-1"]
    writer.post("/siblings", {"refs": ["CH-1", "no spaces allowed"]}, status=422)
    writer.post("/siblings", {"refs": ["CH-1", "CH-1"]}, status=400)  # one child twice is not two children
    writer.post("/children/CH-2/siblings/unlink", {"reason": ""}, status=422)
    assert writer.post("/children/CH-2/siblings/unlink", {"reason": "wrong child"})["siblings"] == ["CH-1"]
    writer.post("/children/CH-2/siblings/unlink", {"reason": "again"}, status=404)


def test_the_case_page_shows_the_brothers_and_sisters_and_links_another(app, rt, now):
    publish_workflows(rt)
    case = services.start_case(rt, "ppm_to_adm", "CH-W1", PPM_START, "sw.alice", team="north")
    sw = Staff(app, "sw.alice")
    assert "No brothers or sisters are linked to CH-W1" in sw.get(f"/cases/{case['id']}").text
    sw.post(f"/cases/{case['id']}/siblings", {"sibling_ref": "CH-W2"})
    page = sw.get(f"/cases/{case['id']}").text
    assert "<strong>CH-W2</strong>" in page and "linked as a brother or sister of CH-W1" in page
    sw.post(f"/cases/{case['id']}/siblings", {"sibling_ref": "Jane Smith"})
    assert "Not changed: not a child reference: Jane Smith" in sw.get(f"/cases/{case['id']}").text
    sw.post(f"/cases/{case['id']}/siblings", {"action": "unlink", "sibling_ref": "CH-W2", "reason": "cousin"})
    assert "No brothers or sisters are linked to CH-W1" in sw.get(f"/cases/{case['id']}").text
    iro = Staff(app, "iro.bob")
    assert 'id="link-sibling-form"' not in iro.get(f"/cases/{case['id']}").text


def _to_ppm(rt, ref: str) -> None:
    from engine.services.scenarios import load_file, run_scenario
    from tests.scenario import WORKFLOWS

    document = load_file(WORKFLOWS / "scenarios" / "ppm_to_adm.json")
    [apart] = [s for s in document["scenarios"] if s["name"].startswith("A sibling group of two placed apart")]
    cut = next(n for n, s in enumerate(apart["steps"]) if s.get("do") == "Task_HoldPPM")
    steps = [s for s in apart["steps"][:cut] if "link_siblings" not in s]  # the test links the children itself
    assert run_scenario(rt, "ppm_to_adm", {**apart, "ref": ref, "steps": steps}).passed


def test_the_ppm_step_shows_the_group_and_the_countersignature_shows_the_analysis(app, rt, now):
    publish_workflows(rt)
    _to_ppm(rt, "CH-G1")
    _to_ppm(rt, "CH-G2")
    services.link_siblings(rt, ["CH-G1", "CH-G2"], "sw.alice")
    tasks = {(t["ref"], t["element"]): t for t in services.list_tasks(rt)}
    mine, theirs = tasks[("CH-G1", "Task_HoldPPM")], tasks[("CH-G2", "Task_HoldPPM")]
    tm = Staff(app, "tm.carol")
    page = tm.get(f"/tasks/{mine['id']}").text
    assert "Brothers and sisters" in page and f'href="/tasks/{theirs["id"]}"' in page
    now.set(datetime(2027, 2, 26, 10, tzinfo=UTC))
    tm.complete(mine["id"], ppm_date="2027-02-24", permanence_option="long_term_fostering",
                contingency_plan="connected_person", cannot_live_with_parents=True,
                siblings_placement="apart")  # fmt: skip
    reasons = next(t for t in services.list_tasks(rt, ref="CH-G1") if t["element"] == "Task_SeparationReasons")
    tm.complete(reasons["id"], separation_reasons="her own placement", separation_contact_plan="weekly",
                separation_recorded_date="2027-02-26")  # fmt: skip
    sign = next(t for t in services.list_tasks(rt, ref="CH-G1") if t["element"] == "Task_CountersignSeparation")
    assert sign["role"] == "services_manager"
    page = Staff(app, "sm.sara").get(f"/tasks/{sign['id']}").text
    assert "What earlier steps recorded" in page and "Placed apart" in page
    assert "the older child&#39;s needs call for a placement of her own" in page
