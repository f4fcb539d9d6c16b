from datetime import date

import pytest

from engine.calendar import WorkingCalendar
from engine.domain.escalation import due_rungs, ladder, parse_intervals
from engine.errors import InvalidInput

CAL = WorkingCalendar()


def test_ladder_for_a_step_due_on_the_friday_before_christmas():
    rungs = ladder(date(2026, 12, 18), CAL)
    assert [(r.name, r.raise_on) for r in rungs] == [
        ("overdue", date(2026, 12, 19)),  # the day after the due date
        ("team_manager", date(2026, 12, 22)),  # +2 WD
        ("services_manager", date(2026, 12, 31)),  # +5 WD more: 25 and 28 Dec are bank holidays
        ("head_of_service", date(2027, 1, 8)),  # +5 WD more: 1 Jan is a bank holiday
    ]
    assert rungs[0].notify == ("holder", "team_manager")


def test_ladder_over_easter_and_with_authority_closures():
    closed = WorkingCalendar(closures={date(2027, 3, 31)})
    assert [r.raise_on for r in ladder(date(2027, 3, 25), closed)] == [
        date(2027, 3, 26), date(2027, 4, 1), date(2027, 4, 8), date(2027, 4, 15)]  # fmt: skip


def test_only_rungs_whose_day_has_come_are_due():
    assert [r.name for r in due_rungs(date(2026, 12, 18), date(2026, 12, 18), CAL, (2, 5, 5))] == []
    assert [r.name for r in due_rungs(date(2026, 12, 18), date(2026, 12, 22), CAL, (2, 5, 5))] == [
        "overdue", "team_manager"]  # fmt: skip


def test_intervals_are_an_authority_setting():
    assert parse_intervals("3,4,10") == (3, 4, 10)
    assert parse_intervals(None) == (2, 5, 5)
    assert [r.raise_on for r in ladder(date(2027, 6, 1), CAL, (1, 1, 1))][1:] == [
        date(2027, 6, 2), date(2027, 6, 3), date(2027, 6, 4)]  # fmt: skip
    for bad in ("2,5", "a,b,c", "0,5,5"):
        with pytest.raises(InvalidInput):
            parse_intervals(bad)
