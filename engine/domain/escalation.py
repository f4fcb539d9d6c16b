"""The escalation ladder (pathways.md, "Escalation ladder"): pure date arithmetic, no I/O.

A step past its due date is overdue: its holder and their team manager are told. After a further
interval (default 2 WD) it escalates to the team manager, then (default 5 WD) to the services
manager, then (default 5 WD) to the head of service. Intervals are an authority setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from engine.calendar import WorkingCalendar
from engine.errors import InvalidInput

DEFAULT_INTERVALS = (2, 5, 5)


@dataclass(frozen=True)
class Rung:
    level: int
    name: str
    raise_on: date  # the London date from whose start this rung is due
    notify: tuple[str, ...]  # roles told ("holder" = the step's assignee, or its role if unassigned)


_RUNGS = (
    ("overdue", ("holder", "team_manager")),
    ("team_manager", ("team_manager",)),
    ("services_manager", ("services_manager",)),
    ("head_of_service", ("head_of_service",)),
)
TOP_LEVEL = len(_RUNGS)  # a step or deadline with this rung raised is fully escalated
# One vocabulary everywhere staff read it (pages, notices, email, the case history): issue 20.
RUNG_WORDS = {
    "overdue": "overdue",
    "team_manager": "with the team manager",
    "services_manager": "with the services manager",
    "head_of_service": "with the head of service",
}


def escalation_words(level: int | None) -> str:
    """Where an overdue step or deadline stands on the ladder, in words ("" when not escalated)."""
    if not level:
        return ""
    return RUNG_WORDS[_RUNGS[min(level, TOP_LEVEL) - 1][0]]


def parse_intervals(text: str | None) -> tuple[int, int, int]:
    """``"2,5,5"``: working days between overdue and TM, TM and SM, SM and HoS."""
    if not text:
        return DEFAULT_INTERVALS
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InvalidInput(f"escalation intervals must look like 2,5,5, not {text!r}") from None
    if len(values) != 3 or any(v < 1 for v in values):
        raise InvalidInput(f"escalation intervals need three whole numbers of working days above 0, not {text!r}")
    return values  # type: ignore[return-value]


def ladder(due: date, calendar: WorkingCalendar, intervals: tuple[int, int, int] = DEFAULT_INTERVALS) -> list[Rung]:
    """Every rung for a step or deadline due on ``due`` (a date-only deadline ends with that day)."""
    offsets = [0, intervals[0], intervals[0] + intervals[1], sum(intervals)]
    rungs = []
    for level, ((name, notify), offset) in enumerate(zip(_RUNGS, offsets, strict=True), start=1):
        raise_on = due + timedelta(days=1) if offset == 0 else calendar.add_working_days(due, offset)
        rungs.append(Rung(level, name, raise_on, notify))
    return rungs


def due_rungs(due: date, today: date, calendar: WorkingCalendar, intervals: tuple[int, int, int]) -> list[Rung]:
    return [r for r in ladder(due, calendar, intervals) if r.raise_on <= today]
