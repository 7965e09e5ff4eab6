"""Channel adapters: realistic native payloads → exact CloudEvents, signatures, refusals."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from kindred.events import channels
from kindred.events.channels import ChannelError

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
NOW_TEXT = "2026-11-25T08:00:00Z"
NOW_UNIX = 1795593600
PREFIX = "kindred/devices"
BROKER = "mqtt://broker.local:1883"


def refusal(reason: str, call: Any, *args: Any, **kwargs: Any) -> str:
    """Call and expect a ChannelError with ``reason``; returns its detail for wording checks."""
    with pytest.raises(ChannelError) as caught:
        call(*args, **kwargs)
    assert caught.value.reason == reason, caught.value.detail
    assert caught.value.detail and str(caught.value) == caught.value.detail
    return caught.value.detail


def test_channel_error_refuses_unknown_reasons() -> None:
    with pytest.raises(ValueError):
        ChannelError("oops", "no such reason")


# -- MQTT -------------------------------------------------------------------------------------


def mqtt(kind: str, payload: dict[str, Any] | bytes, device: str = "boiler-0042") -> dict[str, Any]:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return channels.mqtt_to_event(
        f"{PREFIX}/{device}/{kind}", body, prefix=PREFIX, broker=BROKER, now=NOW
    )


HEARTBEAT = {
    "msg_id": "hb-000981",
    "sent_at": "2026-11-25T07:59:58Z",
    "battery_pct": 87.5,
    "rssi": -61,
    "firmware": "2.4.1",
    "uptime_s": 86400,
}
TELEMETRY = {"sent_at": "2026-11-25T07:59:59.250Z", "metrics": {"flow_temp_c": 64.2, "bar": 1.4}}
FAULT = {"code": "E119", "severity": "major", "message": "low water pressure"}
STATUS = {"status": "maintenance", "sent_at": "2026-11-25T07:59:00+08:00"}


def test_mqtt_topic_filters_cover_every_kind() -> None:
    assert channels.mqtt_topic_filters("kindred/devices/") == [
        "kindred/devices/+/heartbeat",
        "kindred/devices/+/telemetry",
        "kindred/devices/+/fault",
        "kindred/devices/+/status",
    ]


def test_mqtt_heartbeat_becomes_an_exact_cloudevent() -> None:
    assert mqtt("heartbeat", HEARTBEAT) == {
        "specversion": "1.0",
        "id": "hb-000981",
        "source": "mqtt://broker.local:1883/kindred/devices/boiler-0042",
        "type": "iot.device.heartbeat",
        "time": "2026-11-25T07:59:58Z",
        "subject": "boiler-0042",
        "partitionkey": "boiler-0042",
        "datacontenttype": "application/json",
        "data": {**HEARTBEAT, "device_id": "boiler-0042"},
    }


def test_mqtt_kinds_map_to_their_types() -> None:
    assert mqtt("telemetry", TELEMETRY)["type"] == "iot.device.telemetry"
    assert mqtt("telemetry", TELEMETRY)["data"]["metrics"] == TELEMETRY["metrics"]
    assert mqtt("fault", FAULT)["type"] == "iot.device.fault"
    status = mqtt("status", STATUS)
    assert status["type"] == "iot.device.status_changed"
    assert status["time"] == "2026-11-25T07:59:00+08:00"
    assert status["data"] == {**STATUS, "device_id": "boiler-0042"}


def test_mqtt_redelivery_without_msg_id_gets_the_same_content_id() -> None:
    body = orjson.dumps(TELEMETRY)
    first = mqtt("telemetry", body)
    again = channels.mqtt_to_event(
        f"{PREFIX}/boiler-0042/telemetry",
        body,
        prefix=PREFIX,
        broker=BROKER,
        now=NOW + timedelta(1),
    )
    expected = hashlib.sha256(f"{PREFIX}/boiler-0042/telemetry\n".encode() + body).hexdigest()
    assert first["id"] == again["id"] == expected[:32]
    assert mqtt("telemetry", body, device="boiler-0043")["id"] != first["id"]
    assert mqtt("telemetry", {**TELEMETRY, "metrics": {"bar": 1.5}})["id"] != first["id"]
    # An empty msg_id is no identity: the content hash is used instead.
    assert len(mqtt("fault", {**FAULT, "msg_id": ""})["id"]) == 32


def test_mqtt_time_falls_back_to_arrival_when_sent_at_is_not_rfc3339() -> None:
    assert mqtt("fault", FAULT)["time"] == NOW_TEXT
    assert mqtt("fault", {**FAULT, "sent_at": "25/11/2026 07:59"})["time"] == NOW_TEXT
    assert mqtt("fault", {**FAULT, "sent_at": 1795593598})["time"] == NOW_TEXT


def test_mqtt_device_id_in_payload_must_match_the_topic() -> None:
    assert mqtt("fault", {**FAULT, "device_id": "boiler-0042"})["data"]["device_id"] == (
        "boiler-0042"
    )
    detail = refusal("malformed", mqtt, "fault", {**FAULT, "device_id": "boiler-0099"})
    assert "boiler-0099" in detail and "boiler-0042" in detail


@pytest.mark.parametrize(
    "topic",
    [
        f"{PREFIX}/boiler-0042/reboot",
        "other/devices/boiler-0042/fault",
        f"{PREFIX}/boiler-0042/fault/extra",
        f"{PREFIX}//fault",
        f"{PREFIX}/fault",
    ],
)
def test_mqtt_unroutable_topics_are_unsupported(topic: str) -> None:
    refusal(
        "unsupported",
        channels.mqtt_to_event,
        topic,
        orjson.dumps(FAULT),
        prefix=PREFIX,
        broker=BROKER,
        now=NOW,
    )


@pytest.mark.parametrize("payload", [b"", b"not json", b"[1, 2]", b'"fault"', b"\xff\xfe"])
def test_mqtt_payload_must_be_a_json_object(payload: bytes) -> None:
    refusal("malformed", mqtt, "fault", payload)


# -- WeChat -----------------------------------------------------------------------------------

OPENID = "oKa9Vt4zR8xq3FJ2m0sLq1cWd7Ek"
ACCOUNT = "gh_4c2f7a9b1e30"
CREATE_TIME = NOW_UNIX - 5
CREATED_AT = "2026-11-25T07:59:55Z"
COMMON = {"openid": OPENID, "account": ACCOUNT, "created_at": CREATED_AT}
TEXT_PUSH = f"""<xml>
  <ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>
  <FromUserName><![CDATA[{OPENID}]]></FromUserName>
  <CreateTime>{CREATE_TIME}</CreateTime>
  <MsgType><![CDATA[text]]></MsgType>
  <Content><![CDATA[我的订单什么时候发货？ <order #A-77>]]></Content>
  <MsgId>24312345678901234</MsgId>
</xml>""".encode()


def push(msg_type: str, **fields: str | int) -> bytes:
    """A WeChat push as WeChat writes it: strings in CDATA, numbers bare."""
    elements = {
        "ToUserName": ACCOUNT,
        "FromUserName": OPENID,
        "CreateTime": CREATE_TIME,
        "MsgType": msg_type,
        **fields,
    }
    parts = [
        f"<{name}>{value}</{name}>"
        if isinstance(value, int)
        else f"<{name}><![CDATA[{value}]]></{name}>"
        for name, value in elements.items()
    ]
    return ("<xml>" + "".join(parts) + "</xml>").encode()


def wechat(body: bytes, **kwargs: Any) -> dict[str, Any]:
    return channels.wechat_to_event(body, now=NOW, **kwargs)


def test_wechat_signature_is_sha1_of_the_sorted_parts() -> None:
    expected = hashlib.sha1(b"".join(sorted([b"s3cret-token", b"1795593600", b"884213"])))
    assert channels.wechat_signature("s3cret-token", "1795593600", "884213") == (
        expected.hexdigest()
    )


def test_wechat_verify_accepts_the_right_token() -> None:
    timestamp = str(NOW_UNIX - 30)
    signature = channels.wechat_signature("s3cret-token", timestamp, "884213")
    channels.wechat_verify("s3cret-token", signature, timestamp, "884213", now=NOW)
    channels.wechat_verify("s3cret-token", signature.upper(), timestamp, "884213", now=NOW)


def test_wechat_verify_refuses_wrong_token_stale_or_odd_timestamps() -> None:
    timestamp = str(NOW_UNIX)
    signature = channels.wechat_signature("s3cret-token", timestamp, "884213")
    verify = channels.wechat_verify
    assert "Token" in refusal(
        "bad_signature", verify, "other", signature, timestamp, "884213", now=NOW
    )
    refusal("bad_signature", verify, "s3cret-token", signature, timestamp, "884214", now=NOW)
    refusal("bad_signature", verify, "s3cret-token", "", timestamp, "884213", now=NOW)
    refusal("bad_signature", verify, "s3cret-token", "签名", timestamp, "884213", now=NOW)
    for moment in (NOW + timedelta(seconds=301), NOW - timedelta(seconds=301)):
        detail = refusal(
            "bad_signature", verify, "s3cret-token", signature, timestamp, "884213", now=moment
        )
        assert "replay" in detail and "301 s" in detail
    stale = str(NOW_UNIX - 3600)
    stale_signature = channels.wechat_signature("s3cret-token", stale, "884213")
    refusal("bad_signature", verify, "s3cret-token", stale_signature, stale, "884213", now=NOW)
    for odd in ("", "17955936OO", "-1795593600", "1795593600.5"):
        odd_signature = channels.wechat_signature("s3cret-token", odd, "884213")
        detail = refusal(
            "bad_signature", verify, "s3cret-token", odd_signature, odd, "884213", now=NOW
        )
        assert "unix seconds" in detail


def test_wechat_text_message_becomes_an_exact_cloudevent() -> None:
    assert wechat(TEXT_PUSH) == {
        "specversion": "1.0",
        "id": "24312345678901234",
        "source": f"wechat://{ACCOUNT}",
        "type": "messaging.wechat.text_received",
        "time": CREATED_AT,
        "subject": OPENID,
        "partitionkey": OPENID,
        "datacontenttype": "application/json",
        "data": {
            **COMMON,
            "msg_id": "24312345678901234",
            "content": "我的订单什么时候发货？ <order #A-77>",
        },
    }
    # The configured account name wins for the source; data keeps WeChat's ToUserName.
    named = wechat(TEXT_PUSH, account="kindred-coffee")
    assert named["source"] == "wechat://kindred-coffee"
    assert named["data"]["account"] == ACCOUNT


MESSAGE_CASES = [
    (
        push("image", PicUrl="http://mmbiz.qpic.cn/abc/0", MediaId="media-img-1", MsgId=1001),
        "messaging.wechat.image_received",
        {"msg_id": "1001", "media_id": "media-img-1", "pic_url": "http://mmbiz.qpic.cn/abc/0"},
    ),
    (
        push("voice", MediaId="media-voice-1", Format="amr", Recognition="你好", MsgId=1002),
        "messaging.wechat.voice_received",
        {"msg_id": "1002", "media_id": "media-voice-1", "format": "amr", "recognition": "你好"},
    ),
    (
        push("voice", MediaId="media-voice-2", Format="speex", MsgId=1003),
        "messaging.wechat.voice_received",
        {"msg_id": "1003", "media_id": "media-voice-2", "format": "speex"},
    ),
    (
        push("video", MediaId="media-video-1", ThumbMediaId="thumb-1", MsgId=1004),
        "messaging.wechat.video_received",
        {"msg_id": "1004", "media_id": "media-video-1", "thumb_media_id": "thumb-1"},
    ),
    (
        push("shortvideo", MediaId="media-video-2", ThumbMediaId="thumb-2", MsgId=1005),
        "messaging.wechat.video_received",
        {"msg_id": "1005", "media_id": "media-video-2", "thumb_media_id": "thumb-2"},
    ),
    (
        push(
            "location",
            Location_X="31.230416",
            Location_Y="121.473701",
            Scale=15,
            Label="上海市黄浦区人民广场",
            MsgId=1006,
        ),
        "messaging.wechat.location_received",
        {
            "msg_id": "1006",
            "latitude": 31.230416,
            "longitude": 121.473701,
            "scale": 15,
            "label": "上海市黄浦区人民广场",
        },
    ),
    (
        push(
            "link",
            Title="冬季新品",
            Description="全场八折",
            Url="https://example.cn/winter",
            MsgId=1007,
        ),
        "messaging.wechat.link_received",
        {
            "msg_id": "1007",
            "url": "https://example.cn/winter",
            "title": "冬季新品",
            "description": "全场八折",
        },
    ),
]
EVENT_CASES = [
    (
        push("event", Event="subscribe", EventKey=""),
        "subscribe",
        "messaging.wechat.subscribed",
        {},
    ),
    (
        push("event", Event="subscribe", EventKey="qrscene_store-17", Ticket="gQH47joAAAAA"),
        "subscribe",
        "messaging.wechat.subscribed",
        {"scene_key": "store-17", "ticket": "gQH47joAAAAA"},
    ),
    (
        push("event", Event="unsubscribe", EventKey=""),
        "unsubscribe",
        "messaging.wechat.unsubscribed",
        {},
    ),
    (
        push("event", Event="SCAN", EventKey="store-17", Ticket="gQH47joAAAAA"),
        "SCAN",
        "messaging.wechat.qr_scanned",
        {"scene_key": "store-17", "ticket": "gQH47joAAAAA"},
    ),
    (
        push("event", Event="CLICK", EventKey="MEMBER_CARD"),
        "CLICK",
        "messaging.wechat.menu_clicked",
        {"key": "MEMBER_CARD", "menu_type": "click"},
    ),
    (
        push("event", Event="VIEW", EventKey="https://example.cn/shop"),
        "VIEW",
        "messaging.wechat.menu_clicked",
        {"key": "https://example.cn/shop", "menu_type": "view"},
    ),
    (
        push(
            "event",
            Event="LOCATION",
            Latitude="23.137466",
            Longitude="113.352425",
            Precision="119.385040",
        ),
        "LOCATION",
        "messaging.wechat.location_reported",
        {"latitude": 23.137466, "longitude": 113.352425, "precision": 119.38504},
    ),
    (
        push("event", Event="TEMPLATESENDJOBFINISH", MsgID=200163836, Status="success"),
        "TEMPLATESENDJOBFINISH",
        "messaging.wechat.template_delivered",
        {"msg_id": "200163836", "status": "success"},
    ),
]


@pytest.mark.parametrize(("body", "event_type", "fields"), MESSAGE_CASES)
def test_wechat_messages_map_per_type(body: bytes, event_type: str, fields: dict[str, Any]) -> None:
    event = wechat(body)
    assert event["type"] == event_type
    assert event["id"] == fields["msg_id"]
    assert event["data"] == {**COMMON, **fields}


@pytest.mark.parametrize(("body", "name", "event_type", "fields"), EVENT_CASES)
def test_wechat_events_map_per_event_and_use_wechats_dedupe_id(
    body: bytes, name: str, event_type: str, fields: dict[str, Any]
) -> None:
    event = wechat(body)
    assert event["type"] == event_type
    assert event["id"] == f"{OPENID}:{CREATE_TIME}:{name}"
    assert event["data"] == {**COMMON, **fields}
    assert event["time"] == CREATED_AT and event["partitionkey"] == OPENID
    # WeChat retries a push it did not see acknowledged: the retry maps to the same identity.
    assert wechat(body, account=None) == event


def test_wechat_missing_common_elements_are_malformed_and_named() -> None:
    for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        body = TEXT_PUSH.replace(f"<{name}>".encode(), b"<Other>").replace(
            f"</{name}>".encode(), b"</Other>"
        )
        assert f"<{name}>" in refusal("malformed", wechat, body)
    assert "<MsgId>" in refusal("malformed", wechat, push("text", Content="hi"))
    assert "<Event>" in refusal("malformed", wechat, push("event"))
    assert "<CreateTime>" in refusal("malformed", wechat, push("text", CreateTime="yesterday"))
    detail = refusal(
        "malformed", wechat, push("location", Location_X="north", Location_Y="1", MsgId=9)
    )
    assert "<Location_X>" in detail


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<xml><ToUserName>unclosed</xml>",
        b"{'json': 'not xml'}",
        b"<message><MsgType>text</MsgType></message>",
    ],
)
def test_wechat_malformed_xml_is_malformed(body: bytes) -> None:
    refusal("malformed", wechat, body)


def test_wechat_entity_declarations_are_refused() -> None:
    billion_laughs = b"""<?xml version="1.0"?>
<!DOCTYPE xml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"""
    assert "entity" in refusal("malformed", wechat, billion_laughs)
    external = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><Content>&secret;</Content></xml>"""
    refusal("malformed", wechat, external)
    bare_dtd = b'<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://evil.example/x.dtd"><xml/>'
    refusal("malformed", wechat, bare_dtd)


def test_wechat_unknown_types_and_events_are_unsupported() -> None:
    assert "'file'" in refusal("unsupported", wechat, push("file", Title="a.pdf", MsgId=5))
    detail = refusal("unsupported", wechat, push("event", Event="MASSSENDJOBFINISH"))
    assert "MASSSENDJOBFINISH" in detail
    refusal("unsupported", wechat, push("event", Event="scancode_push", EventKey="k"))
    encrypted = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>AAAA</Encrypt></xml>".encode()
    assert "plaintext" in refusal("unsupported", wechat, encrypted)


def test_wechat_reply_is_success() -> None:
    assert channels.wechat_reply_success() == b"success"


# -- signed webhooks --------------------------------------------------------------------------

SECRET = "whsec_9fZk2Lq"


def test_webhook_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"transaction_id": "T-1"}'
    expected = hmac.new(SECRET.encode(), b"1795593600." + body, hashlib.sha256).hexdigest()
    assert channels.webhook_signature(SECRET, "1795593600", body) == f"sha256={expected}"


def test_webhook_verify_accepts_the_right_secret() -> None:
    body = orjson.dumps(POS_SALE)
    timestamp = str(NOW_UNIX - 10)
    signature = channels.webhook_signature(SECRET, timestamp, body)
    channels.webhook_verify(SECRET, signature, timestamp, body, now=NOW)
    channels.webhook_verify(
        SECRET, signature.upper().replace("SHA256=", "sha256="), timestamp, body, now=NOW
    )


def test_webhook_verify_refuses_wrong_secret_tampering_staleness_and_missing_headers() -> None:
    body = orjson.dumps(POS_SALE)
    timestamp = str(NOW_UNIX)
    signature = channels.webhook_signature(SECRET, timestamp, body)
    verify = channels.webhook_verify
    wrong = channels.webhook_signature("another-secret", timestamp, body)
    assert "does not match" in refusal(
        "bad_signature", verify, SECRET, wrong, timestamp, body, now=NOW
    )
    tampered = body.replace(b"128.4", b"1.0")
    assert tampered != body
    refusal("bad_signature", verify, SECRET, signature, timestamp, tampered, now=NOW)
    # Re-using a signature under a fresh timestamp fails: the timestamp is signed too.
    refusal("bad_signature", verify, SECRET, signature, str(NOW_UNIX + 1), body, now=NOW)
    stale = str(NOW_UNIX - 301)
    stale_signature = channels.webhook_signature(SECRET, stale, body)
    detail = refusal("bad_signature", verify, SECRET, stale_signature, stale, body, now=NOW)
    assert "X-Kindred-Timestamp" in detail and "replay" in detail
    for missing in (None, ""):
        detail = refusal("bad_signature", verify, SECRET, missing, timestamp, body, now=NOW)
        assert "X-Kindred-Signature" in detail and "missing" in detail
        detail = refusal("bad_signature", verify, SECRET, signature, missing, body, now=NOW)
        assert "X-Kindred-Timestamp" in detail and "missing" in detail
    for odd in (signature.removeprefix("sha256="), "sha1=abc", "sha256=xyz", signature + "00"):
        detail = refusal("bad_signature", verify, SECRET, odd, timestamp, body, now=NOW)
        assert "X-Kindred-Signature" in detail
    detail = refusal("bad_signature", verify, SECRET, signature, "now", body, now=NOW)
    assert "X-Kindred-Timestamp" in detail


# -- POS --------------------------------------------------------------------------------------

POS_SALE = {
    "transaction_id": "S17-R2-000418",
    "store_id": "S17",
    "occurred_at": "2026-11-25T07:58:12+08:00",
    "total": 128.4,
    "currency": "CNY",
    "member_id": "M-0093312",
    "register_id": "R2",
    "payment_method": "wechat_pay",
    "items": [
        {"sku": "BEAN-ETH-250", "quantity": 2, "unit_price": 58.0, "name": "Yirgacheffe 250g"},
        {"sku": "MUG-WHITE", "quantity": 1, "unit_price": 12.4},
    ],
}
POS_BATCH = {
    "store_id": "S17",
    "transactions": [
        {
            "transaction_id": "S17-R2-000419",
            "kind": "refund",
            "occurred_at": "2026-11-25T07:59:01+08:00",
            "total": 58.0,
            "currency": "CNY",
            "account_id": "A-551",
            "original_transaction_id": "S17-R2-000418",
            "items": [{"sku": "BEAN-ETH-250", "quantity": 1, "unit_price": 58.0}],
        },
        {
            "transaction_id": "S18-R1-000007",
            "store_id": "S18",
            "kind": "void",
            "occurred_at": "2026-11-25T07:59:30+08:00",
            "total": 0,
            "currency": "CNY",
        },
    ],
}


def pos(body: Any) -> list[dict[str, Any]]:
    return channels.pos_to_events(body if isinstance(body, bytes) else orjson.dumps(body), now=NOW)


def test_pos_single_sale_becomes_an_exact_cloudevent() -> None:
    assert pos({**POS_SALE, "kind": "sale"}) == pos(POS_SALE)
    assert pos(POS_SALE) == [
        {
            "specversion": "1.0",
            "id": "S17-R2-000418",
            "source": "pos://S17",
            "type": "pos.transaction.completed",
            "time": "2026-11-25T07:58:12+08:00",
            "subject": "M-0093312",
            "partitionkey": "M-0093312",
            "datacontenttype": "application/json",
            "data": POS_SALE,
        }
    ]


def test_pos_batch_defaults_store_and_maps_kinds() -> None:
    refund, void = pos(POS_BATCH)
    assert refund == {
        "specversion": "1.0",
        "id": "S17-R2-000419",
        "source": "pos://S17",
        "type": "pos.transaction.refunded",
        "time": "2026-11-25T07:59:01+08:00",
        "subject": "A-551",
        "partitionkey": "A-551",
        "datacontenttype": "application/json",
        "data": {
            "transaction_id": "S17-R2-000419",
            "store_id": "S17",
            "occurred_at": "2026-11-25T07:59:01+08:00",
            "total": 58.0,
            "currency": "CNY",
            "account_id": "A-551",
            "original_transaction_id": "S17-R2-000418",
            "items": [{"sku": "BEAN-ETH-250", "quantity": 1, "unit_price": 58.0}],
        },
    }
    # A transaction's own store wins over the batch default; with no person, the store keys.
    assert void["type"] == "pos.transaction.voided"
    assert void["source"] == "pos://S18" and void["partitionkey"] == "S18"
    assert void["data"]["store_id"] == "S18" and "kind" not in void["data"]


def test_pos_is_lenient_about_field_content() -> None:
    body = {
        "store_id": "S17",
        "transactions": [
            {**POS_SALE, "total": "lots", "currency": "yuan", "occurred_at": "yesterday"},
            {"total": 3.5, "currency": "CNY"},
            POS_SALE,
        ],
    }
    odd, anonymous, good = pos(body)
    # Copied as given: the catalog check rejects this one event with every violation.
    assert odd["data"]["total"] == "lots" and odd["data"]["currency"] == "yuan"
    assert odd["time"] == NOW_TEXT
    # No transaction_id: no id either, so the envelope check dead-letters just this one.
    assert "id" not in anonymous and anonymous["source"] == "pos://S17"
    assert good == pos(POS_SALE)[0]
    assert "source" not in pos({"transaction_id": "T-1", "total": 1})[0]


def test_pos_unknown_kind_is_unsupported() -> None:
    assert "'layaway'" in refusal("unsupported", pos, {**POS_SALE, "kind": "layaway"})
    detail = refusal(
        "unsupported", pos, {"transactions": [POS_SALE, {**POS_SALE, "kind": "exchange"}]}
    )
    assert "transactions[1]" in detail


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<xml/>",
        b"[]",
        b'[{"transaction_id": "T-1"}]',
        b'{"transactions": []}',
        b'{"transactions": {"transaction_id": "T-1"}}',
        b'{"transactions": ["T-1"]}',
    ],
)
def test_pos_structural_problems_are_malformed(body: bytes) -> None:
    refusal("malformed", pos, body)


# -- app tracking -----------------------------------------------------------------------------

APP_CONTEXT = {"app": {"name": "Kindred Coffee", "version": "5.2.0"}, "os": {"name": "iOS"}}
APP_BATCH = {
    "batch": [
        {
            "type": "track",
            "messageId": "ajs-7f1c0c2e",
            "userId": "M-0093312",
            "anonymousId": "a3f9-77c1",
            "timestamp": "2026-11-25T07:58:00.120Z",
            "event": "Product Viewed",
            "properties": {"product_id": "BEAN-ETH-250", "price": 58.0},
            "context": APP_CONTEXT,
        },
        {
            "type": "page",
            "messageId": "ajs-7f1c0c2f",
            "anonymousId": "a3f9-77c1",
            "timestamp": "2026-11-25T07:58:03Z",
            "name": "Winter Menu",
            "properties": {"url": "https://kindred.example/menu/winter", "title": "Winter"},
        },
        {
            "type": "screen",
            "messageId": "ios-0001",
            "userId": "M-0093312",
            "timestamp": "2026-11-25T07:58:05Z",
            "name": "Loyalty Card",
        },
        {
            "type": "identify",
            "messageId": "ios-0002",
            "userId": "M-0093312",
            "anonymousId": "a3f9-77c1",
            "timestamp": "2026-11-25T07:58:06Z",
            "traits": {"email": "li.wei@example.cn", "plan": "gold"},
        },
        {
            "type": "track",
            "messageId": "ios-0003",
            "userId": "M-0093312",
            "timestamp": "2026-11-25T07:58:09Z",
            "event": "Gift Card Shared",
            "properties": {"channel": "wechat"},
        },
    ]
}


def app(body: Any) -> list[dict[str, Any]]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return channels.app_batch_to_events(raw, app_id="ios-coffee", now=NOW)


def test_app_batch_becomes_exact_cloudevents() -> None:
    track, page, screen, identify, other = app(APP_BATCH)
    assert track == {
        "specversion": "1.0",
        "id": "ajs-7f1c0c2e",
        "source": "app://ios-coffee",
        "type": "app.product.viewed",
        "time": "2026-11-25T07:58:00.120Z",
        "subject": "M-0093312",
        "partitionkey": "M-0093312",
        "datacontenttype": "application/json",
        "data": {
            "app_id": "ios-coffee",
            "user_id": "M-0093312",
            "anonymous_id": "a3f9-77c1",
            "properties": {"product_id": "BEAN-ETH-250", "price": 58.0},
            "context": APP_CONTEXT,
            "event_name": "Product Viewed",
        },
    }
    assert page["type"] == "app.page.viewed" and page["partitionkey"] == "a3f9-77c1"
    assert page["data"] == {
        "app_id": "ios-coffee",
        "anonymous_id": "a3f9-77c1",
        "properties": {"url": "https://kindred.example/menu/winter", "title": "Winter"},
        "name": "Winter Menu",
        "url": "https://kindred.example/menu/winter",
    }
    assert screen["type"] == "app.screen.viewed"
    assert screen["data"] == {
        "app_id": "ios-coffee",
        "user_id": "M-0093312",
        "name": "Loyalty Card",
    }
    assert identify["type"] == "app.user.identified"
    assert identify["data"]["traits"] == {"email": "li.wei@example.cn", "plan": "gold"}
    assert other["type"] == "app.event.tracked"
    assert other["data"]["event_name"] == "Gift Card Shared"


@pytest.mark.parametrize(
    ("name", "event_type"),
    [
        ("Product Viewed", "app.product.viewed"),
        ("Product Added", "app.cart.item_added"),
        ("Product Removed", "app.cart.item_removed"),
        ("Cart Viewed", "app.cart.viewed"),
        ("Checkout Started", "app.checkout.started"),
        ("Order Completed", "app.order.completed"),
        ("order completed", "app.order.completed"),
        ("Signed Up", "app.user.signed_up"),
        ("Signed In", "app.user.signed_in"),
        ("Products Searched", "app.search.performed"),
        ("Coupon Applied", "app.coupon.applied"),
        ("Application Opened", "app.session.started"),
        ("Store Locator Opened", "app.event.tracked"),
    ],
)
def test_app_track_events_map_by_name(name: str, event_type: str) -> None:
    message = {"type": "track", "messageId": "m-1", "userId": "u-1", "event": name}
    (event,) = app([message])
    assert event["type"] == event_type
    assert event["data"]["event_name"] == name


def test_app_is_lenient_per_message() -> None:
    messages = [
        {"type": "track", "userId": "u-1", "event": "Signed In", "timestamp": "soon"},
        {"type": "track", "messageId": "m-2", "event": "Signed In"},
        {"type": "track", "messageId": "m-3", "userId": "u-1", "event": "Signed In"},
    ]
    no_id, nobody, good = app(messages)
    assert "id" not in no_id and no_id["time"] == NOW_TEXT
    assert "partitionkey" not in nobody and "user_id" not in nobody["data"]
    assert good["id"] == "m-3" and good["type"] == "app.user.signed_in"


def test_app_unknown_message_type_is_unsupported() -> None:
    messages = [{"type": "track", "messageId": f"m-{n}", "event": "x"} for n in range(3)]
    detail = refusal(
        "unsupported", app, {"batch": [*messages, {"type": "alias", "previousId": "a"}]}
    )
    assert detail == (
        "message 3: type 'alias' is not supported; send track, page, screen or identify"
    )
    refusal("unsupported", app, [{"type": "group", "groupId": "g-1"}])


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"nope",
        b'{"batch": []}',
        b"[]",
        b'{"messages": []}',
        b'{"batch": {"type": "track"}}',
        b'"track"',
        b'[{"messageId": "m-1"}]',
        b'[["track"]]',
    ],
)
def test_app_structural_problems_are_malformed(body: bytes) -> None:
    refusal("malformed", app, body)


# -- social -----------------------------------------------------------------------------------

MENTION = {
    "id": "4983715520317123",
    "author": "咖啡控小李",
    "text": "@KindredCoffee 今天的耶加雪菲太好喝了！",
    "url": "https://weibo.com/1234567890/Nxyz123",
    "posted_at": "2026-11-25T07:40:00+08:00",
    "account_id": "A-551",
    "sentiment": 0.92,
    "language": "zh",
    "reach": 15320,
}


def social(body: Any) -> list[dict[str, Any]]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return channels.social_to_events(raw, now=NOW)


def test_social_batch_becomes_exact_cloudevents() -> None:
    second = {"id": "4983715520317999", "author": "beanlover", "text": "queue was long"}
    first, other = social({"platform": "weibo", "mentions": [MENTION, second]})
    assert first == {
        "specversion": "1.0",
        "id": "4983715520317123",
        "source": "social://weibo",
        "type": "social.mention.created",
        "time": "2026-11-25T07:40:00+08:00",
        "subject": "A-551",
        "partitionkey": "A-551",
        "datacontenttype": "application/json",
        "data": {
            "platform": "weibo",
            "mention_id": "4983715520317123",
            "author": "咖啡控小李",
            "text": "@KindredCoffee 今天的耶加雪菲太好喝了！",
            "url": "https://weibo.com/1234567890/Nxyz123",
            "posted_at": "2026-11-25T07:40:00+08:00",
            "account_id": "A-551",
            "sentiment": 0.92,
            "language": "zh",
            "reach": 15320,
        },
    }
    assert other["partitionkey"] == "beanlover" and other["time"] == NOW_TEXT
    assert other["data"] == {
        "platform": "weibo",
        "mention_id": "4983715520317999",
        "author": "beanlover",
        "text": "queue was long",
    }


def test_social_single_mention_and_lenient_rows() -> None:
    (single,) = social({**MENTION, "platform": "xiaohongshu"})
    assert single["source"] == "social://xiaohongshu" and single["id"] == MENTION["id"]
    odd, good = social(
        {"platform": "weibo", "mentions": [{"author": "x", "reach": "many"}, MENTION]}
    )
    assert "id" not in odd and odd["data"]["reach"] == "many"
    assert good["id"] == MENTION["id"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        orjson.dumps(MENTION),
        orjson.dumps({"mentions": [MENTION]}),
        orjson.dumps({"platform": "weibo", "mentions": []}),
        orjson.dumps({"platform": "", "mentions": [MENTION]}),
        orjson.dumps({"platform": "weibo", "mentions": [MENTION, 7]}),
    ],
)
def test_social_structural_problems_are_malformed(body: bytes) -> None:
    refusal("malformed", social, body)


# -- the produced events fit the envelope and the built-in catalog ----------------------------


def realistic_events() -> list[dict[str, Any]]:
    events = [
        mqtt("heartbeat", HEARTBEAT),
        mqtt("telemetry", TELEMETRY),
        mqtt("fault", FAULT),
        mqtt("status", STATUS),
        wechat(TEXT_PUSH),
        *(wechat(body) for body, _, _ in MESSAGE_CASES),
        *(wechat(body) for body, _, _, _ in EVENT_CASES),
        *pos(POS_SALE),
        *pos(POS_BATCH),
        *app(APP_BATCH),
        *social({"platform": "weibo", "mentions": [MENTION]}),
        *social({"platform": "xiaohongshu", "id": "x-1", "author": "beanlover", "text": "ok"}),
    ]
    # Every mapped track event, so each app.* type is checked against its schema.
    for name in [*channels.APP_TRACK_TYPES, "Store Locator Opened"]:
        message = {"type": "track", "messageId": name, "anonymousId": "a-1", "event": name.title()}
        events.extend(app([message]))
    return events


def test_realistic_events_pass_the_envelope_and_the_catalog() -> None:
    from kindred.events.catalog import BUILTIN
    from kindred.events.envelope import from_structured

    events = realistic_events()
    produced = {event["type"] for event in events}
    # 4 MQTT kinds, 12 WeChat messages and events, 3 POS kinds, 15 app types, 1 social.
    assert len(produced) == 35, sorted(produced)
    for event in events:
        parsed, errors = from_structured(event, now=NOW)
        assert errors == [], (event, errors)
        assert parsed is not None and parsed.to_dict() == event
        assert event["type"] in BUILTIN, event["type"]
        assert BUILTIN[event["type"]].violations(event["data"]) == [], event


def test_lenient_bad_rows_are_caught_downstream_one_by_one() -> None:
    from kindred.events.catalog import BUILTIN
    from kindred.events.envelope import from_structured

    body = {"transactions": [{**POS_SALE, "total": "lots", "currency": "yuan"}, POS_SALE]}
    odd, good = pos(body)
    paths = {error["path"] for error in BUILTIN[odd["type"]].violations(odd["data"])}
    assert {"/data/total", "/data/currency"} <= paths
    assert BUILTIN[good["type"]].violations(good["data"]) == []
    (no_id,) = app([{"type": "track", "userId": "u-1", "event": "Signed In"}])
    _, errors = from_structured(no_id, now=NOW)
    assert [error.path for error in errors] == ["/id"]
