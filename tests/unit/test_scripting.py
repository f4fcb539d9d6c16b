from datetime import date

import pytest

from engine.bpmn.runtime import calendar_helpers
from engine.bpmn.scripting import RestrictedEnvironment, check
from engine.calendar import WorkingCalendar
from engine.errors import UnsafeExpression

CALENDAR = WorkingCalendar()
ENV = RestrictedEnvironment(calendar_helpers(lambda: CALENDAR), time_limit=0.5)

HOSTILE = [
    "__import__('os').getpid()",
    "open('/etc/hostname').read()",
    "eval('1')",
    "exec('x = 1')",
    "getattr(date, 'today')()",
    "().__class__.__bases__[0].__subclasses__()",
    "date.__class__",
    "'{0.__class__}'.format(date)",
    "globals()",
    "lambda: 1",
    "type(date)",
    "compile('1', 'x', 'eval')",
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_expressions_are_refused(expression):
    with pytest.raises((UnsafeExpression, NameError)):
        ENV.evaluate(expression, {})


@pytest.mark.parametrize(
    "script",
    ["import os", "from os import path", "def f():\n    pass", "class A:\n    pass", "global x",
     "with open('x') as f:\n    pass", "try:\n    x = 1\nexcept Exception:\n    pass"],
)  # fmt: skip
def test_hostile_statements_are_refused(script):
    with pytest.raises(UnsafeExpression):
        check(script, "exec")


def test_resource_exhaustion_is_stopped():
    with pytest.raises(ValueError):
        ENV.evaluate("10 ** 10 ** 10", {})
    with pytest.raises(ValueError):
        ENV.evaluate("'x' * 10 ** 9", {})
    with pytest.raises(ValueError):
        ENV.evaluate("len(range(10 ** 9))", {})
    with pytest.raises(TimeoutError):
        ENV.execute("x = 0\nwhile True:\n    x = x + 1", {})


def test_ordinary_expressions_work_with_case_data_and_calendar_helpers():
    data = {"looked_after_date": date(2026, 12, 18), "plan": "adoption", "age": 9}
    assert ENV.evaluate("add_working_days(looked_after_date, 20)", data) == date(2027, 1, 20)
    assert ENV.evaluate("plan == 'adoption' or age < 10", data) is True
    assert ENV.evaluate("earliest(add_weeks(looked_after_date, 16), add_months('2027-01-20', 3))", data) == date(
        2027, 4, 9
    )
    assert ENV.evaluate("looked_after_date.year * 2", data) == 4052


def test_scripts_write_back_only_data():
    context = {"reviews_held": 1}
    ENV.execute("reviews_held = reviews_held + 1\nnext_due = add_months(date(2027, 1, 31), 1)", context)
    assert context == {"reviews_held": 2, "next_due": date(2027, 2, 28)}
