"""Counts the database keeps, so a head of service's figures do not grow with the authority (issue 18).

Triggers (migration 0014) append +1 or -1 to ``tally_deltas`` in the same transaction as each
change to ``tasks``, ``cases`` or ``tracker_children``: appending takes no lock, so two
completions never wait on a shared counter, and costs no round trip. Now and then the worker
folds the deltas into ``tallies`` (:func:`fold`). A count is the sum over both tables, so it is
exact at every moment whether or not the worker has folded lately; folding only keeps the sums
short. Folding removes the deltas it adds in (they are arithmetic, not records: the audit log
holds what happened).

Each change counts twice: for its row's team ('' for none) and for the whole authority (team
``ALL``), so a head of service's figures read a handful of rows, not one per team.

Kinds, each with its keys:

- ``open_steps``: ``k1`` pathway, ``k2`` element, ``k3`` role: the steps open now;
- ``open_due``: ``k1`` pathway, ``k2`` element, ``k3`` due date (``YYYY-MM-DD``, '' for none): the
  same steps by the day they are due, so the overdue ones are counted without reading a step (the
  rows are bounded by the days due dates span, not by the number of cases);
- ``cases``: ``k1`` pathway, ``k2`` status;
- ``tracker_cross``: ``k1`` permanence option, ``k2`` route achieved ('' for none yet);
- ``tracker_reviewed``: ``k1`` option, ``k2`` month of the second review (``YYYY-MM``);
- ``tracker_achieved``: ``k1`` route, ``k2`` month it was achieved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, select, text, union_all
from sqlalchemy.orm import Session

from engine.persistence.models import Tally, TallyDelta

KINDS = ("open_steps", "open_due", "cases", "tracker_cross", "tracker_reviewed", "tracker_achieved")
ALL = "*"  # the team of the authority-wide tallies
FOLD_BATCH = 5000


def _both(kind: str, teams: Sequence[str] | None, equal: dict[str, str],
          between: dict[str, tuple[str, str]]) -> Any:  # fmt: skip
    """The tally and delta rows of ``kind`` over ``teams`` (None: the authority's own tallies) with
    the keys ``equal`` and within ``between`` (from, before), as one subquery (team, k1, k2, k3, n)."""
    parts = []
    for table in (Tally, TallyDelta):
        conditions = [table.kind == kind, *(getattr(table, name) == value for name, value in equal.items())]
        for name, (low, high) in between.items():
            conditions += [getattr(table, name) >= low, getattr(table, name) < high]
        conditions.append(table.team == ALL if teams is None else table.team.in_(sorted(teams)))
        parts.append(select(table.team, table.k1, table.k2, table.k3, table.n).where(*conditions))
    return union_all(*parts).subquery()


def sums(session: Session, kind: str, by: Sequence[str], teams: Sequence[str] | None = None, *,
         between: dict[str, tuple[str, str]] | None = None, **equal: str) -> dict[tuple[str, ...], int]:  # fmt: skip
    """Counts of ``kind`` grouped by the columns ``by`` (of team, k1, k2, k3), over ``teams`` (None:
    every team), the keys given exactly (``k1="ppm_to_adm"``) and those ``between`` two values (keys
    are text: ISO dates and months compare as they should; ``("0", day)`` leaves out '', no date).
    Groups that sum to 0 are left out."""
    both = _both(kind, teams, equal, between or {})
    columns = [both.c[name] for name in by]
    total = func.sum(both.c.n)
    query: Select = select(*columns, total).group_by(*columns) if columns else select(total)
    found: dict[tuple[str, ...], int] = {}
    for row in session.execute(query):
        count = int(row[-1] or 0)
        if count:
            found[tuple(row[:-1])] = count
    return found


def total(session: Session, kind: str, teams: Sequence[str] | None = None, **equal: str) -> int:
    return sums(session, kind, (), teams, between=None, **equal).get((), 0)


def fold(session: Session, batch: int = FOLD_BATCH) -> int:
    """Fold up to ``batch`` deltas into the tallies; the number folded. Safe with any number of
    workers at once: on PostgreSQL each takes deltas no other holds (``SKIP LOCKED``) and adds them
    in key order, so two folds never deadlock; SQLite has one writer at a time."""
    if session.get_bind().dialect.name == "postgresql":
        moved = session.execute(text("""
            WITH taken AS (
                DELETE FROM tally_deltas WHERE id IN (
                    SELECT id FROM tally_deltas ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED)
                RETURNING kind, team, k1, k2, k3, n),
            summed AS (
                SELECT kind, team, k1, k2, k3, sum(n) AS n, count(*) AS taken_rows FROM taken
                GROUP BY kind, team, k1, k2, k3),
            added AS (  -- a data-modifying WITH always runs to completion, read or not
                INSERT INTO tallies (kind, team, k1, k2, k3, n)
                SELECT kind, team, k1, k2, k3, n FROM summed ORDER BY kind, team, k1, k2, k3
                ON CONFLICT (kind, team, k1, k2, k3) DO UPDATE SET n = tallies.n + excluded.n)
            SELECT coalesce(sum(taken_rows), 0) FROM summed"""),
            {"batch": batch}).scalar_one()  # fmt: skip
        return int(moved)
    last = session.scalar(select(TallyDelta.id).order_by(TallyDelta.id).offset(batch - 1).limit(1))
    if last is None:
        last = session.scalar(select(func.max(TallyDelta.id)))
    if last is None:
        return 0
    taken = TallyDelta.id <= last
    summed = session.execute(
        select(TallyDelta.kind, TallyDelta.team, TallyDelta.k1, TallyDelta.k2, TallyDelta.k3,
               func.sum(TallyDelta.n), func.count())
        .where(taken).group_by(TallyDelta.kind, TallyDelta.team, TallyDelta.k1, TallyDelta.k2, TallyDelta.k3)
    ).all()  # fmt: skip
    for kind, team, k1, k2, k3, n, _rows in summed:
        session.execute(text(
            "INSERT INTO tallies (kind, team, k1, k2, k3, n) VALUES (:kind, :team, :k1, :k2, :k3, :n) "
            "ON CONFLICT (kind, team, k1, k2, k3) DO UPDATE SET n = tallies.n + excluded.n"),
            {"kind": kind, "team": team, "k1": k1, "k2": k2, "k3": k3, "n": n})  # fmt: skip
    session.execute(delete(TallyDelta).where(taken))
    return sum(rows for *_, rows in summed)


def _day(column: str, dialect: str) -> str:
    return f"to_char({column}, 'YYYY-MM-DD')" if dialect == "postgresql" else f"date({column})"


def _month(column: str, dialect: str) -> str:
    return f"to_char({column}, 'YYYY-MM')" if dialect == "postgresql" else f"strftime('%Y-%m', {column})"


def recount(session: Session) -> dict[tuple[str, ...], int]:
    """Every tally worked out afresh from the rows (tests check the kept ones against it)."""
    dialect = session.get_bind().dialect.name
    route = "coalesce(route, derived_route)"
    achieved = _month("CASE WHEN route IS NOT NULL THEN achieved_on ELSE derived_on END", dialect)
    queries = {
        "open_steps": "SELECT coalesce(team, ''), key, element, coalesce(role, '') FROM tasks WHERE status = 'open'",
        "open_due": f"SELECT coalesce(team, ''), key, element, coalesce({_day('due_date', dialect)}, '') FROM tasks "
                    "WHERE status = 'open'",
        "cases": "SELECT coalesce(team, ''), key, status, '' FROM cases",
        "tracker_cross": f"SELECT coalesce(team, ''), permanence_option, coalesce({route}, ''), '' "
                         "FROM tracker_children",
        "tracker_reviewed": f"SELECT coalesce(team, ''), permanence_option, "
                            f"coalesce({_month('second_review_date', dialect)}, ''), '' FROM tracker_children",
        "tracker_achieved": f"SELECT coalesce(team, ''), {route}, coalesce({achieved}, ''), '' "
                            f"FROM tracker_children WHERE {route} IS NOT NULL",
    }  # fmt: skip
    found: dict[tuple[str, ...], int] = {}
    for kind, query in queries.items():
        for team, *keys in session.execute(text(query)):
            for counted in (str(team), ALL):
                key = (kind, counted, *(str(v) for v in keys))
                found[key] = found.get(key, 0) + 1
    return found


def kept(session: Session) -> dict[tuple[str, ...], int]:
    """Every tally as kept (tallies plus deltas), zeros left out."""
    both = union_all(*[
        select(t.kind, t.team, t.k1, t.k2, t.k3, t.n) for t in (Tally, TallyDelta)
    ]).subquery()  # fmt: skip
    keys = [both.c.kind, both.c.team, both.c.k1, both.c.k2, both.c.k3]
    rows = session.execute(select(*keys, func.sum(both.c.n)).group_by(*keys)).all()
    return {tuple(str(v) for v in r[:5]): int(r[5]) for r in rows if r[5]}
