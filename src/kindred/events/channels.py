"""Channel adapters: native payloads (MQTT, WeChat XML, POS, app tracking, social) → CloudEvents.

Every function here is *pure*: bytes and a clock in, structured-mode CloudEvent dicts out, no
I/O and no database. That is what makes dead letters replayable: a native payload that was
refused is stored as it arrived, and replaying it runs the very same translation again (with
the original arrival time as ``now``), so a fixed payload yields exactly the event it would
have yielded the first time, with the same ``id`` and therefore the same dedupe identity.

Two kinds of problems are told apart:

* Structural ones (not JSON, not an object, a channel message we cannot route to an event
  type) raise :class:`ChannelError`; the caller dead-letters the whole native payload.
* Problems with field *content* are not checked here. Fields are copied as given and the
  catalog schema check downstream rejects that one event with every violation listed, so one
  bad row never sinks a whole batch. Envelope attributes derived from a missing field (``id``
  from a missing ``transaction_id``, say) are left out for the same reason: the envelope check
  then dead-letters that single event.

Signature checks live here too (they are pure functions of secret, headers and body); the
secrets themselves come from the callers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree
import orjson

from kindred.events.envelope import JSON_MEDIA, RFC3339, SPEC_VERSION, format_time

# Signed requests older or newer than this are refused, so a captured request cannot be
# replayed later; five minutes tolerates ordinary clock drift between sender and server.
MAX_CLOCK_SKEW_SECONDS = 300

SIGNATURE_HEADER = "X-Kindred-Signature"
TIMESTAMP_HEADER = "X-Kindred-Timestamp"
# Unix seconds; a bounded number of digits so absurd values are refused before arithmetic.
UNIX_SECONDS = re.compile(r"^\d{1,12}$")
WEBHOOK_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
# A JSON-style decimal number; float() alone would also accept "nan", "inf" and "1_0".
DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


class ChannelError(Exception):
    """A native payload the channel refuses as a whole.

    ``reason`` is one of ``"bad_signature"``, ``"malformed"`` or ``"unsupported"`` (it becomes
    the dead letter's reason and picks the HTTP status); ``detail`` tells the sender what is
    wrong and how to fix it.
    """

    REASONS = ("bad_signature", "malformed", "unsupported")

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown channel error reason {reason!r}")
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# -- shared helpers ---------------------------------------------------------------------------


def _event(
    *,
    event_id: Any,
    source: str | None,
    event_type: str,
    time: str,
    key: Any,
    data: Any,
) -> dict[str, Any]:
    """A structured-mode CloudEvent dict.

    ``id`` and ``source`` are left out when unknown so that the envelope check rejects this
    one event, naming the attribute, instead of us inventing an identity for it. The subject
    and the partition key are the same entity (the device, the person): consumers that order
    per entity and consumers that filter by subject then agree.
    """
    event: dict[str, Any] = {"specversion": SPEC_VERSION}
    if event_id is not None:
        event["id"] = event_id
    if source is not None:
        event["source"] = source
    event["type"] = event_type
    event["time"] = time
    if isinstance(key, str) and key:
        event["subject"] = key
        event["partitionkey"] = key
    event["datacontenttype"] = JSON_MEDIA
    event["data"] = data
    return event


def _event_time(value: Any, now: datetime) -> str:
    """The payload's own timestamp when it is RFC 3339, else the arrival time.

    A device clock or a POS clock can be wrong, but the moment a thing happened is still
    better evidence than the moment we heard of it; only a value that cannot be a timestamp
    at all falls back to ``now``.
    """
    if isinstance(value, str) and RFC3339.match(value):
        return value
    return format_time(now)


def _first_key(*candidates: Any) -> str | None:
    """The first non-empty string: the partition key must be a string, and an empty one
    would put unrelated entities into one ordering bucket."""
    for candidate in candidates:
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def _load_json(body: bytes, what: str) -> Any:
    if not body or not body.strip():
        raise ChannelError("malformed", f"the {what} is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ChannelError(
            "malformed", f"the {what} is not valid JSON ({error}); send a UTF-8 JSON object"
        ) from None


def _load_json_object(body: bytes, what: str) -> dict[str, Any]:
    parsed = _load_json(body, what)
    if not isinstance(parsed, dict):
        raise ChannelError(
            "malformed", f"the {what} must be a JSON object, not {_json_kind(parsed)}"
        )
    return parsed


def _rows(
    parsed: dict[str, Any], field: str, what: str, example: str
) -> list[tuple[int, dict[str, Any]]]:
    """The objects of a batch field (``transactions``, ``mentions``), with their indexes."""
    rows = parsed[field]
    if not isinstance(rows, list) or not rows:
        raise ChannelError(
            "malformed",
            f"'{field}' must be a non-empty array of {what} objects, like {example}",
        )
    found = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ChannelError(
                "malformed",
                f"{field}[{index}] must be a JSON object, not {_json_kind(row)}",
            )
        found.append((index, row))
    return found


def _stale(timestamp: int, now: datetime) -> int | None:
    """How far ``timestamp`` is from ``now`` in seconds, when that is beyond the skew."""
    skew = abs(int(now.timestamp()) - timestamp)
    return skew if skew > MAX_CLOCK_SKEW_SECONDS else None


# -- MQTT devices -----------------------------------------------------------------------------

MQTT_TYPES = {
    "heartbeat": "iot.device.heartbeat",
    "telemetry": "iot.device.telemetry",
    "fault": "iot.device.fault",
    "status": "iot.device.status_changed",
}


def mqtt_topic_filters(prefix: str) -> list[str]:
    """The subscriptions the bridge needs: one per message kind, any device."""
    prefix = prefix.rstrip("/")
    return [f"{prefix}/+/{kind}" for kind in MQTT_TYPES]


def _content_id(topic: str, payload: bytes) -> str:
    # A QoS-1 redelivery carries the same bytes on the same topic, so it hashes to the same
    # id and the log stores it once; 128 bits of sha256 make accidental collisions moot.
    return hashlib.sha256(topic.encode() + b"\n" + payload).hexdigest()[:32]


def mqtt_to_event(
    topic: str, payload: bytes, *, prefix: str, broker: str, now: datetime
) -> dict[str, Any]:
    """One device message on ``<prefix>/<device_id>/<kind>`` → one ``iot.device.*`` event."""
    prefix = prefix.rstrip("/")
    expected = f"{prefix}/<device_id>/<{'|'.join(MQTT_TYPES)}>"
    if not topic.startswith(prefix + "/"):
        raise ChannelError(
            "unsupported", f"topic {topic!r} is outside the device prefix; publish to {expected}"
        )
    parts = topic[len(prefix) + 1 :].split("/")
    if len(parts) != 2 or not parts[0]:
        raise ChannelError("unsupported", f"topic {topic!r} does not have the form {expected}")
    device_id, kind = parts
    event_type = MQTT_TYPES.get(kind)
    if event_type is None:
        raise ChannelError(
            "unsupported",
            f"topic {topic!r}: message kind {kind!r} is not supported; "
            f"publish to one of {', '.join(MQTT_TYPES)}",
        )
    message = _load_json_object(payload, f"payload on {topic!r}")
    claimed = message.get("device_id")
    if claimed is not None and claimed != device_id:
        raise ChannelError(
            "malformed",
            f"the payload says device_id {claimed!r} but it was published on the topic of "
            f"device {device_id!r}; fix the device's configuration or drop device_id from "
            "the payload (the topic names the device)",
        )
    data = {**message, "device_id": device_id}
    msg_id = message.get("msg_id")
    event_id = msg_id if isinstance(msg_id, str) and msg_id else _content_id(topic, payload)
    return _event(
        event_id=event_id,
        source=f"{broker}/{prefix}/{device_id}",
        event_type=event_type,
        time=_event_time(message.get("sent_at"), now),
        key=device_id,
        data=data,
    )


# -- WeChat Official Account ------------------------------------------------------------------


def wechat_signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's server signature: sha1 hex of token, timestamp and nonce, sorted and joined."""
    joined = "".join(sorted([token, timestamp, nonce]))
    return hashlib.sha1(joined.encode()).hexdigest()


def wechat_verify(token: str, signature: str, timestamp: str, nonce: str, *, now: datetime) -> None:
    """Check WeChat's ``signature`` query parameter; raises ``bad_signature`` when it fails."""
    if not UNIX_SECONDS.match(timestamp or ""):
        raise ChannelError(
            "bad_signature",
            f"the WeChat 'timestamp' query parameter must be unix seconds (got {timestamp!r})",
        )
    skew = _stale(int(timestamp), now)
    if skew is not None:
        raise ChannelError(
            "bad_signature",
            f"the WeChat 'timestamp' is {skew} s away from the server clock; requests more "
            f"than {MAX_CLOCK_SKEW_SECONDS} s old or early are refused as possible replays "
            "(check the server's clock)",
        )
    expected = wechat_signature(token, timestamp, nonce)
    if not hmac.compare_digest(expected.encode(), (signature or "").lower().encode()):
        raise ChannelError(
            "bad_signature",
            "the WeChat 'signature' does not match; check that KINDRED_WECHAT_TOKEN equals "
            "the Token set in the Official Account's server configuration",
        )


def wechat_reply_success() -> bytes:
    """The reply that stops WeChat retrying a push (it retries three times otherwise)."""
    return b"success"


WECHAT_MESSAGES = {
    "text": "messaging.wechat.text_received",
    "image": "messaging.wechat.image_received",
    "voice": "messaging.wechat.voice_received",
    "video": "messaging.wechat.video_received",
    "shortvideo": "messaging.wechat.video_received",
    "location": "messaging.wechat.location_received",
    "link": "messaging.wechat.link_received",
}
# Keyed in lower case: WeChat spells some events in capitals (SCAN, CLICK) and others not.
WECHAT_EVENTS = {
    "subscribe": "messaging.wechat.subscribed",
    "unsubscribe": "messaging.wechat.unsubscribed",
    "scan": "messaging.wechat.qr_scanned",
    "click": "messaging.wechat.menu_clicked",
    "view": "messaging.wechat.menu_clicked",
    "location": "messaging.wechat.location_reported",
    "templatesendjobfinish": "messaging.wechat.template_delivered",
}
# The "qrscene_" prefix WeChat puts on the scene of a subscription that came from a QR code.
QR_SCENE_PREFIX = "qrscene_"


class _Push:
    """Field access on one parsed WeChat push, with errors that name the XML element."""

    def __init__(self, root: Element) -> None:
        self.root = root

    def optional(self, name: str) -> str | None:
        element = self.root.find(name)
        if element is None:
            return None
        # An empty CDATA section parses to None; it is still a present, empty value.
        return element.text or ""

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise ChannelError(
                "malformed", f"the WeChat push has no <{name}> element, which this message needs"
            )
        return value

    def number(self, name: str, *, required: bool) -> int | float | None:
        value = self.required(name) if required else self.optional(name)
        if value is None or (not required and not value.strip()):
            return None
        text = value.strip()
        if not DECIMAL.match(text):
            raise ChannelError(
                "malformed", f"the WeChat push's <{name}> must be a number (got {value!r})"
            )
        number = float(text)
        return int(number) if re.fullmatch(r"[+-]?\d+", text) else number


def _parse_wechat(body: bytes) -> Element:
    if not body or not body.strip():
        raise ChannelError("malformed", "the WeChat push is empty; expected an <xml> document")
    try:
        # WeChat never sends a DTD, so refusing any DTD (not just entities) costs nothing and
        # shuts out entity-expansion bombs and external entity reads entirely.
        root = defusedxml.ElementTree.fromstring(body, forbid_dtd=True)
    except defusedxml.DefusedXmlException as error:
        raise ChannelError(
            "malformed",
            "the WeChat push contains a DTD or entity declarations, which are refused to "
            f"prevent entity-expansion and external-entity attacks ({type(error).__name__}); "
            "WeChat never sends them",
        ) from None
    except ParseError as error:
        raise ChannelError(
            "malformed", f"the WeChat push is not well-formed XML: {error}"
        ) from None
    if root.tag != "xml":
        raise ChannelError(
            "malformed", f"the WeChat push's root element must be <xml>, not <{root.tag}>"
        )
    return root


def wechat_to_event(body: bytes, *, account: str | None = None, now: datetime) -> dict[str, Any]:
    """One WeChat Official Account push (plaintext mode XML) → one ``messaging.wechat.*`` event.

    ``now`` is not needed, WeChat stamps every push with CreateTime, but it is taken like in
    every other adapter so callers (and dead-letter replay) treat all channels alike.
    """
    del now
    push = _Push(_parse_wechat(body))
    if push.optional("Encrypt") is not None and push.optional("MsgType") is None:
        raise ChannelError(
            "unsupported",
            "the WeChat push is encrypted (safe mode); set the Official Account's message "
            "encryption mode to plaintext",
        )
    account_name = push.required("ToUserName")
    openid = push.required("FromUserName")
    create_time = push.required("CreateTime")
    msg_type = push.required("MsgType")
    if not UNIX_SECONDS.match(create_time.strip()):
        raise ChannelError(
            "malformed",
            f"the WeChat push's <CreateTime> must be unix seconds (got {create_time!r})",
        )
    created_at = format_time(datetime.fromtimestamp(int(create_time.strip()), UTC))
    data: dict[str, Any] = {"openid": openid, "account": account_name, "created_at": created_at}
    if msg_type == "event":
        event_name = push.required("Event")
        event_type = WECHAT_EVENTS.get(event_name.lower())
        if event_type is None:
            raise ChannelError(
                "unsupported",
                f"WeChat event {event_name!r} is not supported; supported events are "
                "subscribe, unsubscribe, SCAN, CLICK, VIEW, LOCATION and TEMPLATESENDJOBFINISH",
            )
        data.update(_wechat_event_fields(push, event_name.lower()))
        # Events carry no MsgId; WeChat's own rule dedupes them by sender, time and event.
        event_id = f"{openid}:{create_time}:{event_name}"
    else:
        event_type = WECHAT_MESSAGES.get(msg_type)
        if event_type is None:
            raise ChannelError(
                "unsupported",
                f"WeChat message type {msg_type!r} is not supported; supported types are "
                f"{', '.join(WECHAT_MESSAGES)} and event",
            )
        event_id = push.required("MsgId")
        data["msg_id"] = event_id
        data.update(_wechat_message_fields(push, msg_type))
    return _event(
        event_id=event_id,
        source=f"wechat://{account or account_name}",
        event_type=event_type,
        time=created_at,
        key=openid,
        data=data,
    )


def _present(**fields: Any) -> dict[str, Any]:
    """Only the fields the push carried: an absent optional element stays absent in data."""
    return {name: value for name, value in fields.items() if value is not None}


def _wechat_message_fields(push: _Push, msg_type: str) -> dict[str, Any]:
    if msg_type == "text":
        return {"content": push.required("Content")}
    if msg_type == "image":
        return _present(media_id=push.required("MediaId"), pic_url=push.optional("PicUrl"))
    if msg_type == "voice":
        return _present(
            media_id=push.required("MediaId"),
            format=push.optional("Format"),
            recognition=push.optional("Recognition"),
        )
    if msg_type in ("video", "shortvideo"):
        return _present(
            media_id=push.required("MediaId"), thumb_media_id=push.optional("ThumbMediaId")
        )
    if msg_type == "location":
        # WeChat's Location_X is the latitude and Location_Y the longitude.
        return _present(
            latitude=push.number("Location_X", required=True),
            longitude=push.number("Location_Y", required=True),
            scale=push.number("Scale", required=False),
            label=push.optional("Label"),
        )
    return _present(
        url=push.required("Url"),
        title=push.optional("Title"),
        description=push.optional("Description"),
    )


def _wechat_event_fields(push: _Push, event_name: str) -> dict[str, Any]:
    if event_name == "subscribe":
        # A plain follow has an empty (or no) EventKey; one through a QR code names its scene.
        key = push.optional("EventKey") or ""
        scene = key.removeprefix(QR_SCENE_PREFIX)
        return _present(scene_key=scene or None, ticket=push.optional("Ticket") or None)
    if event_name == "unsubscribe":
        return {}
    if event_name == "scan":
        return _present(scene_key=push.required("EventKey"), ticket=push.optional("Ticket"))
    if event_name in ("click", "view"):
        return {"key": push.required("EventKey"), "menu_type": event_name}
    if event_name == "location":
        return _present(
            latitude=push.number("Latitude", required=True),
            longitude=push.number("Longitude", required=True),
            precision=push.number("Precision", required=False),
        )
    # TEMPLATESENDJOBFINISH spells it MsgID, unlike messages' MsgId.
    return {"msg_id": push.required("MsgID"), "status": push.required("Status")}


# -- signed JSON webhooks (POS, social) -------------------------------------------------------


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>." + body>``: signing the timestamp with the
    body stops an old signed body from being replayed under a fresh timestamp."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def webhook_verify(
    secret: str, signature: str | None, timestamp: str | None, body: bytes, *, now: datetime
) -> None:
    """Check a signed webhook request; raises ``bad_signature`` saying what to fix."""
    how = (
        f"send {TIMESTAMP_HEADER}: <unix seconds> and {SIGNATURE_HEADER}: sha256=<hex "
        "HMAC-SHA256 of '<timestamp>.' + body, keyed with the shared webhook secret>"
    )
    if not timestamp:
        raise ChannelError("bad_signature", f"the {TIMESTAMP_HEADER} header is missing; {how}")
    if not signature:
        raise ChannelError("bad_signature", f"the {SIGNATURE_HEADER} header is missing; {how}")
    timestamp = timestamp.strip()
    if not UNIX_SECONDS.match(timestamp):
        raise ChannelError(
            "bad_signature",
            f"the {TIMESTAMP_HEADER} header must be unix seconds (got {timestamp!r}); {how}",
        )
    matched = WEBHOOK_SIGNATURE.match(signature.strip())
    if matched is None:
        raise ChannelError(
            "bad_signature",
            f"the {SIGNATURE_HEADER} header must look like sha256=<64 hex digits>; {how}",
        )
    skew = _stale(int(timestamp), now)
    if skew is not None:
        raise ChannelError(
            "bad_signature",
            f"the {TIMESTAMP_HEADER} header is {skew} s away from the server clock; requests "
            f"more than {MAX_CLOCK_SKEW_SECONDS} s old or early are refused as possible "
            "replays: sign each request with the current time (and check the sender's clock)",
        )
    expected = webhook_signature(secret, timestamp, body).removeprefix("sha256=")
    if not hmac.compare_digest(expected.encode(), matched.group(1).lower().encode()):
        raise ChannelError(
            "bad_signature",
            f"the {SIGNATURE_HEADER} header does not match the body and {TIMESTAMP_HEADER}; "
            "sign the exact bytes sent, with the secret configured as KINDRED_WEBHOOK_SECRET",
        )


POS_TYPES = {
    "sale": "pos.transaction.completed",
    "refund": "pos.transaction.refunded",
    "void": "pos.transaction.voided",
}


def pos_to_events(body: bytes, *, now: datetime) -> list[dict[str, Any]]:
    """One POS transaction, or ``{"store_id": …, "transactions": […]}`` → ``pos.transaction.*``.

    A top-level ``store_id`` is the default for every transaction of the batch (a register
    posts for one store). ``kind`` picks the event type and so is not repeated in ``data``.
    """
    parsed = _load_json_object(body, "POS webhook body")
    if "transactions" in parsed:
        default_store = parsed.get("store_id")
        rows = _rows(
            parsed, "transactions", "transaction", '{"transaction_id": "T-1", "total": 9.5, …}'
        )
        batch = True
    else:
        default_store = None
        rows = [(0, parsed)]
        batch = False
    events = []
    for index, row in rows:
        kind = row.get("kind", "sale")
        event_type = POS_TYPES.get(kind) if isinstance(kind, str) else None
        if event_type is None:
            where = f"transactions[{index}]" if batch else "the transaction"
            raise ChannelError(
                "unsupported",
                f"{where}: kind {kind!r} is not supported; use sale, refund or void",
            )
        data = {name: value for name, value in row.items() if name != "kind"}
        if data.get("store_id") is None and default_store is not None:
            data["store_id"] = default_store
        store_id = data.get("store_id")
        events.append(
            _event(
                event_id=data.get("transaction_id"),
                source=f"pos://{store_id}" if store_id is not None else None,
                event_type=event_type,
                time=_event_time(data.get("occurred_at"), now),
                key=_first_key(data.get("member_id"), data.get("account_id"), store_id),
                data=data,
            )
        )
    return events


# -- app tracking (Segment-style) -------------------------------------------------------------

# Segment's standard ("semantic") event names; matched ignoring case because hand-written
# tracking plans drift ("Order completed"), while event_name keeps the original spelling.
APP_TRACK_TYPES = {
    "product viewed": "app.product.viewed",
    "product added": "app.cart.item_added",
    "product removed": "app.cart.item_removed",
    "cart viewed": "app.cart.viewed",
    "checkout started": "app.checkout.started",
    "order completed": "app.order.completed",
    "signed up": "app.user.signed_up",
    "signed in": "app.user.signed_in",
    "products searched": "app.search.performed",
    "coupon applied": "app.coupon.applied",
    "application opened": "app.session.started",
}
APP_UNMAPPED_TRACK = "app.event.tracked"
APP_MESSAGE_TYPES = ("track", "page", "screen", "identify")


def app_batch_to_events(body: bytes, *, app_id: str, now: datetime) -> list[dict[str, Any]]:
    """A Segment-style ``{"batch": [...]}`` (or a bare list of messages) → ``app.*`` events."""
    parsed = _load_json(body, "app tracking body")
    if isinstance(parsed, dict) and "batch" in parsed:
        messages = parsed["batch"]
    elif isinstance(parsed, list):
        messages = parsed
    else:
        raise ChannelError(
            "malformed",
            'the app tracking body must be {"batch": [messages]} or a JSON array of messages, '
            f"not {_json_kind(parsed)}" + (" without 'batch'" if isinstance(parsed, dict) else ""),
        )
    if not isinstance(messages, list) or not messages:
        raise ChannelError(
            "malformed",
            "'batch' must be a non-empty array of messages like "
            '{"type": "track", "event": "Product Viewed", "messageId": "…", "userId": "…"}',
        )
    return [
        _app_message_to_event(index, message, app_id=app_id, now=now)
        for index, message in enumerate(messages)
    ]


def _app_message_to_event(
    index: int, message: Any, *, app_id: str, now: datetime
) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise ChannelError(
            "malformed", f"message {index}: must be a JSON object, not {_json_kind(message)}"
        )
    kind = message.get("type")
    if kind is None:
        raise ChannelError(
            "malformed",
            f"message {index}: has no 'type'; send track, page, screen or identify",
        )
    if not isinstance(kind, str) or kind.lower() not in APP_MESSAGE_TYPES:
        raise ChannelError(
            "unsupported",
            f"message {index}: type {kind!r} is not supported; "
            "send track, page, screen or identify",
        )
    kind = kind.lower()
    user_id = message.get("userId")
    anonymous_id = message.get("anonymousId")
    properties = message.get("properties")
    data: dict[str, Any] = _present(
        app_id=app_id,
        user_id=user_id,
        anonymous_id=anonymous_id,
        properties=properties,
        context=message.get("context"),
    )
    if kind == "page":
        event_type = "app.page.viewed"
        url = properties.get("url") if isinstance(properties, dict) else None
        data.update(_present(name=message.get("name"), url=url))
    elif kind == "screen":
        event_type = "app.screen.viewed"
        data.update(_present(name=message.get("name")))
    elif kind == "identify":
        event_type = "app.user.identified"
        data.update(_present(traits=message.get("traits")))
    else:
        event_name = message.get("event")
        mapped = APP_TRACK_TYPES.get(event_name.lower()) if isinstance(event_name, str) else None
        event_type = mapped or APP_UNMAPPED_TRACK
        data.update(_present(event_name=event_name))
    return _event(
        event_id=message.get("messageId"),
        source=f"app://{app_id}",
        event_type=event_type,
        time=_event_time(message.get("timestamp"), now),
        key=_first_key(user_id, anonymous_id),
        data=data,
    )


# -- social mentions --------------------------------------------------------------------------


def social_to_events(body: bytes, *, now: datetime) -> list[dict[str, Any]]:
    """``{"platform": …, "mentions": [...]}`` or one mention with ``platform`` →
    ``social.mention.created`` events. A mention's own ``platform`` overrides the batch's."""
    parsed = _load_json_object(body, "social webhook body")
    if "mentions" in parsed:
        default_platform = parsed.get("platform")
        rows = _rows(parsed, "mentions", "mention", '{"id": "…", "author": "…", "text": "…"}')
        batch = True
    else:
        default_platform = None
        rows = [(0, parsed)]
        batch = False
    events = []
    for index, row in rows:
        platform = row.get("platform", default_platform)
        if not isinstance(platform, str) or not platform:
            where = f"mentions[{index}]: " if batch else ""
            raise ChannelError(
                "malformed",
                f"{where}no platform given; set 'platform' (for example \"weibo\") on the "
                "body or on each mention",
            )
        mention_id = row.get("id")
        data: dict[str, Any] = {"platform": platform}
        data.update(_present(mention_id=mention_id))
        data.update({name: value for name, value in row.items() if name not in ("id", "platform")})
        events.append(
            _event(
                # The source names the platform, so the platform's own id is unique within it.
                event_id=mention_id,
                source=f"social://{platform}",
                event_type="social.mention.created",
                time=_event_time(row.get("posted_at"), now),
                key=_first_key(row.get("account_id"), row.get("author")),
                data=data,
            )
        )
    return events
