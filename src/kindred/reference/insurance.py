"""A reference medical-insurance qualification registry (医保定点医疗机构资格).

A separate aiohttp service with its own SQLite storage standing in for the healthcare
security administration's register of designated institutions (定点医疗机构), so a
compliance agent checks a hospital over real sockets. Institutions are keyed by their
unified social credit code (统一社会信用代码, GB 32100-2015: 18 characters, check character
verified; a malformed code answers 400 ``invalid_credit_code`` saying what is wrong).
JSON over HTTP:

* ``GET /api/institutions/{credit_code}`` → ``{"credit_code", "name", "name_en",
  "province", "city", "grade", "designation_number", "status", "status_reason",
  "valid_from", "valid_until", "schemes", "licences": [{"type", "name", "number",
  "valid_until", "expired"}], "restricted_categories": [{"category", "reason"}],
  "updated_at"}``; 404 ``unknown_institution``. ``status`` is the *effective* designation
  status: ``active``, ``suspended``, ``revoked`` or ``expired`` — an active designation
  whose ``valid_until`` has passed reads ``expired``;
* ``GET /api/institutions?name=…&province=…&city=…&status=…&limit=50`` → institutions whose
  Chinese or English name contains ``name`` (case-insensitive), in a province/city starting
  with the given text, with the given effective status; ordered by credit code;
* ``GET /api/product-categories`` → the categories the registry has rules for and what each
  needs: ``[{"code", "name", "name_en", "licences", "min_grade_level"}]``;
* ``POST /api/qualification-checks`` ``{"credit_code", "product_category", "amount"?,
  "reference"?}`` → 201 ``{"id", "credit_code", "product_category", "amount", "reference",
  "qualified", "reasons": [{"code", "message", …}], "institution", "as_of",
  "checked_at"}``. The check is recorded in the registry's own storage. Reasons (each one
  makes ``qualified`` false): ``not_registered`` (no such institution; ``institution`` is
  null), ``designation_suspended`` / ``designation_revoked`` / ``designation_expired`` /
  ``designation_not_yet_valid``, ``category_restricted`` (the institution is barred from the
  category), ``grade_too_low``, ``licence_missing`` / ``licence_expired`` (with
  ``"licence"``). An ``amount`` (CNY) of 30 million or more needs the class B
  large-equipment configuration licence (乙类大型医用设备配置许可证), 50 million or more the
  class A one, whatever the category — the catalogue's per-unit price thresholds, applied to
  the purchase amount. An unknown category answers 422 ``unknown_product_category`` and
  records nothing;
* ``GET /api/qualification-checks?credit_code=…&reference=…&limit=50`` → the recorded
  checks, newest first; ``GET /api/qualification-checks/{id}``.

Errors are ``{"error": code, "message": text}``. Dates are calendar days in China (UTC+8);
``--today`` pins the clock for reproducible demos and tests.

Admin endpoints (unauthenticated: bind to loopback): ``POST /_admin/institutions
[{"credit_code", "name", "province", "city", "grade", "status", "valid_from",
"valid_until", "schemes", "name_en"?, "designation_number"?, "status_reason"?,
"licences"?: [{"type", "number", "valid_until"}], "restricted_categories"?: [{"category",
"reason"}]}]`` creates or replaces institutions — all or nothing: one bad item (its index is
in the error) and nothing is stored; ``POST /_admin/fail-next {"status": 503, "count": 1,
"delay": 0}`` (see :mod:`kindred.reference.common`).

Run it::

    python -m kindred.reference.insurance --db insurance.db --host 127.0.0.1 --port 0 --seed-demo

It prints ``listening on http://HOST:PORT`` (flushed) once it accepts connections and stops
cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kindred.reference import start_app
from kindred.reference.common import (
    TODAY,
    ApiError,
    SQLiteStore,
    admin_items,
    bad_request,
    china_today,
    clock,
    create_service_app,
    credit_code,
    invalid,
    item_errors,
    json_response,
    money,
    optional_string,
    positive_int,
    read_json,
    reject_unknown_fields,
    required_date,
    required_string,
    run_service,
    service_parser,
    utc_now,
)
from kindred.reference.hospitals import BY_CREDIT_CODE

STATUSES = ("active", "suspended", "revoked", "expired")
SCHEMES = {
    "employee": "职工基本医疗保险 (employee basic medical insurance)",
    "resident": "城乡居民基本医疗保险 (urban and rural resident basic medical insurance)",
}
LICENCES = {
    "radiology_practice": "放射诊疗许可证 (radiological diagnosis and treatment licence)",
    "radiation_safety": "辐射安全许可证 (radiation safety licence)",
    "large_equipment_b": "乙类大型医用设备配置许可证 (class B large medical equipment licence)",
    "large_equipment_a": "甲类大型医用设备配置许可证 (class A large medical equipment licence)",
}
# Purchases at or above these amounts (CNY) need the configuration licence, whatever the
# category: the large-equipment catalogue's price thresholds.
AMOUNT_LICENCES: tuple[tuple[Decimal, str], ...] = (
    (Decimal(30_000_000), "large_equipment_b"),
    (Decimal(50_000_000), "large_equipment_a"),
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
GRADE = re.compile(r"^(?:(?P<level>[一二三])级(?:[甲乙丙]等)?|未定级)$")
GRADE_LEVELS = {"一": 1, "二": 2, "三": 3}
DESIGNATION_NUMBER = re.compile(r"^H\d{11}$")
CHECK_FIELDS = frozenset({"credit_code", "product_category", "amount", "reference"})
INSTITUTION_FIELDS = frozenset(
    {
        "credit_code",
        "name",
        "name_en",
        "province",
        "city",
        "grade",
        "designation_number",
        "status",
        "status_reason",
        "valid_from",
        "valid_until",
        "schemes",
        "licences",
        "restricted_categories",
    }
)


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    name_en: str
    licences: tuple[str, ...] = ()
    min_grade_level: int | None = None  # 1-3: 一级-三级


CATEGORIES = {
    category.code: category
    for category in (
        Category("consumable", "医用耗材", "medical consumables"),
        Category("spare_part", "医疗设备维修配件", "medical device spare parts"),
        Category(
            "high_value_consumable",
            "高值医用耗材",
            "high-value medical consumables",
            min_grade_level=2,
        ),
        Category(
            "radiology_part",
            "放射诊疗设备配件",
            "parts of radiological equipment (X-ray tubes, detectors, collimators)",
            licences=("radiology_practice",),
        ),
        Category(
            "radiology_equipment",
            "放射诊疗设备",
            "radiological equipment (CT, DR, X-ray units)",
            licences=("radiology_practice", "radiation_safety"),
            min_grade_level=2,
        ),
        Category(
            "large_medical_equipment",
            "大型医用设备",
            "large medical equipment (PET/CT, PET/MR, linear accelerators, surgical robots)",
            licences=("large_equipment_b",),
            min_grade_level=3,
        ),
    )
}

# Which registry category the distributor files each demo ERP SKU under (for the CRM's
# product records; the registry itself knows categories, not SKUs).
DEMO_SKU_CATEGORIES = {
    "CT-TUBE-01": "radiology_part",
    "CT-BRUSH-KIT": "spare_part",
    "MRI-COIL-8": "spare_part",
    "MRI-CH-2": "spare_part",
    "US-PROBE-C5": "spare_part",
    "US-PROBE-L12": "spare_part",
    "DR-DET-4343": "radiology_part",
    "PM-SPO2-03": "consumable",
    "XR-LAMP-24V": "radiology_part",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS institutions (
    credit_code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_en TEXT,
    province TEXT NOT NULL,
    city TEXT NOT NULL,
    grade TEXT NOT NULL,
    designation_number TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked', 'expired')),
    status_reason TEXT,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL CHECK (valid_until >= valid_from),
    schemes TEXT NOT NULL,
    licences TEXT NOT NULL,
    restricted_categories TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS qualification_checks (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    credit_code TEXT NOT NULL,
    product_category TEXT NOT NULL,
    amount TEXT,
    reference TEXT,
    qualified INTEGER NOT NULL,
    reasons TEXT NOT NULL,
    institution TEXT,
    as_of TEXT NOT NULL,
    checked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS qualification_checks_by_code
    ON qualification_checks (credit_code, seq);
"""


def grade_level(grade: str) -> int:
    """1-3 for 一级-三级 hospitals, 0 for an ungraded one (未定级)."""
    match = GRADE.match(grade)
    assert match is not None  # validated on load
    level = match.group("level")
    return 0 if level is None else GRADE_LEVELS[level]


def effective_status(row: sqlite3.Row, today: date) -> str:
    """Suspension and revocation are decisions and stand as registered; an active
    designation lapses by itself when its validity ends."""
    status = str(row["status"])
    if status == "active" and date.fromisoformat(row["valid_until"]) < today:
        return "expired"
    return status


def institution_json(row: sqlite3.Row, today: date) -> dict[str, Any]:
    status = effective_status(row, today)
    reason = row["status_reason"]
    if reason is None and status == "expired" and row["status"] == "active":
        reason = f"the designation ended on {row['valid_until']}"
    return {
        "credit_code": row["credit_code"],
        "name": row["name"],
        "name_en": row["name_en"],
        "province": row["province"],
        "city": row["city"],
        "grade": row["grade"],
        "designation_number": row["designation_number"],
        "status": status,
        "status_reason": reason,
        "valid_from": row["valid_from"],
        "valid_until": row["valid_until"],
        "schemes": orjson.loads(row["schemes"]),
        "licences": [
            {
                "type": licence["type"],
                "name": LICENCES[licence["type"]],
                "number": licence["number"],
                "valid_until": licence["valid_until"],
                "expired": date.fromisoformat(licence["valid_until"]) < today,
            }
            for licence in orjson.loads(row["licences"])
        ],
        "restricted_categories": orjson.loads(row["restricted_categories"]),
        "updated_at": row["updated_at"],
    }


def assess(
    institution: dict[str, Any] | None, category: Category, amount: Decimal | None, today: date
) -> list[dict[str, Any]]:
    """Every reason the institution may not buy the category (empty: qualified)."""
    if institution is None:
        return [
            {
                "code": "not_registered",
                "message": "the institution is not in the register of designated medical "
                "institutions (not a 医保定点 institution)",
            }
        ]
    reasons: list[dict[str, Any]] = []
    status = institution["status"]
    detail = f": {institution['status_reason']}" if institution["status_reason"] else ""
    if status != "active":
        reasons.append(
            {"code": f"designation_{status}", "message": f"the designation is {status}{detail}"}
        )
    elif date.fromisoformat(institution["valid_from"]) > today:
        reasons.append(
            {
                "code": "designation_not_yet_valid",
                "message": f"the designation takes effect on {institution['valid_from']}",
            }
        )
    for restriction in institution["restricted_categories"]:
        if restriction["category"] == category.code:
            reasons.append(
                {
                    "code": "category_restricted",
                    "message": f"the institution may not procure {category.name} "
                    f"({category.name_en}): {restriction['reason']}",
                }
            )
    level = grade_level(institution["grade"])
    if category.min_grade_level is not None and level < category.min_grade_level:
        reasons.append(
            {
                "code": "grade_too_low",
                "message": f"{category.name} ({category.name_en}) needs a hospital of grade "
                f"{'一二三'[category.min_grade_level - 1]}级 or above; the institution is "
                f"{institution['grade']}",
                "min_grade_level": category.min_grade_level,
            }
        )
    needed = {code: f"{category.name} ({category.name_en})" for code in category.licences}
    for threshold, code in AMOUNT_LICENCES:
        if amount is not None and amount >= threshold:
            needed.setdefault(code, f"a purchase of {amount:,} CNY (≥ {threshold:,})")
    held: dict[str, dict[str, Any]] = {}
    for licence in institution["licences"]:  # a renewed licence counts, not the lapsed one
        if licence["type"] not in held or held[licence["type"]]["expired"]:
            held[licence["type"]] = licence
    for code, why in needed.items():
        licence = held.get(code)
        if licence is None:
            reasons.append(
                {
                    "code": "licence_missing",
                    "message": f"{why} needs a {LICENCES[code]}, which the institution does "
                    "not hold",
                    "licence": code,
                }
            )
        elif licence["expired"]:
            reasons.append(
                {
                    "code": "licence_expired",
                    "message": f"{why} needs a {LICENCES[code]}; the institution's "
                    f"({licence['number']}) expired on {licence['valid_until']}",
                    "licence": code,
                }
            )
    return reasons


class Store(SQLiteStore):
    schema = SCHEMA

    def institution(self, code: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM institutions WHERE credit_code = ?", (code,)
        ).fetchone()
        return row

    def search(self, name: str | None, province: str | None, city: str | None) -> list[Any]:
        query = "SELECT * FROM institutions WHERE 1 = 1"
        params: list[Any] = []
        if name is not None:
            query += " AND (name LIKE ? ESCAPE '\\' OR name_en LIKE ? ESCAPE '\\')"
            params += [f"%{_like(name)}%"] * 2
        if province is not None:
            query += " AND province LIKE ? ESCAPE '\\'"
            params.append(f"{_like(province)}%")
        if city is not None:
            query += " AND city LIKE ? ESCAPE '\\'"
            params.append(f"{_like(city)}%")
        return self.db.execute(query + " ORDER BY credit_code", params).fetchall()

    def put_institutions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        with self.transaction():
            self._put(rows)

    def _put(self, rows: Sequence[Mapping[str, Any]]) -> None:
        now = utc_now()
        self.db.executemany(
            "INSERT OR REPLACE INTO institutions (credit_code, name, name_en, province, city, "
            "grade, designation_number, status, status_reason, valid_from, valid_until, "
            "schemes, licences, restricted_categories, updated_at) VALUES (:credit_code, "
            ":name, :name_en, :province, :city, :grade, :designation_number, :status, "
            ":status_reason, :valid_from, :valid_until, :schemes, :licences, "
            ":restricted_categories, :updated_at)",
            [
                {
                    **row,
                    "schemes": orjson.dumps(row["schemes"]).decode(),
                    "licences": orjson.dumps(row["licences"]).decode(),
                    "restricted_categories": orjson.dumps(row["restricted_categories"]).decode(),
                    "updated_at": now,
                }
                for row in rows
            ],
        )

    def record_check(self, check: dict[str, Any]) -> dict[str, Any]:
        with self.transaction():
            seq = self.db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM qualification_checks"
            ).fetchone()[0]
            check = {"id": f"QC-{seq:06d}", **check}
            self.db.execute(
                "INSERT INTO qualification_checks (seq, id, credit_code, product_category, "
                "amount, reference, qualified, reasons, institution, as_of, checked_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    check["id"],
                    check["credit_code"],
                    check["product_category"],
                    None if check["amount"] is None else str(check["amount"]),
                    check["reference"],
                    int(check["qualified"]),
                    orjson.dumps(check["reasons"]).decode(),
                    None
                    if check["institution"] is None
                    else orjson.dumps(check["institution"]).decode(),
                    check["as_of"],
                    check["checked_at"],
                ),
            )
        return check

    def checks(
        self, code: str | None = None, reference: str | None = None, *, limit: int = 50
    ) -> list[dict[str, Any]]:
        query = "SELECT * FROM qualification_checks WHERE 1 = 1"
        params: list[Any] = []
        if code is not None:
            query += " AND credit_code = ?"
            params.append(code)
        if reference is not None:
            query += " AND reference = ?"
            params.append(reference)
        rows = self.db.execute(query + " ORDER BY seq DESC LIMIT ?", [*params, limit])
        return [_check_json(row) for row in rows]

    def check(self, check_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT * FROM qualification_checks WHERE id = ?", (check_id,)
        ).fetchone()
        return None if row is None else _check_json(row)

    def seed_demo(self, today: date) -> bool:
        """Load the demo register once per database; False when it already was."""
        if self.is_seeded():
            return False
        with self.transaction():
            self._put([validate_institution(item, today) for item in demo_institutions(today)])
            self.mark_seeded()
        return True


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _amount_json(amount: Decimal | None) -> float | None:
    return None if amount is None else float(amount)


def _check_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "credit_code": row["credit_code"],
        "product_category": row["product_category"],
        "amount": None if row["amount"] is None else float(row["amount"]),
        "reference": row["reference"],
        "qualified": bool(row["qualified"]),
        "reasons": orjson.loads(row["reasons"]),
        "institution": None if row["institution"] is None else orjson.loads(row["institution"]),
        "as_of": row["as_of"],
        "checked_at": row["checked_at"],
    }


# -- validation of admin loads ----------------------------------------------------------------


def _string_list(item: Mapping[str, Any], name: str) -> list[Any]:
    value = item.get(name, [])
    if not isinstance(value, list):
        raise bad_request(f"{name!r} must be a list")
    return value


def validate_institution(item: Mapping[str, Any], today: date) -> dict[str, Any]:
    """One admin item as a row, or the first problem with it (400 for shapes and formats,
    422 for values that break the register's rules)."""
    reject_unknown_fields(item, INSTITUTION_FIELDS)
    code = credit_code(item.get("credit_code"))
    grade = required_string(item, "grade", 10)
    if GRADE.match(grade) is None:
        raise invalid(
            f"'grade' must be a hospital grade such as 三级甲等, 二级, 一级乙等 or 未定级, "
            f"not {grade!r}",
            field="grade",
        )
    status = required_string(item, "status", 20)
    if status not in STATUSES:
        raise invalid(f"'status' must be one of {', '.join(STATUSES)}", field="status")
    valid_from = required_date(item, "valid_from")
    valid_until = required_date(item, "valid_until")
    if valid_until < valid_from:
        raise invalid("'valid_until' is before 'valid_from'", field="valid_until")
    number = optional_string(item, "designation_number", 12)
    if number is not None and DESIGNATION_NUMBER.match(number) is None:
        raise invalid(
            "'designation_number' must be H followed by 11 digits (e.g. H11010500123)",
            field="designation_number",
        )
    schemes = _string_list(item, "schemes")
    if not schemes or not all(scheme in SCHEMES for scheme in schemes):
        raise invalid(f"'schemes' must list one or more of {', '.join(SCHEMES)}", field="schemes")
    licences = []
    for position, licence in enumerate(_string_list(item, "licences")):
        if not isinstance(licence, dict):
            raise bad_request(f"licences[{position}] must be an object")
        reject_unknown_fields(licence, {"type", "number", "valid_until"})
        kind = required_string(licence, "type", 40)
        if kind not in LICENCES:
            raise invalid(
                f"licences[{position}].type must be one of {', '.join(LICENCES)}",
                field=f"licences[{position}].type",
            )
        licences.append(
            {
                "type": kind,
                "number": required_string(licence, "number", 60),
                "valid_until": required_date(licence, "valid_until").isoformat(),
            }
        )
    restricted = []
    for position, restriction in enumerate(_string_list(item, "restricted_categories")):
        if not isinstance(restriction, dict):
            raise bad_request(f"restricted_categories[{position}] must be an object")
        reject_unknown_fields(restriction, {"category", "reason"})
        category = required_string(restriction, "category", 40)
        if category not in CATEGORIES:
            raise invalid(
                f"restricted_categories[{position}].category must be one of "
                f"{', '.join(CATEGORIES)}",
                field=f"restricted_categories[{position}].category",
            )
        restricted.append(
            {"category": category, "reason": required_string(restriction, "reason", 500)}
        )
    return {
        "credit_code": code,
        "name": required_string(item, "name", 200),
        "name_en": optional_string(item, "name_en", 200),
        "province": required_string(item, "province", 50),
        "city": required_string(item, "city", 50),
        "grade": grade,
        "designation_number": number,
        "status": status,
        "status_reason": optional_string(item, "status_reason", 500),
        "valid_from": valid_from.isoformat(),
        "valid_until": valid_until.isoformat(),
        "schemes": schemes,
        "licences": licences,
        "restricted_categories": restricted,
    }


# -- handlers ---------------------------------------------------------------------------------

STORE = web.AppKey("store", Store)


def _limit(request: web.Request) -> int:
    return positive_int(request.query.get("limit", str(DEFAULT_LIMIT)), "limit", MAX_LIMIT)


async def get_institution(request: web.Request) -> web.Response:
    code = credit_code(request.match_info["credit_code"])
    row = request.app[STORE].institution(code)
    if row is None:
        raise ApiError(404, "unknown_institution", f"no institution with credit code {code}")
    return json_response(institution_json(row, request.app[TODAY]()))


async def search_institutions(request: web.Request) -> web.Response:
    query = request.query
    reject_unknown_fields(query, {"name", "province", "city", "status", "limit"})
    status = optional_string(query, "status", 20)
    if status is not None and status not in STATUSES:
        raise bad_request(f"'status' must be one of {', '.join(STATUSES)}")
    limit = _limit(request)
    today = request.app[TODAY]()
    rows = request.app[STORE].search(
        optional_string(query, "name"),
        optional_string(query, "province"),
        optional_string(query, "city"),
    )
    found = [institution_json(row, today) for row in rows]
    if status is not None:
        found = [institution for institution in found if institution["status"] == status]
    return json_response(found[:limit])


async def list_categories(request: web.Request) -> web.Response:
    return json_response(
        [
            {
                "code": category.code,
                "name": category.name,
                "name_en": category.name_en,
                "licences": list(category.licences),
                "min_grade_level": category.min_grade_level,
            }
            for category in CATEGORIES.values()
        ]
    )


async def create_check(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request('the body must be a JSON object {"credit_code": …, …}')
    reject_unknown_fields(body, CHECK_FIELDS)
    code = credit_code(body.get("credit_code"))
    category_code = required_string(body, "product_category", 40)
    category = CATEGORIES.get(category_code)
    if category is None:
        raise ApiError(
            422,
            "unknown_product_category",
            f"no product category {category_code!r}; known: {', '.join(CATEGORIES)}",
            field="product_category",
        )
    amount = None if body.get("amount") is None else money(body["amount"])
    reference = optional_string(body, "reference", 200)
    today = request.app[TODAY]()
    store = request.app[STORE]
    row = store.institution(code)
    institution = None if row is None else institution_json(row, today)
    reasons = assess(institution, category, amount, today)
    check = store.record_check(
        {
            "credit_code": code,
            "product_category": category.code,
            "amount": _amount_json(amount),
            "reference": reference,
            "qualified": not reasons,
            "reasons": reasons,
            "institution": institution,
            "as_of": today.isoformat(),
            "checked_at": utc_now(),
        }
    )
    return json_response(check, status=201)


async def list_checks(request: web.Request) -> web.Response:
    query = request.query
    reject_unknown_fields(query, {"credit_code", "reference", "limit"})
    code = None if "credit_code" not in query else credit_code(query["credit_code"])
    checks = request.app[STORE].checks(
        code, optional_string(query, "reference", 200), limit=_limit(request)
    )
    return json_response(checks)


async def get_check(request: web.Request) -> web.Response:
    check = request.app[STORE].check(request.match_info["id"])
    if check is None:
        raise ApiError(404, "unknown_check", f"no qualification check {request.match_info['id']!r}")
    return json_response(check)


async def admin_institutions(request: web.Request) -> web.Response:
    today = request.app[TODAY]()
    rows = []
    seen: dict[str, int] = {}
    for index, item in enumerate(await admin_items(request)):
        with item_errors(index):
            row = validate_institution(item, today)
        if row["credit_code"] in seen:
            raise ApiError(
                422,
                "duplicate_credit_code",
                f"item {index}: {row['credit_code']} is also item {seen[row['credit_code']]}",
                index=index,
            )
        seen[row["credit_code"]] = index
        rows.append(row)
    request.app[STORE].put_institutions(rows)
    return json_response({"loaded": len(rows)})


def create_app(
    db_path: str | Path, *, seed_demo: bool = False, today: Callable[[], date] = china_today
) -> web.Application:
    store = Store(db_path)
    if seed_demo:
        store.seed_demo(today())
    app = create_service_app(store, today=today)
    app[STORE] = store
    app.router.add_get("/api/institutions", search_institutions)
    app.router.add_get("/api/institutions/{credit_code}", get_institution)
    app.router.add_get("/api/product-categories", list_categories)
    app.router.add_post("/api/qualification-checks", create_check)
    app.router.add_get("/api/qualification-checks", list_checks)
    app.router.add_get("/api/qualification-checks/{id}", get_check)
    app.router.add_post("/_admin/institutions", admin_institutions)
    return app


async def start(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed_demo: bool = False,
    today: Callable[[], date] = china_today,
) -> tuple[web.AppRunner, str]:
    """Start the service in the running loop; returns the runner (``await runner.cleanup()``
    to stop it) and the base URL with the actual port."""
    return await start_app(create_app(db_path, seed_demo=seed_demo, today=today), host, port)


# -- demo data --------------------------------------------------------------------------------


def _licence(kind: str, number: str, valid_until: date) -> dict[str, Any]:
    return {"type": kind, "number": number, "valid_until": valid_until.isoformat()}


def demo_institutions(today: date) -> list[dict[str, Any]]:
    """The demo register, dated relative to the seeding day so it stays current: twelve of
    :data:`~kindred.reference.hospitals.DEMO_HOSPITALS` (the Chongqing one is not
    registered yet) with mixed statuses, licences and restrictions."""

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    later = today + timedelta(days=700)
    both = ["employee", "resident"]
    radiology = _licence("radiology_practice", "放射诊疗许可证〔2028〕第0117号", later)
    safety = _licence("radiation_safety", "国环辐证[00231]", later)
    class_b = _licence("large_equipment_b", "乙类配置许可 2028-B-0452", later)
    class_a = _licence("large_equipment_a", "甲类配置许可 2027-A-0031", later)
    # (credit code, designation number, status, reason, from, until, schemes, licences,
    # restricted categories)
    register: list[tuple[Any, ...]] = [
        ("121101054526018196", "H11010500017", "active", None, -800, 295, both,
         [radiology, safety, class_b], []),
        ("12310115459083014E", "H31011500008", "active", None, -1200, 530, both,
         [radiology, safety, class_b, class_a], []),
        ("12440106466131862R", "H44010600021", "active", None, -400, 690, both,
         [radiology, safety, class_b], []),
        ("12510104409139091R", "H51010400113", "active", None, -650, 80, both,
         [radiology, safety], []),
        ("12420102496030827F", "H42010200046", "active", None, -300, 760, both,
         [radiology, _licence("radiation_safety", "鄂环辐证[00876]", today - timedelta(20))],
         []),
        ("123301024462819431", "H33010200305", "active", None, -900, 170, ["resident"],
         [radiology], []),
        ("52610113582199354J", "H61011300417", "suspended",
         "违规使用医保基金，暂停医保服务协议六个月（雁医保处〔2029〕12号）", -500, 230, both,
         [radiology], []),
        ("91210112M181909307", "H21011200562", "revoked",
         "以虚构医疗服务方式骗取医保基金，解除医保服务协议（沈医保发〔2029〕7号）", -1000, 95,
         both, [radiology, safety], []),
        ("523201045786579735", "H32010400233", "active", None, -1095, -10, both,
         [radiology], []),
        ("12370102454323197X", "H37010200089", "active", None, -700, 400, both,
         [radiology, safety, class_b], []),
        ("12410105448757490P", "H41010500052", "active", None, -600, 500, both,
         [radiology, safety, class_b],
         [{"category": "high_value_consumable",
           "reason": "高值医用耗材专项检查整改期内，暂停新增采购（豫医保函〔2029〕33号）"}]),
        ("12530112411862529R", "H53011200671", "active", None, -200, 880, ["resident"],
         [], []),
    ]  # fmt: skip
    institutions = []
    for code, number, status, reason, start_day, end_day, schemes, held, barred in register:
        hospital = BY_CREDIT_CODE[code]
        institutions.append(
            {
                "credit_code": code,
                "name": hospital.name,
                "name_en": hospital.name_en,
                "province": hospital.province,
                "city": hospital.city,
                "grade": hospital.grade,
                "designation_number": number,
                "status": status,
                "status_reason": reason,
                "valid_from": day(start_day),
                "valid_until": day(end_day),
                "schemes": schemes,
                "licences": held,
                "restricted_categories": barred,
            }
        )
    return institutions


def main(argv: Sequence[str] | None = None) -> None:
    args = service_parser(
        "insurance",
        "Reference medical-insurance qualification registry (tests, demos).",
        seed_help="load the demo register of a dozen hospitals (once per db)",
    ).parse_args(argv)
    run_service(
        lambda: start(
            args.db, args.host, args.port, seed_demo=args.seed_demo, today=clock(args.today)
        )
    )


if __name__ == "__main__":
    main()
