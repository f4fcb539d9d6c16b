from datetime import date

import pytest

from engine.domain.forms import FormField, validate
from engine.errors import FormInvalid

FIELDS = [
    FormField("review_date", "Date the review was held", "date", required=True),
    FormField("plan", "Permanence plan", "enum", options=(("adoption", "Adoption"), ("sgo", "SGO"))),
    FormField("continue_reviews", "Does the child remain looked after", "boolean", required=True),
    FormField("siblings", "Number of siblings", "long", constraints={"min": "0", "max": "20"}),
    FormField("note", "Note", "string", constraints={"maxlength": "10"}),
]


def test_values_are_typed():
    cleaned = validate(FIELDS, {"review_date": "20/01/2027", "plan": "adoption", "continue_reviews": "yes",
                                "siblings": "2", "note": "ok"})  # fmt: skip
    assert cleaned == {"review_date": date(2027, 1, 20), "plan": "adoption", "continue_reviews": True,
                       "siblings": 2, "note": "ok"}  # fmt: skip


def test_every_error_is_reported_and_the_input_is_kept():
    entered = {"review_date": "31/02/2027", "plan": "fostering", "siblings": "two", "note": "x" * 11, "extra": 1}
    with pytest.raises(FormInvalid) as caught:
        validate(FIELDS, entered)
    errors = caught.value.errors
    assert set(errors) == {"review_date", "plan", "continue_reviews", "siblings", "note", "extra"}
    assert errors["review_date"] == "Date the review was held must be a real date: February 2027 has no day 31"
    assert errors["continue_reviews"].startswith("Select yes or no")
    assert caught.value.data == entered


def test_range_checks():
    with pytest.raises(FormInvalid) as caught:
        validate(FIELDS, {"review_date": "2027-01-20", "continue_reviews": False, "siblings": "21"})
    assert caught.value.errors == {"siblings": "Number of siblings must be 20 or less"}


def test_blank_optional_fields_are_left_out():
    assert validate(FIELDS, {"review_date": "2027-01-20", "continue_reviews": "no", "note": "  "}) == {
        "review_date": date(2027, 1, 20),
        "continue_reviews": False,
    }
