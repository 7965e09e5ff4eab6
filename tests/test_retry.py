"""Retry waits (kindred.retry): exponential backoff with full jitter, capped."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from kindred.retry import backoff_ceiling, full_jitter

seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
attempts = st.integers(min_value=1, max_value=5000)
unit = st.floats(min_value=0, max_value=1, exclude_max=True)


@given(attempt=attempts, base=seconds, cap=seconds, r=unit)
def test_a_wait_is_never_negative_nor_above_its_cap(
    attempt: int, base: float, cap: float, r: float
) -> None:
    wait = full_jitter(attempt, base, cap, rand=lambda: r)
    assert 0 <= wait <= cap
    assert wait <= backoff_ceiling(attempt, base, cap)


@given(attempt=attempts, base=seconds, cap=seconds)
def test_the_ceiling_doubles_until_the_cap(attempt: int, base: float, cap: float) -> None:
    ceiling = backoff_ceiling(attempt, base, cap)
    assert 0 <= ceiling <= cap
    if attempt <= 60:
        assert ceiling == min(cap, base * 2 ** (attempt - 1))
    if base == 0:
        assert ceiling == 0


def test_the_wait_spans_zero_to_the_ceiling() -> None:
    # base 1 s, cap 5 s: after the 1st failure up to 1 s, the 2nd 2 s, the 3rd 4 s, then 5 s.
    assert [backoff_ceiling(n, 1.0, 5.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert full_jitter(4, 1.0, 5.0, rand=lambda: 0.0) == 0.0
    assert full_jitter(4, 1.0, 5.0, rand=lambda: 0.5) == 2.5
    # The old agent-step wait was min(cap, delay) × (0.5 + r): up to 1.5 × the cap.
    assert full_jitter(40, 1.0, 5.0, rand=lambda: 0.9999999) < 5.0


def test_negative_settings_and_a_misbehaving_source_stay_in_range() -> None:
    assert full_jitter(3, -1.0, 5.0) == 0.0
    assert full_jitter(3, 1.0, -5.0) == 0.0
    assert full_jitter(3, 1.0, 5.0, rand=lambda: 7.0) == 4.0
    assert full_jitter(3, 1.0, 5.0, rand=lambda: -7.0) == 0.0


def test_real_randomness_stays_in_range() -> None:
    source = random.Random(19)
    waits = [full_jitter(n, 0.1, 2.0, rand=source.random) for n in range(1, 200)]
    assert all(0 <= wait <= 2.0 for wait in waits)
    assert max(waits) > 1.0  # it does reach the upper part of the range, not just near 0
