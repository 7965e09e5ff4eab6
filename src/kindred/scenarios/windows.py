"""Windowed aggregates and absence detection for the scenario engine.

Business rules such as "3 missed heartbeats from one device in 10 minutes" or "no heartbeat for
5 minutes" need a little memory of the recent past. This module keeps that memory: pure,
in-memory and deterministic (no I/O, no clock of its own; every time is a float epoch second
handed in by the engine). The engine calls ``observe`` on every event and asks ``value`` or
``due`` when a rule is checked; after a restart it rebuilds the state by replaying recent events
from its log through ``observe``, which is why ``observe`` accepts slightly out-of-order times.

Time model: each store keeps a high-water mark of the ``now`` values it was asked about (and,
per key, the newest event time it saw). Data older than every window needs relative to that mark
is dropped, so queries are exact for any ``now`` at or after the latest time seen; asking about
the past afterwards is answered from what is still held. A device with a wildly wrong clock can
only push its *own* key's horizon forward, never every key's.
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from itertools import count as _counter
from typing import Any, Literal, TypeAlias

__all__ = [
    "AbsenceSpec",
    "AbsenceTracker",
    "Silence",
    "WindowSpec",
    "WindowStore",
    "dotted",
]

Aggregate: TypeAlias = Literal["count", "sum", "avg", "min", "max", "distinct"]
Kind: TypeAlias = Literal["sliding", "tumbling"]
Number: TypeAlias = float | int

AGGREGATES: tuple[str, ...] = ("count", "sum", "avg", "min", "max", "distinct")
KINDS: tuple[str, ...] = ("sliding", "tumbling")
_NEEDS_FIELD = frozenset({"sum", "avg", "min", "max", "distinct"})
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_GLOB_CHARS = frozenset("*?[")
_MATCH_CACHE_LIMIT = 4096


# -- data access -----------------------------------------------------------------------------


def dotted(data: Mapping[str, Any], path: str) -> Any:
    """Follow a dotted path ("device.id", "readings.0") into event data; missing gives ``None``.

    Rules name fields the way users see them in the event catalog; a path that does not exist in
    one particular event is normal (optional fields), so it is ``None`` rather than an error.
    Integer segments index into lists.
    """
    return _dig(data, tuple(path.split(".")))


def _dig(data: Any, parts: tuple[str, ...]) -> Any:
    """``dotted`` on a path split once at setup (this runs for every event and window)."""
    current = data
    for segment in parts:
        if type(current) is dict or isinstance(current, Mapping):
            current = current.get(segment)
        elif isinstance(current, list | tuple) and segment.isdigit():
            index = int(segment)
            current = current[index] if index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def _number(value: Any) -> Number | None:
    """A finite int/float, or ``None``: booleans, strings and NaN are not measurements."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def _canonical(value: Any) -> str:
    """A stable text form for ``distinct``: equal JSON values give equal text (1 == 1.0)."""
    if isinstance(value, str):
        return "s" + value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "j" + json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _key_text(value: Any) -> str | None:
    """Keys taken from data (device ids may be numbers) become the strings callers query with."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _canonical(value)[1:]


class _Matcher:
    """Which specs an event type feeds: exact types by dict lookup, patterns by fnmatch, cached.

    Event types come from a finite catalog, so the cache is tiny in practice; it is bounded anyway
    because event types arrive from outside.
    """

    def __init__(self, event_types: Sequence[tuple[str, ...]]) -> None:
        self._exact: dict[str, list[int]] = {}
        self._patterns: list[tuple[str, int]] = []
        for index, types in enumerate(event_types):
            for pattern in types:
                if _GLOB_CHARS.isdisjoint(pattern):
                    self._exact.setdefault(pattern, []).append(index)
                else:
                    self._patterns.append((pattern, index))
        self._cache: dict[str, tuple[int, ...]] = {}

    def __call__(self, event_type: str) -> tuple[int, ...]:
        found = self._cache.get(event_type)
        if found is None:
            indexes = set(self._exact.get(event_type, ()))
            indexes.update(i for pattern, i in self._patterns if fnmatchcase(event_type, pattern))
            found = tuple(sorted(indexes))
            if len(self._cache) >= _MATCH_CACHE_LIMIT:
                self._cache.clear()
            self._cache[event_type] = found
        return found


def _check_common(name: Any, event_types: Any) -> list[str]:
    problems = []
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(
            f"name {name!r} must start with a lowercase letter and use only a-z, 0-9 and _ "
            "(at most 63 characters)"
        )
    if isinstance(event_types, str) or not isinstance(event_types, tuple):
        problems.append(f"event_types must be a tuple of event types, not {event_types!r}")
    elif not event_types:
        problems.append("event_types must name at least one event type or pattern")
    else:
        for event_type in event_types:
            if not isinstance(event_type, str) or not event_type.strip():
                problems.append(f"event type {event_type!r} must be a non-empty string")
    return problems


def _check_seconds(label: str, seconds: Any) -> list[str]:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return [f"{label} must be a number of seconds, not {seconds!r}"]
    if not math.isfinite(seconds) or seconds <= 0:
        return [f"{label} must be a finite number of seconds above zero, not {seconds!r}"]
    return []


def _refuse(kind: str, problems: list[str]) -> None:
    if problems:
        raise ValueError(f"invalid {kind}: " + "; ".join(problems))


# -- windows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowSpec:
    """One windowed aggregate a rule can read, e.g. missed heartbeats per device over 10 minutes.

    ``event_types`` holds exact types or fnmatch patterns (``iot.*``). ``field`` and
    ``key_field`` are dotted paths into the event data; without ``key_field`` the key the engine
    passes to ``observe`` (usually the subject record) is used. A count with a ``field`` counts
    only events that have it (like SQL ``COUNT(field)``). ``where`` is an extra predicate on the
    data (the engine passes a compiled CEL check); if it raises, ``observe`` raises and the store
    is left unchanged.
    """

    name: str
    event_types: tuple[str, ...]
    size: float
    aggregate: Aggregate
    kind: Kind = "sliding"
    field: str | None = None
    key_field: str | None = None
    where: Callable[[Mapping[str, Any]], bool] | None = None

    def check(self) -> list[str]:
        """Every problem with this spec in words a rule author understands; ``[]`` if fine.

        Checked when a rule is saved, so a mistake is reported at once instead of producing a
        window that silently never fires.
        """
        problems = _check_common(self.name, self.event_types)
        problems += _check_seconds("size", self.size)
        if self.aggregate not in AGGREGATES:
            problems.append(f"aggregate {self.aggregate!r} is not one of {', '.join(AGGREGATES)}")
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} must be sliding or tumbling")
        if self.aggregate in _NEEDS_FIELD and not self.field:
            problems.append(f"{self.aggregate} needs a field to aggregate (a dotted path)")
        for label, path in (("field", self.field), ("key_field", self.key_field)):
            if path is not None and (
                not isinstance(path, str) or not all(part for part in path.split("."))
            ):
                problems.append(f"{label} {path!r} must be a dotted path such as device.id")
        if self.where is not None and not callable(self.where):
            problems.append("where must be a predicate on the event data")
        return problems


class _Series:
    """One key's events in one window: times ascending, values alongside (none for count).

    Two parallel deques rather than a deque of pairs: trimming only ever looks at times, and a
    count window keeps no values at all.
    """

    __slots__ = ("times", "values")

    def __init__(self, keeps_values: bool) -> None:
        self.times: deque[float] = deque()
        self.values: deque[Any] | None = deque() if keeps_values else None

    def trim(self, cut: float, inclusive: bool) -> int:
        """Drop entries older than ``cut`` (or at ``cut`` too when ``inclusive``)."""
        times, values = self.times, self.values
        dropped = 0
        while times and (times[0] <= cut if inclusive else times[0] < cut):
            times.popleft()
            if values is not None:
                values.popleft()
            dropped += 1
        return dropped


class _Window:
    """Runtime state of one spec: a series per key, keys in least-recently-observed order."""

    __slots__ = (
        "aggregate",
        "field",
        "key_field",
        "keys",
        "size",
        "spec",
        "tumbling",
        "values",
        "where",
    )

    def __init__(self, spec: WindowSpec) -> None:
        self.spec = spec
        self.size = float(spec.size)
        self.tumbling = spec.kind == "tumbling"
        self.aggregate = spec.aggregate
        self.values = spec.aggregate != "count"
        self.field = tuple(spec.field.split(".")) if spec.field else None
        self.key_field = tuple(spec.key_field.split(".")) if spec.key_field else None
        self.where = spec.where
        self.keys: OrderedDict[str, _Series] = OrderedDict()

    def cut(self, horizon: float) -> float:
        """Once the clock is at ``horizon``, entries before this time (sliding: at it, too) go.

        Sliding windows are (now - size, now], so an entry at exactly horizon - size is already
        out; tumbling windows are [bucket start, ...), so the bucket start itself stays.
        """
        if self.tumbling:
            return math.floor(horizon / self.size) * self.size
        return horizon - self.size

    def trim(self, series: _Series, horizon: float) -> int:
        return series.trim(self.cut(horizon), not self.tumbling)


class WindowStore:
    """Holds every window's recent events and answers their aggregates per key.

    ``observe`` is O(1) amortized for in-order events (a late event walks back only past the
    events newer than itself); ``value`` is O(1) for count and O(k) for the others, k being the
    events in the window. Memory stays bounded: old entries are dropped lazily for the key being
    touched and fully by ``evict``, and each window holds at most ``max_keys_per_window`` keys,
    the least recently observed going first.
    """

    def __init__(self, specs: Sequence[WindowSpec], *, max_keys_per_window: int = 100_000) -> None:
        problems: list[str] = []
        seen: set[str] = set()
        for spec in specs:
            if not isinstance(spec, WindowSpec):
                problems.append(f"{spec!r} is not a WindowSpec")
                continue
            problems += [f"{spec.name}: {problem}" for problem in spec.check()]
            if spec.name in seen:
                problems.append(f"{spec.name}: the name is used by two windows")
            seen.add(spec.name)
        if isinstance(max_keys_per_window, bool) or not isinstance(max_keys_per_window, int):
            problems.append("max_keys_per_window must be a whole number")
        elif max_keys_per_window < 1:
            problems.append("max_keys_per_window must be at least 1")
        _refuse("windows", problems)
        self._windows = [_Window(spec) for spec in specs]
        self._by_name = {window.spec.name: window for window in self._windows}
        self._match = _Matcher([spec.event_types for spec in specs])
        self._max_keys = max_keys_per_window
        self._now = -math.inf
        self._keys_dropped = 0

    @property
    def specs(self) -> tuple[WindowSpec, ...]:
        return tuple(window.spec for window in self._windows)

    def observe(self, event_type: str, key: str, at: float, data: Mapping[str, Any]) -> None:
        """Record one event in every window it feeds.

        All predicates and field reads happen before anything is stored, so an event whose
        ``where`` raises changes nothing (replay after a restart then gives the same state).
        """
        indexes = self._match(event_type)
        if not indexes:
            return
        at = float(at)
        updates: list[tuple[_Window, str, Any]] = []
        for index in indexes:
            window = self._windows[index]
            if window.where is not None and not window.where(data):
                continue
            window_key = (
                key if window.key_field is None else _key_text(_dig(data, window.key_field))
            )
            if window_key is None:
                continue
            if window.field is None:
                updates.append((window, window_key, None))
                continue
            raw = _dig(data, window.field)
            if window.aggregate == "count":  # like SQL COUNT(field): events that have it
                if raw is not None:
                    updates.append((window, window_key, None))
            elif window.aggregate == "distinct":
                if raw is None:
                    continue
                updates.append((window, window_key, _canonical(raw)))
            else:
                number = _number(raw)
                if number is None:
                    continue
                updates.append((window, window_key, number))
        for window, window_key, value in updates:
            self._insert(window, window_key, at, value)

    def _insert(self, window: _Window, key: str, at: float, value: Any) -> None:
        keys = window.keys
        series = keys.get(key)
        if series is None:
            if at < self._now and _expired(window, at, self._now):
                return  # too late to matter for any window from now on
            series = keys[key] = _Series(window.values)
            series.times.append(at)
            if series.values is not None:
                series.values.append(value)
            if len(keys) > self._max_keys:
                keys.popitem(last=False)
                self._keys_dropped += 1
            return
        times = series.times
        newest = times[-1]
        if at >= newest:
            horizon = at if at > self._now else self._now
            if horizon > at and _expired(window, at, horizon):
                return
            times.append(at)
            if series.values is not None:
                series.values.append(value)
        else:
            horizon = newest if newest > self._now else self._now
            if _expired(window, at, horizon):
                return  # a replayed or late event no window from now on can see
            position = len(times) - 1
            while position > 0 and times[position - 1] > at:
                position -= 1
            times.insert(position, at)
            if series.values is not None:
                series.values.insert(position, value)
        keys.move_to_end(key)
        if _expired(window, times[0], horizon):
            window.trim(series, horizon)

    def value(self, name: str, key: str, now: float) -> float | int | None:
        """The aggregate of window ``name`` for ``key`` as of ``now``.

        Sliding windows cover (now - size, now]; tumbling windows cover the current bucket
        [floor(now/size)*size, +size) up to ``now`` (events later than ``now`` only exist when
        the caller asks about the past, and are not counted). Empty windows give 0 for count, sum
        and distinct and ``None`` for avg, min and max, because "no average" is not zero.
        """
        window = self._by_name.get(name)
        if window is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise KeyError(f"unknown window {name!r} (known: {known})")
        return self._value(window, key, float(now))

    def values(self, key: str, now: float) -> dict[str, float | int | None]:
        """Every window's value for one key, for building a rule's activation in one call."""
        now = float(now)
        return {window.spec.name: self._value(window, key, now) for window in self._windows}

    def _value(self, window: _Window, key: str, now: float) -> float | int | None:
        if now > self._now:
            self._now = now
        series = window.keys.get(key)
        if series is None:
            return None if window.aggregate in ("avg", "min", "max") else 0
        times = series.times
        horizon = times[-1] if times[-1] > self._now else self._now
        if _expired(window, times[0], horizon):
            window.trim(series, horizon)
            if not times:
                del window.keys[key]
                return None if window.aggregate in ("avg", "min", "max") else 0
        # What is held is now inside the window as of ``now`` (now <= horizon), except entries
        # later than ``now``, which exist only when the caller asks about the past.
        inside = None
        if times[-1] > now:
            inside = [i for i, at in enumerate(times) if at <= now]
        if series.values is None:
            return len(times) if inside is None else len(inside)
        values = series.values
        picked = values if inside is None else [values[i] for i in inside]
        return _aggregate(window.aggregate, picked)

    def evict(self, now: float) -> int:
        """Drop everything no window needs any more as of ``now``; returns entries dropped.

        Lazy eviction only touches keys that are observed or queried; the engine calls this
        periodically so keys that went quiet do not keep memory.
        """
        now = float(now)
        if now > self._now:
            self._now = now
        dropped = 0
        for window in self._windows:
            empty = []
            for key, series in window.keys.items():
                newest = series.times[-1]
                dropped += window.trim(series, newest if newest > self._now else self._now)
                if not series.times:
                    empty.append(key)
            for key in empty:
                del window.keys[key]
        return dropped

    def stats(self) -> dict[str, int]:
        """Sizes for metrics: windows, keys and entries held, keys pushed out by the key limit."""
        return {
            "windows": len(self._windows),
            "keys": sum(len(window.keys) for window in self._windows),
            "entries": sum(
                len(series.times) for window in self._windows for series in window.keys.values()
            ),
            "keys_dropped": self._keys_dropped,
        }


def _expired(window: _Window, at: float, horizon: float) -> bool:
    """Whether an entry at ``at`` is outside every window once the clock is at ``horizon``."""
    if window.tumbling:
        return at < math.floor(horizon / window.size) * window.size
    return at <= horizon - window.size


def _aggregate(aggregate: str, picked: Collection[Any]) -> float | int | None:
    if aggregate == "distinct":
        return len(set(picked))
    if aggregate == "sum":
        return _total(picked) if picked else 0
    if not picked:
        return None
    if aggregate == "avg":
        return _total(picked) / len(picked)
    if aggregate == "min":
        return min(picked)
    return max(picked)


def _total(numbers: Collection[Number]) -> Number:
    """Exact for integers, correctly rounded (fsum) as soon as a float is involved."""
    try:
        total = sum(numbers)
        return math.fsum(numbers) if isinstance(total, float) else total
    except OverflowError:  # beyond float range: huge integers mixed with floats, or 1e308s
        return math.copysign(math.inf, sum(number / 2**600 for number in numbers))


# -- absence ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AbsenceSpec:
    """ "No heartbeat for 5 minutes": silence of ``after`` seconds on matching events, per key."""

    name: str
    event_types: tuple[str, ...]
    after: float
    key_field: str | None = None

    def check(self) -> list[str]:
        """Problems with the spec in a rule author's words; ``[]`` if fine."""
        problems = _check_common(self.name, self.event_types)
        problems += _check_seconds("after", self.after)
        if self.key_field is not None and (
            not isinstance(self.key_field, str) or not all(self.key_field.split("."))
        ):
            problems.append(f"key_field {self.key_field!r} must be a dotted path such as device.id")
        return problems


@dataclass(frozen=True)
class Silence:
    """One key that went quiet: reported once, until the key is seen again."""

    name: str
    key: str
    last_seen: float
    due_at: float


class _Watch:
    """One (spec, key): when it was last seen and whether the heap holds an entry for it."""

    __slots__ = ("key", "last_seen", "scheduled", "spec")

    def __init__(self, spec: int, key: str, last_seen: float) -> None:
        self.spec = spec
        self.key = key
        self.last_seen = last_seen
        self.scheduled = False


class AbsenceTracker:
    """Finds keys whose matching events stopped, using a heap of deadlines.

    Each watched key has at most one heap entry; a newer event does not push another one, it just
    moves ``last_seen`` forward, and the entry is re-queued at the true deadline when it surfaces
    (lazy invalidation). So the heap stays as big as the number of keys, and ``due`` costs
    O(log n) per deadline reached rather than a scan of every key. Keys never seen are never
    reported: absence means "it stopped", not "it never started".
    """

    def __init__(self, specs: Sequence[AbsenceSpec]) -> None:
        problems: list[str] = []
        seen: set[str] = set()
        for spec in specs:
            if not isinstance(spec, AbsenceSpec):
                problems.append(f"{spec!r} is not an AbsenceSpec")
                continue
            problems += [f"{spec.name}: {problem}" for problem in spec.check()]
            if spec.name in seen:
                problems.append(f"{spec.name}: the name is used by two absence rules")
            seen.add(spec.name)
        _refuse("absence rules", problems)
        self._specs = tuple(specs)
        self._after = [float(spec.after) for spec in specs]
        self._match = _Matcher([spec.event_types for spec in specs])
        self._watches: list[dict[str, _Watch]] = [{} for _ in specs]
        self._heap: list[tuple[float, int, _Watch]] = []
        self._sequence = _counter()

    @property
    def specs(self) -> tuple[AbsenceSpec, ...]:
        return self._specs

    def observe(self, event_type: str, key: str, at: float, data: Mapping[str, Any]) -> None:
        """Note that ``key`` was seen at ``at``; this re-arms a silence already reported.

        An event older than the last one seen for the key (replay, late delivery) changes
        nothing, so a reported silence is not re-armed by stale news.
        """
        at = float(at)
        for index in self._match(event_type):
            spec = self._specs[index]
            watch_key = key if spec.key_field is None else _key_text(dotted(data, spec.key_field))
            if watch_key is None:
                continue
            watches = self._watches[index]
            watch = watches.get(watch_key)
            if watch is None:
                watch = watches[watch_key] = _Watch(index, watch_key, at)
            elif at > watch.last_seen:
                watch.last_seen = at
            else:
                continue
            if not watch.scheduled:
                self._push(watch)

    def _push(self, watch: _Watch) -> None:
        deadline = watch.last_seen + self._after[watch.spec]
        heapq.heappush(self._heap, (deadline, next(self._sequence), watch))
        watch.scheduled = True

    def _settle(self) -> None:
        """Make the heap's top a live, exact deadline (drop forgotten, re-queue moved ones)."""
        heap = self._heap
        while heap:
            deadline, _, watch = heap[0]
            if self._watches[watch.spec].get(watch.key) is not watch:
                heapq.heappop(heap)
                continue
            true_deadline = watch.last_seen + self._after[watch.spec]
            if true_deadline > deadline:
                heapq.heapreplace(heap, (true_deadline, next(self._sequence), watch))
                continue
            return

    def due(self, now: float) -> list[Silence]:
        """Silences whose deadline (last seen + after) is at or before ``now``, each once.

        Sorted by deadline, then rule name, then key, so replays report in the same order.
        """
        now = float(now)
        found: list[Silence] = []
        heap = self._heap
        while True:
            self._settle()
            if not heap or heap[0][0] > now:
                break
            deadline, _, watch = heapq.heappop(heap)
            watch.scheduled = False
            found.append(
                Silence(self._specs[watch.spec].name, watch.key, watch.last_seen, deadline)
            )
        found.sort(key=lambda silence: (silence.due_at, silence.name, silence.key))
        return found

    def next_deadline(self) -> float | None:
        """The earliest moment a silence can become due, so the engine can sleep until then."""
        self._settle()
        return self._heap[0][0] if self._heap else None

    def forget(self, key: str) -> None:
        """Stop watching ``key`` in every rule (device decommissioned, record deleted).

        Its heap entries become orphans and are dropped when they surface.
        """
        for watches in self._watches:
            watches.pop(key, None)

    def stats(self) -> dict[str, int]:
        """Sizes for metrics: keys watched and heap entries (including not-yet-dropped orphans)."""
        return {
            "keys": sum(len(watches) for watches in self._watches),
            "heap": len(self._heap),
        }
