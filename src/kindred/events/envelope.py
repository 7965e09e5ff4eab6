"""The CloudEvents 1.0 envelope: parsing (structured, binary, batch), checks and encoding.

A thin own model rather than the ``cloudevents`` SDK: ingest parses tens of thousands of
events a second, and every rejection must name the offending attribute as a JSON Pointer, so
parsing is one pass over a dict with precise errors instead of a generic model round trip.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

SPEC_VERSION = "1.0"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
JSON_MEDIA = "application/json"
REQUIRED = ("id", "source", "specversion", "type")
CONTEXT = {
    "id",
    "source",
    "specversion",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
}
# CloudEvents extension attribute names: lower-case ASCII letters and digits only.
EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
# Our catalog names types <domain>.<entity>.<action>; NATS subjects are built from them.
TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class EnvelopeError:
    """One problem with one event: a JSON Pointer into that event and a message."""

    path: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


@dataclass(slots=True)
class CloudEvent:
    id: str
    source: str
    type: str
    time: str | None = None
    subject: str | None = None
    datacontenttype: str | None = JSON_MEDIA
    dataschema: str | None = None
    partitionkey: str | None = None
    data: Any = None
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def domain(self) -> str:
        return self.type.split(".", 1)[0]

    @property
    def key(self) -> str:
        """The ordering key: the partition key, else the subject, else the source."""
        return self.partitionkey or self.subject or self.source

    def partition(self, partitions: int) -> int:
        # crc32 is stable across processes and languages (hash() is salted per process).
        return zlib.crc32(self.key.encode()) % partitions

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
        }
        for name in ("time", "subject", "datacontenttype", "dataschema", "partitionkey"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        body.update(self.extensions)
        if self.data is not None:
            body["data"] = self.data
        return body

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @property
    def dedupe_id(self) -> str:
        # The CloudEvents identity is source + id; a separator that cannot occur in a URI.
        return f"{self.source} {self.id}"


def format_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))


def _string(
    raw: Mapping[str, Any], name: str, errors: list[EnvelopeError], *, required: bool
) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            errors.append(
                EnvelopeError(
                    f"/{name}", "required", f"the CloudEvents attribute '{name}' is required"
                )
            )
        return None
    if not isinstance(value, str):
        errors.append(
            EnvelopeError(
                f"/{name}", "type", f"'{name}' must be a string, not {type(value).__name__}"
            )
        )
        return None
    if required and not value:
        errors.append(EnvelopeError(f"/{name}", "empty", f"'{name}' must not be empty"))
        return None
    return value


# Every attribute a well-formed event of ours may carry besides extensions.
_PLAIN = frozenset({*CONTEXT, "data", "partitionkey"})
_OPTIONAL_TEXT = ("subject", "dataschema", "partitionkey")


@lru_cache(maxsize=4096)
def _type_name_ok(name: str) -> bool:
    return TYPE_PATTERN.match(name) is not None


@lru_cache(maxsize=256)
def _json_media_ok(media: str) -> bool:
    return _is_json_media(media)


def from_structured(
    raw: Any, *, now: datetime | None = None
) -> tuple[CloudEvent | None, list[EnvelopeError]]:
    """A structured-mode event (a JSON object) → (event, []) or (None, errors).

    ``time`` is filled in with ``now`` when absent: consumers order and window by it.
    """
    event = _well_formed(raw, now)
    if event is not None:
        return event, []
    return _check_thoroughly(raw, now)


def _well_formed(raw: Any, now: datetime | None) -> CloudEvent | None:
    """The fast path for the common case, or None to let the thorough check explain.

    Ingest parses tens of thousands of events a second; most are well formed, and for them
    a few type checks suffice. Anything unusual (an extension, a missing attribute, a wrong
    type) goes to the thorough check, which lists every problem.
    """
    if type(raw) is not dict or raw.get("specversion") != SPEC_VERSION or not raw.keys() <= _PLAIN:
        return None
    event_id, source, event_type = raw.get("id"), raw.get("source"), raw.get("type")
    if not (
        type(event_id) is str
        and event_id
        and type(source) is str
        and source
        and type(event_type) is str
        and _type_name_ok(event_type)
    ):
        return None
    time = raw.get("time")
    if time is not None and (type(time) is not str or not RFC3339.match(time)):
        return None
    content_type = raw.get("datacontenttype")
    if content_type is not None and (
        type(content_type) is not str or not _json_media_ok(content_type)
    ):
        return None
    for name in _OPTIONAL_TEXT:
        value = raw.get(name)
        if value is not None and type(value) is not str:
            return None
    return CloudEvent(
        id=event_id,
        source=source,
        type=event_type,
        time=time or format_time(now or datetime.now(UTC)),
        subject=raw.get("subject"),
        datacontenttype=content_type or JSON_MEDIA,
        dataschema=raw.get("dataschema"),
        partitionkey=raw.get("partitionkey"),
        data=raw.get("data"),
    )


def _check_thoroughly(
    raw: Any, now: datetime | None
) -> tuple[CloudEvent | None, list[EnvelopeError]]:
    if not isinstance(raw, dict):
        return None, [EnvelopeError("", "type", "a CloudEvent must be a JSON object")]
    errors: list[EnvelopeError] = []
    specversion = raw.get("specversion")
    if specversion is None:
        errors.append(EnvelopeError("/specversion", "required", "'specversion' is required"))
    elif specversion != SPEC_VERSION:
        errors.append(
            EnvelopeError(
                "/specversion",
                "unsupported",
                f"only CloudEvents 1.0 is accepted (got {specversion!r})",
            )
        )
    event_id = _string(raw, "id", errors, required=True)
    source = _string(raw, "source", errors, required=True)
    event_type = _string(raw, "type", errors, required=True)
    if event_type and not TYPE_PATTERN.match(event_type):
        errors.append(
            EnvelopeError(
                "/type",
                "pattern",
                "event types are named <domain>.<entity>.<action> in lower case "
                f"(got {event_type!r})",
            )
        )
    time = _string(raw, "time", errors, required=False)
    if time is not None and not RFC3339.match(time):
        errors.append(EnvelopeError("/time", "format", f"'time' must be RFC 3339 (got {time!r})"))
    subject = _string(raw, "subject", errors, required=False)
    content_type = _string(raw, "datacontenttype", errors, required=False)
    if content_type is not None and not _is_json_media(content_type):
        errors.append(
            EnvelopeError(
                "/datacontenttype",
                "unsupported",
                f"only JSON event data is accepted (got {content_type!r})",
            )
        )
    dataschema = _string(raw, "dataschema", errors, required=False)
    partitionkey = raw.get("partitionkey")
    if partitionkey is not None and not isinstance(partitionkey, str):
        errors.append(EnvelopeError("/partitionkey", "type", "'partitionkey' must be a string"))
        partitionkey = None
    extensions: dict[str, Any] = {}
    for name, value in raw.items():
        if name in CONTEXT or name in ("data", "partitionkey", "data_base64"):
            continue
        if not EXTENSION_NAME.match(name):
            errors.append(
                EnvelopeError(
                    f"/{name}",
                    "extension-name",
                    "extension attribute names are 1-20 lower-case letters or digits",
                )
            )
        elif not isinstance(value, str | int | bool):
            errors.append(
                EnvelopeError(
                    f"/{name}", "type", "extension attributes must be strings, integers or booleans"
                )
            )
        else:
            extensions[name] = value
    if "data_base64" in raw:
        errors.append(
            EnvelopeError(
                "/data_base64", "unsupported", "binary event data is not accepted; send JSON 'data'"
            )
        )
    if errors:
        return None, errors
    assert event_id is not None and source is not None and event_type is not None
    return (
        CloudEvent(
            id=event_id,
            source=source,
            type=event_type,
            time=time or format_time(now or datetime.now(UTC)),
            subject=subject,
            datacontenttype=content_type or JSON_MEDIA,
            dataschema=dataschema,
            partitionkey=partitionkey,
            data=raw.get("data"),
            extensions=extensions,
        ),
        [],
    )


def _is_json_media(media: str) -> bool:
    base = media.split(";", 1)[0].strip().lower()
    return base == JSON_MEDIA or base.endswith("+json") or base == "text/json"


def binary_to_structured(
    headers: Mapping[str, str], body: bytes
) -> tuple[dict[str, Any], list[EnvelopeError]]:
    """HTTP binary mode: ``ce-*`` headers carry the attributes, the body is ``data``.

    Returns a structured dict so one parser checks both modes the same way.
    """
    raw: dict[str, Any] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith("ce-"):
            # Header values are percent-encoded per the HTTP binding (section 3.1.3.2).
            from urllib.parse import unquote

            raw[lower[3:]] = unquote(value)
    content_type = headers.get("content-type")
    if content_type:
        raw["datacontenttype"] = content_type
    errors: list[EnvelopeError] = []
    if body:
        try:
            raw["data"] = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            errors.append(
                EnvelopeError("/data", "malformed-json", f"the body is not valid JSON: {error}")
            )
    return raw, errors
