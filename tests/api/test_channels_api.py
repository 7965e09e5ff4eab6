"""Channel webhooks over HTTP: WeChat push (signature), POS and social (HMAC), app tracking
(write key). Each refused delivery must leave a dead letter and store nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from kindred.events import channels
from tests.conftest import make_test_settings

TOKEN = "wechat-token-for-tests"
SECRET = "webhook-secret-for-tests"
WRITE_KEY = "app-write-key-for-tests"


@pytest.fixture
def kindred(database_url: str) -> Iterator[Any]:
    from kindred.services import Kindred

    settings = make_test_settings(
        database_url, wechat_token=TOKEN, webhook_secret=SECRET, app_write_key=WRITE_KEY
    )
    services = Kindred.create(settings=settings)
    yield services
    services.close()


def stored(kindred: Any) -> list[Any]:
    async def read() -> list[Any]:
        await kindred.events.start()
        page, _ = await kindred.events.bus.read(limit=1000)
        return [s.event for s in page]

    return asyncio.run(read())


def letters(kindred: Any) -> list[tuple[str, str]]:
    with kindred.database.read() as session:
        return [
            (row.channel, row.reason)
            for row in session.execute(sa.text("SELECT channel, reason FROM event_dead_letters"))
        ]


WECHAT_TEXT = (
    b"<xml><ToUserName><![CDATA[gh_kindred]]></ToUserName>"
    b"<FromUserName><![CDATA[o-openid-1]]></FromUserName>"
    b"<CreateTime>1764576000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    b"<Content><![CDATA[\xe6\x88\x91\xe7\x9a\x84\xe8\xae\xbe\xe5\xa4\x87\xe6\x8a\xa5\xe8\xad\xa6\xe4\xba\x86]]></Content>"
    b"<MsgId>24601</MsgId></xml>"
)


def wechat_query(token: str = TOKEN, timestamp: str | None = None) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    nonce = "nonce123"
    return {
        "signature": channels.wechat_signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }


def test_wechat_url_verification_and_message_push(client: Any, kindred: Any) -> None:
    query = wechat_query()
    echoed = client.get("/api/v1/channels/wechat", params={**query, "echostr": "abc"})
    assert echoed.status_code == 200 and echoed.text == "abc"

    response = client.post(
        "/api/v1/channels/wechat",
        params=query,
        content=WECHAT_TEXT,
        headers={"Content-Type": "text/xml"},
    )
    assert response.status_code == 200, response.text
    assert response.text == "success"  # WeChat retries anything else
    [event] = stored(kindred)
    assert event.type == "messaging.wechat.text_received"
    assert event.partitionkey == "o-openid-1"
    assert event.data["content"] == "我的设备报警了"

    # WeChat redelivers when it did not see our answer in time: stored once.
    client.post("/api/v1/channels/wechat", params=query, content=WECHAT_TEXT)
    assert len(stored(kindred)) == 1


def test_wechat_bad_signature_is_refused_and_kept(client: Any, kindred: Any) -> None:
    forged = wechat_query(token="someone-else")
    response = client.post("/api/v1/channels/wechat", params=forged, content=WECHAT_TEXT)
    assert response.status_code == 401
    assert response.json()["type"].endswith("/bad-signature")
    stale = wechat_query(timestamp=str(int(time.time()) - 3600))
    assert (
        client.post("/api/v1/channels/wechat", params=stale, content=WECHAT_TEXT).status_code == 401
    )
    assert stored(kindred) == []
    assert letters(kindred) == [("wechat", "bad_signature"), ("wechat", "bad_signature")]


def test_wechat_malformed_xml_is_400(client: Any, kindred: Any) -> None:
    response = client.post(
        "/api/v1/channels/wechat", params=wechat_query(), content=b"<xml><ToUserName>"
    )
    assert response.status_code == 400
    assert stored(kindred) == []
    assert letters(kindred) == [("wechat", "malformed")]


def signed(body: bytes, secret: str = SECRET, timestamp: str | None = None) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    return {
        "X-Kindred-Timestamp": timestamp,
        "X-Kindred-Signature": channels.webhook_signature(secret, timestamp, body),
        "Content-Type": "application/json",
    }


POS_BODY = orjson.dumps(
    {
        "store_id": "SH-0042",
        "transactions": [
            {
                "transaction_id": "T-1001",
                "occurred_at": "2026-12-01T09:30:00+08:00",
                "total": 268.0,
                "currency": "CNY",
                "member_id": "M-77",
                "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": 134.0}],
            },
            {
                "transaction_id": "T-1002",
                "kind": "refund",
                "occurred_at": "2026-12-01T09:45:00+08:00",
                "total": 134.0,
                "currency": "CNY",
                "member_id": "M-77",
                "original_transaction_id": "T-1001",
            },
        ],
    }
)


def test_pos_webhook_with_hmac(client: Any, kindred: Any) -> None:
    response = client.post("/api/v1/channels/pos", content=POS_BODY, headers=signed(POS_BODY))
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 2
    types = [e.type for e in stored(kindred)]
    assert types == ["pos.transaction.completed", "pos.transaction.refunded"]


def test_pos_webhook_refuses_tampering(client: Any, kindred: Any) -> None:
    headers = signed(POS_BODY)
    tampered = POS_BODY.replace(b"268.0", b"2.0")
    assert client.post("/api/v1/channels/pos", content=tampered, headers=headers).status_code == 401
    wrong = signed(POS_BODY, secret="guess")
    assert client.post("/api/v1/channels/pos", content=POS_BODY, headers=wrong).status_code == 401
    unsigned = client.post(
        "/api/v1/channels/pos", content=POS_BODY, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    assert stored(kindred) == []
    assert letters(kindred) == [("pos", "bad_signature")] * 3


def test_pos_row_with_bad_data_is_dead_lettered_alone(client: Any, kindred: Any) -> None:
    body = orjson.dumps(
        {
            "store_id": "SH-0042",
            "transactions": [
                {
                    "transaction_id": "T-1",
                    "occurred_at": "2026-12-01T09:30:00Z",
                    "total": 10,
                    "currency": "CNY",
                },
                {
                    "transaction_id": "T-2",
                    "occurred_at": "2026-12-01T09:31:00Z",
                    "total": "ten",
                    "currency": "yuan",
                },
            ],
        }
    )
    response = client.post("/api/v1/channels/pos", content=body, headers=signed(body))
    assert response.status_code == 422
    paths = {e["path"] for e in response.json()["errors"]}
    assert {"/1/data/total", "/1/data/currency"} <= paths
    assert [e.id for e in stored(kindred)] == ["T-1"]
    assert letters(kindred) == [("pos", "schema_violation")]


def test_social_mentions(client: Any, kindred: Any) -> None:
    body = orjson.dumps(
        {
            "platform": "weibo",
            "mentions": [
                {
                    "id": "m-1",
                    "author": "小王",
                    "text": "新买的设备三天就坏了，客服也不回",
                    "sentiment": -0.8,
                    "posted_at": "2026-12-01T10:00:00Z",
                }
            ],
        }
    )
    response = client.post("/api/v1/channels/social", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    [event] = stored(kindred)
    assert (event.type, event.source, event.data["sentiment"]) == (
        "social.mention.created",
        "social://weibo",
        -0.8,
    )


def test_app_tracking_batch_with_write_key(client: Any, kindred: Any) -> None:
    body = orjson.dumps(
        {
            "batch": [
                {
                    "type": "track",
                    "event": "Product Viewed",
                    "messageId": "msg-1",
                    "userId": "u-1",
                    "timestamp": "2026-12-01T10:00:00Z",
                    "properties": {"sku": "SKU-1"},
                },
                {"type": "page", "messageId": "msg-2", "anonymousId": "anon-1", "name": "Home"},
            ]
        }
    )
    denied = client.post(
        "/api/v1/channels/app?app_id=shop", content=body, headers={"X-Kindred-Write-Key": "wrong"}
    )
    assert denied.status_code == 401
    assert stored(kindred) == []
    response = client.post(
        "/api/v1/channels/app?app_id=shop", content=body, headers={"X-Kindred-Write-Key": WRITE_KEY}
    )
    assert response.status_code == 200, response.text
    assert [(e.type, e.source) for e in stored(kindred)] == [
        ("app.product.viewed", "app://shop"),
        ("app.page.viewed", "app://shop"),
    ]


def test_channel_dead_letter_replays_through_its_translation(
    client: Any, kindred: Any, world: Any
) -> None:
    # A POS row that breaks the schema is fixed and replayed as a CloudEvent.
    body = orjson.dumps(
        {
            "transaction_id": "T-9",
            "store_id": "S-1",
            "occurred_at": "2026-12-01T09:30:00Z",
            "total": 5,
            "currency": "cny",
        }
    )
    assert (
        client.post("/api/v1/channels/pos", content=body, headers=signed(body)).status_code == 422
    )
    listing = client.get("/api/v1/dead-letters?channel=pos", headers=world.admin.headers).json()
    [letter] = listing["data"]
    detail = client.get(f"/api/v1/dead-letters/{letter['id']}", headers=world.admin.headers).json()
    event = orjson.loads(detail["payload"])
    event["data"]["currency"] = "CNY"
    url = f"/api/v1/dead-letters/{letter['id']}"
    assert (
        client.patch(url, json={"payload": event}, headers=world.admin.headers).status_code == 200
    )
    replayed = client.post(url + "/replay", headers=world.admin.headers)
    assert replayed.status_code == 200, replayed.text
    assert [e.id for e in stored(kindred)] == ["T-9"]


def test_unconfigured_channel_says_how_to_enable_it(database_url: str) -> None:
    from fastapi.testclient import TestClient

    from kindred.app import create_app
    from kindred.services import Kindred

    services = Kindred.create(settings=make_test_settings(database_url))
    try:
        with TestClient(create_app(services, bootstrap=False)) as client:
            response = client.post("/api/v1/channels/pos", content=b"{}")
        assert response.status_code == 404
        assert "KINDRED_WEBHOOK_SECRET" in response.json()["detail"]
    finally:
        services.close()
