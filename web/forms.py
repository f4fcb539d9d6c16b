"""Diagram forms as GOV.UK components, and posted answers back into the engine's shape.

Dates use the GOV.UK date input (day, month, year boxes); yes/no and short choices are radios;
long choices a select; reasons and notes a textarea. What was entered is always shown again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

LONG_TEXT_HINTS = ("reason", "notes", "summary", "detail", "comment", "views")
MAX_RADIOS = 6


def _is_long_text(field: Mapping[str, Any]) -> bool:
    maxlength = int(field.get("constraints", {}).get("maxlength") or 0)
    return maxlength >= 500 or any(h in field["id"] for h in LONG_TEXT_HINTS)


def kind(field: Mapping[str, Any]) -> str:
    if field["type"] == "date":
        return "date"
    if field["type"] == "boolean":
        return "radios"
    if field["type"] == "enum":
        return "radios" if len(field.get("options", [])) <= MAX_RADIOS else "select"
    if field["type"] == "long":
        return "number"
    return "textarea" if _is_long_text(field) else "text"


def raw_from_request(fields: list[dict[str, Any]], posted: Mapping[str, str]) -> dict[str, str]:
    """Only this form's inputs, as typed (dates as their three boxes)."""
    raw: dict[str, str] = {}
    for field in fields:
        names = [f"{field['id']}-{part}" for part in ("day", "month", "year")] if kind(field) == "date" else [
            field["id"]]  # fmt: skip
        for name in names:
            if name in posted:
                raw[name] = str(posted[name])
    return raw


def answers(fields: list[dict[str, Any]], raw: Mapping[str, str]) -> dict[str, Any]:
    """The answers for the engine's validation: blanks stay blank, dates become dd/mm/yyyy."""
    found: dict[str, Any] = {}
    for field in fields:
        if field.get("readonly"):
            continue
        if kind(field) == "date":
            parts = [raw.get(f"{field['id']}-{p}", "").strip() for p in ("day", "month", "year")]
            found[field["id"]] = "/".join(parts) if any(parts) else ""
        else:
            found[field["id"]] = raw.get(field["id"], "")
    return found


def raw_from_values(fields: list[dict[str, Any]], values: Mapping[str, Any] | None) -> dict[str, str]:
    """Saved answers (a completed step's, or defaults) shown in the form's inputs."""
    raw: dict[str, str] = {}
    for field in fields:
        value = (values or {}).get(field["id"], field.get("default"))
        if value in (None, ""):
            continue
        if kind(field) == "date":
            try:
                day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
            except ValueError:
                continue
            raw.update({f"{field['id']}-day": str(day.day), f"{field['id']}-month": str(day.month),
                        f"{field['id']}-year": str(day.year)})  # fmt: skip
        elif field["type"] == "boolean":
            raw[field["id"]] = "yes" if str(value).lower() in ("true", "yes", "1") else "no"
        else:
            raw[field["id"]] = str(value)
    return raw


def components(fields: list[dict[str, Any]], raw: Mapping[str, str], errors: Mapping[str, str],
               boxes: Mapping[str, tuple[str, ...]] | None = None) -> list[dict]:  # fmt: skip
    """One GOV.UK macro call (kind and params) a field; ``boxes``: a date's wrong boxes (else all are marked)."""
    return [_component(f, raw, errors.get(f["id"]), (boxes or {}).get(f["id"])) for f in fields
            if not f.get("readonly")]  # fmt: skip


def _component(field: dict[str, Any], raw: Mapping[str, str], error: str | None,
               wrong: tuple[str, ...] | None = None) -> dict[str, Any]:  # fmt: skip
    name, label = field["id"], field["label"] + ("" if field.get("required") else " (optional)")
    shape = kind(field)
    message = {"text": error} if error else None
    hint = {"text": field["hint"]} if field.get("hint") else None
    if shape == "date":
        return {"kind": shape, "params": {
            "id": name, "namePrefix": name, "errorMessage": message,
            "fieldset": {"legend": {"text": label, "classes": "govuk-fieldset__legend--s"}},
            "hint": hint or {"text": "For example, 27 3 2027"},
            "items": [{"name": part, "value": raw.get(f"{name}-{part}", ""),
                       "classes": ("govuk-input--width-4" if part == "year" else "govuk-input--width-2")
                       + (" govuk-input--error" if error and (not wrong or part in wrong) else "")}
                      for part in ("day", "month", "year")],
        }}  # fmt: skip
    if shape in ("radios", "select"):
        options = [["yes", "Yes"], ["no", "No"]] if field["type"] == "boolean" else field.get("options", [])
        chosen = raw.get(name, "")
        items = [{"value": v, "text": t, "checked": v == chosen, "selected": v == chosen} for v, t in options]
        params: dict[str, Any] = {"name": name, "idPrefix": name, "id": name, "errorMessage": message, "hint": hint}
        if shape == "select":
            params.update(label={"text": label, "classes": "govuk-label--s"},
                          items=[{"value": "", "text": "Choose one"}, *items])  # fmt: skip
        else:
            params.update(items=items, classes="govuk-radios--inline" if len(items) == 2 else "",
                          fieldset={"legend": {"text": label, "classes": "govuk-fieldset__legend--s"}})  # fmt: skip
        return {"kind": shape, "params": params}
    params = {"id": name, "name": name, "value": raw.get(name, ""), "errorMessage": message, "hint": hint,
              "label": {"text": label, "classes": "govuk-label--s"}}  # fmt: skip
    if shape == "number":
        params.update(inputmode="numeric", classes="govuk-input--width-5", spellcheck=False)
    return {"kind": shape, "params": params}


def error_list(fields: list[dict[str, Any]], errors: Mapping[str, str],
               boxes: Mapping[str, tuple[str, ...]] | None = None) -> list[dict[str, str]]:  # fmt: skip
    """The error summary, in form order, each linking to its input (a date: its first wrong box)."""
    order = {f["id"]: i for i, f in enumerate(fields)}
    kinds = {f["id"]: kind(f) for f in fields}
    listed = []
    for name in sorted(errors, key=lambda n: order.get(n, len(order))):
        wrong = (boxes or {}).get(name) or ("day",)
        anchor = f"{name}-{wrong[0]}" if kinds.get(name) == "date" else name
        listed.append({"text": errors[name], "href": f"#{anchor}"})
    return listed


KEPT = "kept_form"


def keep(errors: dict[str, str], values: dict[str, str]) -> None:
    """A form posted to an action that answers with a redirect (a case page's manager forms) was refused:
    the page it came from shows the problems against their boxes, with what was typed still in them
    (``errors`` and ``values`` by input id). Read once, by the next page shown."""
    from flask import session

    session[KEPT] = {"errors": dict(errors), "values": dict(values)}


def kept() -> dict[str, Any]:
    """What ``keep`` left for this page (taken, so a reload shows a clean form), for the templates."""
    from flask import has_request_context, session

    found = session.pop(KEPT, None) if has_request_context() else None
    errors, values = (found["errors"], found["values"]) if found else ({}, {})
    summary = [{"text": text, "href": f"#{name}"} for name, text in errors.items()]
    return {
        **({"errors": summary} if summary else {}),
        "kept_error": lambda name: {"text": errors[name]} if name in errors else None,
        "kept_value": lambda name, default="": values.get(name, default),
    }


def confirmed() -> bool:
    """A destructive action's form came back from its confirmation page (``confirm_page``)."""
    from flask import request

    return request.form.get("confirmed") == "yes"


def confirm_page(title: str, warning: str, action: str, back: str, yes: str, no: str = "No, go back",
                 rows: list[tuple[str, str]] | None = None, fields: dict[str, str] | None = None) -> str:  # fmt: skip
    """Ask before a destructive action (GOV.UK: a page of its own, the consequence in words, the warning
    button), re-posting the same form with ``confirmed=yes``."""
    from flask import render_template

    listed = [{"key": {"text": key}, "value": {"text": value}} for key, value in rows or []]
    confirm = {"title": title, "warning": warning, "action": action, "back": back, "yes": yes, "no": no,
               "rows": listed, "fields": fields or {}}  # fmt: skip
    return render_template("confirm.html", confirm=confirm)
