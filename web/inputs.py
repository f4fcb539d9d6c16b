"""Numbers and JSON bodies from requests, bounded before they are used (issue 15, defect 8).

Measured before: ``?page=99999999999999999999`` reached the database as an out-of-range bigint
(500), ``²`` passed ``str.isdigit()`` and then failed ``int()``, and JSON nested a few thousand
deep raised RecursionError in the webhooks, the API and the modeller's check. Each is now a 400
with a message, decided before anything is parsed or queried.
"""

from __future__ import annotations

import re

from flask import abort, request

DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII only: Unicode digits and superscripts are not numbers here
MAX_PAGE = 100_000
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def whole(text: str | None) -> int | None:
    """``text`` as a whole number when it is 1 to 9 ASCII digits; None otherwise."""
    return int(text) if text is not None and DIGITS.fullmatch(text) else None


def page_number(text: str | None) -> int:
    """A page from the query string: absent means 1; anything but 1 to MAX_PAGE is a 400."""
    if text in (None, ""):
        return 1
    number = whole(text)
    if number is None or not 1 <= number <= MAX_PAGE:
        abort(400, description=f"The page must be a whole number from 1 to {MAX_PAGE:,}.")
    return number


def ids(values: list[str]) -> list[int]:
    """Row ids ticked in a form; anything that is not a plain number is left out."""
    return [n for n in (whole(v) for v in values) if n is not None and n > 0]


def json_depth(body: bytes) -> int:
    """How deeply a JSON text nests, without parsing it (strings are skipped, so brackets in them do not count)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub(b'""', body)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def refuse_deep_json() -> None:
    """A request hook: a JSON body nested deeper than MAX_JSON_DEPTH is refused before anything parses it."""
    if not request.is_json or request.content_length == 0:
        return
    body = request.get_data(cache=True)
    if json_depth(body) > MAX_JSON_DEPTH:
        abort(400, description=f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.")
