"""A reference ERP / inventory service: a medical-device distributor's spare-parts stock.

A separate aiohttp service with its own SQLite storage standing in for the distributor's ERP
(warehouse nodes across China, spot stock, inbound shipments, reservations), so the
inventory actions are exercised over real sockets. JSON over HTTP:

* ``GET /api/warehouses`` → ``[{"id": "WH-SH", "name": "Shanghai", "region": "East China"}, …]``;
* ``GET /api/skus`` → ``[{"sku", "name"}, …]``;
* ``GET /api/stock?sku=…[&region=…]`` → one row per warehouse (of the region):
  ``{"warehouse", "region", "sku", "on_hand", "reserved", "available"}``;
* ``GET /api/delivery-windows?sku=…[&quantity=1][&region=…]`` → per warehouse that can
  supply ``quantity``, earliest first: ``{"warehouse", "region", "earliest", "latest",
  "available", "source": "stock"|"inbound", "transit_days"}``. Stock available now ships
  today and arrives after the transit days to the region (1 within a region, more with
  distance); otherwise the window starts at the inbound shipment that makes enough
  available;
* ``GET /api/split-delivery?sku=…&quantity=…[&region=…]`` → the split delivery that completes
  ``quantity`` soonest from several warehouses (for when no single one can):
  ``{"sku", "quantity", "region", "complete", "earliest", "latest", "available",
  "shipments": [{"warehouse", "region", "quantity", "earliest", "latest", "source",
  "transit_days"}]}``. Every warehouse's available stock (dispatched today) and every inbound
  shipment (dispatched the day it arrives) is a source; sources are taken in the order they
  would reach the region until the quantity is covered, so ``earliest`` — the last
  shipment's arrival, when the delivery is complete — is as early as it can be. A warehouse
  ships once. When stock and all inbound together fall short, ``complete`` is false,
  ``shipments`` is empty and ``available`` says how many could be delivered at all;
* ``POST /api/reservations`` ``{"sku", "quantity", "warehouse"?, "region"?, "reference"?}``
  with a required ``Idempotency-Key`` header: takes the given warehouse, else the warehouse
  of the region with most available, else the nearest one with enough, and reserves
  atomically → 201 ``{"id", "sku", "quantity", "warehouse", "status": "reserved",
  "reference", "created_at"}``. The same key again answers 200 with the same reservation
  (422 ``idempotency_key_reused`` when the body differs); too little stock → 409
  ``{"error": "insufficient_stock", "available": n}`` (the most one warehouse can give);
  unknown sku or warehouse → 404; a bad body → 400;
* ``GET /api/reservations/{id}``; ``DELETE /api/reservations/{id}`` releases it (200 with
  ``"status": "released"``; releasing again changes nothing).

Errors are ``{"error": code, "message": text}``. Inbound shipments whose date has come are
booked into ``on_hand`` on the next stock read. Dates are calendar days in China
(UTC+8); ``--today`` pins the clock for reproducible demos and tests.

Admin endpoints (unauthenticated: bind to loopback): ``POST /_admin/stock
[{"warehouse", "sku", "on_hand", "name"?}]`` (sets on-hand stock; unknown SKUs are added),
``POST /_admin/inbound [{"warehouse", "sku", "quantity", "arrives_on" | "in_days"}]``,
``POST /_admin/fail-next {"status": 503, "count": 1, "delay": 0}`` (the next ``count``
``/api`` calls answer ``status`` after ``delay`` seconds; with only ``delay`` they are
handled normally and answered late, for client-timeout tests; ``count: 0`` clears).

Run it::

    python -m kindred.reference.erp --db erp.db --host 127.0.0.1 --port 0 --seed-demo

It prints ``listening on http://HOST:PORT`` (flushed) once it accepts connections and stops
cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
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
    json_response,
    optional_string,
    positive_int,
    read_json,
    required_string,
    run_service,
    service_parser,
    utc_now,
)

MAX_KEY_LENGTH = 255
MAX_REFERENCE_LENGTH = 200
KM_PER_TRANSIT_DAY = 700

# Each region's delivery point (its main city), for transit times.
REGIONS: dict[str, tuple[float, float]] = {
    "East China": (31.23, 121.47),
    "North China": (39.90, 116.40),
    "South China": (23.13, 113.26),
    "Southwest China": (30.57, 104.07),
    "Central China": (30.59, 114.31),
    "Northwest China": (34.34, 108.94),
    "Northeast China": (41.80, 123.43),
}

WAREHOUSES: tuple[tuple[str, str, str, float, float], ...] = (
    ("WH-SH", "Shanghai", "East China", 31.23, 121.47),
    ("WH-BJ", "Beijing", "North China", 39.90, 116.40),
    ("WH-GZ", "Guangzhou", "South China", 23.13, 113.26),
    ("WH-CD", "Chengdu", "Southwest China", 30.57, 104.07),
    ("WH-WH", "Wuhan", "Central China", 30.59, 114.31),
    ("WH-XA", "Xi'an", "Northwest China", 34.34, 108.94),
    ("WH-SY", "Shenyang", "Northeast China", 41.80, 123.43),
    ("WH-HZ", "Hangzhou", "East China", 30.27, 120.15),
)

# --seed-demo: spare parts and their on-hand stock per warehouse (with the seeded CRM
# catalogue's products, added below).
DEMO_CATALOGUE: dict[str, tuple[str, dict[str, int]]] = {
    "CT-TUBE-01": ("CT X-ray tube assembly, 5.3 MHU", {"WH-SH": 2, "WH-BJ": 1, "WH-CD": 1}),
    "CT-BRUSH-KIT": (
        "CT slip-ring carbon brush kit",
        {
            "WH-SH": 12,
            "WH-BJ": 8,
            "WH-GZ": 6,
            "WH-CD": 4,
            "WH-WH": 5,
            "WH-XA": 3,
            "WH-SY": 2,
            "WH-HZ": 6,
        },
    ),
    "MRI-COIL-8": (
        "MRI 8-channel head coil, 1.5 T",
        {"WH-SH": 3, "WH-BJ": 2, "WH-GZ": 1, "WH-WH": 1},
    ),
    "MRI-CH-2": ("MRI cryocooler cold head", {"WH-BJ": 1, "WH-SH": 1}),
    "US-PROBE-C5": (
        "Ultrasound convex probe C5-1",
        {
            "WH-SH": 14,
            "WH-BJ": 11,
            "WH-GZ": 9,
            "WH-CD": 6,
            "WH-WH": 7,
            "WH-XA": 4,
            "WH-SY": 5,
            "WH-HZ": 8,
        },
    ),
    "US-PROBE-L12": (
        "Ultrasound linear probe L12-3",
        {"WH-SH": 6, "WH-BJ": 5, "WH-GZ": 4, "WH-CD": 2, "WH-WH": 3, "WH-HZ": 2},
    ),
    "DR-DET-4343": (
        "DR flat-panel detector, 43 x 43 cm",
        {"WH-SH": 2, "WH-GZ": 2, "WH-BJ": 1, "WH-CD": 1},
    ),
    "PM-SPO2-03": (
        "Patient monitor SpO2 sensor, reusable adult",
        {
            "WH-SH": 60,
            "WH-BJ": 45,
            "WH-GZ": 40,
            "WH-CD": 25,
            "WH-WH": 30,
            "WH-XA": 20,
            "WH-SY": 18,
            "WH-HZ": 35,
        },
    ),
    "XR-LAMP-24V": (
        "X-ray collimator lamp, 24 V 150 W",
        {"WH-SH": 20, "WH-BJ": 16, "WH-GZ": 12, "WH-WH": 10, "WH-XA": 6, "WH-SY": 6},
    ),
}
# ``kindred seed``'s catalogue (``kindred.records.seed.PRODUCTS``, SKU ``KD-<model>-<index>``):
# what its purchase intents ask for, so each of them can be checked against the ERP. SKU →
# (name, units in each hub warehouse, units in every other warehouse). The CRM and the ERP
# keep their catalogues apart, as real systems do; a test checks that they agree.
HUBS = ("WH-SH", "WH-BJ", "WH-GZ")
SEEDED_CATALOGUE: dict[str, tuple[str, int, int]] = {
    "KD-CT-64-000": ("CT scanner 64-slice", 2, 0),
    "KD-CT-128-001": ("CT scanner 128-slice", 1, 0),
    "KD-MR-15-002": ("MRI 1.5T", 1, 0),
    "KD-DR-300-003": ("Digital X-ray DR", 3, 1),
    "KD-US-880-004": ("Colour Doppler ultrasound", 3, 1),
    "KD-BA-2000-005": ("Biochemistry analyzer", 2, 1),
    "KD-HA-500-006": ("Haematology analyzer", 3, 1),
    "KD-IA-900-007": ("Immunoassay analyzer", 2, 1),
    "KD-PM-12-008": ("Patient monitor", 12, 4),
    "KD-CMS-1-009": ("Central monitoring station", 2, 1),
    "KD-AW-7-010": ("Anaesthesia workstation", 2, 1),
    "KD-ES-300-011": ("Electrosurgical unit", 4, 2),
    "KD-RK-BA-012": ("Reagent kit (biochemistry)", 80, 30),
    "KD-RK-IA-013": ("Reagent kit (immunoassay)", 60, 20),
    "KD-SP-XT-014": ("X-ray tube assembly", 2, 1),
    "KD-SP-UP-015": ("Ultrasound probe convex", 6, 2),
    "KD-SP-O2-016": ("Monitor SpO2 sensor", 50, 20),
    "KD-INV-100-017": ("String inverter 100 kW", 8, 3),
    "KD-INV-1000-018": ("Central inverter 1 MW", 2, 0),
    "KD-BAT-215-019": ("Battery storage 215 kWh", 2, 1),
    "KD-RG-SHELF-020": ("Smart shelf display", 40, 15),
    "KD-RG-POS-021": ("POS terminal", 60, 20),
}
DEMO_CATALOGUE.update(
    {
        sku: (
            name,
            {
                warehouse: units
                for warehouse, *_ in WAREHOUSES
                if (units := hub if warehouse in HUBS else other)
            },
        )
        for sku, (name, hub, other) in SEEDED_CATALOGUE.items()
    }
)
# (warehouse, sku, quantity, days from the seeding day)
DEMO_INBOUND: tuple[tuple[str, str, int, int], ...] = (
    ("WH-GZ", "CT-TUBE-01", 2, 9),
    ("WH-SY", "CT-TUBE-01", 1, 16),
    ("WH-CD", "MRI-COIL-8", 2, 6),
    ("WH-XA", "MRI-CH-2", 1, 21),
    ("WH-SH", "DR-DET-4343", 3, 4),
    ("WH-SY", "US-PROBE-L12", 4, 10),
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS warehouses (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    region TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS skus (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stock (
    warehouse TEXT NOT NULL REFERENCES warehouses (id),
    sku TEXT NOT NULL REFERENCES skus (sku),
    on_hand INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand),
    PRIMARY KEY (warehouse, sku)
);
CREATE TABLE IF NOT EXISTS inbound (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    warehouse TEXT NOT NULL REFERENCES warehouses (id),
    sku TEXT NOT NULL REFERENCES skus (sku),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    arrives_on TEXT NOT NULL,
    received INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS reservations (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    sku TEXT NOT NULL REFERENCES skus (sku),
    quantity INTEGER NOT NULL,
    warehouse TEXT NOT NULL REFERENCES warehouses (id),
    reference TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    released_at TEXT
);
"""
INSERT_INBOUND = "INSERT INTO inbound (warehouse, sku, quantity, arrives_on) VALUES (?, ?, ?, ?)"


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371 * math.asin(math.sqrt(h))


def transit_days(warehouse_region: str, lat: float, lon: float, region: str | None) -> int:
    """Days from dispatch to delivery: 1 within the warehouse's own region (or when no
    region is given), else 1 plus a day per started 700 km to the region's main city."""
    if region is None or region == warehouse_region:
        return 1
    return 1 + math.ceil(_distance_km((lat, lon), REGIONS[region]) / KM_PER_TRANSIT_DAY)


def _window_end(earliest: date, transit: int) -> date:
    return earliest + timedelta(days=1 if transit <= 1 else 2)


def canonical_region(value: str | None) -> str | None:
    if value is None:
        return None
    for name in REGIONS:
        if name.lower() == value.strip().lower():
            return name
    raise bad_request(f"unknown region {value!r}; known regions: {', '.join(REGIONS)}")


class Store(SQLiteStore):
    """The ERP's state; a reservation is one transaction, so it stays atomic even when
    several processes share the file."""

    schema = SCHEMA

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        with self.transaction():
            self.db.executemany(
                "INSERT INTO warehouses (id, name, region, lat, lon) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                WAREHOUSES,
            )

    # -- reference data -----------------------------------------------------------------------

    def warehouses(self, region: str | None = None) -> list[sqlite3.Row]:
        query = "SELECT * FROM warehouses"
        params: list[Any] = []
        if region is not None:
            query += " WHERE region = ?"
            params.append(region)
        return self.db.execute(query + " ORDER BY rowid", params).fetchall()

    def warehouse(self, warehouse_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM warehouses WHERE id = ?", (warehouse_id,)
        ).fetchone()
        return row

    def skus(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT sku, name FROM skus ORDER BY sku").fetchall()

    def has_sku(self, sku: str) -> bool:
        return self.db.execute("SELECT 1 FROM skus WHERE sku = ?", (sku,)).fetchone() is not None

    def _ensure_sku(self, sku: str, name: str | None) -> None:
        self.db.execute(
            "INSERT INTO skus (sku, name) VALUES (?, ?) ON CONFLICT (sku) DO UPDATE SET "
            "name = COALESCE(?, skus.name)",
            (sku, name or sku, name),
        )

    # -- stock --------------------------------------------------------------------------------

    def set_stock(self, rows: Sequence[tuple[str, str, int, str | None]]) -> None:
        with self.transaction():
            for warehouse, sku, on_hand, name in rows:
                self._ensure_sku(sku, name)
                reserved = self.db.execute(
                    "SELECT reserved FROM stock WHERE warehouse = ? AND sku = ?", (warehouse, sku)
                ).fetchone()
                if reserved is not None and reserved["reserved"] > on_hand:
                    raise ApiError(
                        409,
                        "below_reserved",
                        f"{warehouse} has {reserved['reserved']} of {sku} reserved; "
                        f"on_hand cannot be {on_hand}",
                    )
                self.db.execute(
                    "INSERT INTO stock (warehouse, sku, on_hand) VALUES (?, ?, ?) "
                    "ON CONFLICT (warehouse, sku) DO UPDATE SET on_hand = excluded.on_hand",
                    (warehouse, sku, on_hand),
                )

    def add_inbound(self, rows: Sequence[tuple[str, str, int, date]]) -> list[int]:
        ids = []
        with self.transaction():
            for warehouse, sku, quantity, arrives_on in rows:
                self._ensure_sku(sku, None)
                cursor = self.db.execute(
                    INSERT_INBOUND,
                    (warehouse, sku, quantity, arrives_on.isoformat()),
                )
                assert cursor.lastrowid is not None
                ids.append(cursor.lastrowid)
        return ids

    def receive_due(self, today: date) -> None:
        """Book inbound shipments that have arrived into on-hand stock."""
        day = today.isoformat()
        if (
            self.db.execute(
                "SELECT 1 FROM inbound WHERE received = 0 AND arrives_on <= ? LIMIT 1", (day,)
            ).fetchone()
            is None
        ):
            return
        with self.transaction():
            due = self.db.execute(
                "SELECT id, warehouse, sku, quantity FROM inbound "
                "WHERE received = 0 AND arrives_on <= ?",
                (day,),
            ).fetchall()
            for row in due:
                self.db.execute(
                    "INSERT INTO stock (warehouse, sku, on_hand) VALUES (?, ?, ?) ON CONFLICT "
                    "(warehouse, sku) DO UPDATE SET on_hand = on_hand + excluded.on_hand",
                    (row["warehouse"], row["sku"], row["quantity"]),
                )
                self.db.execute("UPDATE inbound SET received = 1 WHERE id = ?", (row["id"],))

    def stock(self, sku: str, region: str | None = None) -> list[sqlite3.Row]:
        """Every warehouse (of ``region``) with its stock of ``sku``, zeros where none."""
        query = (
            "SELECT w.id AS warehouse, w.region, w.lat, w.lon, "
            "COALESCE(s.on_hand, 0) AS on_hand, COALESCE(s.reserved, 0) AS reserved, "
            "COALESCE(s.on_hand - s.reserved, 0) AS available "
            "FROM warehouses w LEFT JOIN stock s ON s.warehouse = w.id AND s.sku = ?"
        )
        params: list[Any] = [sku]
        if region is not None:
            query += " WHERE w.region = ?"
            params.append(region)
        return self.db.execute(query + " ORDER BY w.rowid", params).fetchall()

    def pending_inbound(self, sku: str, after: date) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT warehouse, quantity, arrives_on FROM inbound "
            "WHERE sku = ? AND received = 0 AND arrives_on > ? ORDER BY arrives_on, id",
            (sku, after.isoformat()),
        ).fetchall()

    # -- reservations -------------------------------------------------------------------------

    @staticmethod
    def _reservation(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "id": row["id"],
            "sku": row["sku"],
            "quantity": row["quantity"],
            "warehouse": row["warehouse"],
            "status": row["status"],
            "reference": row["reference"],
            "created_at": row["created_at"],
            **({"released_at": row["released_at"]} if row["released_at"] else {}),
        }

    def reservation(self, reservation_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT * FROM reservations WHERE id = ?", (reservation_id,)
        ).fetchone()
        return None if row is None else self._reservation(row)

    def reserve(
        self,
        key: str,
        *,
        sku: str,
        quantity: int,
        warehouse: str | None,
        region: str | None,
        reference: str | None,
    ) -> tuple[dict[str, Any], bool]:
        """Reserve, or find the reservation made with ``key``; returns it and whether it is
        new."""
        fingerprint = hashlib.sha256(
            orjson.dumps([sku, quantity, warehouse, region, reference])
        ).hexdigest()
        with self.transaction():
            existing = self.db.execute(
                "SELECT * FROM reservations WHERE idempotency_key = ?", (key,)
            ).fetchone()
            if existing is not None:
                if existing["fingerprint"] != fingerprint:
                    raise ApiError(
                        422,
                        "idempotency_key_reused",
                        f"the Idempotency-Key was used for reservation {existing['id']} with a "
                        "different body; use a new key for a different reservation",
                    )
                return self._reservation(existing), False
            if not self.has_sku(sku):
                raise ApiError(404, "unknown_sku", f"no SKU {sku!r} in the catalogue")
            if warehouse is not None and self.warehouse(warehouse) is None:
                raise ApiError(404, "unknown_warehouse", f"no warehouse {warehouse!r}")
            chosen = self._pick(sku, quantity, warehouse, region)
            updated = self.db.execute(
                "UPDATE stock SET reserved = reserved + ? "
                "WHERE warehouse = ? AND sku = ? AND on_hand - reserved >= ?",
                (quantity, chosen, sku, quantity),
            )
            assert updated.rowcount == 1  # checked by _pick inside this transaction
            seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM reservations").fetchone()
            reservation_id = f"RSV-{seq[0]:06d}"
            self.db.execute(
                "INSERT INTO reservations (seq, id, idempotency_key, fingerprint, sku, quantity, "
                "warehouse, reference, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'reserved', ?)",
                (
                    seq[0],
                    reservation_id,
                    key,
                    fingerprint,
                    sku,
                    quantity,
                    chosen,
                    reference,
                    utc_now(),
                ),
            )
        created = self.reservation(reservation_id)
        assert created is not None
        return created, True

    def _pick(self, sku: str, quantity: int, warehouse: str | None, region: str | None) -> str:
        rows = self.stock(sku)
        if warehouse is not None:
            [row] = [r for r in rows if r["warehouse"] == warehouse]
            if row["available"] < quantity:
                raise ApiError(
                    409,
                    "insufficient_stock",
                    f"{warehouse} has {row['available']} of {sku} available, {quantity} requested",
                    available=row["available"],
                    warehouse=warehouse,
                )
            return str(row["warehouse"])
        enough = [r for r in rows if r["available"] >= quantity]
        in_region = [r for r in enough if r["region"] == region]
        if in_region:
            return str(max(in_region, key=lambda r: r["available"])["warehouse"])
        if enough:
            nearest = min(
                enough,
                key=lambda r: (
                    transit_days(r["region"], r["lat"], r["lon"], region),
                    -r["available"],
                ),
            )
            return str(nearest["warehouse"])
        best = max((r["available"] for r in rows), default=0)
        raise ApiError(
            409,
            "insufficient_stock",
            f"no warehouse has {quantity} of {sku} available (at most {best} in one warehouse)",
            available=best,
        )

    def release(self, reservation_id: str) -> dict[str, Any] | None:
        with self.transaction():
            row = self.db.execute(
                "SELECT * FROM reservations WHERE id = ?", (reservation_id,)
            ).fetchone()
            if row is None:
                return None
            if row["status"] == "reserved":
                self.db.execute(
                    "UPDATE stock SET reserved = reserved - ? WHERE warehouse = ? AND sku = ?",
                    (row["quantity"], row["warehouse"], row["sku"]),
                )
                self.db.execute(
                    "UPDATE reservations SET status = 'released', released_at = ? WHERE id = ?",
                    (utc_now(), reservation_id),
                )
        return self.reservation(reservation_id)

    # -- demo data ----------------------------------------------------------------------------

    def seed_demo(self, today: date) -> bool:
        """Load the demo catalogue once per database; False when it already was (SKUs the
        catalogue gained since are still added, with their stock)."""
        seeded = self.is_seeded()
        with self.transaction():
            for sku, (name, per_warehouse) in DEMO_CATALOGUE.items():
                if seeded and self.has_sku(sku):
                    continue
                self._ensure_sku(sku, name)
                for warehouse, on_hand in per_warehouse.items():
                    self.db.execute(
                        "INSERT INTO stock (warehouse, sku, on_hand) VALUES (?, ?, ?) "
                        "ON CONFLICT (warehouse, sku) DO NOTHING",
                        (warehouse, sku, on_hand),
                    )
            if seeded:
                return False
            for warehouse, sku, quantity, in_days in DEMO_INBOUND:
                self.db.execute(
                    INSERT_INBOUND,
                    (warehouse, sku, quantity, (today + timedelta(days=in_days)).isoformat()),
                )
            self.mark_seeded()
        return True


STORE = web.AppKey("store", Store)


def _today(request: web.Request) -> date:
    today = request.app[TODAY]()
    request.app[STORE].receive_due(today)
    return today


def _known_sku(store: Store, sku: str) -> str:
    if not store.has_sku(sku):
        raise ApiError(404, "unknown_sku", f"no SKU {sku!r} in the catalogue")
    return sku


async def list_warehouses(request: web.Request) -> web.Response:
    rows = request.app[STORE].warehouses()
    return json_response([{"id": r["id"], "name": r["name"], "region": r["region"]} for r in rows])


async def list_skus(request: web.Request) -> web.Response:
    return json_response([{"sku": r["sku"], "name": r["name"]} for r in request.app[STORE].skus()])


async def get_stock(request: web.Request) -> web.Response:
    store = request.app[STORE]
    _today(request)
    sku = _known_sku(store, required_string(request.query, "sku"))
    region = canonical_region(request.query.get("region"))
    return json_response(
        [
            {
                "warehouse": r["warehouse"],
                "region": r["region"],
                "sku": sku,
                "on_hand": r["on_hand"],
                "reserved": r["reserved"],
                "available": r["available"],
            }
            for r in store.stock(sku, region)
        ]
    )


async def delivery_windows(request: web.Request) -> web.Response:
    store = request.app[STORE]
    today = _today(request)
    sku = _known_sku(store, required_string(request.query, "sku"))
    quantity = positive_int(request.query.get("quantity", "1"), "quantity")
    region = canonical_region(request.query.get("region"))
    inbound: dict[str, list[sqlite3.Row]] = {}
    for shipment in store.pending_inbound(sku, today):
        inbound.setdefault(shipment["warehouse"], []).append(shipment)
    windows = []
    for row in store.stock(sku):
        available = row["available"]
        dispatch: date | None = today if available >= quantity else None
        source = "stock"
        for shipment in inbound.get(row["warehouse"], []) if dispatch is None else []:
            available += shipment["quantity"]
            if available >= quantity:
                dispatch = date.fromisoformat(shipment["arrives_on"])
                source = "inbound"
                break
        if dispatch is None:
            continue
        transit = transit_days(row["region"], row["lat"], row["lon"], region)
        earliest = dispatch + timedelta(days=transit)
        windows.append(
            {
                "warehouse": row["warehouse"],
                "region": row["region"],
                "earliest": earliest.isoformat(),
                "latest": _window_end(earliest, transit).isoformat(),
                "available": available,
                "source": source,
                "transit_days": transit,
            }
        )
    windows.sort(key=lambda w: (w["earliest"], w["transit_days"], -w["available"]))
    return json_response(windows)


def plan_split_delivery(
    stock: Sequence[Any],
    inbound: Sequence[Any],
    quantity: int,
    region: str | None,
    today: date,
) -> dict[str, Any]:
    """The split delivery of ``quantity`` that completes soonest, from as few warehouses as
    that allows (see the module docstring). ``stock`` rows are :meth:`Store.stock`'s,
    ``inbound`` rows :meth:`Store.pending_inbound`'s.

    Taking every source in arrival order until the quantity is covered gives the soonest
    completion date. Among the warehouses whose units arrive by then, the largest go first:
    taking the k largest covers the most with k warehouses, so no plan completing as soon
    has fewer shipments. A warehouse ships its units once its last unit needed is in.
    """
    # Per warehouse, in stock order: its transit and its sources (arrival, units, kind).
    supplies: dict[str, tuple[Any, int, list[tuple[date, int, str]]]] = {}
    for row in stock:
        transit = transit_days(row["region"], row["lat"], row["lon"], region)
        sources = []
        if row["available"] > 0:
            sources.append((today + timedelta(days=transit), int(row["available"]), "stock"))
        supplies[row["warehouse"]] = (row, transit, sources)
    for shipment in inbound:
        if shipment["warehouse"] in supplies:
            _, transit, sources = supplies[shipment["warehouse"]]
            arrives = date.fromisoformat(shipment["arrives_on"]) + timedelta(days=transit)
            sources.append((arrives, int(shipment["quantity"]), "inbound"))
    arrivals = sorted(source for _, _, sources in supplies.values() for source in sources)
    total = sum(units for _, units, _ in arrivals)
    plan: dict[str, Any] = {"quantity": quantity, "region": region, "available": total}
    covered, complete_by = 0, None
    for arrives, units, _ in arrivals:
        covered += units
        if covered >= quantity:
            complete_by = arrives
            break
    if complete_by is None:
        return {**plan, "complete": False, "earliest": None, "latest": None, "shipments": []}
    candidates = []
    for order, (row, transit, sources) in enumerate(supplies.values()):
        in_time = sorted(source for source in sources if source[0] <= complete_by)
        units = sum(source[1] for source in in_time)
        if units:
            candidates.append((-units, in_time[0][0], order, row, transit, in_time))
    shipments = []
    remaining = quantity
    for negative_units, _, _, row, transit, in_time in sorted(candidates, key=lambda c: c[:3]):
        taken = min(remaining, -negative_units)
        remaining -= taken
        used: list[tuple[date, int, str]] = []
        for source in in_time:
            if sum(units for _, units, _ in used) >= taken:
                break
            used.append(source)
        arrival = used[-1][0]  # one shipment: it leaves when its last unit needed is in
        shipments.append(
            {
                "warehouse": row["warehouse"],
                "region": row["region"],
                "quantity": taken,
                "earliest": arrival.isoformat(),
                "latest": _window_end(arrival, transit).isoformat(),
                "source": "inbound" if any(kind == "inbound" for *_, kind in used) else "stock",
                "transit_days": transit,
            }
        )
        if remaining == 0:
            break
    shipments.sort(key=lambda s: (s["earliest"], -s["quantity"]))
    return {
        **plan,
        "complete": True,
        "earliest": complete_by.isoformat(),
        "latest": max(s["latest"] for s in shipments),
        "shipments": shipments,
    }


async def split_delivery(request: web.Request) -> web.Response:
    store = request.app[STORE]
    today = _today(request)
    sku = _known_sku(store, required_string(request.query, "sku"))
    if "quantity" not in request.query:
        raise bad_request("'quantity' is required", field="quantity")
    quantity = positive_int(request.query["quantity"], "quantity")
    region = canonical_region(request.query.get("region"))
    plan = plan_split_delivery(
        store.stock(sku), store.pending_inbound(sku, today), quantity, region, today
    )
    return json_response({"sku": sku, **plan})


async def create_reservation(request: web.Request) -> web.Response:
    store = request.app[STORE]
    _today(request)
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiError(
            400,
            "idempotency_key_required",
            f"send an Idempotency-Key header (1 to {MAX_KEY_LENGTH} characters) so a retried "
            "request does not reserve twice",
        )
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request('the body must be a JSON object {"sku": …, "quantity": …}')
    unknown = sorted(set(body) - {"sku", "quantity", "warehouse", "region", "reference"})
    if unknown:
        raise bad_request(f"unknown fields: {', '.join(unknown)}")
    sku = required_string(body, "sku")
    if "quantity" not in body:
        raise bad_request("'quantity' is required")
    if isinstance(body["quantity"], str):
        raise bad_request("'quantity' must be a number, not a string")
    quantity = positive_int(body["quantity"], "quantity")
    warehouse = optional_string(body, "warehouse")
    region = canonical_region(optional_string(body, "region"))
    reference = optional_string(body, "reference", MAX_REFERENCE_LENGTH)
    reservation, created = store.reserve(
        key, sku=sku, quantity=quantity, warehouse=warehouse, region=region, reference=reference
    )
    return json_response(reservation, status=201 if created else 200)


async def get_reservation(request: web.Request) -> web.Response:
    reservation = request.app[STORE].reservation(request.match_info["id"])
    if reservation is None:
        raise ApiError(404, "unknown_reservation", f"no reservation {request.match_info['id']!r}")
    return json_response(reservation)


async def release_reservation(request: web.Request) -> web.Response:
    reservation = request.app[STORE].release(request.match_info["id"])
    if reservation is None:
        raise ApiError(404, "unknown_reservation", f"no reservation {request.match_info['id']!r}")
    return json_response(reservation)


# -- admin ------------------------------------------------------------------------------------


def _admin_warehouse(store: Store, item: Mapping[str, Any]) -> str:
    warehouse = required_string(item, "warehouse")
    if store.warehouse(warehouse) is None:
        raise ApiError(404, "unknown_warehouse", f"no warehouse {warehouse!r}")
    return warehouse


async def admin_stock(request: web.Request) -> web.Response:
    store = request.app[STORE]
    rows = []
    for item in await admin_items(request):
        on_hand = item.get("on_hand")
        if isinstance(on_hand, bool) or not isinstance(on_hand, int) or on_hand < 0:
            raise bad_request("'on_hand' must be a non-negative whole number")
        rows.append(
            (
                _admin_warehouse(store, item),
                required_string(item, "sku"),
                on_hand,
                optional_string(item, "name", 200),
            )
        )
    store.set_stock(rows)
    return json_response({"updated": len(rows)})


async def admin_inbound(request: web.Request) -> web.Response:
    store = request.app[STORE]
    today = request.app[TODAY]()
    rows = []
    for item in await admin_items(request):
        warehouse = _admin_warehouse(store, item)
        sku = required_string(item, "sku")
        quantity = positive_int(item.get("quantity"), "quantity")
        if isinstance(item.get("in_days"), int) and not isinstance(item["in_days"], bool):
            arrives_on = today + timedelta(days=item["in_days"])
        else:
            try:
                arrives_on = date.fromisoformat(required_string(item, "arrives_on"))
            except ValueError:
                raise bad_request("'arrives_on' must be a date YYYY-MM-DD") from None
        rows.append((warehouse, sku, quantity, arrives_on))
    ids = store.add_inbound(rows)
    store.receive_due(today)
    return json_response({"inbound": ids})


def create_app(
    db_path: str | Path, *, seed_demo: bool = False, today: Callable[[], date] = china_today
) -> web.Application:
    store = Store(db_path)
    if seed_demo:
        store.seed_demo(today())
    app = create_service_app(store, today=today)
    app[STORE] = store
    app.router.add_get("/api/warehouses", list_warehouses)
    app.router.add_get("/api/skus", list_skus)
    app.router.add_get("/api/stock", get_stock)
    app.router.add_get("/api/delivery-windows", delivery_windows)
    app.router.add_get("/api/split-delivery", split_delivery)
    app.router.add_post("/api/reservations", create_reservation)
    app.router.add_get("/api/reservations/{id}", get_reservation)
    app.router.add_delete("/api/reservations/{id}", release_reservation)
    app.router.add_post("/_admin/stock", admin_stock)
    app.router.add_post("/_admin/inbound", admin_inbound)
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


def main(argv: Sequence[str] | None = None) -> None:
    args = service_parser(
        "erp",
        "Reference ERP / inventory service of a device distributor (tests, demos).",
        seed_help="load the demo spare-parts catalogue, stock and inbound shipments (once per db)",
    ).parse_args(argv)
    run_service(
        lambda: start(
            args.db, args.host, args.port, seed_demo=args.seed_demo, today=clock(args.today)
        )
    )


if __name__ == "__main__":
    main()
