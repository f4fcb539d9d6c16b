"""England and Wales working-day calendar and the date arithmetic pathways use.

Pure: no I/O and no clock. Bank holidays come from the offline `holidays` package (GB, England
subdivision, observed substitute days included); an authority adds its own closures (for example
the office shutdown between Christmas and New Year) when it builds the calendar.

Conventions (see ../shared/domain/timescales.md section 0):
- working day: Monday to Friday, not a bank holiday and not an authority closure;
- ``add_working_days(d, n)``: day 0 is the event day ``d``; the result is the n-th working day
  after it (``n`` may be negative to count back, e.g. "5 WD before the review");
- ``add_months(d, n)``: same day of month, clamped to the month end (31 Jan + 1 m = 28/29 Feb);
- a date-only deadline lasts until the end of that day in Europe/London (``end_of_day``).
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from engine.errors import InvalidInput

LONDON = ZoneInfo("Europe/London")
WEDNESDAY = 2
_AMOUNT = re.compile(r"^\s*(-?\d+)\s*(wd|d|w|m)\s*$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _bank_holidays() -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="ENG")


WARM_YEARS = range(1990, 2081)


def warm(years: Iterable[int] = WARM_YEARS) -> None:
    """Build the bank-holiday tables now, at process start, not inside a case's first expression.

    The package builds a year's table the first time a date in it is asked about; the first
    time of all it also imports its country modules (measured: 0.09 s, ten times that when it
    was traced under the old wall-clock limit). Later years are still built when first asked."""
    table = _bank_holidays()
    for year in years:
        if year not in table.years:
            date(year, 1, 1) in table  # noqa: B015 - the lookup builds the year's table


def as_date(value: date | str) -> date:
    """Accept a date, a datetime (its London date) or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, datetime):
        return value.astimezone(LONDON).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise InvalidInput(f"not a date (expected YYYY-MM-DD): {value!r}") from None
    raise InvalidInput(f"not a date: {value!r}")


class WorkingCalendar:
    """Working days in England and Wales, plus closures an authority configures."""

    def __init__(self, closures: Iterable[date] = ()) -> None:
        self.closures = frozenset(closures)

    def non_working_reason(self, day: date | str) -> str | None:
        day = as_date(day)
        if day.weekday() >= 5:
            return "weekend"
        if day in self.closures:
            return "authority closure"
        return _bank_holidays().get(day)

    def is_working_day(self, day: date | str) -> bool:
        return self.non_working_reason(day) is None

    def add_working_days(self, start: date | str, count: int) -> date:
        day, step = as_date(start), (1 if count >= 0 else -1)
        remaining = abs(int(count))
        while remaining:
            day += timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date | str, end: date | str) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
        first, last = as_date(start), as_date(end)
        sign = 1 if last >= first else -1
        low, high = sorted((first, last))
        days = (low + timedelta(days=i) for i in range(1, (high - low).days + 1))
        return sign * sum(1 for d in days if self.is_working_day(d))

    def next_working_day(self, day: date | str) -> date:
        """``day`` itself when it is a working day, else the next one."""
        day = as_date(day)
        return day if self.is_working_day(day) else self.add_working_days(day, 1)

    def first_panel_date_on_or_after(self, day: date | str, weekday: int = WEDNESDAY) -> date:
        """The first monthly panel (last ``weekday`` of a month) on or after ``day``.

        A panel that would fall on a non-working day (Christmas Day can be the last Wednesday)
        sits on the working day before it: our default (OURS), as no source covers it.
        """
        day = as_date(day)
        year, month = day.year, day.month
        while True:
            panel = self._sitting(last_weekday_of_month(year, month, weekday))
            if panel >= day:
                return panel
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def _sitting(self, panel: date) -> date:
        return panel if self.is_working_day(panel) else self.add_working_days(panel, -1)

    def add(self, start: date | str, amount: str) -> date:
        """Add an amount written as ``20wd``, ``14d``, ``10w`` or ``3m``."""
        match = _AMOUNT.match(amount or "")
        if not match:
            raise InvalidInput(f"amount must look like 20wd, 14d, 10w or 3m, not {amount!r}")
        count, unit = int(match.group(1)), match.group(2).lower()
        if unit == "wd":
            return self.add_working_days(start, count)
        return {"d": add_days, "w": add_weeks, "m": add_months}[unit](start, count)


def add_days(start: date | str, count: int) -> date:
    return as_date(start) + timedelta(days=int(count))


def add_weeks(start: date | str, count: int) -> date:
    return as_date(start) + timedelta(weeks=int(count))


def add_months(start: date | str, count: int) -> date:
    day = as_date(start)
    index = day.year * 12 + (day.month - 1) + int(count)
    year, month = divmod(index, 12)
    last = _stdlib_calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def age_in_years(date_of_birth: date | str, on: date | str) -> int:
    """Whole years of age on ``on`` (a 29 February birthday counts from 1 March in other years)."""
    born, day = as_date(date_of_birth), as_date(on)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def last_weekday_of_month(year: int, month: int, weekday: int = WEDNESDAY) -> date:
    last = date(year, month, _stdlib_calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def end_of_day(day: date | str) -> datetime:
    """The instant a date-only deadline passes: midnight after ``day`` in Europe/London."""
    following = as_date(day) + timedelta(days=1)
    return datetime.combine(following, time(0), tzinfo=LONDON)
