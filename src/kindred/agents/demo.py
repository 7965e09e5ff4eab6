"""The article's purchase-intent case as demo data: the reference world's hospitals as CRM
accounts (credit code = ``tax_id``), the ERP's spare parts and the devices they go into as
products, each hospital's installed devices and past work orders, and one purchase intent
per situation the agents must tell apart.

Used by ``kindred demo``, the benchmark and the end-to-end tests, so all three exercise the
same world as the reference services' ``--seed-demo`` data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from kindred.agents.demo_hospitals import BY_CREDIT_CODE
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RecordService, RequestContext

SYSTEM = RequestContext(SYSTEM_PRINCIPAL, source="demo")

# SKU → (name, family, model, list price CNY): the ERP's spare parts.
PARTS: dict[str, tuple[str, str, float]] = {
    "CT-TUBE-01": ("CT X-ray tube assembly, 5.3 MHU", "spare_part", 680_000.0),
    "MRI-COIL-8": ("MRI 8-channel head coil", "spare_part", 260_000.0),
    "US-PROBE-L12": ("Ultrasound linear probe L12-3", "spare_part", 48_000.0),
    "DR-DET-4343": ("DR flat-panel detector, 43 x 43 cm", "spare_part", 320_000.0),
    "PM-SPO2-03": ("Patient monitor SpO2 sensor, reusable adult", "consumable", 1_200.0),
}
# Device model → family: what hospitals have installed.
DEVICES: dict[str, str] = {
    "HX-CT 64": "imaging",
    "HX-CT 128 Pro": "imaging",
    "MD-CT 16": "imaging",
    "HX-MR 1.5T Aura": "imaging",
    "HX-US E9": "imaging",
    "HX-DR 580": "imaging",
    "HX-PM 12": "monitoring",
}


@dataclass(frozen=True)
class Case:
    key: str
    credit_code: str
    devices: tuple[str, ...]
    open_tickets: int
    sku: str
    quantity: int
    title: str
    expected: str  # the recommendation a correct review gives (its golden case)
    needed_in_days: int | None = 30
    # What the review must tell the rep the sale depends on (its golden case's `conditions`).
    conditions: tuple[str, ...] = ()


# The knowledge base's bulletin KB-SB-004: the SpO2 sensor on an HX-PM 12 monitor.
SPO2_ON_PM12 = "installation: 监护仪软件须升级至 V2.1 或更高版本。"


# One purchase intent per situation (the reference services' demo seeds decide the rest).
CASES: tuple[Case, ...] = (
    Case(
        "beijing", "121101054526018196", ("HX-CT 64",), 1, "CT-TUBE-01", 1, "CT 球管更换", "proceed"
    ),
    Case(
        "shanghai",
        "12310115459083014E",
        ("HX-CT 128 Pro", "HX-PM 12"),
        0,
        "PM-SPO2-03",
        20,
        "血氧探头补货",
        "proceed",
        conditions=(SPO2_ON_PM12,),
    ),
    Case(
        "guangzhou",
        "12440106466131862R",
        ("HX-US E9",),
        0,
        "US-PROBE-L12",
        2,
        "超声探头采购",
        "proceed",
    ),
    Case(
        "chengdu",
        "12510104409139091R",
        ("MD-CT 16",),
        3,
        "CT-TUBE-01",
        1,
        "CT 球管采购",
        "propose_alternative",
    ),
    Case(
        "wuhan",
        "12420102496030827F",
        ("HX-DR 580",),
        0,
        "DR-DET-4343",
        1,
        "DR 探测器更换",
        "waiting",
    ),
    Case(
        "hangzhou",
        "123301024462819431",
        ("HX-MR 1.5T Aura",),
        0,
        "MRI-COIL-8",
        1,
        "MRI 头线圈采购",
        "proceed",
    ),
    Case(
        "xian",
        "52610113582199354J",
        ("HX-PM 12",),
        0,
        "PM-SPO2-03",
        10,
        "血氧探头采购",
        "decline",
        conditions=(SPO2_ON_PM12,),
    ),
    Case(
        "jinan", "12370102454323197X", ("HX-CT 64",), 0, "CT-TUBE-01", 1, "CT 球管采购", "decline"
    ),
    # No warehouse holds four head coils: Wuhan's one and Shanghai's three, a split delivery.
    Case(
        "zhengzhou",
        "12410105448757490P",
        ("HX-MR 1.5T Aura",),
        0,
        "MRI-COIL-8",
        4,
        "MRI 头线圈批量采购",
        "proceed",
    ),
)


def seed_case(
    session: Session, records: RecordService, *, today: str | None = None
) -> dict[str, str]:
    """Create the case's accounts, products, devices, tickets and purchase intents; returns
    case key → purchase intent id. Idempotent per database, and additive: a database seeded
    by an older release gains only the cases and products it lacks (products by SKU,
    hospitals by credit code, intents by account and title)."""
    import datetime as dt

    products = _products(session, records)
    base = dt.date.fromisoformat(today) if today else dt.date.today()
    intents: dict[str, str] = {}
    for case in CASES:
        account = _find(session, records, "account", "tax_id", case.credit_code)
        if account is None:
            account = _seed_hospital(session, records, case, products)
        intent = next(
            (
                found["id"]
                for found in _all(session, records, "purchase_intent", "account", account)
                if found.get("title") == case.title
            ),
            None,
        )
        if intent is None:
            values: dict[str, Any] = {
                "title": case.title,
                "account": account,
                "product": products[case.sku],
                "quantity": case.quantity,
            }
            if case.needed_in_days:
                needed = base + dt.timedelta(days=case.needed_in_days)
                values["needed_by"] = needed.isoformat()
            intent = records.create(session, SYSTEM, "purchase_intent", values)["id"]
        intents[case.key] = intent
    return intents


def _products(session: Session, records: RecordService) -> dict[str, str]:
    """SKU or device model → product id, creating the products that are missing."""
    wanted: dict[str, dict[str, Any]] = {
        sku: {"name": name, "sku": sku, "family": family, "model": sku, "list_price": price}
        for sku, (name, family, price) in PARTS.items()
    }
    for model, family in DEVICES.items():
        wanted[model] = {
            "name": f"Huaxin {model}" if model.startswith("HX") else model,
            "sku": model.replace(" ", "-"),
            "family": family,
            "model": model,
        }
    products: dict[str, str] = {}
    for key, values in wanted.items():
        found = _find(session, records, "product", "sku", values["sku"])
        products[key] = found or records.create(session, SYSTEM, "product", values)["id"]
    return products


def _seed_hospital(
    session: Session, records: RecordService, case: Case, products: dict[str, str]
) -> str:
    """The case's hospital as an account, with its installed devices and their tickets."""
    hospital = BY_CREDIT_CODE[case.credit_code]
    account = records.create(
        session,
        SYSTEM,
        "account",
        {
            "name": hospital.name,
            "kind": "hospital",
            "tax_id": hospital.credit_code,
            "province": hospital.province,
            "city": hospital.city,
            "country": "CN",
        },
    )["id"]
    for index, model in enumerate(case.devices):
        asset = records.create(
            session,
            SYSTEM,
            "asset",
            {
                "serial_number": f"{case.key.upper()}-{index + 1:03d}",
                "name": model,
                "product": products[model],
                "account": account,
                "status": "in_service",
            },
        )
        for ticket in range(case.open_tickets if index == 0 else 0):
            records.create(
                session,
                SYSTEM,
                "ticket",
                {
                    "subject": f"{model} 故障 #{ticket + 1}",
                    "kind": "work_order",
                    "account": account,
                    "asset": asset["id"],
                    "status": "in_progress",
                },
            )
        records.create(
            session,
            SYSTEM,
            "ticket",
            {
                "subject": f"{model} 年度保养",
                "kind": "maintenance",
                "account": account,
                "asset": asset["id"],
                "status": "closed",
            },
        )
    return account


def _all(
    session: Session, records: RecordService, object_name: str, field: str, value: str
) -> list[dict[str, Any]]:
    from kindred.records.query import FieldFilter, ListQuery

    query = ListQuery(filters=[FieldFilter(field, "eq", value)], limit=100)
    return list(records.list_records(session, SYSTEM, object_name, query).data)


def _find(
    session: Session, records: RecordService, object_name: str, field: str, value: str
) -> str | None:
    found = _all(session, records, object_name, field, value)
    return str(found[0]["id"]) if found else None


@dataclass(frozen=True)
class Pinned:
    """A golden case of a system outage: one of CASES's intents with ``systems`` pinned in
    its evaluation runs, and what the review then gives."""

    name: str
    key: str  # the CASES intent it reviews
    systems: dict[str, Any]
    expected: dict[str, Any]


DOWN = {"fail": {"status": 503}}  # every call answers 503 (the step's retries included)
# Each outage as it is tested against the real systems (tests/agents/test_human_outcomes.py).
PINNED: tuple[Pinned, ...] = (
    # The registry cannot qualify the hospital: the compliance officer is asked.
    Pinned(
        "beijing-registry-down",
        "beijing",
        {"insurance.qualification_check": DOWN},
        {"_status": "waiting"},
    ),
    # Payment history "unavailable" is not "none": a person reviews it.
    Pinned(
        "beijing-finance-down",
        "beijing",
        {"contracts.payment_summary": DOWN},
        {"_status": "waiting"},
    ),
    # Compatibility unchecked: the review proceeds, saying so, and claims no compatibility.
    Pinned(
        "hangzhou-knowledge-down",
        "hangzhou",
        {"knowledge.compatibility": DOWN},
        {
            "action": "proceed",
            "conditions": [],
            "reason": "qualified and in stock; compatibility not checked "
            "(knowledge base unavailable)",
        },
    ),
    # One 503, then the registry answers: the retry recovers the normal recommendation.
    Pinned(
        "beijing-registry-503-once",
        "beijing",
        {"insurance.qualification_check": {"fail": {"status": 503, "times": 1}}},
        {"action": "proceed", "conditions": [], "reason": "qualified, in stock and compatible"},
    ),
)


def golden_cases(intents: dict[str, str]) -> list[dict[str, Any]]:
    """The demo cases as golden cases of ``purchase_intent_review``, then the outages
    (``PINNED``: what named tools answer in their evaluation runs)."""
    cases = []
    for case in CASES:
        expected: dict[str, Any] = (
            {"_status": "waiting"}
            if case.expected == "waiting"
            else {"action": case.expected, "conditions": list(case.conditions)}
        )
        cases.append(
            {
                "name": case.key,
                "inputs": {"purchase_intent": intents[case.key]},
                "expected": expected,
                "systems": {},
            }
        )
    for pinned in PINNED:
        cases.append(
            {
                "name": pinned.name,
                "inputs": {"purchase_intent": intents[pinned.key]},
                "expected": dict(pinned.expected),
                "systems": dict(pinned.systems),
            }
        )
    return cases
