"""The one clock. Everything that needs "now" calls ``utcnow()``; tests and ``--now`` set it.

SpiffWorkflow reads ``datetime.now(timezone.utc)`` inside its timer module; engine.bpmn.patches
points that at this clock too, so BPMN timers and our deadlines agree on the time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from engine.errors import InvalidInput

LONDON = ZoneInfo("Europe/London")
_state = threading.local()


def _system_now() -> datetime:
    return datetime.now(UTC)


_default_source: Callable[[], datetime] = _system_now


def utcnow() -> datetime:
    source = getattr(_state, "source", None) or _default_source
    return source()


def london_today() -> date:
    return utcnow().astimezone(LONDON).date()


def require_aware(value: datetime, what: str = "time") -> datetime:
    """Reject naive datetimes where they enter; return the value in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must include a timezone (e.g. 2027-01-20T09:00:00+00:00)")
    return value.astimezone(UTC)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Fix ``utcnow()`` at ``at`` for this thread while the block runs."""
    at = require_aware(at)
    with using(lambda: at):
        yield


@contextmanager
def using(source: Callable[[], datetime]) -> Iterator[None]:
    """Take the time from ``source`` in this thread only while the block runs (e.g. a scenario's clock)."""
    previous = getattr(_state, "source", None)
    _state.source = source
    try:
        yield
    finally:
        _state.source = previous


class SettableClock:
    """A test clock: ``clock.set(...)``, ``clock.advance(...)``; install with ``install()``."""

    def __init__(self, start: datetime) -> None:
        self.now = require_aware(start)

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: datetime) -> None:
        self.now = require_aware(at)

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)


def install(source: Callable[[], datetime] | None) -> None:
    """Replace the process-wide time source (None restores the system clock)."""
    global _default_source
    _default_source = source or _system_now
