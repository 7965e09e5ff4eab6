"""Deterministic, realistic demo data: ``kindred seed --customers N``.

The same seed and N give byte-identical data and ids. Names and places come from pools built
once with Faker (zh_CN and en_US) and are combined with a seeded ``random.Random``; dates are
relative to a fixed reference day (``REFERENCE_DAY``) so the data does not change from one day
to the next.

Demo users (roles, territories): ``admin@kindred.demo`` (admin), ``sales.<region>@kindred.demo``
(sales; region = east, north, south, southwest, central, northeast, intl),
``service.east@kindred.demo`` / ``service.north@kindred.demo`` / ``service.south@kindred.demo``
(service), ``compliance@kindred.demo``, ``analyst@kindred.demo``, ``integration@kindred.demo``.

Per customer (account) the generator writes about 1.5 contacts, 0.8 installed devices, 0.4
contracts, 0.6 orders with one line each, 0.3 opportunities, 0.5 service tickets, 1 activity,
0.1 leads and 0.05 purchase intents — about 6 records per customer, plus the relation edges.
Rows are written directly (bulk inserts), not through the record service, so the generator
itself must produce valid data; the test suite re-validates it through the service. Seeding is
recorded as one change-log entry per object (action ``seed``), not one per row. Given the
record service, the load still runs its write hooks, so every contact and lead gets its DID in
the load's transaction, as created records do (DIDs are random keys: they are the one part of
the data a seed does not repeat).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.db import Database
from kindred.db.bulk import BulkInserter
from kindred.errors import Conflict
from kindred.records.credit_codes import credit_code_check_character
from kindred.records.fields import FieldType, format_datetime
from kindred.records.metadata import load_definitions
from kindred.records.models import ChangeLogEntry, RecordLink, RecordRow
from kindred.records.service import RECORD_COLUMNS, RecordService
from kindred.records.standard import STANDARD_OBJECTS
from kindred.records.storage import SYSTEM_RELATION_COLUMNS, object_is, sync_indexes

REFERENCE_DAY = dt.date(2026, 11, 1)
BATCH = 10_000
Progress = Callable[[str, int, int], None]

records: sa.Table = RecordRow.__table__  # type: ignore[assignment]
links: sa.Table = RecordLink.__table__  # type: ignore[assignment]
change_log: sa.Table = ChangeLogEntry.__table__  # type: ignore[assignment]

# region code → (English, Chinese, [(province, province_zh, [cities])])
REGIONS: dict[str, tuple[str, str, list[tuple[str, str, list[str]]]]] = {
    "east": (
        "East China",
        "华东",
        [
            ("Shanghai", "上海", ["上海"]),
            ("Jiangsu", "江苏", ["南京", "苏州", "无锡"]),
            ("Zhejiang", "浙江", ["杭州", "宁波", "温州"]),
            ("Shandong", "山东", ["济南", "青岛"]),
            ("Anhui", "安徽", ["合肥"]),
        ],
    ),
    "north": (
        "North China",
        "华北",
        [
            ("Beijing", "北京", ["北京"]),
            ("Tianjin", "天津", ["天津"]),
            ("Hebei", "河北", ["石家庄", "保定"]),
            ("Shanxi", "山西", ["太原"]),
        ],
    ),
    "south": (
        "South China",
        "华南",
        [
            ("Guangdong", "广东", ["广州", "深圳", "佛山", "东莞"]),
            ("Fujian", "福建", ["福州", "厦门"]),
            ("Guangxi", "广西", ["南宁"]),
        ],
    ),
    "southwest": (
        "Southwest China",
        "西南",
        [
            ("Sichuan", "四川", ["成都", "绵阳"]),
            ("Chongqing", "重庆", ["重庆"]),
            ("Yunnan", "云南", ["昆明"]),
        ],
    ),
    "central": (
        "Central China",
        "华中",
        [
            ("Hubei", "湖北", ["武汉", "宜昌"]),
            ("Hunan", "湖南", ["长沙"]),
            ("Henan", "河南", ["郑州"]),
        ],
    ),
    "northeast": (
        "Northeast China",
        "东北",
        [
            ("Liaoning", "辽宁", ["沈阳", "大连"]),
            ("Jilin", "吉林", ["长春"]),
            ("Heilongjiang", "黑龙江", ["哈尔滨"]),
        ],
    ),
    "intl": (
        "International",
        "国际",
        [
            ("Germany", "德国", ["Berlin", "Munich", "Hamburg"]),
            ("Singapore", "新加坡", ["Singapore"]),
            ("France", "法国", ["Paris", "Lyon"]),
        ],
    ),
}

PRODUCTS: list[tuple[str, str, str, float]] = [
    ("CT scanner 64-slice", "imaging", "CT-64", 4_800_000.0),
    ("CT scanner 128-slice", "imaging", "CT-128", 7_900_000.0),
    ("MRI 1.5T", "imaging", "MR-15", 9_500_000.0),
    ("Digital X-ray DR", "imaging", "DR-300", 980_000.0),
    ("Colour Doppler ultrasound", "imaging", "US-880", 1_250_000.0),
    ("Biochemistry analyzer", "laboratory", "BA-2000", 860_000.0),
    ("Haematology analyzer", "laboratory", "HA-500", 420_000.0),
    ("Immunoassay analyzer", "laboratory", "IA-900", 1_100_000.0),
    ("Patient monitor", "monitoring", "PM-12", 68_000.0),
    ("Central monitoring station", "monitoring", "CMS-1", 320_000.0),
    ("Anaesthesia workstation", "surgical", "AW-7", 560_000.0),
    ("Electrosurgical unit", "surgical", "ES-300", 145_000.0),
    ("Reagent kit (biochemistry)", "consumable", "RK-BA", 3_800.0),
    ("Reagent kit (immunoassay)", "consumable", "RK-IA", 5_600.0),
    ("X-ray tube assembly", "spare_part", "SP-XT", 260_000.0),
    ("Ultrasound probe convex", "spare_part", "SP-UP", 48_000.0),
    ("Monitor SpO2 sensor", "spare_part", "SP-O2", 1_200.0),
    ("String inverter 100 kW", "inverter", "INV-100", 58_000.0),
    ("Central inverter 1 MW", "inverter", "INV-1000", 420_000.0),
    ("Battery storage 215 kWh", "battery", "BAT-215", 690_000.0),
    ("Smart shelf display", "retail_goods", "RG-SHELF", 6_800.0),
    ("POS terminal", "retail_goods", "RG-POS", 4_200.0),
    ("Full-service plan (imaging)", "service_plan", "SV-IMG", 380_000.0),
    ("Preventive maintenance plan", "service_plan", "SV-PM", 96_000.0),
]
DEVICE_FAMILIES = (
    "imaging",
    "laboratory",
    "monitoring",
    "surgical",
    "inverter",
    "battery",
    "retail_goods",
)
STAGES = ["prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]
LOST_REASONS = ["Price", "Budget frozen", "Competitor won tender", "Timing", "No decision"]
TICKET_SUBJECTS = [
    ("incident", "设备无法开机 / Device does not power on"),
    ("incident", "图像伪影 / Image artefacts"),
    ("incident", "Heartbeat lost for device"),
    ("work_order", "Install and calibrate new unit"),
    ("maintenance", "Quarterly preventive maintenance"),
    ("complaint", "投诉：维修响应慢 / Slow repair response"),
    ("request", "Request training for new staff"),
]
ACTIVITY_SUBJECTS = [
    ("call", "Follow-up call on tender"),
    ("meeting", "Department head meeting"),
    ("note", "Budget approved for next quarter"),
    ("message", "微信：询问报价 / WeChat quote request"),
    ("visit", "Site visit and demo"),
    ("email", "Sent brochure and price list"),
    ("task", "Prepare renewal proposal"),
]


@dataclass
class _Pools:
    surnames_zh: list[str]
    given_zh: list[str]
    first_en: list[str]
    last_en: list[str]
    streets_zh: list[str]
    streets_en: list[str]
    companies_en: list[str]


def _pools(seed: int) -> _Pools:
    from faker import Faker

    zh = Faker("zh_CN")
    en = Faker("en_US")
    zh.seed_instance(seed)
    en.seed_instance(seed)
    return _Pools(
        surnames_zh=sorted({zh.last_name() for _ in range(400)}),
        given_zh=sorted(
            {zh.first_name_male() for _ in range(300)}
            | {zh.first_name_female() for _ in range(300)}
        ),
        first_en=sorted({en.first_name() for _ in range(400)}),
        last_en=sorted({en.last_name() for _ in range(400)}),
        streets_zh=sorted({zh.street_name() for _ in range(300)}),
        streets_en=sorted({en.street_name() for _ in range(300)}),
        companies_en=sorted({en.last_name() for _ in range(300)}),
    )


@dataclass
class _Generator:
    seed: int
    customers: int
    rng: random.Random = field(init=False)
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    relations: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    sequence: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        for definition in STANDARD_OBJECTS:
            # (field, "<object>.<field>") of relations stored as edges (see storage.py).
            self.relations[definition.name] = [
                (f.name, f"{definition.name}.{f.name}")
                for f in definition.fields
                if f.type is FieldType.RELATION and f.name not in SYSTEM_RELATION_COLUMNS
            ]
            self.defaults[definition.name] = {
                f.name: f.default for f in definition.fields if f.default is not None
            }

    def new_id(self) -> str:
        # UUIDv7 layout: a deterministic, increasing "timestamp" (so primary-key inserts append
        # to the B-tree instead of landing on random pages) plus seeded random bits.
        self.sequence += 1
        millis = 1_700_000_000_000 + self.sequence
        value = (millis << 80) | (0x7 << 76) | (self.rng.getrandbits(12) << 64)
        value |= (0x2 << 62) | self.rng.getrandbits(62)
        return str(uuid.UUID(int=value))

    def moment(self, days_back_max: int, days_back_min: int = 0) -> dt.datetime:
        days = self.rng.randint(days_back_min, days_back_max)
        seconds = self.rng.randint(8 * 3600, 19 * 3600)
        base = dt.datetime.combine(REFERENCE_DAY, dt.time(), tzinfo=dt.UTC)
        return base - dt.timedelta(days=days) + dt.timedelta(seconds=seconds)

    def add(
        self,
        object_name: str,
        data: dict[str, Any],
        *,
        created: dt.datetime | None = None,
        record_id: str | None = None,
    ) -> str:
        record_id = record_id or self.new_id()
        # Absent, not null: the record service never stores null values either.
        full = {**self.defaults[object_name]}
        for key, value in data.items():
            if value is None:
                continue
            # Same normal form as the number checker: integral floats are stored as ints.
            full[key] = int(value) if isinstance(value, float) and value.is_integer() else value
        created = created or self.moment(730, 1)
        self.rows.setdefault(object_name, []).append(
            (record_id, object_name, full, full.get("owner"), full.get("territory"), created)
        )
        edges = self.edges
        for field_name, relation in self.relations[object_name]:
            value = full.get(field_name)
            if value is None:
                continue
            if isinstance(value, list):
                edges.extend((relation, record_id, target_id) for target_id in value)
            else:
                edges.append((relation, record_id, value))
        return record_id


def credit_code(first17: str) -> str:
    """A unified social credit code (GB 32100-2015, 18 characters) from its first 17: the
    seeded accounts' ``tax_id``, which the reference registries check to the character."""
    return first17 + credit_code_check_character(first17)


def generate(customers: int, seed: int) -> _Generator:
    """Build every row in memory (about 6 records and 18 edges per customer)."""
    generator = _Generator(seed, customers)
    rng = generator.rng
    pools = _pools(seed)
    add = generator.add

    # Territories, teams, users.
    provinces: list[tuple[str, str, str, str, list[str]]] = []  # (region, id, en, zh, cities)
    region_ids: dict[str, str] = {}
    for code, (name_en, name_zh, province_list) in REGIONS.items():
        region_id = add(
            "territory",
            {
                "name": f"{name_en} {name_zh}",
                "code": code.upper(),
                "country": "CN" if code != "intl" else None,
            },
        )
        region_ids[code] = region_id
        for province_en, province_zh, cities in province_list:
            province_id = add(
                "territory",
                {
                    "name": f"{province_en} {province_zh}",
                    "code": f"{code.upper()}-{province_en.upper()}",
                    "parent": region_id,
                    "country": "CN" if code != "intl" else province_en,
                },
            )
            provinces.append((code, province_id, province_en, province_zh, cities))
    teams = {code: add("team", {"name": f"Sales {REGIONS[code][0]}"}) for code in REGIONS}
    service_team = add("team", {"name": "Field Service", "description": "Service engineers"})
    users: dict[str, str] = {}

    def user(
        email: str,
        name: str,
        roles: list[str],
        territories: list[str],
        team: str | None = None,
        skills: list[str] | None = None,
    ) -> str:
        data: dict[str, Any] = {
            "email": email,
            "name": name,
            "roles": roles,
            "locale": "zh-CN" if "intl" not in email else "en",
        }
        if territories:
            data["territories"] = territories
        if team:
            data["team"] = team
        if skills:
            data["skills"] = skills
        users[email] = add("user", data)
        return users[email]

    user("admin@kindred.demo", "Admin 管理员", ["admin"], [])
    sales_reps = {
        code: user(
            f"sales.{code}@kindred.demo",
            f"{REGIONS[code][0]} Sales 销售",
            ["sales"],
            [region_ids[code]],
            teams[code],
        )
        for code in REGIONS
    }
    service_engineers = {
        code: user(
            f"service.{code}@kindred.demo",
            f"{REGIONS[code][0]} Service 服务",
            ["service"],
            [region_ids[code]],
            service_team,
            ["installation", "repair", "calibration"],
        )
        for code in ("east", "north", "south")
    }
    user("compliance@kindred.demo", "Compliance 合规", ["compliance"], [])
    user("analyst@kindred.demo", "Analyst 分析", ["analyst"], [])
    user("integration@kindred.demo", "ERP integration", ["integration"], [])

    # Catalogue.
    product_ids: list[tuple[str, str, float]] = []
    for index, (name, family, model, price) in enumerate(PRODUCTS):
        product_ids.append(
            (
                add(
                    "product",
                    {
                        "name": name,
                        "sku": f"KD-{model}-{index:03d}",
                        "family": family,
                        "model": model,
                        "list_price": price,
                        "active": True,
                        "description": f"{name} ({family.replace('_', ' ')})",
                    },
                    created=generator.moment(900, 800),
                ),
                family,
                price,
            )
        )
    spare_parts = [p for p in product_ids if p[1] == "spare_part"]
    for product_id, family, _ in product_ids:
        if family in ("imaging", "monitoring") and spare_parts:
            compatible = sorted({rng.choice(spare_parts)[0] for _ in range(2)})
            row = next(r for r in generator.rows["product"] if r[0] == product_id)
            row[2]["compatible_with"] = compatible
            generator.edges.extend(
                ("product.compatible_with", product_id, target) for target in compatible
            )
    price_list = add(
        "price_list",
        {
            "name": "CN list price 2026",
            "currency": "CNY",
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
        },
    )
    for product_id, _, price in product_ids:
        add(
            "price_list_entry",
            {
                "price_list": price_list,
                "product": product_id,
                "unit_price": round(price * 0.95, 2),
                "min_quantity": 1,
            },
        )
    devices = [p for p in product_ids if p[1] in DEVICE_FAMILIES]

    # Customers.
    kinds = (
        ["hospital"] * 35
        + ["clinic"] * 15
        + ["store"] * 20
        + ["distributor"] * 10
        + ["plant"] * 10
        + ["company"] * 10
    )
    ordinals = "一二三四五六七八九十"
    counters = {"contract": 0, "order": 0, "asset": 0, "tax": 0}

    def chinese_person() -> tuple[str, str]:
        return rng.choice(pools.surnames_zh), rng.choice(pools.given_zh)

    for customer in range(customers):
        region, territory, province_en, province_zh, cities = rng.choice(provinces)
        international = region == "intl"
        city = rng.choice(cities)
        kind = rng.choice(kinds)
        if international:
            base = rng.choice(pools.companies_en)
            name = {
                "hospital": f"{base} {city} Hospital",
                "clinic": f"{base} Clinic {city}",
                "store": f"{base} Market {city}",
                "distributor": f"{base} Medical GmbH",
                "plant": f"{city} Solar Park {customer}",
                "company": f"{base} & Partners",
            }[kind]
        else:
            name = {
                "hospital": f"{city}市第{rng.choice(ordinals)}人民医院",
                "clinic": f"{city}{rng.choice(pools.streets_zh)}社区卫生服务中心",
                "store": f"优选超市{city}{rng.choice(pools.streets_zh)}店",
                "distributor": f"{city}{rng.choice(pools.surnames_zh)}康医疗器械有限公司",
                "plant": f"{city}{rng.choice(pools.surnames_zh)}家光伏电站",
                "company": f"{city}{rng.choice(pools.surnames_zh)}氏科技有限公司",
            }[kind]
        name = f"{name} #{customer + 1}"
        counters["tax"] += 1
        owner = sales_reps[region]
        created = generator.moment(730, 400)
        account = add(
            "account",
            {
                "name": name,
                "kind": kind,
                "tier": rng.choice("AABBBCCCD"),
                "industry": {
                    "hospital": "Healthcare",
                    "clinic": "Healthcare",
                    "store": "Retail",
                    "distributor": "Distribution",
                    "plant": "Energy",
                    "company": "Manufacturing",
                }[kind],
                "tax_id": credit_code(f"9131{seed % 100:04d}{counters['tax']:09d}"),
                "annual_revenue": float(rng.randrange(2, 5000) * 10_000),
                "employees": rng.randrange(8, 6000),
                "phone": f"+86 {rng.randrange(10, 99)} {rng.randrange(10**7, 10**8)}"
                if not international
                else f"+49 30 {rng.randrange(1000000, 9999999)}",
                "country": "CN" if not international else province_en,
                "province": province_zh if not international else province_en,
                "city": city,
                "address": f"{rng.choice(pools.streets_zh)}{rng.randrange(1, 999)}号"
                if not international
                else f"{rng.randrange(1, 200)} {rng.choice(pools.streets_en)}",
                "insurance_qualified": kind in ("hospital", "clinic") and rng.random() < 0.85,
                "owner": owner,
                "territory": territory,
            },
            created=created,
        )
        contact_ids = []
        for _ in range(1 + (rng.random() < 0.5)):
            if international:
                first, last = rng.choice(pools.first_en), rng.choice(pools.last_en)
                full = f"{first} {last}"
                serial = len(generator.rows.get("contact", []))
                email = f"{first.lower()}.{last.lower()}.{serial}@example.com"
                language = "en"
            else:
                last, first = chinese_person()
                full = f"{last}{first}"
                email = f"contact{len(generator.rows.get('contact', []))}@example.cn"
                language = "zh"
            contact_ids.append(
                add(
                    "contact",
                    {
                        "first_name": first,
                        "last_name": last,
                        "full_name": full,
                        "email": email,
                        "mobile": f"+86 1{rng.randrange(30, 99)} {rng.randrange(10**7, 10**8)}",
                        "title": rng.choice(
                            [
                                "Director",
                                "Procurement manager",
                                "Head nurse",
                                "Chief engineer",
                                "Store manager",
                                "设备科科长",
                            ]
                        ),
                        "account": account,
                        "language": language,
                        "city": city,
                        "lifecycle": rng.choice(["lead", "customer", "customer", "advocate"]),
                        "birthday": (
                            REFERENCE_DAY - dt.timedelta(days=rng.randrange(9000, 22000))
                        ).isoformat(),
                        "owner": owner,
                        "territory": territory,
                    },
                    created=created + dt.timedelta(days=rng.randrange(0, 30)),
                )
            )
        device_ids = []
        if rng.random() < 0.8:
            product_id, family, _ = rng.choice(devices)
            counters["asset"] += 1
            installed = REFERENCE_DAY - dt.timedelta(days=rng.randrange(30, 1800))
            device_ids.append(
                add(
                    "asset",
                    {
                        "serial_number": f"SN{seed % 100:02d}{counters['asset']:09d}",
                        "name": f"{family} unit",
                        "product": product_id,
                        "account": account,
                        "status": rng.choice(["installed", "in_service", "in_service", "faulty"]),
                        "installed_on": installed.isoformat(),
                        "warranty_until": (
                            installed + dt.timedelta(days=365 * rng.choice([1, 2, 3, 5]))
                        ).isoformat(),
                        "firmware": f"v{rng.randrange(1, 5)}.{rng.randrange(0, 20)}",
                        "last_heartbeat_at": format_datetime(generator.moment(3)),
                        "owner": service_engineers.get(region, owner),
                        "territory": territory,
                    },
                )
            )
        if rng.random() < 0.4:
            counters["contract"] += 1
            start = REFERENCE_DAY - dt.timedelta(days=rng.randrange(30, 700))
            end = start + dt.timedelta(days=rng.choice([365, 730, 1095]))
            if rng.random() < 0.15:  # some expire within 60 days of the reference day
                end = REFERENCE_DAY + dt.timedelta(days=rng.randrange(1, 60))
            add(
                "contract",
                {
                    "number": f"HT-{seed % 100:02d}-{counters['contract']:08d}",
                    "account": account,
                    "kind": rng.choice(["sales", "service", "lease", "framework"]),
                    "status": "active" if end >= REFERENCE_DAY else "expired",
                    "start_date": start.isoformat(),
                    "end_date": end.isoformat(),
                    "renewal": rng.choice(["manual", "automatic", "none"]),
                    "value": float(rng.randrange(5, 800) * 10_000),
                    "products": [rng.choice(product_ids)[0]],
                    "owner": owner,
                    "territory": territory,
                },
            )
        if rng.random() < 0.6:
            counters["order"] += 1
            product_id, _, price = rng.choice(product_ids)
            quantity = rng.randrange(1, 20) if price < 100_000 else 1
            ordered = generator.moment(700, 1)
            order = add(
                "order",
                {
                    "number": f"SO-{seed % 100:02d}-{counters['order']:08d}",
                    "account": account,
                    "contact": contact_ids[0],
                    "status": rng.choice(["confirmed", "shipped", "delivered", "delivered"]),
                    "channel": "pos" if kind == "store" else rng.choice(["direct", "distributor"]),
                    "total": round(price * quantity, 2),
                    "currency": "CNY",
                    "ordered_at": format_datetime(ordered),
                    "owner": owner,
                    "territory": territory,
                },
                created=ordered,
            )
            add(
                "order_line",
                {
                    "order": order,
                    "product": product_id,
                    "quantity": quantity,
                    "unit_price": price,
                    "discount": 0,
                },
                created=ordered,
            )
        if rng.random() < 0.3:
            stage = rng.choice(STAGES)
            opportunity: dict[str, Any] = {
                "name": f"{name} – {rng.choice(PRODUCTS)[0]}",
                "account": account,
                "contact": contact_ids[0],
                "stage": stage,
                "amount": float(rng.randrange(5, 900) * 10_000),
                "currency": "CNY",
                "probability": {
                    "prospecting": 10,
                    "qualification": 25,
                    "proposal": 50,
                    "negotiation": 75,
                    "closed_won": 100,
                    "closed_lost": 0,
                }[stage],
                "close_date": (
                    REFERENCE_DAY + dt.timedelta(days=rng.randrange(-300, 180))
                ).isoformat(),
                "owner": owner,
                "territory": territory,
            }
            if stage == "closed_lost":
                opportunity["lost_reason"] = rng.choice(LOST_REASONS)
            add("opportunity", opportunity)
        if rng.random() < 0.5:
            kind_ticket, subject = rng.choice(TICKET_SUBJECTS)
            opened = generator.moment(700)
            status = rng.choice(["new", "assigned", "in_progress", "resolved", "closed", "closed"])
            ticket: dict[str, Any] = {
                "subject": subject,
                "kind": kind_ticket,
                "account": account,
                "contact": contact_ids[0],
                "priority": rng.choice(["low", "normal", "normal", "high", "urgent"]),
                "status": status,
                "opened_at": format_datetime(opened),
                "description": subject,
                "owner": service_engineers.get(region, owner),
                "territory": territory,
            }
            if device_ids:
                ticket["asset"] = device_ids[0]
            if status in ("resolved", "closed"):
                ticket["resolved_at"] = format_datetime(
                    opened + dt.timedelta(hours=rng.randrange(2, 240))
                )
                ticket["resolution"] = "Replaced faulty part and verified operation"
            add("ticket", ticket, created=opened)
        kind_activity, subject = rng.choice(ACTIVITY_SUBJECTS)
        occurred = generator.moment(730)
        add(
            "activity",
            {
                "kind": kind_activity,
                "subject": subject,
                "account": account,
                "contact": contact_ids[0],
                "occurred_at": format_datetime(occurred),
                "done": occurred.date() < REFERENCE_DAY,
                "channel": "wechat"
                if kind_activity == "message"
                else rng.choice(["phone", "email", "in_person"]),
                "owner": owner,
                "territory": territory,
            },
            created=occurred,
        )
        if rng.random() < 0.1:
            last, first = chinese_person()
            add(
                "lead",
                {
                    "name": f"{last}{first}",
                    "company": name,
                    "source": rng.choice(["web", "event", "referral", "wechat", "partner"]),
                    "status": rng.choice(["new", "working", "qualified"]),
                    "score": rng.randrange(0, 100),
                    "owner": owner,
                    "territory": territory,
                },
            )
        if rng.random() < 0.05:
            product_id, _, price = rng.choice(devices)
            add(
                "purchase_intent",
                {
                    "title": f"{name} wants {rng.choice(PRODUCTS)[0]}",
                    "account": account,
                    "contact": contact_ids[0],
                    "product": product_id,
                    "quantity": rng.randrange(1, 4),
                    "budget": round(price * 1.1, 2),
                    "needed_by": (
                        REFERENCE_DAY + dt.timedelta(days=rng.randrange(14, 120))
                    ).isoformat(),
                    "owner": owner,
                    "territory": territory,
                },
            )
    return generator


ORDER = [
    "territory",
    "team",
    "user",
    "product",
    "price_list",
    "price_list_entry",
    "account",
    "contact",
    "asset",
    "contract",
    "order",
    "order_line",
    "opportunity",
    "ticket",
    "activity",
    "lead",
    "purchase_intent",
]


def _batches(rows: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def seed_demo_data(
    database: Database,
    *,
    customers: int,
    seed: int = 42,
    progress: Progress | None = None,
    service: RecordService | None = None,
) -> dict[str, int]:
    """Generate and load the demo dataset into an empty (bootstrapped) database.

    ``service``: the record service whose write hooks complete each batch before it is
    written (a DID for every customer); without it the rows are loaded as generated, and
    customers get their DIDs at the next start. Returns the number of records written per
    object. Raises ``Conflict`` if the database already holds accounts (nothing is written).
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    with database.read() as session:
        existing = session.execute(
            sa.select(sa.func.count()).select_from(records).where(object_is("account"))
        ).scalar_one()
    if existing:
        raise Conflict(
            f"the database already holds {existing:,} accounts; seed an empty database "
            "(or delete var/kindred.db to start the demo afresh)"
        )
    generator = generate(customers, seed)
    counts = {name: len(generator.rows.get(name, [])) for name in ORDER}
    with database.write() as session:
        # Building field indexes once after the load is much faster than maintaining them
        # row by row; the transaction makes the swap invisible to readers.
        connection = session.connection()
        if connection.dialect.name == "sqlite":
            # A larger page cache for the load and the index builds that follow it.
            connection.exec_driver_sql("PRAGMA cache_size=-524288")
        sync_indexes(connection, [])
        raw = _RawInserter(session)
        for name in ORDER:
            rows = generator.rows.get(name, [])
            done = 0
            for batch in _batches(rows):
                if service is not None:
                    service.prepare_loaded(session, name, [(row[0], row[2]) for row in batch])
                raw.records(batch)
                done += len(batch)
                if progress:
                    progress(name, done, len(rows))
            if not rows and progress:
                progress(name, 0, 0)
        total_edges = len(generator.edges)
        done = 0
        # Sorted edges append to the unique (relation, source, target) index in order.
        generator.edges.sort()
        for batch in _batches(generator.edges):
            raw.links(batch)
            done += len(batch)
            if progress:
                progress("relations", done, total_edges)
        _log_seed(session, counts, customers, seed)
        if progress:
            progress("indexes", 0, 1)
        sync_indexes(connection, load_definitions(session))
        if progress:
            progress("indexes", 1, 1)
    database.checkpoint()
    return counts


class _RawInserter:
    """Bulk rows for the records and edges tables (see kindred.db.bulk for why)."""

    def __init__(self, session: Session) -> None:
        self.bulk = BulkInserter(session)

    def records(self, batch: list[tuple[Any, ...]]) -> None:
        self.bulk.insert(
            "records",
            RECORD_COLUMNS,
            [
                (record_id, name, data, 1, owner, territory, created, created, None, None)
                for record_id, name, data, owner, territory, created in batch
            ],
            json_columns=frozenset({"data"}),
            time_columns=frozenset({"created_at", "updated_at"}),
        )

    def links(self, batch: list[tuple[str, str, str]]) -> None:
        self.bulk.insert("record_links", ("relation", "source_id", "target_id"), batch)


def _log_seed(session: Session, counts: dict[str, int], customers: int, seed: int) -> None:
    now = dt.datetime.now(dt.UTC)
    session.execute(
        sa.insert(change_log),
        [
            {
                "object": name,
                "record_id": "seed",
                "action": "seed",
                "actor_id": None,
                "request_id": f"seed:{seed}",
                "before": None,
                "after": {"count": count, "customers": customers, "seed": seed},
                "created_at": now,
            }
            for name, count in counts.items()
            if count
        ],
    )
