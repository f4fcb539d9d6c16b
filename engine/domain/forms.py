"""Task forms: the fields a step records and the checks on what a practitioner enters.

A form is read from the diagram's ``camunda:formData`` (see engine.bpmn.definition). Validation
is pure: it returns cleaned values or a dict of GOV.UK-style messages, and never drops input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.errors import FormInvalid

FIELD_TYPES = ("string", "long", "boolean", "date", "enum")
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_UK_DATE = re.compile(r"^\s*([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})\s*$")  # ASCII digits only
_PARTS = ("day", "month", "year")
_TRUE, _FALSE = {"true", "yes", "y", "on", "1"}, {"false", "no", "n", "off", "0"}


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    type: str = "string"
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()  # (value, label) for enum fields
    constraints: dict[str, str] = field(default_factory=dict)  # min, max, minlength, maxlength
    readonly: bool = False
    default: str | None = None
    hint: str | None = None
    future: bool = False  # a planned date: may be after today (a past event's date may not)
    on_or_after: tuple[str, ...] = ()  # fields whose dates this one cannot come before
    sample_blank: bool = False  # a start date most cases do not have: the timer preview leaves it blank

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "options": [list(o) for o in self.options],
            "constraints": dict(self.constraints),
            "readonly": self.readonly,
            "default": self.default,
            "hint": self.hint,
            "future": self.future,
            "on_or_after": list(self.on_or_after),
            "sample_blank": self.sample_blank,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FormField:
        return cls(
            id=raw["id"],
            label=raw.get("label") or raw["id"],
            type=raw.get("type", "string"),
            required=bool(raw.get("required")),
            options=tuple(tuple(o) for o in raw.get("options", ())),  # type: ignore[misc]
            constraints=dict(raw.get("constraints", {})),
            readonly=bool(raw.get("readonly")),
            default=raw.get("default"),
            hint=raw.get("hint"),
            future=bool(raw.get("future")),
            on_or_after=tuple(raw.get("on_or_after", ())),
            sample_blank=bool(raw.get("sample_blank")),
        )


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    uk = _UK_DATE.match(text)
    if uk:
        day, month, year = (int(g) for g in uk.groups())
        return date(year, month, day)
    return date.fromisoformat(text)


class DateProblem(ValueError):
    """A date that is not one, with the boxes (day, month, year) that are wrong."""

    def __init__(self, message: str, boxes: tuple[str, ...] = _PARTS) -> None:
        super().__init__(message)
        self.boxes = boxes


def _clean_date(spec: FormField, value: Any) -> date:
    """The GOV.UK date-input messages: what is missing, a 4-number year, a real date."""
    if isinstance(value, (date, datetime)):
        return parse_date(value)
    text = str(value).strip()
    if text.count("/") == 2:
        parts = dict(zip(_PARTS, (p.strip() for p in text.split("/")), strict=True))
        missing = tuple(name for name in _PARTS if not parts[name])
        if missing:
            words = " and ".join(missing) if len(missing) < 3 else "day, month and year"
            raise DateProblem(f"{spec.label} must include a {words}", missing)
        not_numbers = tuple(name for name in _PARTS if not re.fullmatch(r"[0-9]+", parts[name]))
        if not_numbers:
            raise DateProblem(f"{spec.label} must be a real date, in numbers, for example 27 3 2027", not_numbers)
        if len(parts["year"]) != 4:
            raise DateProblem("Year must include 4 numbers", ("year",))
        day, month, year = int(parts["day"]), int(parts["month"]), int(parts["year"])
        if not 1 <= month <= 12:
            raise DateProblem(f"{spec.label} must be a real date: the month must be between 1 and 12", ("month",))
        try:
            return date(year, month, day)
        except ValueError:
            raise DateProblem(f"{spec.label} must be a real date: {month_name(month)} {year} has no day {day}",
                              ("day",)) from None  # fmt: skip
    try:
        return parse_date(text)
    except (TypeError, ValueError):
        raise DateProblem(f"{spec.label} must be a real date, for example 27/03/2027") from None


def month_name(month: int) -> str:
    return date(2000, month, 1).strftime("%B")


def long_date(day: date) -> str:
    """As GOV.UK writes a date: 5 January 2027."""
    return f"{day.day} {day:%B %Y}"


def _clean_value(spec: FormField, value: Any) -> Any:
    """Return the typed value or raise ValueError with a message for the practitioner."""
    if spec.type == "date":
        return _clean_date(spec, value)
    if spec.type == "long":
        if isinstance(value, bool) or not re.fullmatch(r"\s*-?[0-9]{1,15}\s*", str(value)):
            raise ValueError(f"{spec.label} must be a whole number")
        return _check_range(spec, int(value))
    if spec.type == "boolean":
        return _clean_boolean(spec, value)
    if spec.type == "enum":
        allowed = [v for v, _ in spec.options]
        if str(value) not in allowed:
            raise ValueError(f"Select {spec.label.lower()}: one of {', '.join(allowed)}")
        return str(value)
    return _check_length(spec, str(value))


def _clean_boolean(spec: FormField, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(f"{spec.label}: answer yes or no")


def _check_range(spec: FormField, number: int) -> int:
    low, high = spec.constraints.get("min"), spec.constraints.get("max")
    if low is not None and number < int(low):
        raise ValueError(f"{spec.label} must be {low} or more")
    if high is not None and number > int(high):
        raise ValueError(f"{spec.label} must be {high} or less")
    return number


def _check_length(spec: FormField, text: str) -> str:
    low, high = spec.constraints.get("minlength"), spec.constraints.get("maxlength")
    if low is not None and len(text) < int(low):
        raise ValueError(f"{spec.label} must be {low} characters or more")
    if high is not None and len(text) > int(high):
        raise ValueError(f"{spec.label} must be {high} characters or fewer")
    return text


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _missing_message(spec: FormField) -> str:
    label = f"{spec.label[:1].lower()}{spec.label[1:]}"
    if spec.type == "boolean":
        return f"Select yes or no: {label}"
    if spec.type == "enum":
        return f"Select {label}"
    return f"Enter the {label}" if spec.type == "date" and not label.startswith("the ") else f"Enter {label}"


@dataclass(frozen=True)
class DateRules:
    """What a date on a form is checked against: today, and the case's dates recorded so far.

    ``known``: the case's dates by field (start data and completed steps); ``labels``: what each
    of those dates is ("Date the child became looked after"); ``anchors``: the fields that start
    the case's clocks: a past event on a step cannot come before the earliest of them."""

    today: date
    known: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    anchors: tuple[str, ...] = ()


def validate(fields: list[FormField], data: dict[str, Any], rules: DateRules | None = None) -> dict[str, Any]:
    """Check ``data`` against ``fields``; return typed values or raise FormInvalid with all errors.

    With ``rules``, dates must also be plausible: a past event not after today (unless the field
    is a planned date), not before the case's anchor, nor before the dates it follows."""
    known = {f.id: f for f in fields}
    errors: dict[str, str] = {key: "This step does not record that answer" for key in data if key not in known}
    boxes: dict[str, tuple[str, ...]] = {}
    cleaned: dict[str, Any] = {}
    for spec in fields:
        value = data.get(spec.id)
        if spec.readonly:
            continue
        if _is_blank(value):
            if spec.required:
                errors[spec.id] = _missing_message(spec)
            continue
        try:
            cleaned[spec.id] = _clean_value(spec, value)
        except DateProblem as exc:
            errors[spec.id], boxes[spec.id] = str(exc), exc.boxes
        except ValueError as exc:
            errors[spec.id] = str(exc)
    if rules is not None:
        errors.update(_implausible_dates(fields, cleaned, rules, errors))
    if errors:
        raise FormInvalid(errors, dict(data), boxes=boxes)
    return cleaned


def _implausible_dates(fields: list[FormField], cleaned: dict[str, Any], rules: DateRules,
                       errors: dict[str, str]) -> dict[str, str]:  # fmt: skip
    labels = {f.id: f.label for f in fields}
    found = {}
    for spec in fields:
        if spec.type == "date" and isinstance(cleaned.get(spec.id), date) and spec.id not in errors:
            problem = implausible(spec, cleaned[spec.id], rules, cleaned, labels)
            if problem:
                found[spec.id] = problem
    return found


def implausible(spec: FormField, day: date, rules: DateRules, entered: Mapping[str, Any],
                labels: Mapping[str, str]) -> str | None:  # fmt: skip
    """Why ``day`` cannot be the date of ``spec``'s event, naming the rule and the dates; None if it can."""
    if not spec.future and day > rules.today:
        return f"{spec.label} must be today or in the past ({long_date(rules.today)} or earlier)"
    names = {**rules.labels, **labels}
    dates = {**{k: v for k, v in rules.known.items() if isinstance(v, date)},
             **{k: v for k, v in entered.items() if isinstance(v, date)}}  # fmt: skip
    for name in spec.on_or_after:
        if name != spec.id and name in dates and day < dates[name]:
            return (f"{spec.label} must be the same as or after {long_date(dates[name])}, "
                    f"the {what(names.get(name, name))}")  # fmt: skip
    anchors = [(dates[a], a) for a in rules.anchors if a in dates and a != spec.id and a not in entered]
    if anchors and spec.id not in rules.anchors:
        first, name = min(anchors)
        if day < first:
            return (f"{spec.label} must be the same as or after {long_date(first)}, the {what(names.get(name, name))}"
                    f" (the case's clocks start then)")  # fmt: skip
    return None


def what(label: str) -> str:
    """'Date the child became looked after' -> 'date the child became looked after'."""
    return f"{label[:1].lower()}{label[1:]}"
