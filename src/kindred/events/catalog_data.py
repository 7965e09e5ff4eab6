"""The built-in event type catalog: every ``<domain>.<entity>.<action>`` Kindred ships with.

Each type's ``schema`` describes the CloudEvent's ``data`` (JSON Schema 2020-12). Schemas are
deliberately open (``additionalProperties: true``): producers may add fields, but every field
we name is typed, so consumers can rely on what the catalog promises.

Types emitted by the channel adapters (MQTT, WeChat, POS webhook, app tracking, social
mentions) and by the scheduler follow a shared spec field for field; their fields therefore use
exactly the bounds that spec states (plain ``STRING`` where it says "string"), while the other
types use the stricter ``ID`` (non-empty string) for identifiers.

Schemas are built with the small helpers below instead of literal dicts, which keeps the
catalog readable; ``_obj`` deep-copies the shared property constants so no two schemas share
a mutable dict.
"""

from __future__ import annotations

from copy import deepcopy
from types import EllipsisType
from typing import Any

Schema = dict[str, Any]
Fields = dict[str, Schema]

# --- reusable property schemas ---------------------------------------------------------------

STRING: Schema = {"type": "string"}
ID: Schema = {"type": "string", "minLength": 1}
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date"}
NUMBER: Schema = {"type": "number"}
NON_NEGATIVE: Schema = {"type": "number", "minimum": 0}
POSITIVE: Schema = {"type": "number", "exclusiveMinimum": 0}
MONEY: Schema = {"type": "number", "minimum": 0}
CURRENCY: Schema = {"type": "string", "pattern": "^[A-Z]{3}$"}  # ISO 4217
INTEGER: Schema = {"type": "integer"}
COUNT: Schema = {"type": "integer", "minimum": 0}
PERCENT: Schema = {"type": "number", "minimum": 0, "maximum": 100}
PROBABILITY: Schema = {"type": "number", "minimum": 0, "maximum": 1}
RATING: Schema = {"type": "integer", "minimum": 1, "maximum": 5}
BOOLEAN: Schema = {"type": "boolean"}
OBJECT: Schema = {"type": "object"}
STRINGS: Schema = {"type": "array", "items": {"type": "string"}}
EMAIL: Schema = {"type": "string", "format": "email"}
LATITUDE: Schema = {"type": "number", "minimum": -90, "maximum": 90}
LONGITUDE: Schema = {"type": "number", "minimum": -180, "maximum": 180}
# W3C DID syntax: did:<method>:<method-specific id>
DID: Schema = {"type": "string", "pattern": "^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$"}
PRIORITY: Schema = {"type": "string", "enum": ["low", "normal", "high", "urgent"]}
SEVERITY: Schema = {"type": "string", "enum": ["minor", "major", "critical"]}
CHANNEL: Schema = {
    "type": "string",
    "enum": ["email", "sms", "wechat", "push", "in_app", "phone", "mail", "web", "store"],
}


def _enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def _array(items: Schema, *, min_items: int | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if min_items is not None:
        schema["minItems"] = min_items
    return schema


def _obj(required: Fields | None = None, optional: Fields | None = None, **keywords: Any) -> Schema:
    """An open object schema: ``required`` fields are listed in ``required``, all are typed."""
    required = required or {}
    optional = optional or {}
    clash = required.keys() & optional.keys()
    if clash:
        raise ValueError(f"fields both required and optional: {sorted(clash)}")
    return {
        "type": "object",
        "properties": deepcopy({**required, **optional}),
        "required": list(required),
        "additionalProperties": True,
        **deepcopy(keywords),
    }


def _at_least_one(*names: str) -> list[Schema]:
    """For ``anyOf``: the data must carry at least one of these fields."""
    return [{"required": [name]} for name in names]


# --- the registry being filled -------------------------------------------------------------

BUILTIN_DOMAINS: dict[str, str] = {}
BUILTIN_EVENT_TYPES: list[dict[str, Any]] = []


class _Domain:
    """Adds types to one domain; ``partition_field`` is the domain's default key field."""

    def __init__(self, name: str, description: str, partition_field: str | None) -> None:
        BUILTIN_DOMAINS[name] = description
        self.name = name
        self.partition_field = partition_field

    def add(
        self,
        name: str,
        description: str,
        required: Fields | None = None,
        optional: Fields | None = None,
        *,
        partition_field: str | EllipsisType | None = ...,
        **keywords: Any,
    ) -> None:
        BUILTIN_EVENT_TYPES.append(
            {
                "type": f"{self.name}.{name}",
                "domain": self.name,
                "version": 1,
                "description": description,
                "schema": _obj(required, optional, **keywords),
                "partition_field": (
                    self.partition_field if partition_field is ... else partition_field
                ),
            }
        )


# --- iot ---------------------------------------------------------------------------------------

_iot = _Domain("iot", "Connected devices and the assets they belong to.", "device_id")
DEVICE: Fields = {"device_id": ID}  # the MQTT adapter's topic segment, never empty

_iot.add(
    "device.heartbeat",
    "A device reports over MQTT that it is alive, with its vital signs.",
    DEVICE,
    {
        "sent_at": DATE_TIME,
        "battery_pct": PERCENT,
        "rssi": NUMBER,
        "firmware": STRING,
        "uptime_s": NON_NEGATIVE,
    },
)
_iot.add(
    "device.telemetry",
    "A device publishes a batch of numeric sensor readings over MQTT.",
    {**DEVICE, "metrics": {"type": "object", "additionalProperties": {"type": "number"}}},
    {"sent_at": DATE_TIME},
)
_iot.add(
    "device.fault",
    "A device reports a fault code over MQTT.",
    {**DEVICE, "code": ID, "severity": SEVERITY},
    {"message": STRING, "sent_at": DATE_TIME},
)
_iot.add(
    "device.status_changed",
    "A device reports over MQTT that its operating status changed.",
    {**DEVICE, "status": _enum("online", "offline", "maintenance", "error")},
    {"sent_at": DATE_TIME},
)
_iot.add(
    "device.warranty_ending",
    "The scheduler finds an asset whose warranty ends within the notice window.",
    {"asset_id": STRING, "warranty_until": DATE, "days_left": COUNT},
    {"account_id": STRING},
    partition_field="asset_id",
)
_iot.add(
    "device.registered",
    "A new device is registered and linked to an asset or customer.",
    {**DEVICE, "model": ID},
    {"serial_number": STRING, "asset_id": ID, "account_id": ID, "registered_at": DATE_TIME},
)
_iot.add(
    "device.activated",
    "A registered device connects for the first time and starts reporting.",
    DEVICE,
    {"account_id": ID, "activated_at": DATE_TIME},
)
_iot.add(
    "device.decommissioned",
    "A device is retired and will no longer report.",
    DEVICE,
    {"reason": STRING, "decommissioned_at": DATE_TIME},
)
_iot.add(
    "device.fault_cleared",
    "A previously reported device fault is no longer active.",
    {**DEVICE, "code": ID},
    {"cleared_at": DATE_TIME, "duration_s": NON_NEGATIVE},
)
_iot.add(
    "device.threshold_exceeded",
    "A telemetry metric crosses a configured alert threshold.",
    {**DEVICE, "metric": ID, "value": NUMBER, "threshold": NUMBER},
    {"direction": _enum("above", "below"), "sent_at": DATE_TIME},
)
_iot.add(
    "device.offline_detected",
    "A device has sent no heartbeat for longer than its expected interval.",
    {**DEVICE, "last_seen_at": DATE_TIME},
    {"silent_s": NON_NEGATIVE},
)
_iot.add(
    "device.location_changed",
    "A device reports a new geographic position.",
    {**DEVICE, "latitude": LATITUDE, "longitude": LONGITUDE},
    {"accuracy_m": NON_NEGATIVE, "sent_at": DATE_TIME},
)
_iot.add(
    "device.battery_low",
    "A device's battery level falls below the low-battery threshold.",
    {**DEVICE, "battery_pct": PERCENT},
    {"threshold_pct": PERCENT},
)
_iot.add(
    "firmware.update_available",
    "A newer firmware version is released for a device's model.",
    {**DEVICE, "current_version": ID, "target_version": ID},
    {"release_notes": STRING},
)
_iot.add(
    "firmware.update_started",
    "A device begins installing a firmware update.",
    {**DEVICE, "target_version": ID},
    {"job_id": ID, "started_at": DATE_TIME},
)
_iot.add(
    "firmware.update_completed",
    "A device finishes installing a firmware update successfully.",
    {**DEVICE, "version": ID},
    {"job_id": ID, "duration_s": NON_NEGATIVE},
)
_iot.add(
    "firmware.update_failed",
    "A device's firmware update fails or is rolled back.",
    {**DEVICE, "target_version": ID, "error": STRING},
    {"job_id": ID, "rolled_back": BOOLEAN},
)
_iot.add(
    "calibration.due",
    "A device's next calibration date falls within the notice window.",
    {**DEVICE, "due_date": DATE},
    {"days_left": COUNT, "account_id": ID},
)
_iot.add(
    "calibration.completed",
    "A technician records a completed calibration of a device.",
    {**DEVICE, "calibrated_at": DATE_TIME},
    {"technician_id": ID, "offsets": {"type": "object", "additionalProperties": NUMBER}},
)
_iot.add(
    "twin.state_changed",
    "A device's digital twin receives a new reported or desired state.",
    {**DEVICE, "reported": OBJECT},
    {"desired": OBJECT, "version": COUNT},
)
_iot.add(
    "twin.drift_detected",
    "A device's reported state has diverged from the desired state of its digital twin.",
    {**DEVICE, "fields": _array(STRING, min_items=1)},
    {"desired": OBJECT, "reported": OBJECT},
)
_iot.add(
    "maintenance.predicted",
    "A predictive model expects a device component to fail soon.",
    {**DEVICE, "component": ID, "probability": PROBABILITY},
    {"expected_failure_date": DATE, "model_version": STRING, "asset_id": ID},
)
_iot.add(
    "consumable.low",
    "A device reports that a consumable (filter, ink, cartridge) is nearly used up.",
    {**DEVICE, "consumable": ID, "level_pct": PERCENT},
    {"sku": ID, "account_id": ID},
)
_iot.add(
    "warranty.claim_filed",
    "A customer or technician files a warranty claim for an asset.",
    {"asset_id": ID, "claim_id": ID},
    {"device_id": ID, "account_id": ID, "reason": STRING, "ticket_id": ID},
    partition_field="asset_id",
)
_iot.add(
    "warranty.extended",
    "An asset's warranty is extended, for example by a purchased extension.",
    {"asset_id": ID, "warranty_until": DATE},
    {"previous_until": DATE, "account_id": ID, "order_id": ID},
    partition_field="asset_id",
)

# --- contract ----------------------------------------------------------------------------------

_contract = _Domain("contract", "Customer contracts, renewals and obligations.", "account_id")
CONTRACT: Fields = {"contract_id": ID}

_contract.add(
    "contract.expiring",
    "The scheduler finds a contract whose end date falls within the notice window.",
    {"contract_id": STRING, "end_date": DATE, "days_left": COUNT},
    {"account_id": STRING, "value": NUMBER, "renewal": STRING},
)
_contract.add(
    "contract.drafted",
    "A new contract draft is created for a customer.",
    {**CONTRACT, "account_id": ID},
    {"title": STRING, "value": MONEY, "currency": CURRENCY, "owner_id": ID},
)
_contract.add(
    "contract.sent_for_signature",
    "A contract is sent to the customer for signature.",
    CONTRACT,
    {"account_id": ID, "signer_email": EMAIL, "sent_at": DATE_TIME},
)
_contract.add(
    "contract.signed",
    "All parties have signed a contract.",
    {**CONTRACT, "account_id": ID, "signed_at": DATE_TIME},
    {"signed_by": STRING, "value": MONEY, "currency": CURRENCY},
)
_contract.add(
    "contract.activated",
    "A signed contract reaches its start date and takes effect.",
    {**CONTRACT, "account_id": ID, "start_date": DATE},
    {"end_date": DATE},
)
_contract.add(
    "contract.renewed",
    "A contract is renewed for a further term.",
    {**CONTRACT, "account_id": ID, "new_end_date": DATE},
    {"previous_end_date": DATE, "value": MONEY, "currency": CURRENCY},
)
_contract.add(
    "contract.expired",
    "A contract passes its end date without being renewed.",
    {**CONTRACT, "end_date": DATE},
    {"account_id": ID},
)
_contract.add(
    "contract.terminated",
    "A contract is ended early by either party.",
    CONTRACT,
    {
        "account_id": ID,
        "reason": STRING,
        "terminated_by": _enum("customer", "company"),
        "effective_date": DATE,
    },
)
_contract.add(
    "contract.amended",
    "An amendment changing a contract's terms is signed.",
    {**CONTRACT, "amendment_id": ID},
    {"account_id": ID, "changes": OBJECT},
)
_contract.add(
    "renewal.reminder_sent",
    "A renewal reminder for a contract is sent to the customer.",
    CONTRACT,
    {"account_id": ID, "channel": CHANNEL, "days_left": COUNT},
)
_contract.add(
    "obligation.due",
    "A contractual obligation (delivery, visit, report) reaches its due date.",
    {**CONTRACT, "obligation_id": ID, "due_date": DATE},
    {"account_id": ID, "description": STRING},
)
_contract.add(
    "obligation.breached",
    "A contractual obligation was not met by its due date.",
    {**CONTRACT, "obligation_id": ID},
    {"account_id": ID, "breached_at": DATE_TIME, "severity": SEVERITY},
)
_contract.add(
    "milestone.reached",
    "A billing or delivery milestone defined in a contract is reached.",
    {**CONTRACT, "milestone": ID},
    {"account_id": ID, "amount": MONEY, "currency": CURRENCY},
)

# --- order -------------------------------------------------------------------------------------

_order = _Domain("order", "Orders and e-commerce: carts, checkouts, returns.", "account_id")
ORDER: Fields = {"order_id": ID}
CART: Fields = {"cart_id": ID}
RETURN: Fields = {"return_id": ID, "order_id": ID}
ORDER_ITEM: Schema = _obj(
    {"sku": ID, "quantity": POSITIVE}, {"unit_price": MONEY, "name": STRING, "reason": STRING}
)

_order.add(
    "order.placed",
    "A customer places an order.",
    {**ORDER, "account_id": ID, "total": MONEY, "currency": CURRENCY},
    {"placed_at": DATE_TIME, "channel": STRING, "items": _array(ORDER_ITEM)},
)
_order.add(
    "order.confirmed",
    "The merchant accepts an order for fulfilment.",
    ORDER,
    {"account_id": ID, "confirmed_at": DATE_TIME},
)
_order.add(
    "order.paid",
    "An order is fully paid.",
    {**ORDER, "amount": MONEY, "currency": CURRENCY},
    {"account_id": ID, "payment_id": ID, "paid_at": DATE_TIME},
)
_order.add(
    "order.cancelled",
    "An order is cancelled before fulfilment.",
    ORDER,
    {"account_id": ID, "reason": STRING, "cancelled_by": _enum("customer", "merchant", "system")},
)
_order.add(
    "order.modified",
    "An order's items, address or terms are changed after it was placed.",
    {**ORDER, "changes": OBJECT},
    {"account_id": ID, "total": MONEY, "currency": CURRENCY},
)
_order.add(
    "order.fulfilled",
    "All items of an order have been handed to logistics.",
    ORDER,
    {"account_id": ID, "fulfilled_at": DATE_TIME, "shipment_ids": STRINGS},
)
_order.add(
    "order.delivered",
    "Every shipment of an order has been delivered.",
    ORDER,
    {"account_id": ID, "delivered_at": DATE_TIME},
)
_order.add(
    "order.completed",
    "An order is closed after delivery and the return window.",
    ORDER,
    {"account_id": ID, "completed_at": DATE_TIME},
)
_order.add(
    "cart.created",
    "A shopper starts a new cart.",
    CART,
    {"account_id": ID, "anonymous_id": ID, "channel": STRING},
)
_order.add(
    "cart.item_added",
    "An item is added to a cart.",
    {**CART, "sku": ID, "quantity": POSITIVE},
    {"unit_price": MONEY, "currency": CURRENCY, "account_id": ID},
)
_order.add(
    "cart.item_removed",
    "An item is removed from a cart.",
    {**CART, "sku": ID},
    {"quantity": POSITIVE, "account_id": ID},
)
_order.add(
    "cart.abandoned",
    "A cart with items sees no activity for the abandonment window.",
    CART,
    {
        "account_id": ID,
        "total": MONEY,
        "currency": CURRENCY,
        "item_count": COUNT,
        "last_activity_at": DATE_TIME,
    },
)
_order.add(
    "cart.recovered",
    "A previously abandoned cart is checked out.",
    CART,
    {"account_id": ID, "order_id": ID, "campaign_id": ID},
)
_order.add(
    "return.requested",
    "A customer asks to return items from an order.",
    RETURN,
    {"account_id": ID, "reason": STRING, "items": _array(ORDER_ITEM)},
)
_order.add(
    "return.approved",
    "A return request is approved.",
    RETURN,
    {"account_id": ID, "approved_by": ID, "rma_number": STRING},
)
_order.add(
    "return.rejected",
    "A return request is refused.",
    RETURN,
    {"account_id": ID, "reason": STRING},
)
_order.add(
    "return.received",
    "Returned items arrive back at the warehouse or store.",
    RETURN,
    {
        "account_id": ID,
        "received_at": DATE_TIME,
        "condition": _enum("new", "opened", "damaged", "defective"),
    },
)
_order.add(
    "refund.issued",
    "Money is refunded to the customer for an order or return.",
    {"refund_id": ID, **ORDER, "amount": MONEY, "currency": CURRENCY},
    {"account_id": ID, "return_id": ID},
)
_order.add(
    "review.submitted",
    "A customer reviews a product they ordered.",
    {**ORDER, "sku": ID, "rating": RATING},
    {"account_id": ID, "text": STRING},
)

# --- pos ---------------------------------------------------------------------------------------

_pos = _Domain("pos", "Point of sale and retail: stores, shifts, in-store guides.", "member_id")
STORE: Fields = {"store_id": ID}
# The POS webhook's transaction payload, shared by sale, refund and void.
POS_TRANSACTION: Fields = {
    "transaction_id": STRING,
    "store_id": STRING,
    "occurred_at": DATE_TIME,
    "total": NUMBER,
    "currency": CURRENCY,
}
POS_TRANSACTION_OPTIONAL: Fields = {
    "member_id": STRING,
    "account_id": STRING,
    "register_id": STRING,
    "payment_method": STRING,
    "items": _array(
        _obj(
            {"sku": STRING, "quantity": POSITIVE, "unit_price": NON_NEGATIVE},
            {"name": STRING},
        )
    ),
}

_pos.add(
    "transaction.completed",
    "A sale is completed at a store register.",
    POS_TRANSACTION,
    POS_TRANSACTION_OPTIONAL,
)
_pos.add(
    "transaction.refunded",
    "A store refunds a previous sale, fully or in part.",
    POS_TRANSACTION,
    {**POS_TRANSACTION_OPTIONAL, "original_transaction_id": STRING},
)
_pos.add(
    "transaction.voided",
    "A transaction is voided at the register before settlement.",
    POS_TRANSACTION,
    POS_TRANSACTION_OPTIONAL,
)
_pos.add(
    "store.opened",
    "A store opens for the day.",
    {**STORE, "opened_at": DATE_TIME},
    {"opened_by": ID},
    partition_field="store_id",
)
_pos.add(
    "store.closed",
    "A store closes for the day.",
    {**STORE, "closed_at": DATE_TIME},
    {"closed_by": ID, "sales_total": NUMBER, "currency": CURRENCY},
    partition_field="store_id",
)
_pos.add(
    "shift.started",
    "An employee opens a shift on a register.",
    {**STORE, "shift_id": ID, "employee_id": ID},
    {"register_id": ID, "started_at": DATE_TIME, "opening_cash": MONEY},
    partition_field="store_id",
)
_pos.add(
    "shift.ended",
    "An employee closes a shift and counts the till.",
    {**STORE, "shift_id": ID, "employee_id": ID},
    {
        "register_id": ID,
        "ended_at": DATE_TIME,
        "closing_cash": MONEY,
        "sales_total": NUMBER,
        "currency": CURRENCY,
    },
    partition_field="store_id",
)
_pos.add(
    "register.cash_discrepancy",
    "The counted cash in a register differs from the expected amount.",
    {**STORE, "register_id": ID, "expected": MONEY, "counted": MONEY},
    {"shift_id": ID, "currency": CURRENCY},
    partition_field="store_id",
)
_pos.add(
    "guide.popup_shown",
    "A prompt (recommendation, alert, script) is shown on an in-store guide's device.",
    {**STORE, "guide_id": ID},
    {"sku": ID, "message": STRING, "member_id": ID, "scenario_id": ID},
    partition_field="store_id",
)
_pos.add(
    "guide.customer_assigned",
    "A store member is assigned to an in-store guide for follow-up.",
    {**STORE, "guide_id": ID, "member_id": ID},
    {"reason": STRING},
)
_pos.add(
    "guide.recommendation_made",
    "An in-store guide recommends products to a member.",
    {**STORE, "guide_id": ID, "skus": _array(ID, min_items=1)},
    {"member_id": ID},
)
_pos.add(
    "member.checked_in",
    "A loyalty member identifies themselves on entering or paying at a store.",
    {**STORE, "member_id": ID},
    {"method": _enum("qr", "card", "phone", "face"), "checked_in_at": DATE_TIME},
)
_pos.add(
    "member.enrolled",
    "A shopper joins the loyalty programme at a store.",
    {**STORE, "member_id": ID},
    {"guide_id": ID, "enrolled_at": DATE_TIME, "account_id": ID},
)
_pos.add(
    "price.overridden",
    "A cashier overrides an item's price during a transaction.",
    {**STORE, "transaction_id": ID, "sku": ID, "original_price": MONEY, "new_price": MONEY},
    {"reason": STRING, "approved_by": ID, "member_id": ID},
)
_pos.add(
    "appointment.booked",
    "A customer books an in-store appointment or consultation.",
    {**STORE, "appointment_id": ID, "starts_at": DATE_TIME},
    {"member_id": ID, "guide_id": ID, "service": STRING},
)

# --- service -----------------------------------------------------------------------------------

_service = _Domain(
    "service", "After-sales service: tickets, work orders, field dispatch, SLA.", "account_id"
)
TICKET: Fields = {"ticket_id": ID}
WORK_ORDER: Fields = {"work_order_id": ID}
TICKET_STATUS: Schema = _enum("new", "open", "pending", "on_hold", "solved", "closed")
SLA_METRIC: Schema = _enum("first_response", "next_response", "resolution")

_service.add(
    "ticket.created",
    "A support ticket is opened, by the customer, an agent or an automation.",
    TICKET,
    {
        "account_id": ID,
        "asset_id": ID,
        "contact_id": ID,
        "priority": PRIORITY,
        "subject": STRING,
        "channel": STRING,
    },
)
_service.add(
    "ticket.assigned",
    "A ticket is assigned to an agent or team.",
    {**TICKET, "assignee_id": ID},
    {"team_id": ID, "account_id": ID},
)
_service.add(
    "ticket.status_changed",
    "A ticket moves to a new status.",
    {**TICKET, "status": TICKET_STATUS},
    {"previous_status": TICKET_STATUS, "account_id": ID},
)
_service.add(
    "ticket.priority_changed",
    "A ticket's priority is raised or lowered.",
    {**TICKET, "priority": PRIORITY},
    {"previous_priority": PRIORITY, "account_id": ID},
)
_service.add(
    "ticket.escalated",
    "A ticket is escalated to a higher support tier.",
    {**TICKET, "level": {"type": "integer", "minimum": 1}},
    {"reason": STRING, "account_id": ID},
)
_service.add(
    "ticket.commented",
    "A comment or reply is added to a ticket.",
    {**TICKET, "comment_id": ID},
    {"author_id": ID, "public": BOOLEAN, "account_id": ID},
)
_service.add(
    "ticket.resolved",
    "A ticket is marked solved.",
    {**TICKET, "resolved_at": DATE_TIME},
    {"resolution": STRING, "account_id": ID},
)
_service.add(
    "ticket.reopened",
    "A solved ticket is reopened because the problem came back.",
    TICKET,
    {"reason": STRING, "account_id": ID},
)
_service.add(
    "ticket.satisfaction_rated",
    "A customer rates the support they received on a ticket.",
    {**TICKET, "score": RATING},
    {"comment": STRING, "account_id": ID},
)
_service.add(
    "work_order.created",
    "A work order for on-site work is created.",
    WORK_ORDER,
    {
        "ticket_id": ID,
        "account_id": ID,
        "asset_id": ID,
        "kind": _enum("install", "repair", "maintenance", "inspection"),
        "priority": PRIORITY,
    },
)
_service.add(
    "work_order.scheduled",
    "A work order is given an appointment window.",
    {**WORK_ORDER, "scheduled_start": DATE_TIME},
    {"scheduled_end": DATE_TIME, "account_id": ID},
)
_service.add(
    "work_order.dispatched",
    "A field technician is dispatched to carry out a work order.",
    {**WORK_ORDER, "technician_id": ID},
    {
        "dispatched_at": DATE_TIME,
        "ticket_id": ID,
        "account_id": ID,
        "asset_id": ID,
        "eta": DATE_TIME,
        "site_address": STRING,
    },
)
_service.add(
    "work_order.technician_arrived",
    "The dispatched technician arrives on site.",
    {**WORK_ORDER, "technician_id": ID, "arrived_at": DATE_TIME},
    {"account_id": ID, "latitude": LATITUDE, "longitude": LONGITUDE},
)
_service.add(
    "work_order.completed",
    "The technician finishes the work and records the outcome.",
    {**WORK_ORDER, "completed_at": DATE_TIME},
    {
        "technician_id": ID,
        "account_id": ID,
        "outcome": _enum("fixed", "partially_fixed", "not_fixed", "no_fault_found"),
        "labor_minutes": COUNT,
        "notes": STRING,
    },
)
_service.add(
    "work_order.cancelled",
    "A work order is cancelled before completion.",
    WORK_ORDER,
    {"reason": STRING, "account_id": ID},
)
_service.add(
    "sla.warning",
    "A ticket is close to breaching an SLA target.",
    {**TICKET, "metric": SLA_METRIC, "due_at": DATE_TIME},
    {"sla_policy_id": ID, "remaining_s": NON_NEGATIVE, "account_id": ID},
)
_service.add(
    "sla.breached",
    "A ticket misses an SLA target.",
    {**TICKET, "metric": SLA_METRIC, "due_at": DATE_TIME, "breached_at": DATE_TIME},
    {"sla_policy_id": ID, "account_id": ID},
)
_service.add(
    "spare_part.requested",
    "A spare part is requested for a work order or ticket.",
    {"request_id": ID, "sku": ID, "quantity": POSITIVE},
    {"work_order_id": ID, "ticket_id": ID, "account_id": ID},
)
_service.add(
    "spare_part.consumed",
    "A spare part is fitted during a work order.",
    {**WORK_ORDER, "sku": ID, "quantity": POSITIVE},
    {"serial_number": STRING, "account_id": ID},
)
_service.add(
    "spare_part.returned",
    "An unused or faulty spare part is returned to stock.",
    {**WORK_ORDER, "sku": ID, "quantity": POSITIVE},
    {"reason": STRING, "account_id": ID},
)

# --- social ------------------------------------------------------------------------------------

_social = _Domain("social", "Social media mentions, posts, reviews and followers.", "account_id")
PLATFORM: Fields = {"platform": ID}

_social.add(
    "mention.created",
    "The social listening webhook reports a new public mention.",
    {"platform": STRING, "mention_id": STRING, "author": STRING, "text": STRING},
    {
        "url": STRING,
        "posted_at": DATE_TIME,
        "account_id": STRING,
        "sentiment": {"type": "number", "minimum": -1, "maximum": 1},
        "language": STRING,
        "reach": COUNT,
    },
)
_social.add(
    "post.published",
    "The company publishes a post on a social platform.",
    {**PLATFORM, "post_id": ID},
    {"url": STRING, "published_at": DATE_TIME, "campaign_id": ID, "author_id": ID},
    partition_field=None,
)
_social.add(
    "post.engagement_updated",
    "Fresh engagement counts are collected for a published post.",
    {**PLATFORM, "post_id": ID},
    {"likes": COUNT, "shares": COUNT, "comments": COUNT, "impressions": COUNT},
    partition_field=None,
)
_social.add(
    "comment.received",
    "Someone comments on one of the company's posts.",
    {**PLATFORM, "comment_id": ID, "post_id": ID, "author": STRING, "text": STRING},
    {"account_id": ID, "posted_at": DATE_TIME},
)
_social.add(
    "comment.replied",
    "The company replies to a comment on a social platform.",
    {**PLATFORM, "comment_id": ID, "reply_id": ID},
    {"replied_by": ID, "account_id": ID},
)
_social.add(
    "direct_message.received",
    "A private message arrives on a social platform.",
    {**PLATFORM, "message_id": ID, "author": STRING, "text": STRING},
    {"account_id": ID, "received_at": DATE_TIME},
)
_social.add(
    "follower.gained",
    "Someone starts following a company profile.",
    {**PLATFORM, "handle": ID},
    {"account_id": ID, "followed_at": DATE_TIME},
)
_social.add(
    "follower.lost",
    "Someone stops following a company profile.",
    {**PLATFORM, "handle": ID},
    {"account_id": ID},
)
_social.add(
    "review.posted",
    "A review of the company or a product appears on a review platform.",
    {**PLATFORM, "review_id": ID, "rating": {"type": "number", "minimum": 1, "maximum": 5}},
    {"text": STRING, "author": STRING, "url": STRING, "account_id": ID},
)
_social.add(
    "profile.linked",
    "A customer's social profile is linked to their account.",
    {**PLATFORM, "account_id": ID, "handle": ID},
    {"verified": BOOLEAN},
)
_social.add(
    "crisis.detected",
    "Negative mentions of a topic spike above the crisis threshold.",
    {"topic": ID, "mention_count": COUNT},
    {"window_s": POSITIVE, "severity": SEVERITY, "platforms": STRINGS},
    partition_field=None,
)

# --- messaging ---------------------------------------------------------------------------------

_messaging = _Domain(
    "messaging", "Conversations over WeChat, SMS, email, push, in-app and chat.", "account_id"
)
# Every WeChat push carries FromUserName (openid), ToUserName (account) and CreateTime.
WECHAT: Fields = {"openid": STRING, "account": STRING, "created_at": DATE_TIME}
WECHAT_MESSAGE: Fields = {**WECHAT, "msg_id": STRING}
MESSAGE: Fields = {"message_id": ID}
RECIPIENT: Fields = {"account_id": ID, "contact_id": ID}


def _wechat(name: str, description: str, required: Fields, optional: Fields | None = None) -> None:
    _messaging.add(f"wechat.{name}", description, required, optional, partition_field="openid")


_wechat(
    "text_received",
    "A follower sends a text message to the official account.",
    {**WECHAT_MESSAGE, "content": STRING},
)
_wechat(
    "image_received",
    "A follower sends an image to the official account.",
    {**WECHAT_MESSAGE, "media_id": STRING},
    {"pic_url": STRING},
)
_wechat(
    "voice_received",
    "A follower sends a voice message to the official account.",
    {**WECHAT_MESSAGE, "media_id": STRING},
    {"format": STRING, "recognition": STRING},
)
_wechat(
    "video_received",
    "A follower sends a video or short video to the official account.",
    {**WECHAT_MESSAGE, "media_id": STRING},
    {"thumb_media_id": STRING},
)
_wechat(
    "location_received",
    "A follower sends a location message to the official account.",
    {**WECHAT_MESSAGE, "latitude": NUMBER, "longitude": NUMBER},
    {"scale": NUMBER, "label": STRING},
)
_wechat(
    "link_received",
    "A follower sends a link to the official account.",
    {**WECHAT_MESSAGE, "url": STRING},
    {"title": STRING, "description": STRING},
)
_wechat(
    "subscribed",
    "A user follows the official account, possibly by scanning a parametric QR code.",
    WECHAT,
    {"scene_key": STRING},
)
_wechat("unsubscribed", "A follower unfollows the official account.", WECHAT)
_wechat(
    "qr_scanned",
    "An existing follower scans a parametric QR code of the official account.",
    {**WECHAT, "scene_key": STRING},
    {"ticket": STRING},
)
_wechat(
    "menu_clicked",
    "A follower taps an item of the official account's custom menu.",
    {**WECHAT, "key": STRING, "menu_type": _enum("click", "view")},
)
_wechat(
    "location_reported",
    "A follower's WeChat client reports their location to the official account.",
    {**WECHAT, "latitude": NUMBER, "longitude": NUMBER},
    {"precision": NUMBER},
)
_wechat(
    "template_delivered",
    "WeChat reports the delivery result of a template message.",
    {**WECHAT, "msg_id": STRING, "status": STRING},
)
_messaging.add(
    "sms.sent",
    "An SMS is handed to the provider for delivery.",
    {**MESSAGE, "to": ID},
    {**RECIPIENT, "template_id": ID, "segments": {"type": "integer", "minimum": 1}},
)
_messaging.add(
    "sms.delivered",
    "The SMS provider confirms delivery to the handset.",
    {**MESSAGE, "to": ID},
    {**RECIPIENT, "delivered_at": DATE_TIME},
)
_messaging.add(
    "sms.failed",
    "The SMS provider reports that a message could not be delivered.",
    {**MESSAGE, "to": ID},
    {**RECIPIENT, "error_code": STRING, "error": STRING},
)
_messaging.add(
    "sms.received",
    "An inbound SMS arrives from a customer.",
    {**MESSAGE, "from": ID, "text": STRING},
    {**RECIPIENT, "to": STRING},
)
_messaging.add(
    "sms.opted_out",
    "A recipient replies with an opt-out keyword such as STOP.",
    {"from": ID},
    {**RECIPIENT, "keyword": STRING},
)
_messaging.add(
    "email.sent",
    "An email is accepted by the sending service.",
    {**MESSAGE, "to": EMAIL},
    {**RECIPIENT, "subject": STRING, "campaign_id": ID},
)
_messaging.add(
    "email.delivered",
    "The recipient's mail server accepts an email.",
    {**MESSAGE, "to": EMAIL},
    {**RECIPIENT, "delivered_at": DATE_TIME},
)
_messaging.add(
    "email.opened",
    "A recipient opens an email (tracking pixel loaded).",
    MESSAGE,
    {**RECIPIENT, "to": EMAIL, "opened_at": DATE_TIME, "user_agent": STRING},
)
_messaging.add(
    "email.clicked",
    "A recipient clicks a tracked link in an email.",
    {**MESSAGE, "url": ID},
    {**RECIPIENT, "clicked_at": DATE_TIME},
)
_messaging.add(
    "email.bounced",
    "An email bounces back as undeliverable.",
    {**MESSAGE, "to": EMAIL, "bounce_type": _enum("hard", "soft")},
    {**RECIPIENT, "reason": STRING},
)
_messaging.add(
    "email.complained",
    "A recipient marks an email as spam.",
    {**MESSAGE, "to": EMAIL},
    RECIPIENT,
)
_messaging.add(
    "email.received",
    "An inbound email from a customer arrives in a shared mailbox.",
    {**MESSAGE, "from": EMAIL},
    {**RECIPIENT, "to": STRING, "subject": STRING, "thread_id": ID},
)
_messaging.add(
    "in_app.message_shown",
    "An in-app message is displayed to a user.",
    {**MESSAGE, "user_id": ID},
    {**RECIPIENT, "campaign_id": ID, "placement": STRING},
)
_messaging.add(
    "in_app.message_clicked",
    "A user taps the call to action of an in-app message.",
    {**MESSAGE, "user_id": ID},
    {**RECIPIENT, "action": STRING},
)
_messaging.add(
    "push.sent",
    "A push notification is sent to a user's device.",
    {**MESSAGE, "user_id": ID},
    {**RECIPIENT, "title": STRING, "campaign_id": ID},
)
_messaging.add(
    "push.opened",
    "A user opens the app from a push notification.",
    {**MESSAGE, "user_id": ID},
    {**RECIPIENT, "opened_at": DATE_TIME},
)
_messaging.add(
    "chat.conversation_started",
    "A customer starts a live chat or chatbot conversation.",
    {"conversation_id": ID, "channel": ID},
    {**RECIPIENT, "started_at": DATE_TIME},
)
_messaging.add(
    "chat.message_received",
    "A customer sends a message in a chat conversation.",
    {"conversation_id": ID, **MESSAGE, "text": STRING},
    {**RECIPIENT, "author": STRING},
)
_messaging.add(
    "chat.message_sent",
    "An agent or bot sends a message in a chat conversation.",
    {"conversation_id": ID, **MESSAGE, "text": STRING},
    {**RECIPIENT, "agent_id": ID, "bot": BOOLEAN},
)
_messaging.add(
    "chat.handed_off",
    "A chat conversation is handed from a bot or agent to another agent.",
    {"conversation_id": ID, "to_agent_id": ID},
    {**RECIPIENT, "from_agent_id": ID, "reason": STRING},
)
_messaging.add(
    "chat.conversation_closed",
    "A chat conversation ends.",
    {"conversation_id": ID},
    {**RECIPIENT, "closed_at": DATE_TIME, "duration_s": NON_NEGATIVE, "rating": RATING},
)

# --- app ---------------------------------------------------------------------------------------

_app = _Domain("app", "Mobile, web and mini-program analytics.", "user_id")
# Segment-style identity: a call names a known user, an anonymous visitor, or both.
APP: Fields = {"app_id": STRING}
APP_OPTIONAL: Fields = {
    "user_id": STRING,
    "anonymous_id": STRING,
    "properties": OBJECT,
    "context": OBJECT,
}
PLATFORM_KIND: Schema = _enum("ios", "android", "web", "mini_program", "desktop")


def _app_event(
    name: str, description: str, required: Fields | None = None, optional: Fields | None = None
) -> None:
    _app.add(
        name,
        description,
        {**APP, **(required or {})},
        {**APP_OPTIONAL, **(optional or {})},
        anyOf=_at_least_one("user_id", "anonymous_id"),
    )


TRACKED: Fields = {"event_name": STRING}  # the original Segment event name

_app_event("page.viewed", "A user views a web page.", optional={"name": STRING, "url": STRING})
_app_event("screen.viewed", "A user views an app screen.", optional={"name": STRING})
_app_event("user.identified", "The app ties a user to their traits.", optional={"traits": OBJECT})
_app_event("product.viewed", "A user views a product detail page.", TRACKED)
_app_event("cart.item_added", "A user adds a product to the cart in the app.", TRACKED)
_app_event("cart.item_removed", "A user removes a product from the cart in the app.", TRACKED)
_app_event("cart.viewed", "A user opens the cart in the app.", TRACKED)
_app_event("checkout.started", "A user starts checking out in the app.", TRACKED)
_app_event("order.completed", "A user completes an order in the app.", TRACKED)
_app_event("user.signed_up", "A user creates an account in the app.", TRACKED)
_app_event("user.signed_in", "A user signs in to the app.", TRACKED)
_app_event("search.performed", "A user runs a search in the app.", TRACKED)
_app_event("coupon.applied", "A user applies a coupon in the app.", TRACKED)
_app_event("session.started", "A user starts an app session.", TRACKED)
_app_event("event.tracked", "The app tracks an event with no more specific type.", TRACKED)
_app_event("user.signed_out", "A user signs out of the app.", optional={"event_name": STRING})
_app_event(
    "session.ended",
    "An app session ends after the user leaves or goes idle.",
    {"session_id": ID},
    {"duration_s": NON_NEGATIVE, "screens": COUNT},
)
_app_event(
    "app.installed",
    "The app is installed and opened for the first time on a device.",
    optional={"platform": PLATFORM_KIND, "version": STRING, "campaign": STRING},
)
_app_event(
    "app.updated",
    "The app is opened for the first time after an update.",
    {"to_version": ID},
    {"from_version": STRING, "platform": PLATFORM_KIND},
)
_app_event(
    "app.uninstalled",
    "The app is removed from a device (reported by the push provider).",
    optional={"platform": PLATFORM_KIND},
)
_app_event(
    "app.crashed",
    "The app crashes on a user's device.",
    {"version": ID, "error": STRING},
    {"platform": PLATFORM_KIND, "stack": STRING},
)
_app_event(
    "push.permission_changed",
    "A user grants or withdraws permission for push notifications.",
    {"granted": BOOLEAN},
    {"platform": PLATFORM_KIND},
)
_app_event(
    "deep_link.opened",
    "A user opens the app through a deep link.",
    {"url": ID},
    {"campaign": STRING, "source": STRING},
)
_app_event(
    "feature.used",
    "A user uses a tracked product feature for the first time in a session.",
    {"feature": ID},
)

# --- marketing ---------------------------------------------------------------------------------

_marketing = _Domain(
    "marketing", "Campaigns, coupons, journeys, segments and loyalty.", "account_id"
)
CAMPAIGN: Fields = {"campaign_id": ID}
JOURNEY: Fields = {"journey_id": ID, "account_id": ID}
SEGMENT: Fields = {"segment_id": ID, "account_id": ID}
COUPON: Fields = {"coupon_id": ID}
HOLDER: Fields = {"account_id": ID, "member_id": ID}  # who holds a coupon or points
LOYALTY: Fields = {"member_id": ID, "points": INTEGER}

_marketing.add(
    "campaign.created",
    "A marketing campaign is created.",
    {**CAMPAIGN, "name": ID},
    {
        "channel": CHANNEL,
        "starts_at": DATE_TIME,
        "ends_at": DATE_TIME,
        "budget": MONEY,
        "currency": CURRENCY,
    },
    partition_field=None,
)
_marketing.add(
    "campaign.launched",
    "A campaign starts sending to its audience.",
    CAMPAIGN,
    {"launched_at": DATE_TIME, "audience_size": COUNT},
    partition_field=None,
)
_marketing.add(
    "campaign.paused",
    "A running campaign is paused.",
    CAMPAIGN,
    {"reason": STRING, "paused_by": ID},
    partition_field=None,
)
_marketing.add(
    "campaign.completed",
    "A campaign finishes sending or reaches its end date.",
    CAMPAIGN,
    {"completed_at": DATE_TIME, "sent": COUNT, "conversions": COUNT},
    partition_field=None,
)
_marketing.add(
    "campaign.message_sent",
    "A campaign sends a message to one recipient.",
    {**CAMPAIGN, "channel": CHANNEL},
    {"account_id": ID, "contact_id": ID, "message_id": ID},
)
_marketing.add(
    "campaign.conversion_attributed",
    "A purchase or goal is attributed to a campaign.",
    {**CAMPAIGN, "account_id": ID},
    {
        "order_id": ID,
        "value": MONEY,
        "currency": CURRENCY,
        "model": _enum("first_touch", "last_touch", "linear"),
    },
)
_marketing.add(
    "coupon.issued",
    "A coupon is issued to a customer or loyalty member.",
    COUPON,
    {**HOLDER, "campaign_id": ID, "value": MONEY, "currency": CURRENCY, "expires_at": DATE_TIME},
    anyOf=_at_least_one("account_id", "member_id"),
)
_marketing.add(
    "coupon.redeemed",
    "A coupon is used on an order or store transaction.",
    COUPON,
    {**HOLDER, "order_id": ID, "transaction_id": ID, "discount": MONEY, "currency": CURRENCY},
)
_marketing.add(
    "coupon.expired",
    "An unused coupon passes its expiry date.",
    COUPON,
    {**HOLDER, "expired_at": DATE_TIME},
)
_marketing.add(
    "coupon.revoked",
    "An issued coupon is withdrawn before use.",
    COUPON,
    {**HOLDER, "reason": STRING},
)
_marketing.add(
    "journey.entered",
    "A customer enters a marketing journey.",
    JOURNEY,
    {"entered_at": DATE_TIME, "entry_event": STRING},
)
_marketing.add(
    "journey.step_completed",
    "A customer completes a step of a journey.",
    {**JOURNEY, "step_id": ID},
    {"outcome": STRING},
)
_marketing.add(
    "journey.goal_reached",
    "A customer in a journey reaches the journey's goal.",
    JOURNEY,
    {"goal": STRING, "reached_at": DATE_TIME},
)
_marketing.add(
    "journey.exited",
    "A customer leaves a journey.",
    {**JOURNEY, "reason": _enum("completed", "goal_reached", "unsubscribed", "timeout", "removed")},
)
_marketing.add(
    "segment.member_added",
    "A customer starts matching a segment's conditions.",
    SEGMENT,
)
_marketing.add(
    "segment.member_removed",
    "A customer stops matching a segment's conditions.",
    SEGMENT,
)
_marketing.add(
    "segment.recomputed",
    "A segment's membership is recomputed.",
    {"segment_id": ID, "size": COUNT},
    {"added": COUNT, "removed": COUNT},
    partition_field=None,
)
_marketing.add(
    "form.submitted",
    "A visitor submits a marketing form (sign-up, download, event registration).",
    {"form_id": ID},
    {"email": EMAIL, "fields": OBJECT, "campaign_id": ID, "utm": OBJECT, "account_id": ID},
)
_marketing.add(
    "experiment.variant_assigned",
    "A customer is assigned a variant of an A/B test.",
    {"experiment_id": ID, "variant": ID, "account_id": ID},
)
_marketing.add(
    "loyalty.points_earned",
    "A loyalty member earns points.",
    LOYALTY,
    {"balance": INTEGER, "reason": STRING, "order_id": ID},
    partition_field="member_id",
)
_marketing.add(
    "loyalty.points_redeemed",
    "A loyalty member spends points.",
    LOYALTY,
    {"balance": INTEGER, "order_id": ID, "reward_id": ID},
    partition_field="member_id",
)
_marketing.add(
    "loyalty.points_expiring",
    "Some of a loyalty member's points will expire soon.",
    {**LOYALTY, "expires_on": DATE},
    {"days_left": COUNT},
    partition_field="member_id",
)

# --- payment -----------------------------------------------------------------------------------

_payment = _Domain(
    "payment", "Payments, invoices, disputes, subscriptions and payment methods.", "account_id"
)
PAYMENT: Fields = {"payment_id": ID}
AMOUNT: Fields = {"amount": MONEY, "currency": CURRENCY}
INVOICE: Fields = {"invoice_id": ID}
SUBSCRIPTION: Fields = {"subscription_id": ID, "account_id": ID}
METHOD_KIND: Schema = _enum(
    "card", "wechat_pay", "alipay", "bank_transfer", "direct_debit", "cash", "other"
)

_payment.add(
    "payment.initiated",
    "A customer starts a payment.",
    {**PAYMENT, **AMOUNT},
    {"account_id": ID, "order_id": ID, "invoice_id": ID, "method": METHOD_KIND},
)
_payment.add(
    "payment.authorized",
    "The payment provider authorises a payment.",
    {**PAYMENT, **AMOUNT},
    {"account_id": ID, "authorized_at": DATE_TIME},
)
_payment.add(
    "payment.captured",
    "An authorised payment is captured and the money is collected.",
    {**PAYMENT, **AMOUNT},
    {"account_id": ID, "order_id": ID, "captured_at": DATE_TIME, "fee": MONEY},
)
_payment.add(
    "payment.failed",
    "A payment attempt is declined or fails.",
    PAYMENT,
    {**AMOUNT, "account_id": ID, "error_code": STRING, "reason": STRING},
)
_payment.add(
    "payment.refunded",
    "A captured payment is refunded, fully or in part.",
    {**PAYMENT, "refund_id": ID, **AMOUNT},
    {"account_id": ID, "reason": STRING},
)
_payment.add(
    "dispute.opened",
    "A customer disputes a payment with their bank (chargeback).",
    {"dispute_id": ID, **PAYMENT, **AMOUNT},
    {"account_id": ID, "reason": STRING, "respond_by": DATE_TIME},
)
_payment.add(
    "dispute.resolved",
    "A payment dispute is decided.",
    {"dispute_id": ID, **PAYMENT, "outcome": _enum("won", "lost", "accepted")},
    {"account_id": ID},
)
_payment.add(
    "invoice.issued",
    "An invoice is issued to a customer.",
    {**INVOICE, "account_id": ID, **AMOUNT, "due_date": DATE},
    {"contract_id": ID, "order_id": ID},
)
_payment.add(
    "invoice.paid",
    "An invoice is paid in full.",
    INVOICE,
    {**AMOUNT, "account_id": ID, "paid_at": DATE_TIME, "payment_id": ID},
)
_payment.add(
    "invoice.overdue",
    "An invoice is still unpaid after its due date.",
    {**INVOICE, "account_id": ID, "due_date": DATE, "days_overdue": COUNT},
    {"amount_due": MONEY, "currency": CURRENCY},
)
_payment.add(
    "invoice.voided",
    "An issued invoice is cancelled.",
    INVOICE,
    {"account_id": ID, "reason": STRING},
)
_payment.add(
    "subscription.created",
    "A customer starts a recurring subscription.",
    {**SUBSCRIPTION, "plan_id": ID},
    {**AMOUNT, "interval": _enum("day", "week", "month", "year"), "trial_ends_at": DATE_TIME},
)
_payment.add(
    "subscription.renewed",
    "A subscription is charged for a new period.",
    SUBSCRIPTION,
    {**AMOUNT, "period_end": DATE},
)
_payment.add(
    "subscription.cancelled",
    "A customer or the system cancels a subscription.",
    SUBSCRIPTION,
    {"reason": STRING, "effective_at": DATE_TIME},
)
_payment.add(
    "payment_method.added",
    "A customer saves a new payment method.",
    {"account_id": ID, "payment_method_id": ID, "kind": METHOD_KIND},
    {"last4": {"type": "string", "pattern": "^[0-9]{4}$"}, "expires_on": DATE},
)
_payment.add(
    "payment_method.expiring",
    "A saved card expires within the notice window.",
    {"account_id": ID, "payment_method_id": ID, "expires_on": DATE},
    {"days_left": COUNT},
)
_payment.add(
    "credit.limit_exceeded",
    "A customer's outstanding balance exceeds their credit limit.",
    {"account_id": ID, "credit_limit": MONEY, "balance": NUMBER, "currency": CURRENCY},
)

# --- inventory ---------------------------------------------------------------------------------

# Stock events are keyed by SKU so the changes to one item stay in order.
_inventory = _Domain("inventory", "Stock levels, shortages, reservations and warehouses.", "sku")
SKU: Fields = {"sku": ID}
WAREHOUSE: Fields = {"warehouse_id": ID}

_inventory.add(
    "stock.shortage",
    "Available stock of an item in a region falls below its threshold.",
    {**SKU, "region": ID, "available": NUMBER, "threshold": NUMBER},
    {**WAREHOUSE, "store_id": ID},
    partition_field="region",
)
_inventory.add(
    "stock.reserved",
    "Stock is set aside for an order, ticket or work order.",
    {"reservation_id": ID, **SKU, "quantity": POSITIVE, **WAREHOUSE},
    {"ticket_id": ID, "order_id": ID, "expires_at": DATE_TIME},
)
_inventory.add(
    "stock.reservation_released",
    "A stock reservation is released without being consumed.",
    {"reservation_id": ID, **SKU},
    {"quantity": POSITIVE, **WAREHOUSE, "reason": _enum("cancelled", "expired", "fulfilled")},
)
_inventory.add(
    "stock.level_changed",
    "The on-hand quantity of an item at a location changes.",
    {**SKU, **WAREHOUSE, "quantity": NUMBER},
    {"previous_quantity": NUMBER, "reason": STRING},
)
_inventory.add(
    "stock.replenished",
    "New stock of an item is received into a warehouse.",
    {**SKU, **WAREHOUSE, "quantity": POSITIVE},
    {"purchase_order_id": ID, "lot": STRING},
)
_inventory.add(
    "stock.out_of_stock",
    "An item's available stock reaches zero at a location.",
    SKU,
    {**WAREHOUSE, "store_id": ID, "region": ID},
)
_inventory.add(
    "stock.back_in_stock",
    "An item that was out of stock becomes available again.",
    {**SKU, "available": POSITIVE},
    {**WAREHOUSE, "store_id": ID, "region": ID},
)
_inventory.add(
    "stock.adjusted",
    "Stock is corrected manually (damage, loss, count correction).",
    {**SKU, **WAREHOUSE, "delta": NUMBER, "reason": ID},
    {"adjusted_by": ID},
)
_inventory.add(
    "stock.counted",
    "A cycle count records the physical quantity of an item.",
    {**SKU, **WAREHOUSE, "counted": NON_NEGATIVE},
    {"expected": NUMBER, "counted_at": DATE_TIME},
)
_inventory.add(
    "stock.transferred",
    "Stock moves from one warehouse or store to another.",
    {**SKU, "quantity": POSITIVE, "from_warehouse_id": ID, "to_warehouse_id": ID},
    {"transfer_id": ID},
)
_inventory.add(
    "stock.expiring",
    "A lot of a perishable item nears its expiry date.",
    {**SKU, **WAREHOUSE, "lot": ID, "expires_on": DATE},
    {"quantity": NON_NEGATIVE, "days_left": COUNT},
)
_inventory.add(
    "warehouse.capacity_warning",
    "A warehouse's utilisation rises above its warning level.",
    {**WAREHOUSE, "utilization_pct": PERCENT},
    partition_field="warehouse_id",
)
_inventory.add(
    "purchase_order.created",
    "A purchase order is placed with a supplier.",
    {"purchase_order_id": ID, "supplier_id": ID},
    {**WAREHOUSE, "skus": STRINGS, "expected_at": DATE_TIME},
    partition_field=None,
)
_inventory.add(
    "purchase_order.received",
    "Goods for a purchase order arrive at the warehouse.",
    {"purchase_order_id": ID, **WAREHOUSE},
    {"received_at": DATE_TIME, "complete": BOOLEAN},
    partition_field=None,
)

# --- logistics ---------------------------------------------------------------------------------

# Keyed by shipment so a parcel's tracking updates are consumed in order.
_logistics = _Domain("logistics", "Shipments, carriers and deliveries.", "shipment_id")
SHIPMENT: Fields = {"shipment_id": ID}
SHIPMENT_REFS: Fields = {"order_id": ID, "account_id": ID}

_logistics.add(
    "shipment.created",
    "A shipment is created for an order.",
    SHIPMENT,
    {**SHIPMENT_REFS, "carrier": STRING, "service_level": STRING, "warehouse_id": ID},
)
_logistics.add(
    "shipment.label_created",
    "A carrier label and tracking number are created for a shipment.",
    {**SHIPMENT, "carrier": ID, "tracking_number": ID},
    SHIPMENT_REFS,
)
_logistics.add(
    "shipment.picked_up",
    "The carrier collects a shipment.",
    {**SHIPMENT, "picked_up_at": DATE_TIME},
    SHIPMENT_REFS,
)
_logistics.add(
    "shipment.in_transit",
    "The carrier reports a tracking scan for a shipment in transit.",
    SHIPMENT,
    {**SHIPMENT_REFS, "location": STRING, "status_detail": STRING, "scanned_at": DATE_TIME},
)
_logistics.add(
    "shipment.out_for_delivery",
    "A shipment is on the vehicle for final delivery.",
    SHIPMENT,
    {**SHIPMENT_REFS, "eta": DATE_TIME, "driver_id": ID},
)
_logistics.add(
    "shipment.delayed",
    "A shipment's expected delivery moves later.",
    SHIPMENT,
    {**SHIPMENT_REFS, "reason": STRING, "new_eta": DATE_TIME},
)
_logistics.add(
    "shipment.exception",
    "The carrier reports a problem with a shipment (damage, address, customs).",
    {**SHIPMENT, "code": ID},
    {**SHIPMENT_REFS, "description": STRING},
)
_logistics.add(
    "shipment.lost",
    "The carrier declares a shipment lost.",
    SHIPMENT,
    {**SHIPMENT_REFS, "declared_at": DATE_TIME},
)
_logistics.add(
    "shipment.returned_to_sender",
    "An undeliverable shipment is returned to the sender.",
    SHIPMENT,
    {**SHIPMENT_REFS, "reason": STRING},
)
_logistics.add(
    "delivery.attempted",
    "A delivery attempt fails and another will be made.",
    {**SHIPMENT, "attempted_at": DATE_TIME},
    {**SHIPMENT_REFS, "reason": STRING, "next_attempt_at": DATE_TIME},
)
_logistics.add(
    "delivery.completed",
    "A shipment is delivered to the recipient.",
    {**SHIPMENT, "delivered_at": DATE_TIME},
    {
        **SHIPMENT_REFS,
        "signed_by": STRING,
        "proof_url": STRING,
        "latitude": LATITUDE,
        "longitude": LONGITUDE,
    },
)
_logistics.add(
    "delivery.rescheduled",
    "The recipient chooses a new delivery window.",
    {**SHIPMENT, "window_start": DATE_TIME},
    {**SHIPMENT_REFS, "window_end": DATE_TIME},
)
_logistics.add(
    "route.planned",
    "A delivery route is planned for a driver and day.",
    {"route_id": ID, "date": DATE},
    {"driver_id": ID, "stop_count": COUNT, "shipment_ids": STRINGS},
    partition_field=None,
)

# --- customer ----------------------------------------------------------------------------------

_customer = _Domain(
    "customer", "Customer lifecycle: registration, profile, tiers, life events.", "account_id"
)
ACCOUNT: Fields = {"account_id": ID}
LIFE_EVENT: Fields = {"contact_id": ID}
LIFE_EVENT_OPTIONAL: Fields = {"account_id": ID, "source": STRING, "confidence": PROBABILITY}

_customer.add(
    "birthday.upcoming",
    "The scheduler finds a contact whose birthday falls within the notice window.",
    # birthday is a plain string: contacts often store only month and day ("--05-14").
    {"contact_id": STRING, "birthday": STRING, "days_left": COUNT},
    {"account_id": STRING},
)
_customer.add(
    "purchase.lapsed",
    "The scheduler finds a customer who has not purchased for longer than the lapse window.",
    {"account_id": STRING, "days_since_last_purchase": COUNT, "last_order_date": DATE},
)
_customer.add(
    "customer.registered",
    "A new customer account is created.",
    ACCOUNT,
    {
        "contact_id": ID,
        "channel": STRING,
        "registered_at": DATE_TIME,
        "referral_code": STRING,
        "kind": _enum("person", "business"),
    },
)
_customer.add(
    "profile.changed",
    "Fields of a customer's profile are changed.",
    {**ACCOUNT, "fields": _array(STRING, min_items=1)},
    {"changes": OBJECT, "changed_by": ID, "contact_id": ID},
)
_customer.add(
    "tier.changed",
    "A customer moves to a different membership or value tier.",
    {**ACCOUNT, "tier": ID},
    {
        "previous_tier": STRING,
        "direction": _enum("up", "down"),
        "reason": STRING,
        "effective_at": DATE_TIME,
    },
)
_customer.add(
    "churn_risk.raised",
    "A customer's churn risk score rises above the alert level.",
    {**ACCOUNT, "score": PROBABILITY},
    {"previous_score": PROBABILITY, "drivers": STRINGS, "model_version": STRING},
)
_customer.add(
    "churn_risk.cleared",
    "A customer's churn risk score falls back below the alert level.",
    {**ACCOUNT, "score": PROBABILITY},
    {"model_version": STRING},
)
_customer.add(
    "life_event.moved",
    "A contact is learned to have moved to a new address.",
    LIFE_EVENT,
    {
        **LIFE_EVENT_OPTIONAL,
        "city": STRING,
        "region": STRING,
        "country": STRING,
        "previous_city": STRING,
        "moved_on": DATE,
    },
)
_customer.add(
    "life_event.new_job",
    "A contact is learned to have started a new job or role.",
    LIFE_EVENT,
    {**LIFE_EVENT_OPTIONAL, "company": STRING, "title": STRING, "started_on": DATE},
)
_customer.add(
    "life_event.new_baby",
    "A contact is learned to be expecting or to have had a baby.",
    LIFE_EVENT,
    {**LIFE_EVENT_OPTIONAL, "expected_on": DATE, "born_on": DATE},
)
_customer.add(
    "life_event.married",
    "A contact is learned to have married.",
    LIFE_EVENT,
    {**LIFE_EVENT_OPTIONAL, "married_on": DATE},
)
_customer.add(
    "anniversary.upcoming",
    "A customer's anniversary with the company falls within the notice window.",
    {**ACCOUNT, "anniversary_date": DATE, "years": {"type": "integer", "minimum": 1}},
    {"days_left": COUNT},
)
_customer.add(
    "purchase.first_made",
    "A customer completes their first purchase.",
    {**ACCOUNT, "order_id": ID},
    {"total": MONEY, "currency": CURRENCY, "channel": STRING},
)
_customer.add(
    "value.milestone_reached",
    "A customer's lifetime spend passes a milestone.",
    {**ACCOUNT, "lifetime_value": MONEY, "currency": CURRENCY},
    {"milestone": MONEY},
)
_customer.add(
    "tag.set",
    "A tag is put on a customer by a user, rule, scenario or agent.",
    {**ACCOUNT, "tag": ID, "source": ID},
    {"valid_until": DATE_TIME, "reason": STRING},
)
_customer.add(
    "tag.removed",
    "A tag is taken off a customer or lapses.",
    {**ACCOUNT, "tag": ID},
    {"source": STRING, "reason": _enum("removed", "expired")},
)
_customer.add(
    "score.updated",
    "A customer score (health, engagement, lead fit) is recalculated.",
    {**ACCOUNT, "score_name": ID, "value": NUMBER},
    {"previous_value": NUMBER},
)
_customer.add(
    "nps.submitted",
    "A customer answers a Net Promoter Score survey.",
    {**ACCOUNT, "score": {"type": "integer", "minimum": 0, "maximum": 10}},
    {"comment": STRING, "survey_id": ID, "contact_id": ID},
)
_customer.add(
    "customer.merged",
    "Duplicate customer records are merged into one.",
    {**ACCOUNT, "merged_ids": _array(ID, min_items=1)},
    {"merged_by": ID},
)
_customer.add(
    "customer.deactivated",
    "A customer account is closed or marked inactive.",
    ACCOUNT,
    {"reason": STRING},
)
_customer.add(
    "customer.reactivated",
    "An inactive customer becomes active again.",
    ACCOUNT,
    {"days_inactive": COUNT, "trigger": STRING},
)

# --- consent -----------------------------------------------------------------------------------

# Keyed by the data subject so a person's grants and withdrawals are applied in order.
_consent = _Domain(
    "consent", "Consent, data passports, erasure and decentralised identity.", "contact_id"
)
SUBJECT: Fields = {"contact_id": ID}
PURPOSE: Fields = {"purpose": ID}  # e.g. marketing_email, profiling, third_party_sharing
REQUEST: Fields = {"request_id": ID, "contact_id": ID}

_consent.add(
    "consent.granted",
    "A person grants consent for a purpose.",
    {**SUBJECT, **PURPOSE},
    {
        "account_id": ID,
        "channel": CHANNEL,
        "granted_at": DATE_TIME,
        "expires_at": DATE_TIME,
        "policy_version": STRING,
        "source": STRING,
    },
)
_consent.add(
    "consent.revoked",
    "A person withdraws consent for a purpose.",
    {**SUBJECT, **PURPOSE},
    {"account_id": ID, "channel": CHANNEL, "revoked_at": DATE_TIME, "reason": STRING},
)
_consent.add(
    "consent.expired",
    "A time-limited consent reaches its expiry without renewal.",
    {**SUBJECT, **PURPOSE, "expired_at": DATE_TIME},
    {"account_id": ID},
)
_consent.add(
    "consent.expiring",
    "A time-limited consent expires within the notice window.",
    {**SUBJECT, **PURPOSE, "expires_at": DATE_TIME},
    {"account_id": ID, "days_left": COUNT},
)
_consent.add(
    "preference.updated",
    "A person changes their contact preferences for a channel.",
    {**SUBJECT, "channel": CHANNEL, "opted_in": BOOLEAN},
    {"account_id": ID, "topics": STRINGS},
)
_consent.add(
    "passport.issued",
    "A data passport is issued to a person.",
    {"passport_id": ID, **SUBJECT},
    {"did": DID, "issued_at": DATE_TIME},
)
_consent.add(
    "passport.accessed",
    "A user, agent or partner reads data through a person's data passport.",
    {"passport_id": ID, **SUBJECT, "accessor_id": ID},
    {"purpose": STRING, "fields": STRINGS, "accessed_at": DATE_TIME},
)
_consent.add(
    "passport.shared",
    "A person shares their data passport with a third party.",
    {"passport_id": ID, **SUBJECT, "recipient": ID},
    {"fields": STRINGS, "expires_at": DATE_TIME},
)
_consent.add(
    "erasure.requested",
    "A person asks for their personal data to be erased.",
    REQUEST,
    {"requested_at": DATE_TIME, "scope": STRINGS, "channel": CHANNEL},
)
_consent.add(
    "erasure.completed",
    "An erasure request has been carried out in every system.",
    {**REQUEST, "completed_at": DATE_TIME},
    {"systems": STRINGS, "records_erased": COUNT},
)
_consent.add(
    "erasure.rejected",
    "An erasure request is refused, for example because of a legal retention duty.",
    {**REQUEST, "reason": ID},
)
_consent.add(
    "access_request.received",
    "A person asks for a copy of their personal data.",
    REQUEST,
    {"requested_at": DATE_TIME, "due_by": DATE},
)
_consent.add(
    "access_request.fulfilled",
    "A copy of a person's data is delivered to them.",
    {**REQUEST, "fulfilled_at": DATE_TIME},
    {"format": STRING},
)
_consent.add(
    "did.registered",
    "A person registers a decentralised identifier (DID) with their profile.",
    {"did": DID, **SUBJECT},
    {"method": STRING, "registered_at": DATE_TIME},
)
_consent.add(
    "did.revoked",
    "A person's DID is revoked or unlinked from their profile.",
    {"did": DID, **SUBJECT},
    {"reason": STRING},
)

# --- sales -------------------------------------------------------------------------------------

_sales = _Domain(
    "sales", "Leads, purchase intents, opportunities, quotes and activities.", "account_id"
)
LEAD: Fields = {"lead_id": ID}
OPPORTUNITY: Fields = {"opportunity_id": ID, "account_id": ID}
QUOTE: Fields = {"quote_id": ID, "account_id": ID}
INTENT: Fields = {"purchase_intent_id": ID, "account_id": ID}

_sales.add(
    "lead.created",
    "A new lead is captured.",
    LEAD,
    {
        "source": STRING,
        "email": EMAIL,
        "company": STRING,
        "owner_id": ID,
        "score": NUMBER,
        "account_id": ID,
    },
)
_sales.add(
    "lead.assigned",
    "A lead is assigned to a sales owner.",
    {**LEAD, "owner_id": ID},
    {"account_id": ID},
)
_sales.add(
    "lead.qualified",
    "A lead is qualified as a sales prospect.",
    LEAD,
    {"qualified_by": ID, "score": NUMBER, "account_id": ID},
)
_sales.add(
    "lead.disqualified",
    "A lead is disqualified.",
    {**LEAD, "reason": ID},
    {"account_id": ID},
)
_sales.add(
    "lead.converted",
    "A lead is converted into an account, contact and optionally an opportunity.",
    {**LEAD, "account_id": ID},
    {"contact_id": ID, "opportunity_id": ID},
)
_sales.add(
    "purchase_intent.created",
    "A customer signals intent to buy specific products (enquiry, scenario or agent finding).",
    INTENT,
    {
        "product_ids": STRINGS,
        "quantity": POSITIVE,
        "owner_id": ID,
        "source": STRING,
        "confidence": PROBABILITY,
    },
)
_sales.add(
    "purchase_intent.closed",
    "A purchase intent is closed, converted into an order or dropped.",
    {**INTENT, "outcome": _enum("converted", "lost", "expired")},
    {"order_id": ID, "reason": STRING},
)
_sales.add(
    "opportunity.created",
    "A sales opportunity is opened.",
    OPPORTUNITY,
    {
        "name": STRING,
        "amount": MONEY,
        "currency": CURRENCY,
        "stage": STRING,
        "close_date": DATE,
        "owner_id": ID,
    },
)
_sales.add(
    "opportunity.stage_changed",
    "An opportunity moves to another pipeline stage.",
    {**OPPORTUNITY, "stage": ID},
    {"previous_stage": STRING, "probability": PERCENT},
)
_sales.add(
    "opportunity.won",
    "An opportunity is closed as won.",
    {**OPPORTUNITY, "amount": MONEY, "currency": CURRENCY},
    {"closed_at": DATE_TIME, "order_id": ID, "contract_id": ID},
)
_sales.add(
    "opportunity.lost",
    "An opportunity is closed as lost.",
    OPPORTUNITY,
    {"reason": STRING, "competitor": STRING, "closed_at": DATE_TIME},
)
_sales.add(
    "quote.created",
    "A quote is prepared for a customer.",
    QUOTE,
    {"opportunity_id": ID, "total": MONEY, "currency": CURRENCY, "valid_until": DATE},
)
_sales.add(
    "quote.sent",
    "A quote is sent to the customer.",
    QUOTE,
    {"sent_at": DATE_TIME, "channel": CHANNEL},
)
_sales.add(
    "quote.accepted",
    "The customer accepts a quote.",
    QUOTE,
    {"accepted_at": DATE_TIME, "order_id": ID},
)
_sales.add(
    "quote.rejected",
    "The customer declines a quote.",
    QUOTE,
    {"reason": STRING},
)
_sales.add(
    "quote.expired",
    "A quote passes its validity date without an answer.",
    {**QUOTE, "valid_until": DATE},
)
_sales.add(
    "meeting.scheduled",
    "A sales meeting or visit with a customer is scheduled.",
    {"meeting_id": ID, "starts_at": DATE_TIME},
    {"account_id": ID, "owner_id": ID, "location": STRING},
)
_sales.add(
    "activity.logged",
    "A salesperson logs a call, email, meeting, visit or note.",
    {"activity_id": ID, "kind": _enum("call", "email", "meeting", "visit", "note")},
    {"account_id": ID, "owner_id": ID, "summary": STRING},
)
