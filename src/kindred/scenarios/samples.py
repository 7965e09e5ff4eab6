"""Sample events for trying a scenario in the builder: an example CloudEvent made from an event
type's JSON Schema (every named field filled with a plausible value of its type), when no past
event of the type can be shown."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

MAX_DEPTH = 6
# Values for the patterns the built-in catalog uses (a pattern not here gets plain text, which
# its schema may refuse: the builder shows the example's data for editing).
PATTERNS = {
    "^[A-Z]{3}$": "CNY",
    "^[0-9]{4}$": "4242",
    "^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$": "did:key:z6MkExample",
}


def example_value(schema: Any, name: str = "value", depth: int = 0) -> Any:
    """A value ``schema`` accepts, as a person would write one: its first enum value or
    constant, a number within its bounds, text shaped by its format or pattern."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or (kind is None and "properties" in schema):
        return _object(schema, depth)
    for key in ("oneOf", "anyOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return example_value(schema[key][0], name, depth + 1)
    if kind == "array":
        item = example_value(schema.get("items", {}), name, depth + 1)
        return [] if item is None else [item]
    if kind in ("number", "integer"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "string":
        return _text(schema, name)
    return None


def _object(schema: dict[str, Any], depth: int) -> dict[str, Any]:
    """Every named property; of alternatives that require different properties
    (``oneOf: [{required: [a]}, {required: [b]}]``) the first is followed, the others' own
    properties left out."""
    value = {
        key: example_value(sub, key, depth + 1)
        for key, sub in (schema.get("properties") or {}).items()
    }
    for key in ("oneOf", "anyOf"):
        alternatives = [a for a in schema.get(key) or [] if isinstance(a, dict)]
        if not alternatives:
            continue
        chosen = set(alternatives[0].get("required", []))
        for other in alternatives[1:]:
            for field_name in set(other.get("required", [])) - chosen:
                if field_name not in schema.get("required", []):
                    value.pop(field_name, None)
    return value


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None and high is not None:
        value: float = (float(low) + float(high)) / 2
    elif low is not None:
        value = float(low) + 1
    elif high is not None:
        value = float(high) - 1
    else:
        value = 1
    return int(value) if integer else value


def _text(schema: dict[str, Any], name: str) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    formats = {
        "date-time": now.isoformat().replace("+00:00", "Z"),
        "date": now.date().isoformat(),
        "email": "someone@example.com",
        "uri": "https://example.com/",
        "uuid": str(uuid.UUID(int=1)),
    }
    if schema.get("format") in formats:
        return formats[schema["format"]]
    if schema.get("pattern") in PATTERNS:
        return PATTERNS[schema["pattern"]]
    return f"example-{name.replace('_', '-')}"


def example_event(event_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A CloudEvent of ``event_type`` with example data (not stored anywhere)."""
    data = example_value(schema, "data")
    return {
        "specversion": "1.0",
        "id": f"example-{uuid.uuid4()}",
        "source": "urn:kindred:console:example",
        "type": event_type,
        "time": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data if isinstance(data, dict) else {},
    }
