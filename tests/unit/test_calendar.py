from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.calendar import (
    WorkingCalendar,
    add_months,
    add_weeks,
    end_of_day,
    last_weekday_of_month,
)
from engine.errors import InvalidInput

CAL = WorkingCalendar()
DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


def test_first_review_due_twenty_working_days_across_christmas_and_new_year():
    # Fri 18 Dec 2026: 25 Dec, Boxing Day observed Mon 28 Dec, 1 Jan are not working days.
    assert CAL.add("2026-12-18", "20wd") == date(2027, 1, 20)


def test_ppm_due_ten_weeks_after_looked_after():
    assert add_weeks("2026-12-18", 10) == date(2027, 2, 26)


def test_second_review_sixteen_weeks_outside_proceedings():
    assert CAL.add("2026-12-18", "16w") == date(2027, 4, 9)


def test_easter_is_skipped():
    # Good Friday 26 Mar 2027 and Easter Monday 29 Mar 2027.
    assert CAL.add("2027-03-19", "10wd") == date(2027, 4, 6)
    assert not CAL.is_working_day("2027-03-26") and not CAL.is_working_day("2027-03-29")


def test_substitute_days_are_not_working_days():
    # Christmas 2027 falls on a Saturday: substitute days Mon 27 and Tue 28 Dec 2027.
    assert not CAL.is_working_day("2027-12-27")
    assert not CAL.is_working_day("2027-12-28")
    assert CAL.add("2027-12-24", "1wd") == date(2027, 12, 29)


def test_day_zero_is_the_event_day_even_when_not_a_working_day():
    assert CAL.add("2026-12-25", "0wd") == date(2026, 12, 25)
    assert CAL.add("2026-12-25", "1wd") == date(2026, 12, 29)


def test_authority_closures_are_not_working_days():
    closed = WorkingCalendar(closures={date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)})
    assert closed.non_working_reason("2026-12-30") == "authority closure"
    assert closed.add("2026-12-24", "1wd") == date(2027, 1, 4)
    assert CAL.add("2026-12-24", "1wd") == date(2026, 12, 29)


def test_months_keep_the_day_and_clamp_to_month_end():
    assert add_months("2027-01-31", 1) == date(2027, 2, 28)
    assert add_months("2028-01-31", 1) == date(2028, 2, 29)
    assert add_months("2026-11-30", 3) == date(2027, 2, 28)
    assert add_months("2027-03-31", -1) == date(2027, 2, 28)
    assert CAL.add("2027-01-20", "3m") == date(2027, 4, 20)


def test_counting_back_working_days():
    assert CAL.add("2027-01-04", "-1wd") == date(2026, 12, 31)


def test_last_wednesday_and_first_panel_on_or_after():
    assert last_weekday_of_month(2027, 3) == date(2027, 3, 31)
    assert CAL.first_panel_date_on_or_after("2027-03-31") == date(2027, 3, 31)
    assert CAL.first_panel_date_on_or_after("2027-04-01") == date(2027, 4, 28)
    # 25 Dec 2024 was the last Wednesday: the panel sits on the working day before.
    assert CAL.first_panel_date_on_or_after("2024-12-02") == date(2024, 12, 24)


def test_amounts_are_validated():
    for bad in ("20", "wd", "3 months", "", "2.5w"):
        with pytest.raises(InvalidInput):
            CAL.add("2027-01-01", bad)
    with pytest.raises(InvalidInput):
        CAL.add("18/12/2026", "1d")


def test_date_only_deadline_ends_at_midnight_london_in_summer_and_winter():
    assert end_of_day("2027-01-20").isoformat() == "2027-01-21T00:00:00+00:00"
    assert end_of_day("2027-07-01").astimezone().utcoffset() is not None
    assert end_of_day("2027-07-01").utcoffset() == timedelta(hours=1)


@given(DAYS, st.integers(min_value=1, max_value=400))
def test_adding_working_days_lands_on_a_working_day_after_the_start(start, n):
    result = CAL.add_working_days(start, n)
    assert CAL.is_working_day(result)
    assert result > start
    assert CAL.working_days_between(start, result) == n


@given(DAYS, st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=200))
def test_working_days_compose(start, a, b):
    assert CAL.add_working_days(CAL.add_working_days(start, a), b) == CAL.add_working_days(start, a + b) or (
        a == 0 and not CAL.is_working_day(start)
    )


@given(DAYS, st.integers(min_value=1, max_value=200))
def test_counting_back_inverts_counting_forward(start, n):
    forward = CAL.add_working_days(start, n)
    assert CAL.add_working_days(forward, -n) == CAL.next_working_day(start) or not CAL.is_working_day(start)


@given(DAYS, st.integers(min_value=-60, max_value=60))
def test_add_months_keeps_day_or_clamps(start, n):
    result = add_months(start, n)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == n
    assert result.day == start.day or (result.day < start.day and (result + timedelta(days=1)).day == 1)


@given(DAYS)
def test_panel_is_on_or_after_and_within_two_months(day):
    panel = CAL.first_panel_date_on_or_after(day)
    assert day <= panel <= day + timedelta(days=62)
    assert CAL.is_working_day(panel)
