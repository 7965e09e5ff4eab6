"""A shared activation (converted once for many rules) gives exactly what ``evaluate`` gives:
the same results, the same errors at the same positions, and the fallbacks where it must."""

from __future__ import annotations

import pytest

from kindred.rules import RuleError, compile_rule
from kindred.rules.compiler import InputLimits, share

EVENT = {"type": "iot.device.fault", "data": {"severity": "major", "code": "E42", "n": 3}}
RULES = [
    "event.data.severity == 'major'",
    "event.data.n > 2 && event.data.code.startsWith('E')",
    "event.type in ['iot.device.fault', 'x.y.z']",
    "has(event.data.missing) || event.data.n == 3",
    "size(event.data) == 3",
    "event.data.items.exists(i, i > 1)",  # a loop: falls back to evaluate (cost check)
]


@pytest.mark.parametrize("source", RULES)
def test_shared_results_equal_plain_results(source: str) -> None:
    rule = compile_rule(source, variables=("event", "now"))
    activation = {"event": {**EVENT, "data": {**EVENT["data"], "items": [1, 2]}}, "now": "t"}
    shared = share(activation)
    assert shared is not None
    assert rule.evaluate_shared(shared, activation) == rule.evaluate(activation)


def test_errors_are_the_same() -> None:
    rule = compile_rule("event.data.nope > 1", variables=("event",))
    activation = {"event": EVENT}
    with pytest.raises(RuleError) as plain:
        rule.evaluate(activation)
    with pytest.raises(RuleError) as shared:
        rule.evaluate_shared(share(activation), activation)
    assert (shared.value.message, shared.value.offset) == (plain.value.message, plain.value.offset)


def test_fallbacks() -> None:
    rule = compile_rule("windows.n > 1", variables=("windows", "event"))
    activation = {"event": EVENT, "windows": {"n": 2}}
    # The shared activation lacks `windows`: the rule converts its own input.
    assert rule.evaluate_shared(share({"event": EVENT}), activation) is True
    # Input beyond the limits is not shared at all.
    assert share({"event": EVENT}, InputLimits(max_values=2)) is None
