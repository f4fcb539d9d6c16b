"""The benchmarks' one percentile helper is nearest-rank, right for small samples too."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _common import percentile  # noqa: E402


def test_small_samples_are_never_the_minimum_at_p95() -> None:
    assert percentile([5.0, 1.0], 95) == 5.0  # the old helper returned 1.0 here
    assert percentile([3.0, 1.0, 2.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0
    assert percentile([7.0], 95) == 7.0


def test_refuses_nothing_to_rank() -> None:
    with pytest.raises(ValueError):
        percentile([], 95)
    with pytest.raises(ValueError):
        percentile([1.0], 0)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=60),
       st.floats(min_value=0.5, max_value=100))  # fmt: skip
def test_nearest_rank(samples: list[float], q: float) -> None:
    found = percentile(samples, q)
    assert found in samples
    share = q / 100 * len(samples)
    assert sum(1 for s in samples if s <= found) >= share
    assert sum(1 for s in samples if s < found) < share
