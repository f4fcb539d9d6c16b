"""The REST API under /api/v1 for other systems: token authentication, scopes, JSON in and out.

A token (``Authorization: Bearer pp_...``, made with ``pathways tokens add``) acts as a staff
account, within its scopes; the account's roles and teams still decide which cases and steps it
sees and may act on, exactly as in the web app. Errors have one shape everywhere:
``{"error": {"status", "code", "message", "details"}}``. Lists are paged with ``page`` and
``per_page`` and answer ``{"items", "total", "page", "per_page"}``. The OpenAPI 3 document is at
``/api/v1/openapi.json`` and a readable page of it at ``/api/v1/docs``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Flask, g, render_template, request
from flask.views import MethodView
from flask_smorest import Api, Blueprint

from engine import services
from engine.errors import NotAllowed
from engine.services import listings, tokens
from engine.services.tokens import SCOPES, TokenHolder
from web import api_schemas as s
from web.chrome import IdConverter
from web.security import runtime
from webhooks.http import json_error

PREFIX = "/api/v1"
blueprint = Blueprint("api", __name__, url_prefix=PREFIX, description="Cases, steps, deadlines and events")
UNAUTHORISED = "send an API token: Authorization: Bearer pp_... (made with 'pathways tokens add')"


class PathwaysApi(Api):
    """flask-smorest, with our error shape: the app's own handlers answer every error (see web.chrome)."""

    ERROR_SCHEMA = s.Error

    def _register_error_handlers(self) -> None:
        return None


def holder() -> TokenHolder:
    found: TokenHolder = g.api_holder
    return found


@blueprint.before_request
def authenticate() -> Any:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorised(UNAUTHORISED)
    try:
        g.api_holder = tokens.authenticate_token(runtime(), token.strip())
    except NotAllowed as exc:
        return _unauthorised(exc.message)
    return None


def _unauthorised(message: str) -> Any:
    response = json_error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="pathways"'
    return response


def scope(name: str, admin: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Refuse (403) a token without ``name``, or (``admin``) one whose account is not an administrator."""
    assert name in SCOPES, name

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            found = holder()
            if name not in found.scopes:
                return json_error(403, f"this token lacks the {name} scope", needs=name)
            if admin and "admin" not in found.person.roles:
                return json_error(403, f"the token's account {found.person.username} is not an administrator")
            return view(*args, **kwargs)

        checked.__doc__ = view.__doc__
        return checked

    return decorate


def _documented(*codes: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The error answers an operation may give, in the OpenAPI document."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        for code in (401, 403, *codes):
            view = blueprint.alt_response(code, schema=s.Error, description=_ERRORS[code])(view)
        return view

    return decorate


_ERRORS = {400: "the request is not valid: details say what to correct", 401: "no valid API token",
           403: "the token's scope or account does not allow this", 404: "not found", 409: "a conflict: reload",
           422: "the parameters are not valid"}  # fmt: skip


def _page_args(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if v not in (None, "")}


# --- cases ------------------------------------------------------------------------------------


@blueprint.route("/cases")
class CasesResource(MethodView):
    @blueprint.arguments(s.CaseQuery, location="query")
    @blueprint.response(200, s.CasePage)
    @_documented()
    @scope("cases:read")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Cases the token's account may see, newest first."""
        return listings.cases_page(runtime(), holder().person, **_page_args(args))

    @blueprint.arguments(s.StartCase)
    @blueprint.response(201, s.CaseDetail)
    @_documented(400, 404, 409)
    @scope("cases:write")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a pathway for a child (the account must be allowed to start pathways in the team)."""
        person = holder().person
        if not person.may_start_pathways:
            raise NotAllowed(f"{person.username} may not start pathways")
        team = body.get("team") or (sorted(person.teams)[0] if len(person.teams) == 1 else None)
        if not team or not person.may_see_team(team):
            raise NotAllowed("give the team holding the case: one of the account's teams")
        started = services.start_case(runtime(), body["key"], body["ref"], body["data"], person.username, team=team)
        return listings.case_detail(runtime(), person, started["id"])


@blueprint.route("/cases/<id:case_id>")
class CaseResource(MethodView):
    @blueprint.response(200, s.CaseDetail)
    @_documented(404)
    @scope("cases:read")
    def get(self, case_id: int) -> dict[str, Any]:
        """One case: its open steps, deadlines, gates and audit trail."""
        return listings.case_detail(runtime(), holder().person, case_id)


# --- tasks ------------------------------------------------------------------------------------


@blueprint.route("/tasks")
class TasksResource(MethodView):
    @blueprint.arguments(s.TaskQuery, location="query")
    @blueprint.response(200, s.TaskPage)
    @_documented()
    @scope("tasks:read")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Steps the token's account may see: its roles' steps in its teams (a manager: all its teams' steps)."""
        if args.pop("mine", False):
            args["assignee"] = holder().person.username
        return listings.tasks_page(runtime(), holder().person, **_page_args(args))


@blueprint.route("/tasks/<id:task_id>")
class TaskResource(MethodView):
    @blueprint.response(200, s.TaskDetail)
    @_documented(404)
    @scope("tasks:read")
    def get(self, task_id: int) -> dict[str, Any]:
        """One step with its form: the fields to send when completing it."""
        return listings.task_detail(runtime(), holder().person, task_id)


@blueprint.route("/tasks/<id:task_id>/claim", methods=["POST"])
@blueprint.response(200, s.TaskView)
@_documented(404, 409)
@scope("tasks:write")
def claim(task_id: int) -> dict[str, Any]:
    """Claim a step for the token's account (409 if someone else holds it)."""
    person = holder().person
    return services.claim_task(runtime(), task_id, person.username, person)


@blueprint.route("/tasks/<id:task_id>/unclaim", methods=["POST"])
@blueprint.response(200, s.TaskView)
@_documented(404, 409)
@scope("tasks:write")
def unclaim(task_id: int) -> dict[str, Any]:
    """Release a claimed step back to its team."""
    person = holder().person
    return services.unclaim_task(runtime(), task_id, person.username, person)


@blueprint.route("/tasks/<id:task_id>/complete", methods=["POST"])
@blueprint.arguments(s.CompleteTask)
@blueprint.response(200, s.TaskView)
@_documented(400, 404, 409)
@scope("tasks:write")
def complete(body: dict[str, Any], task_id: int) -> dict[str, Any]:
    """Complete a step with its form's answers; the pathway then moves on. A 400 names every answer to correct."""
    person = holder().person
    return services.complete_task(runtime(), task_id, body["data"], person.username, body.get("case_version"),
                                  person=person)  # fmt: skip


# --- deadlines and definitions -------------------------------------------------------------------


@blueprint.route("/deadlines")
@blueprint.arguments(s.DeadlineQuery, location="query")
@blueprint.response(200, s.DeadlinePage)
@_documented()
@scope("deadlines:read")
def deadlines(args: dict[str, Any]) -> dict[str, Any]:
    """Deadlines of the cases the account may see, soonest first (``overdue=true``: unmet and past their day)."""
    return listings.deadlines_page(runtime(), holder().person, **_page_args(args))


@blueprint.route("/definitions")
@blueprint.response(200, s.DefinitionView(many=True))
@_documented()
@scope("definitions:read")
def definitions() -> list[dict[str, Any]]:
    """The published pathways, newest version of each."""
    return services.list_definitions(runtime())


# --- events from case-management systems (administrators) -------------------------------------------


@blueprint.route("/events")
@blueprint.arguments(s.EventQuery, location="query")
@blueprint.response(200, s.EventPage)
@_documented()
@scope("events:read", admin=True)
def events(args: dict[str, Any]) -> dict[str, Any]:
    """Events received from case-management systems, newest first, with counts by status."""
    found = services.list_events(runtime(), status=args.get("status"), child_ref=args.get("ref"),
                                 page=args["page"], per_page=args["per_page"])  # fmt: skip
    return {**found, "items": found.pop("events")}


@blueprint.route("/events/<id:event_id>")
@blueprint.response(200, s.EventView)
@_documented(404)
@scope("events:read", admin=True)
def event(event_id: int) -> dict[str, Any]:
    """One received event: what it did, or why it was not applied."""
    return services.show_event(runtime(), event_id)


@blueprint.route("/events/<id:event_id>/replay", methods=["POST"])
@blueprint.response(200, s.EventView)
@_documented(404, 409)
@scope("events:write", admin=True)
def replay(event_id: int) -> dict[str, Any]:
    """Apply an unmatched, parked, ignored or failed event again (audited)."""
    return services.replay_event(runtime(), event_id, holder().person.username)


# --- sibling groups -----------------------------------------------------------------------------------


@blueprint.route("/children/<path:ref>/siblings")
@blueprint.response(200, s.SiblingGroupView)
@_documented()
@scope("cases:read")
def siblings(ref: str) -> dict[str, Any]:
    """The child's brothers and sisters, with the pathways the token's account may see."""
    return services.siblings_of(runtime(), ref, holder().person)


@blueprint.route("/siblings", methods=["POST"])
@blueprint.arguments(s.LinkSiblings)
@blueprint.response(200, s.SiblingGroupView)
@_documented(400, 409)
@scope("cases:write")
def link_siblings(body: dict[str, Any]) -> dict[str, Any]:
    """Link two or more children as brothers and sisters (their groups merge; linking again changes nothing)."""
    person = holder().person
    return services.link_siblings(runtime(), body["refs"], person.username, person=person)


@blueprint.route("/children/<path:ref>/siblings/unlink", methods=["POST"])
@blueprint.arguments(s.UnlinkSibling)
@blueprint.response(200, s.Unlinked)
@_documented(400, 404)
@scope("cases:write")
def unlink_sibling(body: dict[str, Any], ref: str) -> dict[str, Any]:
    """Take the child out of its sibling group, with the reason (the link is ended and kept)."""
    person = holder().person
    return services.unlink_sibling(runtime(), ref, person.username, body["reason"], person=person)


# --- subscriptions (administrators) ------------------------------------------------------------------


@blueprint.route("/subscriptions")
class SubscriptionsResource(MethodView):
    @blueprint.response(200, s.SubscriptionView(many=True))
    @_documented()
    @scope("subscriptions:admin", admin=True)
    def get(self) -> list[dict[str, Any]]:
        """Subscriptions, with delivery counts by status (never their secrets)."""
        return services.list_subscriptions(runtime())

    @blueprint.arguments(s.NewSubscription)
    @blueprint.response(201, s.SubscriptionWithSecret)
    @_documented(400)
    @scope("subscriptions:admin", admin=True)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Subscribe a URL to event types; the answer holds the signing secret, shown this once."""
        return services.add_subscription(runtime(), body["url"], body["event_types"], holder().person.username,
                                         body["description"])  # fmt: skip


@blueprint.route("/subscriptions/<id:subscription_id>")
class SubscriptionResource(MethodView):
    @blueprint.response(200, s.SubscriptionView)
    @_documented(404)
    @scope("subscriptions:admin", admin=True)
    def get(self, subscription_id: int) -> dict[str, Any]:
        """One subscription."""
        return services.show_subscription(runtime(), subscription_id)

    @blueprint.arguments(s.ChangeSubscription)
    @blueprint.response(200, s.SubscriptionView)
    @_documented(400, 404)
    @scope("subscriptions:admin", admin=True)
    def patch(self, body: dict[str, Any], subscription_id: int) -> dict[str, Any]:
        """Change the URL, event types or description, or disable (``active: false``) and enable it."""
        services.update_subscription(runtime(), subscription_id, holder().person.username, **body)
        return services.show_subscription(runtime(), subscription_id)


@blueprint.route("/subscriptions/<id:subscription_id>/rotate", methods=["POST"])
@blueprint.response(200, s.Secret)
@_documented(404)
@scope("subscriptions:admin", admin=True)
def rotate(subscription_id: int) -> dict[str, Any]:
    """A new signing secret; the previous one also signs deliveries until the next rotation."""
    return {"secret": services.rotate_subscription_secret(runtime(), subscription_id, holder().person.username)}


@blueprint.route("/subscriptions/<id:subscription_id>/deliveries")
@blueprint.arguments(s.DeliveryQuery, location="query")
@blueprint.response(200, s.DeliveryPage)
@_documented(404)
@scope("subscriptions:admin", admin=True)
def deliveries(args: dict[str, Any], subscription_id: int) -> dict[str, Any]:
    """The delivery log: each delivery, newest first, with every attempt and the receiver's status code."""
    return services.list_deliveries(runtime(), subscription_id, **_page_args(args))


@blueprint.route("/deliveries/<id:delivery_id>/redeliver", methods=["POST"])
@blueprint.response(200, s.DeliveryView)
@_documented(404, 409)
@scope("subscriptions:admin", admin=True)
def redeliver(delivery_id: int) -> dict[str, Any]:
    """Send a delivery again (dead, gone, or delivered but lost by the receiver)."""
    return services.redeliver_delivery(runtime(), delivery_id, holder().person.username)


# --- the document ---------------------------------------------------------------------------------


pages = FlaskBlueprint("api_pages", __name__, url_prefix=PREFIX)  # the human page: no token needed


@pages.get("/docs")
def docs() -> str:
    """The OpenAPI document as a page (no scripts from elsewhere: it renders here, offline)."""
    spec = _api().spec.to_dict()
    answers = {str(code): text for code, text in _ERRORS.items()} | {"default": "any other error, in the same shape"}
    return render_template("api_docs.html", spec=spec, scopes=SCOPES, answers=answers)


def _api() -> PathwaysApi:
    from flask import current_app

    found: PathwaysApi = current_app.extensions["pathways_api"]
    return found


def install(app: Flask) -> None:
    app.config.update(
        API_TITLE="Permanence Pathways API", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX, OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": __doc__},
            "servers": [{"url": "/"}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                              "description": "pathways tokens add NAME ..."}}},
            "security": [{"bearerAuth": []}],
        },
    )  # fmt: skip
    api = PathwaysApi(app)
    api.register_converter(IdConverter, lambda _: {"type": "integer", "minimum": 1, "maximum": IdConverter.MAX})
    api.register_blueprint(blueprint)
    app.register_blueprint(pages)
    app.extensions["pathways_api"] = api
