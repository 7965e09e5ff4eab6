"""Checking scenario definitions: a good one compiles; a bad one is refused with every problem
and its exact JSON Pointer (and CEL position) — the business user fixes them all at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kindred.events.catalog import BUILTIN
from kindred.scenarios.definition import check_definition, definition_schema, load_text
from kindred.scenarios.evaluate import matches

GOOD = """
name: device-fault-dispatch
title: Device fault → service dispatch
when:
  events: [iot.device.fault]
  filter: event.data.severity in ['major', 'critical']
lookups:
  - {name: asset, object: asset, match: {serial_number: event.data.device_id}}
  - {name: account, object: account, id: asset.account}
windows:
  - {name: faults_1h, events: [iot.device.fault], size: 1h, aggregate: count}
and:
  - asset != null
  - cel: windows.faults_1h >= 1
    description: at least this fault
then:
  - id: ticket
    action: create_ticket
    with:
      subject: "Fault {{ event.data.code }} on {{ asset.serial_number }}"
      asset: {cel: asset.id}
      priority: high
    retry: {attempts: 5, backoff: 2s}
    timeout: 10s
    on_failure:
      - id: tell_ops
        action: notify
        with: {role: service, title: "Could not open a ticket"}
  - id: vip
    if: account != null && account.tier == 'A'
    then:
      - id: mail
        action: send_email
        with: {to: "{{ account.email }}", subject: "We are on it", text: "Ticket opened"}
    else:
      - id: wait_a_bit
        action: wait
        with: {for: 10m}
"""


def known(pattern: str) -> bool:
    return any(matches([pattern], name) for name in BUILTIN)


def check(raw: Any) -> tuple[Any, list[dict[str, Any]]]:
    return check_definition(raw, known_type=known)


def errors_of(raw: Any) -> dict[str, str]:
    compiled, errors = check(raw)
    assert compiled is None
    return {e["path"]: e["code"] for e in errors}


def good() -> dict[str, Any]:
    return copy.deepcopy(load_text(GOOD))


def test_a_good_definition_compiles() -> None:
    compiled, errors = check(good())
    assert errors == []
    assert compiled is not None
    assert [s.step.id for s in compiled.walk()] == [
        "ticket",
        "tell_ops",
        "vip",
        "mail",
        "wait_a_bit",
    ]
    assert compiled.window_sizes == {"faults_1h": 3600.0}
    assert len(compiled.conditions) == 2


def test_every_problem_is_reported_with_its_path() -> None:
    raw = good()
    raw["when"]["events"] = ["iot.device.teleported"]
    raw["when"]["filter"] = "event.data.severity = 'major'"
    raw["then"][0]["with"]["colour"] = "red"
    del raw["then"][0]["with"]["subject"]
    raw["then"][0]["retry"]["backoff"] = "soon"
    raw["then"][1]["then"][0]["id"] = "ticket"
    raw["then"][1]["then"][0]["with"]["text"] = "{{ account.name "
    raw["windows"][0]["aggregate"] = "sum"
    assert errors_of(raw) == {
        "/when/events/0": "unknown_event_type",
        "/when/filter": "invalid_cel",
        "/then/0/with/colour": "unknown_param",
        "/then/0/with/subject": "required",
        "/then/0/retry/backoff": "duration",
        "/then/1/then/0/id": "duplicate",
        "/then/1/then/0/with/text": "template",
        "/windows/0/field": "required",
    }


def test_cel_errors_point_at_the_position() -> None:
    raw = good()
    raw["and"][0] = "asset != null &&\n  windowz.faults_1h > 2"
    _, errors = check(raw)
    [error] = errors
    assert error["path"] == "/and/0"
    assert (error["line"], error["column"]) == (2, 3)
    assert "windowz" in error["message"]
    assert error["pointer"].endswith("^")


def test_unknown_actions_names_and_shapes() -> None:
    raw = good()
    raw["then"][0]["action"] = "teleport"
    raw["lookups"][0]["name"] = "event"
    raw["lookups"][1]["match"] = {"name": "'x'"}
    raw["then"][1]["then"] = []
    found = errors_of(raw)
    assert (
        found.items()
        >= {
            "/then/0/action": "unknown_action",
            "/lookups/0/name": "reserved",
            "/lookups/1": "shape",
            "/then/1/then": "required",
        }.items()
    )
    # With the first lookup renamed away, what referred to `asset` is reported too.
    assert found["/and/0"] == "invalid_cel"


def test_structure_errors_come_from_the_schema() -> None:
    raw = good()
    raw["surprise"] = 1
    raw["then"][0]["id"] = "Not An Id"
    raw["name"] = "x"
    paths = errors_of(raw)
    assert set(paths) == {"/surprise", "/then/0/id", "/name"}
    assert paths["/surprise"] == "extra_forbidden"


def test_when_needs_events_or_absence() -> None:
    raw = good()
    raw["when"] = {"filter": "true"}
    assert errors_of(raw) == {"/when": "shape"}
    raw["when"] = {"absence": {"events": ["iot.device.heartbeat"], "after": "5m"}}
    compiled, errors = check(raw)
    assert errors == [] and compiled.absence_after == 300.0


def test_literal_parameters_are_type_checked() -> None:
    raw = good()
    raw["then"][0]["with"]["priority"] = "whenever"
    raw["then"][1]["else"][0]["with"]["for"] = "later"
    assert errors_of(raw) == {
        "/then/0/with/priority": "choice",
        "/then/1/else/0/with/for": "duration",
    }


@pytest.mark.parametrize("text", ["name: [unclosed", '{"name": "x"'])
def test_unreadable_text_says_where(text: str) -> None:
    with pytest.raises(ValueError, match="line"):
        load_text(text)


def test_schema_is_published() -> None:
    schema = definition_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"name", "title", "when", "then"} <= set(schema["required"])
    assert "Step" in schema["$defs"]
