"""A small reader for protobuf text format, enough for the CEL spec's conformance files.

``google.protobuf.text_format`` needs the compiled ``.proto`` descriptors, which the CEL spec
does not ship for Python. Text format itself is simple: fields are ``name: scalar`` or
``name { message }`` (``<…>`` and an optional colon are allowed too), repeated fields repeat
or use ``[a, b]``, strings are C-escaped byte strings that adjacent literals concatenate.
Without the schema a scalar cannot know its type, so scalars stay as written (``Scalar``) and
the caller, who knows the schema, interprets them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Message = dict[str, list[Any]]  # field name → its values, in order (every field may repeat)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<extension>\[[\w./]+\])
  | (?P<word>[-+]?0[xX][0-9a-fA-F]+
      |[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fFuU]?
      |-?[A-Za-z_][\w.]*)
  | (?P<symbol>[{}<>:,;\[\]])
    """,
    re.VERBOSE,
)
_SIMPLE_ESCAPES = {
    "n": b"\n",
    "t": b"\t",
    "r": b"\r",
    "a": b"\a",
    "b": b"\b",
    "f": b"\f",
    "v": b"\v",
    "\\": b"\\",
    "'": b"'",
    '"': b'"',
    "?": b"?",
}


@dataclass(frozen=True)
class Scalar:
    """A scalar as written: ``text`` for numbers and identifiers, ``data`` for strings."""

    text: str | None = None
    data: bytes | None = None


class TextFormatError(ValueError):
    pass


def parse(text: str) -> Message:
    tokens = _tokenize(text)
    message, position = _message(tokens, 0, closing=None)
    if position != len(tokens):
        raise TextFormatError(f"unexpected {tokens[position][1]!r}")
    return message


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise TextFormatError(f"cannot read {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


def _message(
    tokens: list[tuple[str, str]], position: int, closing: str | None
) -> tuple[Message, int]:
    message: Message = {}
    while position < len(tokens):
        kind, text = tokens[position]
        if kind == "symbol" and text == closing:
            return message, position + 1
        if kind == "symbol" and text in ",;":
            position += 1
            continue
        if kind not in ("word", "extension"):
            raise TextFormatError(f"expected a field name, found {text!r}")
        name = text
        position += 1
        has_colon = tokens[position] == ("symbol", ":")
        if has_colon:
            position += 1
        values, position = _values(tokens, position)
        message.setdefault(name, []).extend(values)
    if closing is not None:
        raise TextFormatError(f"missing {closing!r}")
    return message, position


def _values(tokens: list[tuple[str, str]], position: int) -> tuple[list[Any], int]:
    kind, text = tokens[position]
    if (kind, text) == ("symbol", "["):
        values: list[Any] = []
        position += 1
        while tokens[position] != ("symbol", "]"):
            if tokens[position] == ("symbol", ","):
                position += 1
                continue
            value, position = _value(tokens, position)
            values.append(value)
        return values, position + 1
    value, position = _value(tokens, position)
    return [value], position


def _value(tokens: list[tuple[str, str]], position: int) -> tuple[Any, int]:
    kind, text = tokens[position]
    if kind == "symbol" and text in "{<":
        return _message(tokens, position + 1, closing="}" if text == "{" else ">")
    if kind == "string":
        data = b""
        while position < len(tokens) and tokens[position][0] == "string":
            data += _unescape(tokens[position][1][1:-1])
            position += 1
        return Scalar(data=data), position
    if kind == "word":
        return Scalar(text=text), position + 1
    raise TextFormatError(f"expected a value, found {text!r}")


def _unescape(body: str) -> bytes:
    """C-style escapes to bytes: octal and hex escapes are bytes, \\u and \\U code points."""
    result = bytearray()
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            result += char.encode()
            index += 1
            continue
        code = body[index + 1]
        if code in _SIMPLE_ESCAPES:
            result += _SIMPLE_ESCAPES[code]
            index += 2
        elif code in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[index + 1 :])
            assert digits is not None
            result.append(int(digits.group(), 8))
            index += 1 + len(digits.group())
        elif code in "xX":
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[index + 2 :])
            if digits is None:
                raise TextFormatError("\\x without hex digits")
            result.append(int(digits.group(), 16))
            index += 2 + len(digits.group())
        elif code in "uU":
            width = 4 if code == "u" else 8
            result += chr(int(body[index + 2 : index + 2 + width], 16)).encode(
                "utf-8", "surrogatepass"
            )
            index += 2 + width
        else:
            raise TextFormatError(f"unknown escape \\{code}")
    return bytes(result)
