"""States of cases, tasks and deadlines, and the transitions each allows."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    RUNNING = "running"  # someone has a step to do
    WAITING = "waiting"  # no open step: waiting for a date or an event
    COMPLETED = "completed"
    ERROR = "error"  # a script or expression failed; a manager retries after a fix
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_CASE_STATUSES

    @property
    def can_advance(self) -> bool:
        """Steps may be completed and timers fire only in these states."""
        return self in (CaseStatus.RUNNING, CaseStatus.WAITING)


ACTIVE_CASE_STATUSES = frozenset({CaseStatus.RUNNING, CaseStatus.WAITING, CaseStatus.ERROR, CaseStatus.SUSPENDED})


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # withdrawn by the pathway (e.g. an interrupting timer) or case cancel


class DeadlineStatus(StrEnum):
    """A clock of the child's plan. Met or late is judged by the date the event happened."""

    EXPECTED = "expected"  # its anchor is a future event: the date is worked out from that event's due date
    RUNNING = "running"
    MET = "met"  # the event happened on or before the due date (however late it was recorded)
    MET_LATE = "met_late"  # the event happened after the due date
    BREACHED = "breached"  # still not met, and its due date has passed
    CANCELLED = "cancelled"  # the pathway left the branch that owed it
    MOVED = "moved"  # replaced by a recomputed deadline (e.g. the court extended proceedings)
    GATE = "gate"  # a gate (not before this date) the case has not passed yet


class DeadlineKind(StrEnum):
    DEADLINE = "deadline"
    GATE = "gate"  # not before: a step cannot happen before the date (consent 6 weeks after birth)


class RuleStatus(StrEnum):
    """Where a timescale comes from (timescales.md section 0)."""

    STAT = "STAT"
    GUID = "GUID"
    LOCAL = "LOCAL"
    CASE = "CASE"
    OURS = "OURS"
    UNVERIFIED = "UNVERIFIED"


class DraftStatus(StrEnum):
    """A diagram draft: edited, then submitted with a reason, then approved by a second process owner."""

    DRAFT = "draft"
    SUBMITTED = "submitted"  # waiting for a second process owner; any edit sends it back to draft
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"  # set aside by its author: kept, not deleted
