"""The built-in event type catalog: naming, schema validity, and the channel adapters' contract."""

from __future__ import annotations

from collections import Counter
from typing import Any

import fastjsonschema
import pytest
from jsonschema import Draft202012Validator

from kindred.events.catalog import BUILTIN
from kindred.events.catalog_data import BUILTIN_DOMAINS, BUILTIN_EVENT_TYPES
from kindred.events.envelope import TYPE_PATTERN

DOMAINS = [
    "iot",
    "contract",
    "order",
    "pos",
    "service",
    "social",
    "messaging",
    "app",
    "marketing",
    "payment",
    "inventory",
    "logistics",
    "customer",
    "consent",
    "sales",
]

_WECHAT = {"openid", "account", "created_at"}
_WECHAT_MSG = {*_WECHAT, "msg_id"}
_POS = {"transaction_id", "store_id", "occurred_at", "total", "currency"}
_APP_TRACKED = {"app_id", "event_name"}

# The shared spec for channel adapters and the scheduler (copied here: the spec file is not
# part of the repository). type -> (partition_field, required fields).
CHANNEL_TYPES: dict[str, tuple[str, set[str]]] = {
    "iot.device.heartbeat": ("device_id", {"device_id"}),
    "iot.device.telemetry": ("device_id", {"device_id", "metrics"}),
    "iot.device.fault": ("device_id", {"device_id", "code", "severity"}),
    "iot.device.status_changed": ("device_id", {"device_id", "status"}),
    "messaging.wechat.text_received": ("openid", {*_WECHAT_MSG, "content"}),
    "messaging.wechat.image_received": ("openid", {*_WECHAT_MSG, "media_id"}),
    "messaging.wechat.voice_received": ("openid", {*_WECHAT_MSG, "media_id"}),
    "messaging.wechat.video_received": ("openid", {*_WECHAT_MSG, "media_id"}),
    "messaging.wechat.location_received": ("openid", {*_WECHAT_MSG, "latitude", "longitude"}),
    "messaging.wechat.link_received": ("openid", {*_WECHAT_MSG, "url"}),
    "messaging.wechat.subscribed": ("openid", _WECHAT),
    "messaging.wechat.unsubscribed": ("openid", _WECHAT),
    "messaging.wechat.qr_scanned": ("openid", {*_WECHAT, "scene_key"}),
    "messaging.wechat.menu_clicked": ("openid", {*_WECHAT, "key", "menu_type"}),
    "messaging.wechat.location_reported": ("openid", {*_WECHAT, "latitude", "longitude"}),
    "messaging.wechat.template_delivered": ("openid", {*_WECHAT, "msg_id", "status"}),
    "pos.transaction.completed": ("member_id", _POS),
    "pos.transaction.refunded": ("member_id", _POS),
    "pos.transaction.voided": ("member_id", _POS),
    "app.page.viewed": ("user_id", {"app_id"}),
    "app.screen.viewed": ("user_id", {"app_id"}),
    "app.user.identified": ("user_id", {"app_id"}),
    "app.product.viewed": ("user_id", _APP_TRACKED),
    "app.cart.item_added": ("user_id", _APP_TRACKED),
    "app.cart.item_removed": ("user_id", _APP_TRACKED),
    "app.cart.viewed": ("user_id", _APP_TRACKED),
    "app.checkout.started": ("user_id", _APP_TRACKED),
    "app.order.completed": ("user_id", _APP_TRACKED),
    "app.user.signed_up": ("user_id", _APP_TRACKED),
    "app.user.signed_in": ("user_id", _APP_TRACKED),
    "app.search.performed": ("user_id", _APP_TRACKED),
    "app.coupon.applied": ("user_id", _APP_TRACKED),
    "app.session.started": ("user_id", _APP_TRACKED),
    "app.event.tracked": ("user_id", _APP_TRACKED),
    "social.mention.created": ("account_id", {"platform", "mention_id", "author", "text"}),
    "contract.contract.expiring": ("account_id", {"contract_id", "end_date", "days_left"}),
    "iot.device.warranty_ending": ("asset_id", {"asset_id", "warranty_until", "days_left"}),
    "customer.birthday.upcoming": ("account_id", {"contact_id", "birthday", "days_left"}),
    "customer.purchase.lapsed": (
        "account_id",
        {"account_id", "days_since_last_purchase", "last_order_date"},
    ),
}

# Types other parts of Kindred (scenario engine, agents) emit by name.
ENGINE_TYPES = [
    "inventory.stock.shortage",
    "inventory.stock.reserved",
    "service.ticket.created",
    "service.work_order.dispatched",
    "sales.purchase_intent.created",
    "order.order.placed",
    "marketing.coupon.issued",
    "pos.guide.popup_shown",
    "customer.tag.set",
]

ALL = {item["type"]: item for item in BUILTIN_EVENT_TYPES}


def test_size_and_domains() -> None:
    assert len(BUILTIN_EVENT_TYPES) >= 200
    counts = Counter(item["domain"] for item in BUILTIN_EVENT_TYPES)
    for domain in DOMAINS:
        assert counts[domain] >= 8, f"{domain} has only {counts[domain]} types"
        assert BUILTIN_DOMAINS.get(domain, "").strip(), f"{domain} has no description"
    assert set(counts) <= set(BUILTIN_DOMAINS)


def test_no_duplicates_and_registry_loads() -> None:
    names = [item["type"] for item in BUILTIN_EVENT_TYPES]
    assert len(names) == len(set(names))
    assert set(BUILTIN) == set(names)


@pytest.mark.parametrize("item", BUILTIN_EVENT_TYPES, ids=lambda item: item["type"])
def test_type_definition(item: dict[str, Any]) -> None:
    assert TYPE_PATTERN.match(item["type"])
    assert item["domain"] == item["type"].split(".")[0]
    assert item["version"] == 1
    assert item["description"].strip().endswith(".")
    schema = item["schema"]
    Draft202012Validator.check_schema(schema)
    fastjsonschema.compile(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True
    properties = schema["properties"]
    assert set(schema["required"]) <= set(properties)
    for name, prop in properties.items():
        assert "type" in prop, f"{name} has no explicit type"
    if item["partition_field"] is not None:
        assert item["partition_field"] in properties


@pytest.mark.parametrize("event_type", sorted(CHANNEL_TYPES))
def test_channel_types_follow_the_spec(event_type: str) -> None:
    assert event_type in ALL, f"{event_type} is missing"
    partition_field, required = CHANNEL_TYPES[event_type]
    item = ALL[event_type]
    assert item["partition_field"] == partition_field
    assert set(item["schema"]["required"]) == required


@pytest.mark.parametrize("event_type", ENGINE_TYPES)
def test_engine_types_exist(event_type: str) -> None:
    assert event_type in BUILTIN


def paths(event_type: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error["path"], error["code"]) for error in BUILTIN[event_type].violations(data)]


def test_iot_fault_sample() -> None:
    good = {
        "device_id": "dev-1",
        "code": "E42",
        "severity": "major",
        "sent_at": "2026-01-05T08:00:00Z",
    }
    assert paths("iot.device.fault", good) == []
    assert ("/data/severity", "enum") in paths("iot.device.fault", {**good, "severity": "fatal"})
    missing = {key: value for key, value in good.items() if key != "code"}
    assert ("/data", "required") in paths("iot.device.fault", missing)
    assert ("/data/device_id", "minLength") in paths("iot.device.fault", {**good, "device_id": ""})


def test_iot_telemetry_metrics_are_numbers() -> None:
    good = {"device_id": "dev-1", "metrics": {"temp_c": 21.5, "rpm": 1200}}
    assert paths("iot.device.telemetry", good) == []
    bad = {"device_id": "dev-1", "metrics": {"temp_c": "warm"}}
    assert ("/data/metrics/temp_c", "type") in paths("iot.device.telemetry", bad)


def test_wechat_menu_click_sample() -> None:
    good = {
        "openid": "oU1x",
        "account": "gh_123",
        "created_at": "2026-01-05T08:00:00+08:00",
        "key": "V1001_TODAY",
        "menu_type": "click",
    }
    assert paths("messaging.wechat.menu_clicked", good) == []
    wrong = {**good, "menu_type": "scancode_push"}
    assert ("/data/menu_type", "enum") in paths("messaging.wechat.menu_clicked", wrong)
    assert ("/data", "required") in paths("messaging.wechat.menu_clicked", {"openid": "oU1x"})


def test_pos_sale_sample() -> None:
    good = {
        "transaction_id": "t-1",
        "store_id": "s-9",
        "occurred_at": "2026-01-05T12:30:00Z",
        "total": 59.8,
        "currency": "CNY",
        "member_id": "m-7",
        "items": [{"sku": "A-1", "quantity": 2, "unit_price": 29.9, "name": "Tea"}],
    }
    assert paths("pos.transaction.completed", good) == []
    assert ("/data/currency", "pattern") in paths(
        "pos.transaction.completed", {**good, "currency": "cny"}
    )
    zero = {**good, "items": [{"sku": "A-1", "quantity": 0, "unit_price": 29.9}]}
    assert ("/data/items/0/quantity", "exclusiveMinimum") in paths(
        "pos.transaction.completed", zero
    )


def test_app_tracking_needs_a_user_or_anonymous_id() -> None:
    assert paths("app.page.viewed", {"app_id": "web", "anonymous_id": "a-1", "url": "/"}) == []
    assert paths("app.page.viewed", {"app_id": "web", "user_id": "u-1"}) == []
    assert ("/data", "anyOf") in paths("app.page.viewed", {"app_id": "web", "url": "/"})


def test_scheduler_contract_expiring_sample() -> None:
    good = {"contract_id": "c-1", "end_date": "2026-03-31", "days_left": 30, "account_id": "a"}
    assert paths("contract.contract.expiring", good) == []
    negative = {**good, "days_left": -1}
    assert ("/data/days_left", "minimum") in paths("contract.contract.expiring", negative)
    wrong_enum = {"ticket_id": "t-1", "priority": "asap"}
    assert ("/data/priority", "enum") in paths("service.ticket.created", wrong_enum)
