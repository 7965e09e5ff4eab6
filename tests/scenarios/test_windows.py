"""Windowed aggregates and absence detection: exact values at the moments rules check them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kindred.common.durations import parse_duration
from kindred.scenarios.windows import (
    AbsenceSpec,
    AbsenceTracker,
    Silence,
    WindowSpec,
    WindowStore,
    dotted,
)

MISSED = "iot.device.heartbeat_missed"
HEARTBEAT = "iot.device.heartbeat"
T0 = 1_700_000_000.0  # a round-ish epoch; multiples of 600 keep tumbling buckets readable
assert T0 % 600 == 200.0


# -- parse_duration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("5 min", 300.0),
        ("5 minutes", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1h 30m 15s", 5415.0),
        ("1.5h", 5400.0),
        ("2H", 7200.0),
        ("  45  ", 45.0),
        ("0.5", 0.5),
        (90, 90.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration_accepts(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["10x", "", "m", "30m1h", "1h1h", "1h30", "1e3", "nan", "ten minutes", "h1", "-x"]
)
def test_parse_duration_refuses_garbage_saying_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == (
        f"{text!r} is not a duration: use e.g. 30s, 10m, 2h or 1d "
        "(or 1h30m, 250ms, or a plain number of seconds)"
    )


@pytest.mark.parametrize("text", ["0", "0s", "0m0s", "-5", "-5m", 0, -3, 0.0])
def test_parse_duration_refuses_zero_and_negative(text: str | int | float) -> None:
    with pytest.raises(ValueError, match=r"it must be longer than zero; use e\.g\. 30s, 10m"):
        parse_duration(text)


@pytest.mark.parametrize("text", [math.inf, math.nan, 10**400, "9" * 400 + "d"])
def test_parse_duration_refuses_infinite(text: str | int | float) -> None:
    with pytest.raises(ValueError, match="it must be finite"):
        parse_duration(text)


@pytest.mark.parametrize("text", [True, None, [10]])
def test_parse_duration_refuses_other_types(text: Any) -> None:
    with pytest.raises(ValueError, match=r"is not a duration: use e\.g\. 30s"):
        parse_duration(text)


# -- dotted -----------------------------------------------------------------------------------


def test_dotted_paths() -> None:
    data = {"device": {"id": "d1", "tags": ["a", "b"]}, "n": 0, "none": None}
    assert dotted(data, "device.id") == "d1"
    assert dotted(data, "device.tags.1") == "b"
    assert dotted(data, "device.tags.2") is None
    assert dotted(data, "device.tags.x") is None
    assert dotted(data, "device.id.more") is None
    assert dotted(data, "missing.deep") is None
    assert dotted(data, "n") == 0
    assert dotted(data, "none.x") is None
    assert dotted(data, "device") == {"id": "d1", "tags": ["a", "b"]}


# -- spec checks ------------------------------------------------------------------------------


def test_window_spec_check_lists_every_problem() -> None:
    assert WindowSpec("missed", (MISSED,), 600, "count").check() == []
    bad = WindowSpec("Bad-Name", (), 0, "sum")
    assert bad.check() == [
        "name 'Bad-Name' must start with a lowercase letter and use only a-z, 0-9 and _ "
        "(at most 63 characters)",
        "event_types must name at least one event type or pattern",
        "size must be a finite number of seconds above zero, not 0",
        "sum needs a field to aggregate (a dotted path)",
    ]
    odd = WindowSpec("x" * 64, MISSED, -1.0, "median", "hopping", field="a..b")  # type: ignore[arg-type]
    assert odd.check() == [
        f"name {'x' * 64!r} must start with a lowercase letter and use only a-z, 0-9 and _ "
        "(at most 63 characters)",
        f"event_types must be a tuple of event types, not {MISSED!r}",
        "size must be a finite number of seconds above zero, not -1.0",
        "aggregate 'median' is not one of count, sum, avg, min, max, distinct",
        "kind 'hopping' must be sliding or tumbling",
        "field 'a..b' must be a dotted path such as device.id",
    ]
    assert WindowSpec("c", ("a",), 1, "count", field="x").check() == []


def test_window_store_refuses_bad_specs_listing_them() -> None:
    with pytest.raises(ValueError) as caught:
        WindowStore(
            [
                WindowSpec("a", ("x",), 10, "count"),
                WindowSpec("a", ("x",), 10, "avg"),
            ]
        )
    assert str(caught.value) == (
        "invalid windows: a: avg needs a field to aggregate (a dotted path); "
        "a: the name is used by two windows"
    )
    with pytest.raises(ValueError, match="max_keys_per_window must be at least 1"):
        WindowStore([], max_keys_per_window=0)


def test_absence_tracker_refuses_bad_specs() -> None:
    with pytest.raises(ValueError) as caught:
        AbsenceTracker([AbsenceSpec("quiet", ("x",), 0)])
    assert str(caught.value) == (
        "invalid absence rules: quiet: after must be a finite number of seconds above zero, not 0"
    )


def test_unknown_window_name() -> None:
    store = WindowStore([WindowSpec("missed", (MISSED,), 600, "count")])
    with pytest.raises(KeyError, match="unknown window 'nope' \\(known: missed\\)"):
        store.value("nope", "d1", T0)


# -- the article example ----------------------------------------------------------------------


def test_three_missed_heartbeats_in_ten_minutes() -> None:
    store = WindowStore([WindowSpec("missed", (MISSED,), parse_duration("10m"), "count")])
    times = [T0, T0 + 120, T0 + 540]
    for at in times:
        store.observe(MISSED, "device-1", at, {})
    store.observe(MISSED, "device-2", T0 + 100, {})
    store.observe(HEARTBEAT, "device-1", T0 + 200, {})  # not a missed heartbeat

    assert store.value("missed", "device-1", T0 + 119) == 1
    assert store.value("missed", "device-1", T0 + 539) == 2
    assert store.value("missed", "device-1", T0 + 540) == 3  # crosses 3 right at the third
    assert store.value("missed", "device-2", T0 + 540) == 1
    assert store.value("missed", "device-1", T0 + 599) == 3
    assert store.value("missed", "device-1", T0 + 600) == 2  # the first slides out: (now-10m, now]
    assert store.value("missed", "device-1", T0 + 720) == 1
    assert store.value("missed", "device-1", T0 + 1140) == 0
    assert store.value("missed", "unknown", T0 + 1140) == 0
    assert store.values("device-1", T0 + 1140) == {"missed": 0}


def test_event_type_patterns() -> None:
    store = WindowStore([WindowSpec("iot", ("iot.*", "crm.deal.won"), 60, "count")])
    for event_type in (MISSED, HEARTBEAT, "crm.deal.won", "crm.deal.lost", "iotx"):
        store.observe(event_type, "k", T0, {})
    assert store.value("iot", "k", T0) == 3


# -- tumbling ---------------------------------------------------------------------------------


def test_tumbling_buckets() -> None:
    store = WindowStore([WindowSpec("per_10m", ("e",), 600, "count", kind="tumbling")])
    bucket = 1_700_000_400.0  # a multiple of 600
    assert bucket % 600 == 0
    store.observe("e", "k", bucket - 0.5, {})  # last instant of the previous bucket
    assert store.value("per_10m", "k", bucket - 0.5) == 1
    store.observe("e", "k", bucket, {})  # first instant of the bucket: a fresh count
    assert store.value("per_10m", "k", bucket) == 1
    store.observe("e", "k", bucket + 300, {})
    assert store.value("per_10m", "k", bucket + 300) == 2
    store.observe("e", "k", bucket + 599.5, {})
    assert store.value("per_10m", "k", bucket + 599.9) == 3
    assert store.stats()["entries"] == 3  # the previous bucket is gone
    assert store.value("per_10m", "k", bucket + 600) == 0  # a new bucket starts empty
    store.observe("e", "k", bucket + 600, {})
    assert store.value("per_10m", "k", bucket + 1199) == 1
    assert store.stats()["entries"] == 1


def test_tumbling_sum() -> None:
    store = WindowStore([WindowSpec("amount", ("pay",), 3600, "sum", "tumbling", field="eur")])
    hour = 1_699_999_200.0
    assert hour % 3600 == 0
    store.observe("pay", "acme", hour + 10, {"eur": 5})
    store.observe("pay", "acme", hour + 3599, {"eur": 7})
    assert store.value("amount", "acme", hour + 3599) == 12
    store.observe("pay", "acme", hour + 3600, {"eur": 100})
    assert store.value("amount", "acme", hour + 3600) == 100
    assert store.value("amount", "acme", hour + 7199) == 100
    assert store.value("amount", "acme", hour + 7200) == 0


# -- aggregates -------------------------------------------------------------------------------


def _numeric_store() -> WindowStore:
    return WindowStore(
        [
            WindowSpec("total", ("reading",), 60, "sum", field="v"),
            WindowSpec("mean", ("reading",), 60, "avg", field="v"),
            WindowSpec("low", ("reading",), 60, "min", field="v"),
            WindowSpec("high", ("reading",), 60, "max", field="v"),
            WindowSpec("kinds", ("reading",), 60, "distinct", field="v"),
            WindowSpec("seen", ("reading",), 60, "count"),
        ]
    )


def test_empty_aggregates() -> None:
    store = _numeric_store()
    assert store.values("k", T0) == {
        "total": 0,
        "mean": None,
        "low": None,
        "high": None,
        "kinds": 0,
        "seen": 0,
    }


def test_numeric_aggregates_skip_bad_values() -> None:
    store = _numeric_store()
    for offset, value in enumerate([4, "7", None, True, 10, math.nan, math.inf, -2, [1], 4.0]):
        store.observe("reading", "k", T0 + offset, {"v": value})
    store.observe("reading", "k", T0 + 11, {"other": 1})
    assert store.values("k", T0 + 11) == {
        "total": 16.0,
        "mean": 4.0,
        "low": -2,
        "high": 10,
        # distinct: 4 and 4.0 are one value; nan, inf, "7", True, [1] are values too; None and
        # the missing field are not.
        "kinds": 8,
        "seen": 11,
    }
    assert store.value("total", "k", T0 + 61) == 12.0  # the 4 at T0 slid out: 10 - 2 + 4.0
    assert store.value("mean", "k", T0 + 61) == 4.0
    assert store.value("low", "k", T0 + 61) == -2
    assert store.value("high", "k", T0 + 68) == 4.0  # only the 4.0 at T0+9 is left
    assert store.value("low", "k", T0 + 68) == 4.0
    assert store.value("total", "k", T0 + 70) == 0
    assert store.value("mean", "k", T0 + 70) is None


def test_integer_sums_stay_exact_integers() -> None:
    store = WindowStore([WindowSpec("total", ("e",), 60, "sum", field="n")])
    store.observe("e", "k", T0, {"n": 2**60})
    store.observe("e", "k", T0 + 1, {"n": 1})
    assert store.value("total", "k", T0 + 1) == 2**60 + 1
    store.observe("e", "k", T0 + 2, {"n": 0.1})
    store.observe("e", "k", T0 + 3, {"n": 0.2})
    assert store.value("total", "k", T0 + 3) == math.fsum([2**60, 1, 0.1, 0.2])


def test_sums_beyond_float_range_are_infinite_not_an_error() -> None:
    store = WindowStore([WindowSpec("total", ("e",), 60, "sum", field="n")])
    store.observe("e", "k", T0, {"n": -(10**400)})
    store.observe("e", "k", T0 + 1, {"n": 0.5})
    assert store.value("total", "k", T0 + 1) == -math.inf


def test_asking_about_the_past_leaves_out_later_events() -> None:
    store = WindowStore(
        [
            WindowSpec("seen", ("e",), 600, "count"),
            WindowSpec("total", ("e",), 600, "sum", field="n"),
        ]
    )
    for offset in (0, 100, 200):
        store.observe("e", "k", T0 + offset, {"n": offset + 1})
    assert store.values("k", T0 + 150) == {"seen": 2, "total": 102}
    assert store.values("k", T0 + 200) == {"seen": 3, "total": 303}


def test_distinct_uses_a_stable_repr() -> None:
    store = WindowStore([WindowSpec("ips", ("login",), 600, "distinct", field="client")])
    clients: list[Any] = [
        {"ip": "10.0.0.1", "port": 1},
        {"port": 1, "ip": "10.0.0.1"},  # same object, other key order
        ["10.0.0.1"],
        "10.0.0.1",
        "1",
        1,
        1.0,
        False,
        None,
    ]
    for offset, client in enumerate(clients):
        store.observe("login", "u1", T0 + offset, {"client": client})
    # {..} ×2 → 1, list, the string "10.0.0.1", the string "1", 1 == 1.0, False; None skipped
    assert store.value("ips", "u1", T0 + 10) == 6


# -- keys and predicates ----------------------------------------------------------------------


def test_key_field_overrides_the_observe_key() -> None:
    store = WindowStore(
        [
            WindowSpec("per_device", (MISSED,), 600, "count", key_field="device.id"),
            WindowSpec("per_subject", (MISSED,), 600, "count"),
        ]
    )
    store.observe(MISSED, "site-1", T0, {"device": {"id": "d1"}})
    store.observe(MISSED, "site-1", T0 + 1, {"device": {"id": "d2"}})
    store.observe(MISSED, "site-1", T0 + 2, {"device": {"id": 7}})  # numbers become strings
    store.observe(MISSED, "site-1", T0 + 3, {"device": {}})  # no key: not counted per device
    assert store.value("per_device", "d1", T0 + 3) == 1
    assert store.value("per_device", "d2", T0 + 3) == 1
    assert store.value("per_device", "7", T0 + 3) == 1
    assert store.value("per_device", "site-1", T0 + 3) == 0
    assert store.value("per_subject", "site-1", T0 + 3) == 4
    assert store.values("d1", T0 + 3) == {"per_device": 1, "per_subject": 0}


def test_count_with_a_field_counts_events_that_have_it() -> None:
    store = WindowStore([WindowSpec("readings", ("reading",), 60, "count", field="v")])
    rows: list[dict[str, Any]] = [{"v": 1}, {"v": None}, {}, {"v": "high"}, {"v": 0}]
    for offset, data in enumerate(rows):
        store.observe("reading", "k", T0 + offset, data)
    assert store.value("readings", "k", T0 + 5) == 3


def test_where_predicate_filters_events() -> None:
    def critical(data: Mapping[str, Any]) -> bool:
        return data.get("severity") == "critical"

    store = WindowStore(
        [
            WindowSpec("critical", ("alarm",), 600, "count", where=critical),
            WindowSpec("all", ("alarm",), 600, "count"),
        ]
    )
    for offset, severity in enumerate(["critical", "minor", "critical", None]):
        store.observe("alarm", "k", T0 + offset, {"severity": severity})
    assert store.values("k", T0 + 5) == {"critical": 2, "all": 4}


def test_a_raising_predicate_changes_nothing() -> None:
    def broken(data: Mapping[str, Any]) -> bool:
        raise RuntimeError("cel failed")

    store = WindowStore(
        [
            WindowSpec("all", ("alarm",), 600, "count"),
            WindowSpec("broken", ("alarm",), 600, "count", where=broken),
        ]
    )
    with pytest.raises(RuntimeError, match="cel failed"):
        store.observe("alarm", "k", T0, {})
    assert store.stats() == {"windows": 2, "keys": 0, "entries": 0, "keys_dropped": 0}


# -- order tolerance --------------------------------------------------------------------------


def test_out_of_order_observe_counts_correctly() -> None:
    store = WindowStore(
        [
            WindowSpec("missed", (MISSED,), 600, "count"),
            WindowSpec("high", (MISSED,), 600, "max", field="gap"),
            WindowSpec("per_bucket", (MISSED,), 600, "count", kind="tumbling"),
        ]
    )
    for at, gap in [(T0 + 500, 3), (T0 + 100, 9), (T0 + 300, 1), (T0 + 550, 2), (T0 + 10, 4)]:
        store.observe(MISSED, "d1", at, {"gap": gap})
    assert store.value("missed", "d1", T0 + 550) == 5
    assert store.value("high", "d1", T0 + 550) == 9
    assert store.value("missed", "d1", T0 + 610) == 4  # T0+10 slid out, not the latest one
    assert store.value("high", "d1", T0 + 699) == 9
    assert store.value("high", "d1", T0 + 700) == 3
    # An event older than any window still needs is ignored rather than resurrected.
    store.observe(MISSED, "d1", T0 + 50, {"gap": 99})
    assert store.value("missed", "d1", T0 + 701) == 3
    assert store.value("high", "d1", T0 + 701) == 3
    # Tumbling: T0 = …200 (mod 600), so the bucket [T0+400, T0+1000) holds +500 and +550.
    assert store.value("per_bucket", "d1", T0 + 701) == 2


def test_late_events_are_kept_in_time_order_so_eviction_frees_them() -> None:
    store = WindowStore([WindowSpec("missed", (MISSED,), 5, "count")])
    for at in (1000.0, 1003.0, 1001.0, 1002.0):
        store.observe(MISSED, "d1", at, {})
    assert store.evict(1005.5) == 1  # only 1000 is out of (1000.5, 1005.5]
    assert store.stats()["entries"] == 3
    assert store.value("missed", "d1", 1006.0) == 2
    assert store.stats()["entries"] == 2


def test_a_wrong_clock_only_moves_its_own_key() -> None:
    store = WindowStore([WindowSpec("missed", (MISSED,), 600, "count")])
    store.observe(MISSED, "good", T0, {})
    store.observe(MISSED, "broken", T0, {})
    store.observe(MISSED, "broken", T0 + 10**6, {})  # a device that thinks it is next week
    assert store.value("missed", "good", T0 + 1) == 1
    assert store.value("missed", "broken", T0 + 1) == 0


def test_replay_rebuilds_the_same_values() -> None:
    spec = WindowSpec("missed", (MISSED,), 600, "count")
    events = [(T0 + t, f"d{t % 3}") for t in (0, 40, 35, 90, 80, 200, 610, 605, 900)]
    live = WindowStore([spec])
    for at, key in events:
        live.observe(MISSED, key, at, {})
    replayed = WindowStore([spec])
    for at, key in sorted(events):  # the log gives them back in another order
        replayed.observe(MISSED, key, at, {})
    now = T0 + 1000
    for key in ("d0", "d1", "d2"):
        assert live.value("missed", key, now) == replayed.value("missed", key, now)
    assert [live.value("missed", key, now) for key in ("d0", "d1", "d2")] == [1, 1, 1]


# -- memory -----------------------------------------------------------------------------------


def test_evict_keeps_values_and_bounds_memory() -> None:
    store = WindowStore(
        [
            WindowSpec("short", ("e",), 60, "count"),
            WindowSpec("long", ("e",), 600, "sum", field="n"),
        ]
    )
    for second in range(600):
        store.observe("e", f"k{second % 10}", T0 + second, {"n": 1})
    assert store.stats() == {"windows": 2, "keys": 20, "entries": 60 + 600, "keys_dropped": 0}
    now = T0 + 599
    before = {f"k{i}": store.values(f"k{i}", now) for i in range(10)}
    assert before["k3"] == {"short": 6, "long": 60}
    assert store.evict(now) == 0  # lazy eviction on observe already trimmed the touched keys
    assert store.evict(now + 300) == 60 + 300
    assert store.stats() == {"windows": 2, "keys": 10, "entries": 300, "keys_dropped": 0}
    assert {f"k{i}": store.values(f"k{i}", now + 300) for i in range(10)}["k3"] == {
        "short": 0,
        "long": 30,
    }
    assert store.evict(now + 600) == 300
    assert store.stats() == {"windows": 2, "keys": 0, "entries": 0, "keys_dropped": 0}
    assert store.values("k3", now + 600) == {"short": 0, "long": 0}


def test_lazy_eviction_on_value_frees_quiet_keys() -> None:
    store = WindowStore([WindowSpec("missed", (MISSED,), 600, "count")])
    store.observe(MISSED, "d1", T0, {})
    store.observe(MISSED, "d1", T0 + 1, {})
    assert store.value("missed", "d1", T0 + 600) == 1
    assert store.stats()["entries"] == 1
    assert store.value("missed", "d1", T0 + 601) == 0
    assert store.stats()["keys"] == 0


def test_max_keys_drops_the_least_recently_observed_key() -> None:
    store = WindowStore([WindowSpec("missed", (MISSED,), 600, "count")], max_keys_per_window=3)
    for offset, key in enumerate(["a", "b", "c", "a", "d"]):  # "b" is least recent when d comes
        store.observe(MISSED, key, T0 + offset, {})
    assert store.values("a", T0 + 5) == {"missed": 2}
    assert [store.value("missed", key, T0 + 5) for key in "bcd"] == [0, 1, 1]
    assert store.stats() == {"windows": 1, "keys": 3, "entries": 4, "keys_dropped": 1}
    store.observe(MISSED, "e", T0 + 6, {})  # value() does not count as use: "c" goes now
    assert [store.value("missed", key, T0 + 6) for key in "acde"] == [2, 0, 1, 1]


# -- absence ----------------------------------------------------------------------------------


def _tracker() -> AbsenceTracker:
    return AbsenceTracker([AbsenceSpec("no_heartbeat", (HEARTBEAT,), parse_duration("5m"))])


def test_no_heartbeat_for_five_minutes_is_reported_once() -> None:
    tracker = _tracker()
    assert tracker.next_deadline() is None
    tracker.observe(HEARTBEAT, "d1", T0, {})
    tracker.observe(HEARTBEAT, "d1", T0 + 60, {})
    tracker.observe(MISSED, "d2", T0, {})  # another event type: d2 is never watched
    assert tracker.next_deadline() == T0 + 360
    assert tracker.due(T0 + 359.9) == []
    assert tracker.due(T0 + 360) == [Silence("no_heartbeat", "d1", T0 + 60, T0 + 360)]
    assert tracker.due(T0 + 360) == []
    assert tracker.due(T0 + 10_000) == []
    assert tracker.next_deadline() is None


def test_a_new_heartbeat_rearms_the_silence() -> None:
    tracker = _tracker()
    tracker.observe(HEARTBEAT, "d1", T0, {})
    assert tracker.due(T0 + 400) == [Silence("no_heartbeat", "d1", T0, T0 + 300)]
    tracker.observe(HEARTBEAT, "d1", T0 - 5, {})  # stale news does not re-arm
    assert tracker.next_deadline() is None
    tracker.observe(HEARTBEAT, "d1", T0 + 500, {})
    assert tracker.next_deadline() == T0 + 800
    assert tracker.due(T0 + 799) == []
    assert tracker.due(T0 + 800) == [Silence("no_heartbeat", "d1", T0 + 500, T0 + 800)]


def test_unseen_keys_are_never_reported() -> None:
    tracker = _tracker()
    assert tracker.due(T0 + 10**6) == []
    tracker.observe("crm.deal.won", "d1", T0, {})
    assert tracker.due(T0 + 10**6) == []
    assert tracker.next_deadline() is None


def test_next_deadline_follows_the_earliest_live_key() -> None:
    tracker = AbsenceTracker(
        [
            AbsenceSpec("no_heartbeat", (HEARTBEAT,), 300),
            AbsenceSpec("no_iot", ("iot.*",), 60, key_field="device"),
        ]
    )
    tracker.observe(HEARTBEAT, "site", T0, {"device": "d1"})
    tracker.observe(HEARTBEAT, "site", T0 + 10, {"device": "d2"})
    assert tracker.next_deadline() == T0 + 60  # no_iot for d1
    tracker.observe(HEARTBEAT, "site", T0 + 50, {"device": "d1"})  # d1's deadline moves on
    assert tracker.next_deadline() == T0 + 70  # now d2 is first
    tracker.observe(HEARTBEAT, "site", T0 + 65, {"device": "d2"})
    assert tracker.next_deadline() == T0 + 110
    assert tracker.due(T0 + 125) == [
        Silence("no_iot", "d1", T0 + 50, T0 + 110),
        Silence("no_iot", "d2", T0 + 65, T0 + 125),
    ]
    assert tracker.next_deadline() == T0 + 365  # the site's heartbeat rule
    assert tracker.due(T0 + 400) == [Silence("no_heartbeat", "site", T0 + 65, T0 + 365)]
    assert tracker.next_deadline() is None
    assert tracker.stats() == {"keys": 3, "heap": 0}


def test_heap_stays_one_entry_per_key() -> None:
    tracker = _tracker()
    for second in range(0, 3000, 30):
        for device in range(5):
            tracker.observe(HEARTBEAT, f"d{device}", T0 + second, {})
    assert tracker.stats() == {"keys": 5, "heap": 5}
    assert tracker.next_deadline() == T0 + 2970 + 300


def test_forget_stops_watching() -> None:
    tracker = _tracker()
    tracker.observe(HEARTBEAT, "d1", T0, {})
    tracker.observe(HEARTBEAT, "d2", T0 + 30, {})
    tracker.forget("d1")
    tracker.forget("never-seen")
    assert tracker.next_deadline() == T0 + 330
    assert tracker.due(T0 + 1000) == [Silence("no_heartbeat", "d2", T0 + 30, T0 + 330)]
    tracker.observe(HEARTBEAT, "d1", T0 + 900, {})  # seen again after forget: a fresh watch
    tracker.forget("d1")
    tracker.observe(HEARTBEAT, "d1", T0 + 950, {})
    assert tracker.due(T0 + 1250) == [Silence("no_heartbeat", "d1", T0 + 950, T0 + 1250)]
    assert tracker.stats() == {"keys": 2, "heap": 0}


# -- property: sliding and tumbling values equal a brute-force computation ---------------------

_AGGREGATES = ("count", "sum", "avg", "min", "max", "distinct")


def _inside(
    kind: str, size: float, events: list[tuple[float, str, Any]], key: str, now: float
) -> list[tuple[float, str, Any]]:
    if kind == "sliding":
        return [event for event in events if event[1] == key and now - size < event[0] <= now]
    start = math.floor(now / size) * size
    return [event for event in events if event[1] == key and start <= event[0] <= now]


def _brute(
    aggregate: str,
    kind: str,
    size: float,
    events: list[tuple[float, str, Any]],
    key: str,
    now: float,
) -> float | int | None:
    inside = [v for _, _, v in _inside(kind, size, events, key, now)]
    if aggregate == "count":
        return len(inside)
    if aggregate == "distinct":
        return len({(isinstance(v, bool), v) for v in inside if v is not None})
    numbers = [v for v in inside if isinstance(v, int) and not isinstance(v, bool)]
    if aggregate == "sum":
        return sum(numbers)
    if not numbers:
        return None
    if aggregate == "avg":
        return sum(numbers) / len(numbers)
    return min(numbers) if aggregate == "min" else max(numbers)


def _accepted(aggregate: str, events: list[tuple[float, str, Any]]) -> list[Any]:
    """The events a window of this aggregate stores at all (for counting held entries)."""
    if aggregate == "count":
        return events
    if aggregate == "distinct":
        return [event for event in events if event[2] is not None]
    return [event for event in events if type(event[2]) is int]


KEYS = ("a", "b")
_observe = st.tuples(
    st.just("observe"),
    st.integers(-16, 4),  # half seconds from the latest time seen: mostly late, some early
    st.sampled_from(KEYS),
    st.one_of(st.integers(-5, 5), st.none(), st.just("x"), st.booleans()),
)
_operation = st.one_of(
    _observe,
    _observe,
    st.tuples(st.just("value"), st.integers(0, 12), st.just("a"), st.none()),
    st.tuples(st.just("evict"), st.integers(0, 12), st.just("a"), st.none()),
)


@settings(max_examples=300, deadline=None)
@given(
    size=st.sampled_from([1.0, 2.0, 2.5, 5.0]),
    kind=st.sampled_from(["sliding", "tumbling"]),
    operations=st.lists(_operation, min_size=5, max_size=80),
)
def test_values_match_brute_force(size: float, kind: str, operations: list[Any]) -> None:
    specs = [
        WindowSpec(
            aggregate,
            ("e",),
            size,
            aggregate,  # type: ignore[arg-type]
            kind=kind,  # type: ignore[arg-type]
            field=None if aggregate == "count" else "v",
        )
        for aggregate in _AGGREGATES
    ]
    store = WindowStore(specs)
    events: list[tuple[float, str, Any]] = []
    latest = 1000.0
    for operation, offset, key, value in operations:
        at = latest + offset / 2  # half seconds hit window edges exactly
        if operation == "observe":
            store.observe("e", key, at, {"v": value})
            events.append((at, key, value))
            latest = max(latest, at)
            continue
        latest = at  # queries never go back in time (offset >= 0)
        if operation == "evict":
            store.evict(at)
        else:  # value: asking about every key trims every key
            for some_key in KEYS:
                for aggregate in _AGGREGATES:
                    expected = _brute(aggregate, kind, size, events, some_key, at)
                    assert store.value(aggregate, some_key, at) == expected, (aggregate, at)
        # Exactly what the windows can still see is held: nothing more, nothing less.
        assert store.stats()["entries"] == sum(
            len(_inside(kind, size, _accepted(aggregate, events), some_key, at))
            for aggregate in _AGGREGATES
            for some_key in KEYS
        )
    # Held memory never exceeds what the windows can still see.
    end = latest + 2 * size
    store.evict(end)
    assert store.stats()["entries"] == 0
