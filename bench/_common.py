"""What every benchmark shares: the PostgreSQL it measures, its quick size, and one percentile.

Each bench takes ``--database-url`` (default: ``BENCH_POSTGRES_URL``, else the local test
database) for its PostgreSQL runs and ``--quick`` for the small size ``make bench-smoke`` runs in
CI, so a bench that breaks fails CI. Figures are printed, never asserted as times.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_PG_URL


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100): the smallest sample with at least q% at or below it."""
    if not samples:
        raise ValueError("no samples")
    if not 0 < q <= 100:
        raise ValueError("q must be in (0, 100]")
    ordered = sorted(samples)
    return ordered[max(math.ceil(q / 100 * len(ordered)), 1) - 1]


def parser(doc: str | None, **quick: object) -> argparse.ArgumentParser:
    """An argument parser with ``--database-url`` and ``--quick`` (which applies the ``quick`` sizes)."""
    found = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    found.add_argument("--database-url", default=postgres_url(), help="the PostgreSQL to measure")
    sizes = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in quick.items())
    found.add_argument("--quick", action="store_true", help=f"the small size CI runs ({sizes})")
    found.set_defaults(_quick_sizes=quick)
    return found


def parse(found: argparse.ArgumentParser) -> argparse.Namespace:
    args = found.parse_args()
    if args.quick:
        for name, value in args._quick_sizes.items():
            setattr(args, name, value)
    return args


def postgres_reachable(url: str) -> bool:
    from sqlalchemy import create_engine, text

    from engine.persistence import database

    try:
        engine = create_engine(database.normalise_url(url))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False
