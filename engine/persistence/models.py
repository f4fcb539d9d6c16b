"""Tables. Nothing is deleted: cancel is a status, and the audit log is append-only (triggers)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, orm_insert_sentinel, relationship

OPEN_CASE_SQL = "status IN ('running', 'waiting', 'error', 'suspended')"  # domain.states.ACTIVE_CASE_STATUSES
RUNNING_CASE_SQL = "status IN ('running', 'waiting')"  # a case that moves on
_AT_RISK = ("team", "key", "delay_noted")  # what counting the cases at risk reads beside each index's date


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database; naive values are refused where they enter."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, date: Date, dict[str, Any]: JSON, list[Any]: JSON}


class Definition(Base):
    """One published version of one diagram file."""

    __tablename__ = "definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(300))
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)  # read only to build a spec
    checksum: Mapped[str] = mapped_column(String(64))
    info: Mapped[dict[str, Any]]  # engine.bpmn.definition.DiagramInfo
    depends_on: Mapped[list[Any]]  # ids of the definitions whose processes this one calls
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)  # why this version was made
    approved_by: Mapped[str | None] = mapped_column(String(200))  # the second process owner (four eyes)
    approved_at: Mapped[datetime | None]


class DiagramDraft(Base):
    """A process owner's unpublished edit of a pathway: draft -> submitted -> published (or back to draft).

    Never deleted: a withdrawn or superseded draft keeps its status and its XML."""

    __tablename__ = "diagram_drafts"
    __table_args__ = (Index("ix_diagram_drafts_key_status", "key", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(300))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    based_on_version: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer, nullable=False)  # optimistic lock: two editors never overwrite
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    published_version: Mapped[int | None]
    # issue 21: the scenario tests as they ran when it was submitted (revision, outcomes), and why any that
    # fail should fail (the approver sees both)
    scenario_run: Mapped[dict[str, Any] | None]
    failing_reason: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"version_id_col": revision}


class ScenarioDocument(Base):
    """A pathway's scenario tests as a process owner changed them in the app (issue 21): with ``draft_id`` and
    state "draft" while the draft they go with is open, a published copy when it is approved. The newest
    published one of a pathway is used instead of ``workflows/scenarios/<key>.json``. Never deleted."""

    __tablename__ = "scenario_documents"
    __table_args__ = (Index("ix_scenario_documents_key_state", "key", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))  # "draft" or "published"
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("diagram_drafts.id"), index=True)
    document: Mapped[dict[str, Any]]
    saved_by: Mapped[str] = mapped_column(String(200))
    saved_at: Mapped[datetime]


class Case(Base):
    """One pathway instance for one child reference."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_ref_key", "ref", "key"),
        Index("ix_cases_updated_at", "updated_at"),
        # cases at risk (migration 0014): the late ones (overdue, past a deadline) counted and read in index order
        Index(
            "ix_cases_risk_due",
            "risk_due",
            postgresql_include=[
                "status",
                "next_step_due",
                "next_deadline_due",
                *_AT_RISK,
                "ref",
                "id",
                "waiting_since",
                "updated_at",
            ],
            postgresql_where=text("risk_due IS NOT NULL"),
            sqlite_where=text("risk_due IS NOT NULL"),
        ),
        Index(
            "ix_cases_quiet",
            "updated_at",
            postgresql_include=["risk_due", *_AT_RISK],
            postgresql_where=text(RUNNING_CASE_SQL),
            sqlite_where=text(RUNNING_CASE_SQL),
        ),
        Index("ix_cases_open_ref", "ref", "id", postgresql_where=text(OPEN_CASE_SQL), sqlite_where=text(OPEN_CASE_SQL)),
        # one open case per child and pathway: two starts at once cannot both win (issue 15)
        Index(
            "ux_cases_one_open",
            "ref",
            "key",
            unique=True,
            sqlite_where=text(OPEN_CASE_SQL),
            postgresql_where=text(OPEN_CASE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(100))  # the child's case reference, never a name
    key: Mapped[str] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(100), index=True)  # the team holding the case
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    status: Mapped[str] = mapped_column(String(20), index=True)
    state: Mapped[str] = mapped_column(Text)
    state_format: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    next_timer_due: Mapped[datetime | None] = mapped_column(index=True)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_element: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(300))
    start_data: Mapped[dict[str, Any]]
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # Its open steps and unmet deadlines in brief, kept by engine.persistence.summary: the soonest
    # step due, the soonest deadline due, since when a step has waited, and any reason for delay
    next_step_due: Mapped[date | None]
    next_deadline_due: Mapped[date | None]
    waiting_since: Mapped[datetime | None]
    delay_noted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the soonest date it is late from: a step's while it moves on, a deadline's while it is open
    risk_due: Mapped[date | None]

    definition: Mapped[Definition] = relationship(lazy="joined", innerjoin=True)
    __mapper_args__ = {"version_id_col": version}


class TrackerChild(Base):
    """One child on the permanence tracker (Derby Appendix 5, Cheshire East 11.6), from the second review on.

    The refresh job rewrites the ``derived`` columns from the pathways; the ``recorded`` ones change
    only when a manager updates the child at the tracking meeting (audited, ``recorded_revision``
    guards against two managers overwriting each other). Never deleted."""

    __tablename__ = "tracker_children"
    __table_args__ = (Index("ix_tracker_children_order", "second_review_date", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(100), unique=True)  # the child's case reference
    team: Mapped[str | None] = mapped_column(String(100), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))  # the PPM case whose second review it was
    second_review_date: Mapped[date]
    permanence_option: Mapped[str] = mapped_column(String(40))
    contingency_plan: Mapped[str | None] = mapped_column(String(40))
    derived_route: Mapped[str | None] = mapped_column(String(40))  # what the pathways show was achieved
    derived_on: Mapped[date | None]
    derived_from: Mapped[str | None] = mapped_column(String(300))
    route: Mapped[str | None] = mapped_column(String(40))  # recorded at the tracking meeting
    achieved_on: Mapped[date | None]
    assessments_done: Mapped[bool | None]
    with_long_term_carer: Mapped[bool | None]
    legal_security: Mapped[str | None] = mapped_column(Text)
    seen_alone_on: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime | None]
    recorded_revision: Mapped[int] = mapped_column(Integer, nullable=False)
    refreshed_at: Mapped[datetime]


class JobRun(Base):
    """A periodic job's watermark, and its lock: a worker claims the row (SKIP LOCKED) to run the job."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    watermark: Mapped[datetime | None]  # the changes up to here are done
    finished_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)


class HumanTask(Base):
    """A step waiting for (or done by) a person: the inbox reads only this table."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_role_due", "status", "role", "due_date"),
        Index("ix_tasks_assignee_status", "assignee", "status"),
        Index("ix_tasks_status_team_due", "status", "team", "due_date"),
        Index("ix_tasks_case", "case_id"),
        Index("ix_tasks_deadline", "deadline_id"),
        Index("ix_tasks_status_due_id", "status", "due_date", "id"),
        Index("ix_tasks_element_status_done", "element", "status", "completed_at"),
        # where cases wait (migration 0014): a pathway's overdue steps, and the steps behind one badge in order
        Index(
            "ix_tasks_open_key_due",
            "key",
            "due_date",
            postgresql_include=["element", "team"],
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index(
            "ix_tasks_open_key_element",
            "key",
            "element",
            "due_date",
            "id",
            postgresql_include=["team"],
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    key: Mapped[str] = mapped_column(String(200))  # the pathway of its case (counted without joining the cases)
    spiff_id: Mapped[str] = mapped_column(String(36), unique=True)
    element: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(200))
    due_date: Mapped[date | None]
    not_before: Mapped[date | None]
    not_before_source: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    completed_by: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    delay_reason: Mapped[str | None] = mapped_column(Text)  # recorded by a manager: stops the ladder
    delay_recorded_by: Mapped[str | None] = mapped_column(String(200))
    delay_recorded_at: Mapped[datetime | None]
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # answers saved but not submitted, as entered
    draft_saved_by: Mapped[str | None] = mapped_column(String(200))
    draft_saved_at: Mapped[datetime | None]
    # The declared deadline this step serves (one clock, one row): the step has no clock of its own
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("deadlines.id"))

    case: Mapped[Case] = relationship(lazy="joined", innerjoin=True)
    serves: Mapped[Deadline | None] = relationship(foreign_keys=[deadline_id])


class Deadline(Base):
    """One clock of a child's plan: a statutory, guidance or local deadline, or a gate (not before).

    ``expected``: its anchor is a future event, and ``due_date`` is worked out from that event's own
    due date (``expected_note`` says which); it becomes ``running`` when the event happens. ``met_on``
    is the date the event happened as the form records it, ``met_at`` when it was recorded."""

    __tablename__ = "deadlines"
    __table_args__ = (Index("ix_deadlines_status_due", "status", "due_date"), Index("ix_deadlines_case", "case_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    element: Mapped[str] = mapped_column(String(200))  # where it was opened
    due_date: Mapped[date]
    source: Mapped[str] = mapped_column(String(500))
    rule_status: Mapped[str] = mapped_column(String(20))  # STAT / GUID / LOCAL / CASE / OURS
    anchor: Mapped[str] = mapped_column(String(200))  # the case date the clock starts from
    met_by: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    met_at: Mapped[datetime | None]
    delay_reason: Mapped[str | None] = mapped_column(Text)  # recorded by a manager: stops the ladder
    delay_recorded_by: Mapped[str | None] = mapped_column(String(200))
    delay_recorded_at: Mapped[datetime | None]
    met_on: Mapped[date | None]  # the date the event happened (the review date), not the day it was typed
    kind: Mapped[str] = mapped_column(String(20), default="deadline", server_default="deadline")  # or gate
    expected_note: Mapped[str | None] = mapped_column(String(500))  # what an expected date is worked out from


class Escalation(Base):
    """One rung of the ladder raised for one overdue step or breached deadline: recorded once (``key``)."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_case", "case_id"), Index("ix_escalations_task", "task_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)  # e.g. task:12:2
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("deadlines.id"))
    level: Mapped[int]
    name: Mapped[str] = mapped_column(String(40))
    due_date: Mapped[date]
    raise_on: Mapped[date]
    raised_at: Mapped[datetime]
    late: Mapped[bool]  # raised after its day (the worker was down)


class Notification(Base):
    """The outbox: every message is recorded (unique ``key``) before anything is sent."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_inbox", "recipient_role", "recipient_team", "channel"),
        Index("ix_notifications_user", "recipient_user", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(140), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"))
    channel: Mapped[str] = mapped_column(String(20))  # in_app | email
    recipient_role: Mapped[str | None] = mapped_column(String(100))
    recipient_team: Mapped[str | None] = mapped_column(String(100))
    recipient_user: Mapped[str | None] = mapped_column(String(200))
    recipient_address: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # references only: never a child's name
    link: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))  # pending | sent | dead (email); unread | read (in-app)
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only: who did what, when, with the state before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    element: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # lets SQLAlchemy insert a transaction's audit rows in one statement on SQLite too (migration 0014):
    # a number per row of the batch, matched against the ids handed back; it means nothing afterwards
    batch_row: Mapped[int | None] = orm_insert_sentinel()


class Team(Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # e.g. north
    title: Mapped[str] = mapped_column(String(200))


class TeamMailbox(Base):
    """A shared mailbox an administrator set for one role in one team (``pathways teams mailbox``):
    email for that role goes there instead of to each person holding it."""

    __tablename__ = "team_mailboxes"

    team: Mapped[str] = mapped_column(ForeignKey("teams.name"), primary_key=True)
    role: Mapped[str] = mapped_column(String(100), primary_key=True)  # a diagram role, e.g. team_manager
    address: Mapped[str] = mapped_column(String(300))


class CalendarFeed(Base):
    """A secret calendar address (engine.services.calendar_feeds): a person's own steps and clocks, or
    (``team`` set) a manager's view of a team's. The token is only in the address; this row keeps
    its SHA-256. Revoked, never deleted."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    team: Mapped[str | None] = mapped_column(String(100))  # a team feed (managers); None: the person's own
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class SsoGroupMap(Base):
    """A group of the identity provider (Entra ID: the group's object id) that gives a role, in a
    team or in none (``pathways sso map-group``, or the administrators' page). Roles and teams of
    people who sign in by single sign-on are worked out from these at every sign-in."""

    __tablename__ = "sso_group_maps"
    __table_args__ = (UniqueConstraint("group_id", "role", "team", name="uq_sso_group_maps"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(100))  # an account role, e.g. team_manager
    team: Mapped[str | None] = mapped_column(ForeignKey("teams.name"))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class WebSession(Base):
    """A signed-in browser: the cookie carries a random token, this row its SHA-256 (revocable, never deleted)."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_username", "username"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the absolute end, however active the session
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_reason: Mapped[str | None] = mapped_column(String(200))


class User(Base):
    """A member of staff. Authentication sits behind engine.services.accounts (SSO can replace it)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("sso_subject", name="uq_users_sso_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(300))
    password_hash: Mapped[str | None] = mapped_column(String(300))  # None: single sign-on only
    # the identity provider's stable id of the person ("issuer#oid" for Entra ID, else "issuer#sub")
    sso_subject: Mapped[str | None] = mapped_column(String(400))
    roles: Mapped[list[Any]]
    teams: Mapped[list[Any]]
    active: Mapped[bool]
    failed_logins: Mapped[int]
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class SavedFilter(Base):
    """A person's named inbox filter (tab, pathway, role, overdue), shown as a link above the inbox."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("username", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]  # removed by its owner: kept, not deleted


class CalendarClosure(Base):
    """A day the authority's offices are closed (counted as a non-working day)."""

    __tablename__ = "calendar_closures"

    day: Mapped[date] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(300))
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]


class WebhookSender(Base):
    """A case-management system allowed to post events, with its signing secrets (Standard Webhooks).

    ``secrets`` lists ``{"secret": "whsec_...", "added_at", "retired_at"}``: the newest two are
    valid at once, so a sender can rotate without downtime. Retired secrets are kept, marked."""

    __tablename__ = "webhook_senders"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    secrets: Mapped[list[Any]]
    active: Mapped[bool]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class InboundEvent(Base):
    """One event from a case-management system, stored before it is acknowledged, never deleted.

    received -> applied | unmatched | parked | ignored | failed; an administrator can replay any
    but an applied one. ``(sender, event_id)`` is unique: a repeat is acknowledged, not applied."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("sender", "event_id"),
        Index("ix_inbound_events_status", "status", "received_at"),
        Index("ix_inbound_events_child", "child_ref", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(200))  # the event's own id (the idempotency key)
    webhook_id: Mapped[str] = mapped_column(String(200))  # the webhook-id header it came with
    type: Mapped[str] = mapped_column(String(100))
    child_ref: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)  # why it is unmatched, parked, ignored or failed
    action: Mapped[str | None] = mapped_column(String(300))  # what it did: "started ppm_to_adm (case 12)"
    case_ids: Mapped[list[Any]]
    attempts: Mapped[int]
    applied_at: Mapped[datetime | None]
    replayed_by: Mapped[str | None] = mapped_column(String(200))
    replayed_at: Mapped[datetime | None]


class EventChild(Base):
    """Per child: the latest event applied, and the row lock that applies a child's events one at a time."""

    __tablename__ = "event_children"

    child_ref: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_occurred_at: Mapped[datetime | None]
    last_event_id: Mapped[int | None]


class Subscription(Base):
    """A system that wants to hear of events here (task.created, deadline.breached ...), at its URL.

    Deliveries are signed with ``secrets`` exactly as inbound events are (Standard Webhooks); the
    newest two are valid at once while the receiver rotates. A subscription is disabled, never
    deleted: by an administrator, or by the receiver answering 410 Gone."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200))
    event_types: Mapped[list[Any]]
    secrets: Mapped[list[Any]]
    active: Mapped[bool]
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]
    # Bumped by every ORM update (and rows are never deleted): count and sum of revisions are the
    # stamp a process checks its kept copy of the active subscriptions by (issue 18).
    revision: Mapped[int] = mapped_column(server_default="1")

    __mapper_args__ = {"version_id_col": revision}


class OutboundEvent(Base):
    """Something that happened here that a subscription wants, recorded in the same transaction.

    Thin: ids and references, never a child's name. Only stored when an active subscription wants
    its type; ``deliveries`` are its copies, one per subscription."""

    __tablename__ = "outbound_events"
    __table_args__ = (Index("ix_outbound_events_case", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("deadlines.id"))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"))
    data: Mapped[dict[str, Any]]

    case: Mapped[Case] = relationship()
    task: Mapped[HumanTask | None] = relationship()
    deadline: Mapped[Deadline | None] = relationship()
    escalation: Mapped[Escalation | None] = relationship()


class Delivery(Base):
    """The outbox for subscriptions: one event to one subscription, retried until delivered or dead.

    pending -> delivered | dead (retry limit reached) | gone (the receiver said 410). An
    administrator can put any but a pending one back in the queue."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_subscription", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbound_events.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    event: Mapped[OutboundEvent] = relationship()


class DeliveryAttempt(Base):
    """The delivery log: every attempt, with the receiver's status code or the error."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_subscription", "subscription_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]
    worker: Mapped[str] = mapped_column(String(100))


class ApiToken(Base):
    """A system's key to the REST API. It acts as a staff account (whose roles and teams still apply)
    and only within its ``scopes``. Only a SHA-256 hash is stored; the token is shown once. Revoked,
    never deleted."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))  # the token's first characters, to recognise it in lists
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))


CURRENT_LINK_SQL = "removed_at IS NULL"


class SiblingGroup(Base):
    """Brothers and sisters planned for together (Hertfordshire s4, s6; Medway): one PPM, a plan per child."""

    __tablename__ = "sibling_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class SiblingLink(Base):
    """A child's place in a sibling group. A child leaves a group by ``removed_at`` (with who and why),
    never by deleting the row; a child is in at most one group at a time."""

    __tablename__ = "sibling_links"
    __table_args__ = (
        Index("ix_sibling_links_group", "group_id"),
        Index(
            "ux_sibling_links_current",
            "child_ref",
            unique=True,
            sqlite_where=text(CURRENT_LINK_SQL),
            postgresql_where=text(CURRENT_LINK_SQL),
        ),  # fmt: skip
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("sibling_groups.id"))
    child_ref: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(200))
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(200))
    removed_reason: Mapped[str | None] = mapped_column(Text)


class Tally(Base):
    """A count the database keeps (engine.persistence.tallies): open steps, cases, the tracker's figures.

    Triggers append each change to ``tally_deltas`` in the changing transaction; the worker folds
    them in here. A count is the sum of both."""

    __tablename__ = "tallies"
    __table_args__ = (UniqueConstraint("kind", "team", "k1", "k2", "k3", name="uq_tallies_kind_team_keys"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    team: Mapped[str] = mapped_column(String(100))  # '' for no team
    k1: Mapped[str] = mapped_column(String(200))
    k2: Mapped[str] = mapped_column(String(200))
    k3: Mapped[str] = mapped_column(String(200))
    n: Mapped[int] = mapped_column(BigInteger)


class TallyDelta(Base):
    """+1 or -1 on one tally, written by a trigger with the change; folded into ``tallies`` by the worker."""

    __tablename__ = "tally_deltas"
    __table_args__ = (Index("ix_tally_deltas_kind_team", "kind", "team"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    team: Mapped[str] = mapped_column(String(100))
    k1: Mapped[str] = mapped_column(String(200))
    k2: Mapped[str] = mapped_column(String(200))
    k3: Mapped[str] = mapped_column(String(200))
    n: Mapped[int] = mapped_column(Integer)


class RateLimit(Base):
    """One fixed window's count of requests for one key (web.limits: sign-in per address and per
    account, inbound events per sender, the API per token). Shared by every web process; a window
    that has ended is counted afresh and the worker prunes the ended ones (nothing of a case)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # seconds since 1970, the engine's clock
