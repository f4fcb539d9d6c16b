"""Marshmallow schemas of the REST API: what requests may carry and what answers hold (and so the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from engine.domain.events import CHILD_REF
from engine.domain.states import CaseStatus, DeadlineStatus, TaskStatus
from engine.services import inbound
from engine.services.outbox import EVENT_TYPES
from engine.services.subscriptions import STATUSES as DELIVERY_STATUSES
from web.chrome import IdConverter

DAY = {"format": "date", "example": "2027-01-20"}
ID_MAX = IdConverter.MAX
MOMENT = {"format": "date-time", "example": "2027-01-20T09:30:00+00:00"}


def _day(**kwargs: Any) -> fields.Str:
    return fields.Str(metadata=DAY, **kwargs)


def _moment(**kwargs: Any) -> fields.Str:
    return fields.Str(metadata=MOMENT, **kwargs)


class _Query(Schema):
    class Meta:
        unknown = EXCLUDE  # a client's extra query parameters are ignored, not refused


class PageQuery(_Query):
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class _Page(Schema):
    total = fields.Int(required=True)
    page = fields.Int(required=True)
    per_page = fields.Int(required=True)


class ErrorDetail(Schema):
    status = fields.Int(required=True)
    code = fields.Str(required=True, metadata={"example": "not_found"})
    message = fields.Str(required=True, metadata={"example": "there is no step 12"})
    details = fields.Dict(metadata={"description": "field messages, the answers sent back, and the like"})


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)


# --- cases ------------------------------------------------------------------------------------

# the one child-reference rule, the engine's and the webhooks' (engine.domain.events.CHILD_REF)
REF = validate.Regexp(CHILD_REF, error="a case reference like CH-1001: letters, digits and . _ / - (no names)")


class CaseQuery(PageQuery):
    status = fields.Str(validate=validate.OneOf([s.value for s in CaseStatus]))
    key = fields.Str(validate=validate.Length(max=100), metadata={"description": "the pathway, e.g. ppm_to_adm"})
    ref = fields.Str(validate=validate.Length(max=100), metadata={"description": "the child's case reference"})
    team = fields.Str(validate=validate.Length(max=100))


class CaseSummary(Schema):
    id = fields.Int(required=True)
    ref = fields.Str(required=True)
    key = fields.Str(required=True)
    version = fields.Int(required=True, metadata={"description": "the pathway version the case runs on"})
    team = fields.Str(allow_none=True)
    status = fields.Str(required=True)
    outcome = fields.Str(allow_none=True)
    started_at = _moment(required=True)
    updated_at = _moment(required=True)
    ended_at = _moment(allow_none=True)


class CasePage(_Page):
    items = fields.List(fields.Nested(CaseSummary), required=True)


class StartCase(Schema):
    key = fields.Str(required=True, validate=validate.Length(min=1, max=100), metadata={"example": "ppm_to_adm"})
    ref = fields.Str(required=True, validate=REF, metadata={"example": "CH-1001"})
    team = fields.Str(validate=validate.Length(min=1, max=100), metadata={"description": "default: your only team"})
    data = fields.Dict(keys=fields.Str(), load_default=dict, metadata={
        "description": "the pathway's start form, e.g. {\"date_of_birth\": \"2020-03-01\"}"})  # fmt: skip


class OpenStep(Schema):
    id = fields.Int(required=True)
    element = fields.Str(required=True)
    title = fields.Str(required=True)
    role = fields.Str(allow_none=True)
    assignee = fields.Str(allow_none=True)
    due = _day(allow_none=True)


class DeadlineView(Schema):
    name = fields.Str(required=True)
    key = fields.Str(required=True)
    due = _day(allow_none=True)
    source = fields.Str(allow_none=True)
    rule_status = fields.Str(allow_none=True)
    anchor = fields.Str(allow_none=True)
    status = fields.Str(required=True)  # running / met / met_late / breached / expected (moved, cancelled, gate)
    kind = fields.Str(allow_none=True)  # deadline, or gate (not before)
    met_on = _day(allow_none=True)  # the date the event happened, as its form records it
    recorded_on = _day(allow_none=True)  # the day it was recorded
    expected_from = fields.Str(allow_none=True)  # an expected clock: what its date is worked out from
    said = fields.Str(allow_none=True)  # the clock in a sentence


class AuditEntry(Schema):
    at = _moment(required=True)
    actor = fields.Str(required=True)
    action = fields.Str(required=True)
    element = fields.Str(allow_none=True)
    detail = fields.Str(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class Gate(Schema):
    name = fields.Str(required=True)
    element = fields.Str(required=True)
    not_before = _day(allow_none=True)
    source = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    said = fields.Str(allow_none=True)


class CaseError(Schema):
    element = fields.Str(allow_none=True)
    message = fields.Str(required=True)


class CaseDetail(Schema):
    id = fields.Int(required=True)
    ref = fields.Str(required=True)
    key = fields.Str(required=True)
    team = fields.Str(allow_none=True)
    version = fields.Int(required=True)
    case_version = fields.Int(required=True, metadata={"description": "send it back when completing a step"})
    status = fields.Str(required=True)
    outcome = fields.Str(allow_none=True)
    error = fields.Nested(CaseError, allow_none=True)
    started_at = _moment(required=True)
    started_by = fields.Str(allow_none=True)
    start_data = fields.Dict(required=True)
    next_timer_due = _moment(allow_none=True)
    open_tasks = fields.List(fields.Nested(OpenStep), required=True)
    deadlines = fields.List(fields.Nested(DeadlineView), required=True)
    gates = fields.List(fields.Nested(Gate), required=True)
    audit = fields.List(fields.Nested(AuditEntry), required=True)


# --- tasks ------------------------------------------------------------------------------------


class TaskQuery(PageQuery):
    status = fields.Str(load_default=TaskStatus.OPEN.value, validate=validate.OneOf([s.value for s in TaskStatus]))
    role = fields.Str(validate=validate.Length(max=100))
    ref = fields.Str(validate=validate.Length(max=100))
    team = fields.Str(validate=validate.Length(max=100))
    assignee = fields.Str(validate=validate.Length(max=100))
    mine = fields.Bool(load_default=False, metadata={"description": "only steps assigned to the token's account"})
    case_id = fields.Int(validate=validate.Range(min=1, max=ID_MAX))


class TaskView(Schema):
    id = fields.Int(required=True)
    ref = fields.Str(required=True)
    case_id = fields.Int(required=True)
    key = fields.Str(required=True)
    element = fields.Str(required=True)
    title = fields.Str(required=True)
    role = fields.Str(allow_none=True)
    team = fields.Str(allow_none=True)
    lane = fields.Str(allow_none=True)
    assignee = fields.Str(allow_none=True)
    due = _day(allow_none=True)
    not_before = _day(allow_none=True)
    status = fields.Str(required=True)
    completed_by = fields.Str(allow_none=True)
    completed_at = _moment(allow_none=True)


class TaskPage(_Page):
    items = fields.List(fields.Nested(TaskView), required=True)


class FormField(Schema):
    id = fields.Str(required=True)
    label = fields.Str(required=True)
    type = fields.Str(required=True, metadata={"description": "string, long, boolean, date or enum"})
    required = fields.Bool(required=True)
    options = fields.List(fields.List(fields.Str()), required=True)
    constraints = fields.Dict(required=True)
    readonly = fields.Bool(required=True)
    default = fields.Raw(allow_none=True)
    hint = fields.Str(allow_none=True)


class TaskDetail(TaskView):
    case_version = fields.Int(required=True)
    form = fields.List(fields.Nested(FormField), required=True)


class CompleteTask(Schema):
    data = fields.Dict(keys=fields.Str(), required=True, metadata={
        "description": "the step's form answers: dates as YYYY-MM-DD, yes/no as true/false"})  # fmt: skip
    case_version = fields.Int(validate=validate.Range(min=0), metadata={
        "description": "the case_version you read; a 409 if the case changed since"})  # fmt: skip


# --- deadlines, definitions, events ------------------------------------------------------------


class DeadlineQuery(PageQuery):
    status = fields.Str(validate=validate.OneOf([s.value for s in DeadlineStatus]))
    ref = fields.Str(validate=validate.Length(max=100))
    case_id = fields.Int(validate=validate.Range(min=1, max=ID_MAX))
    overdue = fields.Bool(load_default=False, metadata={"description": "unmet and past their day"})
    due_before = fields.Date(metadata={"description": "due before this day"})


class DeadlineItem(DeadlineView):
    id = fields.Int(required=True)
    case_id = fields.Int(required=True)
    ref = fields.Str(required=True)
    element = fields.Str(required=True)


class DeadlinePage(_Page):
    items = fields.List(fields.Nested(DeadlineItem), required=True)


class DefinitionView(Schema):
    key = fields.Str(required=True)
    name = fields.Str(required=True)
    version = fields.Int(required=True)
    filename = fields.Str(required=True)
    published_at = _moment(required=True)
    published_by = fields.Str(required=True)


class EventQuery(PageQuery):
    status = fields.Str(validate=validate.OneOf(inbound.STATUSES))
    ref = fields.Str(validate=validate.Length(max=100))


class EventView(Schema):
    id = fields.Int(required=True)
    sender = fields.Str(required=True)
    event_id = fields.Str(required=True)
    type = fields.Str(required=True)
    child_ref = fields.Str(required=True)
    occurred_at = _moment(required=True)
    received_at = _moment(required=True)
    status = fields.Str(required=True)
    reason = fields.Str(allow_none=True)
    action = fields.Str(allow_none=True)
    case_ids = fields.List(fields.Int(), required=True)
    attempts = fields.Int(required=True)
    applied_at = _moment(allow_none=True)
    replayed_by = fields.Str(allow_none=True)
    replayed_at = _moment(allow_none=True)
    payload = fields.Dict(required=True)


class EventPage(_Page):
    items = fields.List(fields.Nested(EventView), required=True)
    counts = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True)


# --- subscriptions ----------------------------------------------------------------------------


class SubscriptionView(Schema):
    id = fields.Int(required=True)
    url = fields.Str(required=True)
    description = fields.Str(required=True)
    event_types = fields.List(fields.Str(), required=True)
    active = fields.Bool(required=True)
    disabled_reason = fields.Str(allow_none=True)
    valid_secrets = fields.Int(required=True)
    created_at = _moment(required=True)
    created_by = fields.Str(required=True)
    updated_at = _moment(required=True)
    deliveries = fields.Dict(keys=fields.Str(), values=fields.Int(), metadata={"description": "counts by status"})


class NewSubscription(Schema):
    url = fields.Str(required=True, validate=validate.Length(min=1, max=500),
                     metadata={"example": "https://lcs.example.gov.uk/pathways-hooks"})  # fmt: skip
    event_types = fields.List(fields.Str(validate=validate.OneOf(EVENT_TYPES)), required=True,
                              validate=validate.Length(min=1))  # fmt: skip
    description = fields.Str(load_default="", validate=validate.Length(max=200))


class SubscriptionWithSecret(SubscriptionView):
    secret = fields.Str(required=True, metadata={"description": "the signing secret: shown this once"})


class ChangeSubscription(Schema):
    url = fields.Str(validate=validate.Length(min=1, max=500))
    event_types = fields.List(fields.Str(validate=validate.OneOf(EVENT_TYPES)), validate=validate.Length(min=1))
    description = fields.Str(validate=validate.Length(max=200))
    active = fields.Bool()


class Secret(Schema):
    secret = fields.Str(required=True, metadata={"description": "the new signing secret: shown this once"})


class DeliveryQuery(PageQuery):
    status = fields.Str(validate=validate.OneOf(DELIVERY_STATUSES))


class Attempt(Schema):
    at = _moment(required=True)
    status_code = fields.Int(allow_none=True, metadata={"description": "the receiver's answer; null if none came"})
    error = fields.Str(allow_none=True)
    duration_ms = fields.Int(required=True)


class DeliveryView(Schema):
    id = fields.Int(required=True)
    subscription_id = fields.Int(required=True)
    msg_id = fields.Str(required=True, metadata={"description": "the webhook-id header: the same on every retry"})
    event = fields.Str(required=True)
    type = fields.Str(required=True)
    case_id = fields.Int(required=True)
    child_ref = fields.Str(allow_none=True)
    status = fields.Str(required=True)
    attempts = fields.Int(required=True)
    last_status_code = fields.Int(allow_none=True)
    last_error = fields.Str(allow_none=True)
    next_attempt_at = _moment(allow_none=True)
    created_at = _moment(required=True)
    delivered_at = _moment(allow_none=True)
    attempt_log = fields.List(fields.Nested(Attempt))


class DeliveryPage(_Page):
    items = fields.List(fields.Nested(DeliveryView), required=True)


class SiblingCase(Schema):
    id = fields.Int(allow_none=True, metadata={"description": "null when the case is held by a team you cannot see"})
    key = fields.Str(required=True)
    name = fields.Str(required=True)
    status = fields.Str(required=True)
    team = fields.Str(allow_none=True)
    visible = fields.Bool(required=True)


class Sibling(Schema):
    ref = fields.Str(required=True, metadata={"example": "CH-1002"})
    added_at = _moment(required=True)
    added_by = fields.Str(required=True)
    cases = fields.List(fields.Nested(SiblingCase), required=True)


class SiblingGroupView(Schema):
    ref = fields.Str(required=True, metadata={"example": "CH-1001"})
    group_id = fields.Int(allow_none=True, metadata={"description": "null when the child is in no sibling group"})
    siblings = fields.List(fields.Nested(Sibling), required=True)
    joined = fields.List(fields.Str(), metadata={"description": "on a link: the children that joined the group"})


class LinkSiblings(Schema):
    refs = fields.List(fields.Str(validate=REF), required=True, validate=validate.Length(min=2, max=20),
                       metadata={"example": ["CH-1001", "CH-1002"]})  # fmt: skip


class UnlinkSibling(Schema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=2000))


class Unlinked(Schema):
    ref = fields.Str(required=True)
    group_id = fields.Int(required=True)
    removed_reason = fields.Str(required=True)
    siblings = fields.List(fields.Str(), required=True)
