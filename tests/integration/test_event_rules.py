"""workflows/events.toml and the diagrams agree: every rule can do what it says, every message has a rule."""

from __future__ import annotations

import pytest

from engine.bpmn.definition import describe
from engine.bpmn.xml import parse_bpmn
from engine.domain.events import Event, parse_event, parse_rules
from engine.errors import DefinitionInvalid, InvalidInput
from engine.services.inbound import event_rules
from tests.scenario import WORKFLOWS


@pytest.fixture(scope="module")
def diagrams():
    return {p.stem: describe(parse_bpmn(p.read_bytes(), p.name)) for p in WORKFLOWS.glob("*.bpmn")}


def test_every_start_rule_names_a_pathway_and_its_start_form_fields(rt, diagrams):
    rules = event_rules(rt)
    for rule in rules.rules:
        if not rule.start:
            continue
        assert rule.start in diagrams, rule
        [start] = [e for e in diagrams[rule.start].elements.values() if e.kind == "startEvent" and e.form]
        assert set(rule.data) <= {f.id for f in start.form}, (rule.event, set(rule.data) - {f.id for f in start.form})
        assert {f.id for f in start.form if f.required} <= set(rule.data), rule.event


def test_every_message_rule_reaches_a_message_event_whose_step_records_those_values(rt, diagrams):
    rules = event_rules(rt)
    waiting = {}
    for info in diagrams.values():
        for element in info.elements.values():
            if element.message and element.kind == "boundaryEvent":
                step = info.elements[element.attached_to]
                waiting.setdefault(element.message, []).append({f.id for f in step.form})
            elif element.message and element.kind == "intermediateCatchEvent" and element.form:
                waiting.setdefault(element.message, []).append({f.id for f in element.form})  # its own date
    assert rules.messages == set(waiting), "a rule's message no diagram waits for, or a message no rule sends"
    for rule in rules.rules:
        if rule.message:
            recorded = set().union(*waiting[rule.message])
            assert set(rule.data) <= recorded, (rule.event, set(rule.data) - recorded)


def test_the_issue_s_event_types_all_have_rules(rt):
    assert set(event_rules(rt).types) >= {
        "child.looked_after", "relinquishment.requested", "sgo.interest_expressed",
        "placement_order.revocation_decided", "cla_review.held", "consent.given", "consent.withdrawn",
        "court.order_made", "placement.started", "placement.ended",
    }  # fmt: skip


def test_rules_choose_by_payload_and_carry_values():
    rules = parse_rules({"rule": [
        {"event": "court.order_made", "when": {"order": "adoption"}, "message": "court.adoption_decided",
         "data": {"adoption_order_made": "payload.made", "adoption_order_date": "occurred_on", "kind": "=full"}},
        {"event": "court.order_made", "message": "court.other", "data": {"flag": True}},
    ]})  # fmt: skip
    event = parse_event({"id": "e1", "type": "court.order_made", "occurred_at": "2027-03-31T23:30:00Z",
                         "child_ref": "CH-1", "payload": {"order": "adoption", "made": True}})  # fmt: skip
    rule = rules.match(event)
    assert rule is not None and rule.message == "court.adoption_decided"
    # 23:30 UTC on 31 March 2027 is 00:30 on 1 April in London (BST): the London day counts
    assert rule.values(event) == {"adoption_order_made": True, "adoption_order_date": "2027-04-01", "kind": "full"}
    other = Event("e2", "court.order_made", event.occurred_at, "CH-1", {"order": "care"})
    assert rules.match(other).message == "court.other"  # type: ignore[union-attr]
    assert rules.match(Event("e3", "court.hearing_listed", event.occurred_at, "CH-1", {})) is None


@pytest.mark.parametrize(
    "rule, message",
    [
        ({"event": "child.looked_after"}, "exactly one of start"),
        ({"event": "child.looked_after", "start": "a", "message": "b"}, "exactly one of start"),
        ({"event": "Child Looked After", "start": "a"}, "event type"),
        ({"event": "child.looked_after", "start": "a", "data": {"x": "payload_x"}}, "is not payload"),
        ({"event": "child.looked_after", "start": "a", "colour": "red"}, "unknown keys colour"),
    ],
)
def test_a_wrong_rule_is_refused_saying_which_and_why(rule, message):
    with pytest.raises(DefinitionInvalid, match=message) as found:
        parse_rules({"rule": [{"event": "child.moved", "start": "x"}, rule]})
    assert "rule 2" in str(found.value)


def test_event_shape_problems_are_all_named():
    with pytest.raises(InvalidInput) as found:
        parse_event({"id": "has space", "type": "x", "occurred_at": "yesterday", "child_ref": "CH-1", "extra": 1})
    assert "unknown fields: extra" in str(found.value)
    with pytest.raises(InvalidInput) as found:
        parse_event({"id": "has space", "type": "x", "occurred_at": "yesterday", "child_ref": "CH-1"})
    text = str(found.value)
    assert "printable" in text and "child.looked_after" in text and "ISO 8601" in text
