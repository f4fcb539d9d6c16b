"""What every page shares: request hooks, template helpers and error pages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g, redirect, render_template, request, url_for
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response

from engine import clock
from engine.domain.escalation import escalation_words
from engine.errors import BudgetExceeded, Conflict, InvalidInput, NotAllowed, NotFound, PathwaysError
from engine.services._common import jsonable
from web import forms, inputs, pages, security
from webhooks.http import is_machine_path, json_error

LONDON = ZoneInfo("Europe/London")
ROLE_LABELS = {
    "social_worker": "Social worker", "cic_social_worker": "Children in care social worker",
    "team_manager": "Team manager", "services_manager": "Services manager", "head_of_service": "Head of service",
    "iro": "Independent reviewing officer", "adoption_fostering_worker": "Adoption and fostering worker",
    "adoption_social_worker": "Adoption social worker", "adoption_team": "Adoption team",
    "sgo_assessor": "SGO assessor", "legal": "Childcare lawyer", "adm": "Agency decision maker",
    "panel_support": "Panel support", "permanency_panel": "Permanency panel", "adoption_panel": "Adoption panel",
    "nominated_officer": "Nominated officer", "process_owner": "Process owner", "admin": "Administrator",
}  # fmt: skip
STATUS_TAGS = {
    "running": "govuk-tag--blue", "waiting": "govuk-tag--blue", "completed": "govuk-tag--green",
    "met": "govuk-tag--green", "open": "govuk-tag--light-blue", "breached": "govuk-tag--red",
    "error": "govuk-tag--red", "suspended": "govuk-tag--yellow", "cancelled": "govuk-tag--grey",
    "moved": "govuk-tag--grey",
}  # fmt: skip


def day(value: Any) -> str:
    if not value:
        return ""
    found = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{found.day} {found:%B %Y}"


def when(value: Any) -> str:
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    local = moment.astimezone(LONDON)
    hour = local.hour % 12 or 12
    return f"{local.day} {local:%b %Y}, {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


def answer(value: Any, kind: str | None = None) -> str:
    """A recorded answer as staff read it: Yes or No, a date in words, else the text as given."""
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if value is None:
        return ""
    return day(value) if kind == "date" and value else str(value)


def role_label(role: str | None) -> str:
    return ROLE_LABELS.get(role or "", (role or "").replace("_", " ").capitalize())


def _globals() -> dict[str, Any]:
    return {
        **forms.kept(),
        "csrf_token": security.csrf_token,
        "cspNonce": security.csp_nonce(),
        "person": g.get("person"),
        "may_start": bool(g.get("person") and g.person.may_start_pathways),
        "role_label": role_label,
        "status_tag": lambda status: STATUS_TAGS.get(status or "", "govuk-tag--grey"),
        "facts": pages.service_facts(),
        "session_live": live if (live := g.get("session_live")) is not None and live.person is not None else None,
        "seconds_left": lambda live: live.seconds_left(clock.utcnow()),
    }


_STATUS = {NotFound: 404, NotAllowed: 403, Conflict: 409, InvalidInput: 400, BudgetExceeded: 503}
_TITLES = {400: "There is a problem", 401: "Sign in", 403: "You cannot see this page", 404: "Page not found",
           409: "Someone else changed this", 413: "That is too large",
           500: "Sorry, there is a problem with the service", 503: "The service is busy"}  # fmt: skip
RETRY_AFTER_S = 30
_UNAVAILABLE = ("Nothing was saved: the service cannot reach its database just now. "
                "Try again in a minute; what you typed is still in your browser's back button.")  # fmt: skip


def _error_page(status: int, message: str) -> Response | tuple[str, int]:
    page = render_template("error.html", title=_TITLES.get(status, "There is a problem"), message=message)
    if status != 503:
        return page, status
    response = Response(page, status=503)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _answer(status: int, message: str, details: dict[str, Any] | None = None) -> Response | tuple[str, int]:
    if not is_machine_path(request.path):
        return _error_page(status, message)
    response = json_error(status, message, **(details or {}))
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


class IdConverter(IntegerConverter):
    """``<id:...>``: a row id in a URL, 1 to the largest INTEGER the databases hold; anything else is not found."""

    MAX = 2**31 - 1

    def __init__(self, url_map: Any) -> None:
        super().__init__(url_map, min=1, max=self.MAX)


def install(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    app.before_request(security.refuse_nul)
    app.before_request(inputs.refuse_deep_json)
    app.before_request(security.load_person)
    app.before_request(security.check_csrf)
    app.after_request(security.secure_headers)
    app.context_processor(_globals)
    app.jinja_env.filters.update(day=day, when=when, escalation=escalation_words, answer=answer)

    @app.errorhandler(PathwaysError)
    def pathways_error(exc: PathwaysError) -> Response | tuple[str, int]:
        status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
        return _answer(status, exc.message, jsonable(exc.details))

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unreachable(exc: Exception) -> Response | tuple[str, int]:
        """The database is down or restarting: 503 with Retry-After, not a 500 (issue 15)."""
        app.logger.warning("event=database_unavailable error=%s", type(getattr(exc, "orig", exc)).__name__)
        return _answer(503, _UNAVAILABLE)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[str, int]:
        if is_machine_path(request.path):
            messages = (getattr(exc, "data", None) or {}).get("messages")  # the API's schema validation
            if messages:
                return json_error(exc.code or 422, "some values are not valid: details.fields says which",
                                  fields=jsonable(messages))  # fmt: skip
            return json_error(exc.code or 500, exc.description or "")
        if exc.code == 401:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return _error_page(exc.code or 500, exc.description or "")

    @app.errorhandler(500)
    def server_error(exc: Exception) -> Response | tuple[str, int]:
        if is_machine_path(request.path):
            return json_error(500, "the server could not finish this request: check what was saved before trying again")
        return _error_page(500, "What you last did may not have been saved: go back and check before trying "
                                "again. If it keeps happening, tell your system administrator the time.")  # fmt: skip
