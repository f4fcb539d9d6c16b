"""Task forms: the fields a step records and the checks on what a practitioner enters.

A form is read from the diagram's ``camunda:formData`` (see engine.bpmn.definition). Validation
is pure: it returns cleaned values or a dict of GOV.UK-style messages, and never drops input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.errors import FormInvalid

FIELD_TYPES = ("string", "long", "boolean", "date", "enum")
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_UK_DATE = re.compile(r"^\s*([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})\s*$")  # ASCII digits only
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


def _clean_value(spec: FormField, value: Any) -> Any:
    """Return the typed value or raise ValueError with a message for the practitioner."""
    if spec.type == "date":
        try:
            return parse_date(value)
        except (TypeError, ValueError):
            raise ValueError(f"{spec.label} must be a real date, for example 27/03/2027") from None
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


def validate(fields: list[FormField], data: dict[str, Any]) -> dict[str, Any]:
    """Check ``data`` against ``fields``; return typed values or raise FormInvalid with all errors."""
    known = {f.id: f for f in fields}
    errors: dict[str, str] = {key: "This step does not record that answer" for key in data if key not in known}
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
        except ValueError as exc:
            errors[spec.id] = str(exc)
    if errors:
        raise FormInvalid(errors, dict(data))
    return cleaned
