"""A small reader for the CEL spec's simple conformance tests (textproto).

Only the cases this project can run without protobuf messages are read: an expression with
no bindings, no type environment, no container, and an expected scalar value.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VALUE = re.compile(
    r"value:\s*\{\s*(bool_value|int64_value|uint64_value|string_value|"
    r"double_value|null_value):\s*(.*?)\s*\}\s*$",
    re.S,
)
SKIP_KEYS = (
    "bindings",
    "type_env",
    "container",
    "disable_check",
    "eval_error",
    "disable_macros",
    "check_only",
    "typed_result",
    "unknown",
    "any_eval_errors",
)


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    expression: str
    expected: Any


def _blocks(text: str, keyword: str) -> list[str]:
    blocks, index = [], 0
    while (start := text.find(keyword + " {", index)) != -1:
        depth, position = 0, start
        while True:
            char = text[position]
            if char == '"':
                position = _skip_string(text, position)
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    break
            position += 1
        blocks.append(text[start + len(keyword) + 2 : position])
        index = position + 1
    return blocks


def _skip_string(text: str, position: int) -> int:
    position += 1
    while text[position] != '"':
        position += 2 if text[position] == "\\" else 1
    return position + 1


def _string(literal: str) -> str:
    return str(ast.literal_eval(literal))


def read_cases(path: Path) -> tuple[list[Case], int]:
    """(runnable cases, number of cases skipped as not runnable here)."""
    cases, skipped = [], 0
    for block in _blocks(path.read_text(encoding="utf-8"), "test"):
        name_match = re.search(r'^\s*name:\s*("(?:[^"\\]|\\.)*")', block, re.M)
        expr_match = re.search(r'^\s*expr:\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')', block, re.M)
        value_match = VALUE.search(block)
        if not (name_match and expr_match and value_match) or any(
            re.search(rf"^\s*{key}\b", block, re.M) for key in SKIP_KEYS
        ):
            skipped += 1
            continue
        try:
            expression = _string(expr_match.group(1))
            kind, raw = value_match.groups()
            expected: Any = {
                "bool_value": lambda r: r == "true",
                "int64_value": int,
                "uint64_value": int,
                "double_value": float,
                "string_value": _string,
                "null_value": lambda r: None,
            }[kind](raw)
        except (ValueError, SyntaxError):
            skipped += 1
            continue
        cases.append(Case(path.stem, _string(name_match.group(1)), expression, expected))
    return cases, skipped
