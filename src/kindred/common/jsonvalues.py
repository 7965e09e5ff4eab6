"""Plain JSON values out of whatever rules, events and tools produce.

CEL results (its own map and list types), tuples and datetimes become dicts, lists and
strings, so parameters, run histories and agent traces store and compare the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def plain_json(value: Any) -> Any:
    """Plain JSON values: CEL map/list results, tuples and datetimes made plain, for
    parameters and for storage in run history."""
    kind = type(value)
    # Exact types first: event data is nearly all plain dicts, lists and scalars.
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        return {
            k if type(k) is str else str(k): v
            if type(v) is str or type(v) is int or type(v) is float
            else plain_json(v)
            for k, v in value.items()
        }
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "items"):
        return {str(k): plain_json(v) for k, v in value.items()}
    return str(value)
