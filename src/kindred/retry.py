"""Retry waits: exponential backoff with full jitter, never above its cap.

One function for everything that retries a step (agent steps, scenario steps): the wait
before retry ``n`` is uniform in ``[0, min(cap, base × 2^(n-1))]`` ("full jitter"), so many
runs that failed together spread out instead of retrying in lockstep, and no wait ever
exceeds the step's ``max_backoff``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable


def backoff_ceiling(attempt: int, base: float, cap: float) -> float:
    """The largest wait after failed attempt ``attempt`` (1 for the first): ``base × 2^(n-1)``
    capped at ``cap``; never negative, and huge attempt numbers do not overflow."""
    base, cap = float(max(base, 0.0)), float(max(cap, 0.0))
    try:
        return min(cap, math.ldexp(base, max(attempt - 1, 0)))
    except OverflowError:  # base × 2^n beyond any float (base > 0): the cap is the ceiling
        return cap


def full_jitter(
    attempt: int, base: float, cap: float, *, rand: Callable[[], float] = random.random
) -> float:
    """A wait in seconds after failed attempt ``attempt``, uniform in
    ``[0, backoff_ceiling(attempt, base, cap)]``. ``rand`` returns a number in [0, 1)."""
    return backoff_ceiling(attempt, base, cap) * min(max(rand(), 0.0), 1.0)
