"""OTLP/JSON checked against the real schema: opentelemetry-proto's ExportTraceServiceRequest.

OTLP/JSON is the protobuf JSON mapping with the differences the OTLP specification lists
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): trace and span ids are
hex strings (not base64), enum values are integers, and keys are the lowerCamelCase field
names only. :func:`parse_otlp` enforces those, converts the ids to what
``google.protobuf.json_format.Parse`` expects, and parses strictly (an unknown field, a
wrong type, a value of the wrong kind all fail). :func:`otlp_json` goes back the other way.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

# Ids in OTLP/JSON are hex; their sizes in bytes (a parent span id may also be empty).
ID_SIZES = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


class OtlpSchemaError(ValueError):
    """The document is not a valid OTLP/JSON ExportTraceServiceRequest; says where."""


def parse_otlp(document: str | bytes | dict[str, Any]) -> ExportTraceServiceRequest:
    """``document`` (JSON text or already loaded) as an ExportTraceServiceRequest, or
    :class:`OtlpSchemaError` naming the JSON pointer of the first problem."""
    loaded = json.loads(document) if isinstance(document, (str, bytes)) else document
    if not isinstance(loaded, dict):
        raise OtlpSchemaError("/: an ExportTraceServiceRequest is a JSON object")
    converted = _convert(loaded, ExportTraceServiceRequest.DESCRIPTOR, "")
    message = ExportTraceServiceRequest()
    try:
        json_format.Parse(json.dumps(converted), message)  # unknown fields fail by default
    except json_format.ParseError as error:
        raise OtlpSchemaError(str(error)) from error
    return message


def otlp_json(message: Message) -> dict[str, Any]:
    """A parsed message back as OTLP/JSON (hex ids, integer enums; defaults left out)."""
    plain = json_format.MessageToDict(message, use_integers_for_enums=True)
    found: dict[str, Any] = _hex_ids(plain)
    return found


def _convert(value: dict[str, Any], descriptor: Descriptor, pointer: str) -> dict[str, Any]:
    fields = {field.json_name: field for field in descriptor.fields}
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{pointer}/{key}"
        field = fields.get(key)
        if field is None:
            snake = key in descriptor.fields_by_name
            hint = " (OTLP/JSON keys are lowerCamelCase)" if snake else ""
            raise OtlpSchemaError(f"{where}: no such field in {descriptor.name}{hint}")
        if field.is_repeated:
            if not isinstance(item, list):
                raise OtlpSchemaError(f"{where}: a repeated field is a JSON array")
            out[key] = [_one(field, x, f"{where}/{n}") for n, x in enumerate(item)]
        else:
            out[key] = _one(field, item, where)
    return out


def _one(field: FieldDescriptor, item: Any, where: str) -> Any:
    if field.message_type is not None:
        if not isinstance(item, dict):
            raise OtlpSchemaError(f"{where}: a {field.message_type.name} is a JSON object")
        return _convert(item, field.message_type, where)
    if field.enum_type is not None:
        if isinstance(item, bool) or not isinstance(item, int):
            raise OtlpSchemaError(f"{where}: OTLP/JSON enum values are integers, not {item!r}")
        if item not in field.enum_type.values_by_number:
            raise OtlpSchemaError(f"{where}: {item} is not a {field.enum_type.name}")
        return item
    if field.type == FieldDescriptor.TYPE_BYTES and field.json_name in ID_SIZES:
        return _id_bytes(field.json_name, item, where)
    return item


def _id_bytes(name: str, item: Any, where: str) -> str:
    size = ID_SIZES[name]
    if not isinstance(item, str):
        raise OtlpSchemaError(f"{where}: an id is a hex string")
    if name == "parentSpanId" and item == "":
        return ""  # a root span
    try:
        raw = binascii.unhexlify(item)
    except (binascii.Error, ValueError) as error:
        raise OtlpSchemaError(f"{where}: {item!r} is not hex (OTLP/JSON ids are hex)") from error
    if len(raw) != size:
        raise OtlpSchemaError(f"{where}: {len(raw)} bytes; a {name} has {size}")
    if raw == bytes(size):
        raise OtlpSchemaError(f"{where}: an all-zero {name} is invalid")
    return base64.b64encode(raw).decode()


def _hex_ids(value: Any) -> Any:
    if isinstance(value, list):
        return [_hex_ids(x) for x in value]
    if not isinstance(value, dict):
        return value
    return {
        k: base64.b64decode(v).hex() if k in ID_SIZES and isinstance(v, str) else _hex_ids(v)
        for k, v in value.items()
    }
