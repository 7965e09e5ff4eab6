"""The article's scenario chains as ready-made definitions (YAML beside this file)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from kindred.scenarios.definition import load_text


def example_definitions() -> list[dict[str, Any]]:
    """Every example definition, in file-name order."""
    folder = resources.files(__name__)
    found = sorted(
        (item for item in folder.iterdir() if item.name.endswith(".yaml")), key=lambda i: i.name
    )
    return [load_text(item.read_text(encoding="utf-8")) for item in found]
