"""Events from case-management systems: their shape, and the rules that turn them into pathway actions.

Pure: the rules come in as the parsed ``workflows/events.toml`` (a dict); nothing here reads files
or the database. An event is ``{"id", "type", "occurred_at", "child_ref", "payload"}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from engine.calendar import LONDON
from engine.errors import DefinitionInvalid, InvalidInput

# A child's case reference (never a name), wherever one enters: a pathway started or an event.
CHILD_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
EVENT_ID = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces
_SOURCES = ("payload.", "occurred_on", "=")


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    occurred_at: datetime
    child_ref: str
    payload: dict[str, Any]

    @property
    def occurred_on(self) -> date:
        return self.occurred_at.astimezone(LONDON).date()


def parse_event(raw: Any) -> Event:
    """Check an event's shape; InvalidInput names every problem at once."""
    if not isinstance(raw, dict):
        raise InvalidInput("the event must be a JSON object")
    problems = _shape_problems(raw)
    if problems:
        raise InvalidInput("; ".join(problems))
    occurred = _instant(raw["occurred_at"])
    checks = [
        (EVENT_ID.match(raw["id"]), "id must be 1 to 200 printable characters without spaces"),
        (EVENT_TYPE.match(raw["type"]) and len(raw["type"]) <= 100, "type must look like child.looked_after"),
        (CHILD_REF.match(raw["child_ref"]),
         "child_ref must be a case reference: letters, digits and . _ / - (never a name)"),
        (occurred, "occurred_at must be an ISO 8601 date and time with a time zone, e.g. 2026-12-18T09:30:00Z"),
    ]  # fmt: skip
    problems = [message for ok, message in checks if not ok]
    if problems:
        raise InvalidInput("; ".join(problems))
    assert occurred is not None
    return Event(raw["id"], raw["type"], occurred, raw["child_ref"], raw.get("payload", {}))


def _shape_problems(raw: dict[str, Any]) -> list[str]:
    problems = [f"{name} is required and must be a string" for name in ("id", "type", "occurred_at", "child_ref")
                if not isinstance(raw.get(name), str) or not raw.get(name)]  # fmt: skip
    if not isinstance(raw.get("payload", {}), dict):
        problems.append("payload must be a JSON object")
    unknown = sorted(set(raw) - {"id", "type", "occurred_at", "child_ref", "payload"})
    if unknown:
        problems.append(f"unknown fields: {', '.join(unknown)} (put event details in payload)")
    return problems


def _instant(text: str) -> datetime | None:
    """An aware instant from 1900 on, in UTC; None for anything else (an offset that runs past year 1
    overflowed on conversion: a 500 before)."""
    try:
        value = datetime.fromisoformat(text)  # Python 3.11 reads a trailing Z as UTC
        if value.tzinfo is None:
            return None
        value = value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return value if value.year >= 1900 else None


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]`` of events.toml: an event type (and payload condition) -> a start or a message."""

    event: str
    start: str | None = None
    message: str | None = None
    team: str | None = None
    when: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def matches(self, event: Event) -> bool:
        return event.type == self.event and all(event.payload.get(k) == v for k, v in self.when.items())

    def values(self, event: Event) -> dict[str, Any]:
        """The case data the event carries; a payload field the event lacks is left out (blank)."""
        found: dict[str, Any] = {}
        for name, source in self.data.items():
            present, value = _value(source, event)
            if present:
                found[name] = value
        return found

    def team_of(self, event: Event) -> str | None:
        if self.team is None:
            return None
        present, value = _value(self.team, event)
        return str(value) if present and value not in (None, "") else None


def _value(source: Any, event: Event) -> tuple[bool, Any]:
    if not isinstance(source, str):
        return True, source
    if source == "occurred_on":
        return True, event.occurred_on.isoformat()
    if source.startswith("="):
        return True, source[1:]
    name = source.removeprefix("payload.")
    return (name in event.payload), event.payload.get(name)


@dataclass(frozen=True)
class EventRules:
    rules: tuple[Rule, ...]

    def match(self, event: Event) -> Rule | None:
        return next((r for r in self.rules if r.matches(event)), None)

    @property
    def messages(self) -> set[str]:
        return {r.message for r in self.rules if r.message}

    @property
    def types(self) -> list[str]:
        return sorted({r.event for r in self.rules})


def parse_rules(raw: dict[str, Any], where: str = "events.toml") -> EventRules:
    """Read the parsed events.toml; DefinitionInvalid says which rule is wrong and how."""
    unknown = sorted(set(raw) - {"rule"})
    if unknown:
        raise DefinitionInvalid(f"{where}: unknown section {', '.join(unknown)} (each rule is a [[rule]])")
    rules = raw.get("rule", [])
    if not isinstance(rules, list):
        raise DefinitionInvalid(f"{where}: write each rule as [[rule]]")
    return EventRules(tuple(_rule(item, f"{where} rule {n}") for n, item in enumerate(rules, start=1)))


def _rule(item: Any, where: str) -> Rule:
    if not isinstance(item, dict):
        raise DefinitionInvalid(f"{where}: a rule is a table of event, start or message, when and data")
    unknown = sorted(set(item) - {"event", "start", "message", "team", "when", "data"})
    problems = [f"unknown keys {', '.join(unknown)}"] if unknown else []
    if not isinstance(item.get("event"), str) or not EVENT_TYPE.match(item.get("event", "")):
        problems.append("event must be an event type like child.looked_after")
    if bool(item.get("start")) == bool(item.get("message")):
        problems.append("give exactly one of start (a pathway) or message (a BPMN message name)")
    for name in ("when", "data"):
        if not isinstance(item.get(name, {}), dict):
            problems.append(f"{name} must be a table")
    data = item.get("data", {})
    for name, source in data.items() if isinstance(data, dict) else ():
        if isinstance(source, str) and not source.startswith(_SOURCES):
            problems.append(f"data {name}: '{source}' is not payload.<field>, occurred_on or =<text>")
    if problems:
        raise DefinitionInvalid(f"{where}: " + "; ".join(problems))
    return Rule(event=item["event"], start=item.get("start"), message=item.get("message"), team=item.get("team"),
                when=dict(item.get("when", {})), data=dict(item.get("data", {})))  # fmt: skip
