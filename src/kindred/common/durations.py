"""Durations as people type them ("90s", "10m", "1h30m"), for windows, timeouts and retention.

Scenario windows, step timeouts and backoffs, agent retries and the sovereignty API's
retention periods all read durations the same way, with the same error message.
"""

from __future__ import annotations

import math
import re
import reprlib

__all__ = ["parse_duration"]

_DURATION_HINT = "use e.g. 30s, 10m, 2h or 1d (or 1h30m, 250ms, or a plain number of seconds)"
_UNITS: dict[str, tuple[int, float]] = {}
for _rank, (_seconds, _names) in enumerate(
    (
        (86400.0, ("d", "day", "days")),
        (3600.0, ("h", "hr", "hrs", "hour", "hours")),
        (60.0, ("m", "min", "mins", "minute", "minutes")),
        (1.0, ("s", "sec", "secs", "second", "seconds")),
        # Step timeouts and backoffs of agents talking to nearby systems are sub-second.
        (0.001, ("ms", "msec", "millisecond", "milliseconds")),
    )
):
    for _unit in _names:
        _UNITS[_unit] = (_rank, _seconds)
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PLAIN = re.compile(rf"\s*{_NUMBER}\s*")
_PART = re.compile(rf"\s*({_NUMBER})\s*([a-z]+)\s*")


def parse_duration(text: str | int | float) -> float:
    """Turn what a business user typed ("90s", "10m", "5 min", "2h", "1d", "1h30m") into seconds.

    Plain numbers (``90``, ``"90"``) are seconds. Units may be combined largest first, each once.
    Zero, negative, infinite and unreadable durations are refused with a ``ValueError`` that says
    what is accepted, because a rule saved with a bad window would silently never fire.
    """
    shown = reprlib.repr(text)
    if isinstance(text, bool) or not isinstance(text, int | float | str):
        raise ValueError(f"{shown} is not a duration: {_DURATION_HINT}")
    negative = False
    try:
        if isinstance(text, str):
            body = text.strip()
            negative = body.startswith("-")
            body = body[1:] if negative else body
            seconds = float(body) if _PLAIN.fullmatch(body) else _parse_units(body, shown)
        else:
            seconds = float(text)
    except OverflowError:
        seconds = math.inf
    if negative or seconds <= 0:
        raise ValueError(
            f"{shown} is not a duration: it must be longer than zero; {_DURATION_HINT}"
        )
    if not math.isfinite(seconds):
        raise ValueError(f"{shown} is not a duration: it must be finite; {_DURATION_HINT}")
    return seconds


def _parse_units(text: str, shown: str) -> float:
    lowered = text.lower()
    total = 0.0
    position = 0
    last_rank = -1
    while position < len(lowered):
        part = _PART.match(lowered, position)
        if part is None or part.end() == position:
            raise ValueError(f"{shown} is not a duration: {_DURATION_HINT}")
        unit = _UNITS.get(part.group(2))
        if unit is None or unit[0] <= last_rank:
            raise ValueError(f"{shown} is not a duration: {_DURATION_HINT}")
        last_rank = unit[0]
        total += float(part.group(1)) * unit[1]
        position = part.end()
    if last_rank < 0:
        raise ValueError(f"{shown} is not a duration: {_DURATION_HINT}")
    return total
