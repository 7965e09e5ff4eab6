"""A reference contract and payment-history system: the distributor's finance system.

A separate aiohttp service with its own SQLite storage standing in for the distributor's
contract ledger and accounts receivable, so a compliance agent reads a hospital's history
over real sockets. Customers are keyed by unified social credit code (GB 32100-2015; a
malformed code answers 400 ``invalid_credit_code``); amounts are CNY with two decimals
(stored in fen, so sums are exact). JSON over HTTP:

* ``GET /api/customers?name=…`` → ``[{"credit_code", "name", "credit_limit",
  "payment_terms_days", "currency"}]``; ``GET /api/customers/{credit_code}`` → one
  (404 ``unknown_customer``);
* ``GET /api/customers/{credit_code}/contracts[?status=active]`` → ``[{"number", "title",
  "amount", "currency", "signed_on", "start_on", "end_on", "status", "invoiced", "paid",
  "outstanding"}]``, newest signature first; ``GET /api/contracts/{number}`` → one, with its
  ``invoices`` (404 ``unknown_contract``);
* ``GET /api/customers/{credit_code}/invoices`` → ``[{"number", "contract", "issued_on",
  "due_on", "amount", "paid", "outstanding", "status": "paid"|"open"|"overdue",
  "settled_on", "days_late", "days_overdue"}]``: ``settled_on`` is the day the last payment
  made it paid in full, ``days_late`` how long after the due date that was, ``days_overdue``
  how long an unpaid invoice is past its due date today;
* ``GET /api/customers/{credit_code}/payments`` → ``[{"id", "invoice", "contract",
  "paid_on", "amount", "method", "reference", "due_on", "days_late"}]``, newest first;
* ``GET /api/customers/{credit_code}/summary`` → figures computed on every call (never
  stored) as of today:

  - ``total_contracted``: contracts ``active`` or ``completed`` (drafts were never signed,
    terminated contracts will not be delivered);
  - ``total_invoiced``, ``total_paid``, ``outstanding`` (invoiced, not yet paid);
  - ``overdue`` and ``overdue_invoices``: the outstanding amount of invoices past their due
    date, ``max_days_overdue`` the oldest of them (0 when none);
  - ``on_time_ratio``: of the invoices that are paid in full or past due, the share paid in
    full by the due date (``null`` when there are none yet);
  - ``late_payments_12m``: payments made after their invoice's due date within the last 12
    months (after the same day a year ago);
  - ``credit_limit`` and ``available_credit`` = limit − outstanding (negative: over limit);
  - ``active_contracts``, ``last_payment_on``, ``as_of``, ``currency``.

Errors are ``{"error": code, "message": text}``. Dates are calendar days in China (UTC+8);
``--today`` pins the clock for reproducible demos and tests.

Admin endpoints (unauthenticated: bind to loopback), each all or nothing — one bad item (its
index is in the error) and nothing of the request is stored:

* ``POST /_admin/customers [{"credit_code", "name", "credit_limit", "payment_terms_days"?
  (90)}]`` creates or updates customers;
* ``POST /_admin/contracts [{"number", "credit_code", "title", "amount", "signed_on",
  "start_on", "end_on", "status", "currency"? ("CNY")}]``;
* ``POST /_admin/invoices [{"number", "contract", "issued_on", "amount", "due_on"? (issued
  + the customer's payment terms)}]`` — the invoices of a contract may not add up to more
  than its amount (409 ``exceeds_contract``);
* ``POST /_admin/payments [{"invoice", "paid_on", "amount", "method"? ("bank_transfer"),
  "reference"?, "id"?}]`` — never more than the invoice's outstanding amount (409
  ``overpayment``);
* ``POST /_admin/dataset {"customers": […], "contracts": […], "invoices": […],
  "payments": […]}`` loads all four in one transaction;
* ``POST /_admin/fail-next {"status": 503, "count": 1, "delay": 0}`` (see
  :mod:`kindred.reference.common`).

Contracts, invoices and payments are facts of the past: dates after today are refused (422
``future_date``), and a number already used answers 409 ``duplicate_…``.

Run it::

    python -m kindred.reference.contracts --db contracts.db --host 127.0.0.1 --port 0 --seed-demo

It prints ``listening on http://HOST:PORT`` (flushed) once it accepts connections and stops
cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

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

CONTRACT_STATUSES = ("draft", "active", "completed", "terminated")
CONTRACTED = ("active", "completed")
PAYMENT_METHODS = ("bank_transfer", "acceptance_bill", "cheque")
DEFAULT_TERMS_DAYS = 90
MAX_TERMS_DAYS = 365

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    credit_code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    credit_limit INTEGER NOT NULL CHECK (credit_limit >= 0),
    payment_terms_days INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS contracts (
    number TEXT PRIMARY KEY,
    credit_code TEXT NOT NULL REFERENCES customers (credit_code),
    title TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL CHECK (currency = 'CNY'),
    signed_on TEXT NOT NULL,
    start_on TEXT NOT NULL,
    end_on TEXT NOT NULL CHECK (end_on >= start_on),
    status TEXT NOT NULL CHECK (status IN ('draft', 'active', 'completed', 'terminated')),
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contracts_by_customer ON contracts (credit_code);
CREATE TABLE IF NOT EXISTS invoices (
    number TEXT PRIMARY KEY,
    contract TEXT NOT NULL REFERENCES contracts (number),
    issued_on TEXT NOT NULL,
    due_on TEXT NOT NULL CHECK (due_on >= issued_on),
    amount INTEGER NOT NULL CHECK (amount > 0),
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invoices_by_contract ON invoices (contract);
CREATE TABLE IF NOT EXISTS payments (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    invoice TEXT NOT NULL REFERENCES invoices (number),
    paid_on TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    method TEXT NOT NULL,
    reference TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_by_invoice ON payments (invoice, paid_on);
"""


def yuan(fen: int) -> float:
    """Fen to a JSON number of yuan; exact to the fen (``fen / 100`` is the shortest float
    that prints as the two-decimal amount)."""
    return fen / 100


def to_fen(value: Any, name: str, *, positive: bool = False) -> int:
    return int(money(value, name, positive=positive) * 100)


def year_before(day: date) -> date:
    """The same calendar day a year earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


@dataclass
class Invoice:
    """An invoice with its payments up to a day, and what follows from them."""

    number: str
    contract: str
    issued_on: date
    due_on: date
    amount: int
    payments: list[sqlite3.Row] = field(default_factory=list)

    @property
    def paid(self) -> int:
        return sum(int(payment["amount"]) for payment in self.payments)

    @property
    def outstanding(self) -> int:
        return self.amount - self.paid

    @property
    def settled_on(self) -> date | None:
        """The day the payment that completed the amount was made."""
        total = 0
        for payment in self.payments:  # in payment date order
            total += int(payment["amount"])
            if total >= self.amount:
                return date.fromisoformat(payment["paid_on"])
        return None

    def days_overdue(self, today: date) -> int:
        if self.outstanding <= 0 or self.due_on >= today:
            return 0
        return (today - self.due_on).days

    def status(self, today: date) -> str:
        if self.outstanding <= 0:
            return "paid"
        return "overdue" if self.due_on < today else "open"

    def as_json(self, today: date) -> dict[str, Any]:
        settled = self.settled_on
        return {
            "number": self.number,
            "contract": self.contract,
            "issued_on": self.issued_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "amount": yuan(self.amount),
            "paid": yuan(self.paid),
            "outstanding": yuan(self.outstanding),
            "status": self.status(today),
            "settled_on": None if settled is None else settled.isoformat(),
            "days_late": None if settled is None else max(0, (settled - self.due_on).days),
            "days_overdue": self.days_overdue(today),
        }


def summarize(
    customer: sqlite3.Row,
    contracts: Sequence[sqlite3.Row],
    invoices: Sequence[Invoice],
    today: date,
) -> dict[str, Any]:
    """The figures a credit or compliance policy reads, from the rows as of ``today``."""
    outstanding = sum(invoice.outstanding for invoice in invoices)
    overdue = [invoice for invoice in invoices if invoice.days_overdue(today) > 0]
    settled = {invoice.number: invoice.settled_on for invoice in invoices}
    judged = [
        invoice
        for invoice in invoices
        if settled[invoice.number] is not None or invoice.due_on < today
    ]
    on_time = [
        invoice
        for invoice in judged
        if (settled_on := settled[invoice.number]) is not None and settled_on <= invoice.due_on
    ]
    window_start = year_before(today)
    payments = [(invoice, payment) for invoice in invoices for payment in invoice.payments]
    late_recent = [
        payment
        for invoice, payment in payments
        if window_start < date.fromisoformat(payment["paid_on"]) <= today
        and date.fromisoformat(payment["paid_on"]) > invoice.due_on
    ]
    limit = int(customer["credit_limit"])
    return {
        "credit_code": customer["credit_code"],
        "name": customer["name"],
        "as_of": today.isoformat(),
        "currency": "CNY",
        "total_contracted": yuan(
            sum(int(c["amount"]) for c in contracts if c["status"] in CONTRACTED)
        ),
        "active_contracts": sum(1 for c in contracts if c["status"] == "active"),
        "total_invoiced": yuan(sum(invoice.amount for invoice in invoices)),
        "total_paid": yuan(sum(invoice.paid for invoice in invoices)),
        "outstanding": yuan(outstanding),
        "overdue": yuan(sum(invoice.outstanding for invoice in overdue)),
        "overdue_invoices": len(overdue),
        "max_days_overdue": max((invoice.days_overdue(today) for invoice in overdue), default=0),
        "on_time_ratio": round(len(on_time) / len(judged), 4) if judged else None,
        "late_payments_12m": len(late_recent),
        "credit_limit": yuan(limit),
        "available_credit": yuan(limit - outstanding),
        "last_payment_on": max((payment["paid_on"] for _, payment in payments), default=None),
    }


class Store(SQLiteStore):
    schema = SCHEMA

    # -- reads --------------------------------------------------------------------------------

    def customer(self, code: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM customers WHERE credit_code = ?", (code,)
        ).fetchone()
        return row

    def customers(self, name: str | None) -> list[sqlite3.Row]:
        if name is None:
            return self.db.execute("SELECT * FROM customers ORDER BY credit_code").fetchall()
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self.db.execute(
            "SELECT * FROM customers WHERE name LIKE ? ESCAPE '\\' ORDER BY credit_code",
            (pattern,),
        ).fetchall()

    def contract(self, number: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM contracts WHERE number = ?", (number,)
        ).fetchone()
        return row

    def contracts(self, code: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM contracts WHERE credit_code = ? ORDER BY signed_on DESC, number DESC",
            (code,),
        ).fetchall()

    def invoices(self, *, code: str | None = None, contract: str | None = None) -> list[Invoice]:
        """Invoices of a customer or of one contract, oldest first, with their payments."""
        where, param = (
            ("c.credit_code = ?", code) if contract is None else ("i.contract = ?", contract)
        )
        rows = self.db.execute(
            "SELECT i.* FROM invoices i JOIN contracts c ON c.number = i.contract "
            f"WHERE {where} ORDER BY i.issued_on, i.number",
            (param,),
        ).fetchall()
        invoices = {
            row["number"]: Invoice(
                row["number"],
                row["contract"],
                date.fromisoformat(row["issued_on"]),
                date.fromisoformat(row["due_on"]),
                int(row["amount"]),
            )
            for row in rows
        }
        if invoices:
            marks = ", ".join("?" * len(invoices))
            for payment in self.db.execute(
                f"SELECT * FROM payments WHERE invoice IN ({marks}) ORDER BY paid_on, seq",
                list(invoices),
            ):
                invoices[payment["invoice"]].payments.append(payment)
        return list(invoices.values())

    # -- writes (each inside the caller's transaction) ----------------------------------------

    def put_customer(self, item: Mapping[str, Any]) -> None:
        reject_unknown_fields(item, {"credit_code", "name", "credit_limit", "payment_terms_days"})
        terms = item.get("payment_terms_days", DEFAULT_TERMS_DAYS)
        self.db.execute(
            "INSERT INTO customers (credit_code, name, credit_limit, payment_terms_days, "
            "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (credit_code) DO UPDATE SET "
            "name = excluded.name, credit_limit = excluded.credit_limit, "
            "payment_terms_days = excluded.payment_terms_days, updated_at = excluded.updated_at",
            (
                credit_code(item.get("credit_code")),
                required_string(item, "name", 200),
                to_fen(item.get("credit_limit"), "credit_limit"),
                positive_int(terms, "payment_terms_days", MAX_TERMS_DAYS),
                utc_now(),
            ),
        )

    def add_contract(self, item: Mapping[str, Any], today: date) -> None:
        reject_unknown_fields(
            item,
            {"number", "credit_code", "title", "amount", "currency", "signed_on", "start_on",
             "end_on", "status"},
        )  # fmt: skip
        number = required_string(item, "number", 40)
        code = credit_code(item.get("credit_code"))
        title = required_string(item, "title", 300)
        amount = to_fen(item.get("amount"), "amount", positive=True)
        currency = item.get("currency", "CNY")
        if currency != "CNY":
            raise invalid(
                f"the system keeps CNY contracts only, not {currency!r}", field="currency"
            )
        signed_on = _past_date(item, "signed_on", today)
        start_on = required_date(item, "start_on")
        end_on = required_date(item, "end_on")
        if end_on < start_on:
            raise invalid("'end_on' is before 'start_on'", field="end_on")
        status = required_string(item, "status", 20)
        if status not in CONTRACT_STATUSES:
            raise invalid(f"'status' must be one of {', '.join(CONTRACT_STATUSES)}", field="status")
        if self.customer(code) is None:
            raise ApiError(422, "unknown_customer", f"no customer {code}; load it first")
        if self.contract(number) is not None:
            raise ApiError(409, "duplicate_contract", f"contract {number} exists already")
        self.db.execute(
            "INSERT INTO contracts (number, credit_code, title, amount, currency, signed_on, "
            "start_on, end_on, status, created_at) VALUES (?, ?, ?, ?, 'CNY', ?, ?, ?, ?, ?)",
            (number, code, title, amount, signed_on.isoformat(), start_on.isoformat(),
             end_on.isoformat(), status, utc_now()),
        )  # fmt: skip

    def add_invoice(self, item: Mapping[str, Any], today: date) -> None:
        reject_unknown_fields(item, {"number", "contract", "issued_on", "due_on", "amount"})
        number = required_string(item, "number", 40)
        contract_number = required_string(item, "contract", 40)
        issued_on = _past_date(item, "issued_on", today)
        amount = to_fen(item.get("amount"), "amount", positive=True)
        contract = self.contract(contract_number)
        if contract is None:
            raise ApiError(422, "unknown_contract", f"no contract {contract_number}")
        if contract["status"] == "draft":
            raise ApiError(
                409, "contract_not_signed", f"contract {contract_number} is a draft; sign it first"
            )
        customer = self.customer(contract["credit_code"])
        assert customer is not None  # a foreign key
        if item.get("due_on") is None:
            due_on = issued_on + timedelta(days=int(customer["payment_terms_days"]))
        else:
            due_on = required_date(item, "due_on")
            if due_on < issued_on:
                raise invalid("'due_on' is before 'issued_on'", field="due_on")
        if self.db.execute("SELECT 1 FROM invoices WHERE number = ?", (number,)).fetchone():
            raise ApiError(409, "duplicate_invoice", f"invoice {number} exists already")
        invoiced = self.db.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM invoices WHERE contract = ?", (contract_number,)
        ).fetchone()[0]
        if invoiced + amount > contract["amount"]:
            raise ApiError(
                409,
                "exceeds_contract",
                f"contract {contract_number} is for {yuan(contract['amount']):,.2f} CNY and "
                f"{yuan(invoiced):,.2f} is invoiced; {yuan(amount):,.2f} more is too much",
            )
        self.db.execute(
            "INSERT INTO invoices (number, contract, issued_on, due_on, amount, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (number, contract_number, issued_on.isoformat(), due_on.isoformat(), amount, utc_now()),
        )

    def add_payment(self, item: Mapping[str, Any], today: date) -> str:
        reject_unknown_fields(item, {"id", "invoice", "paid_on", "amount", "method", "reference"})
        invoice_number = required_string(item, "invoice", 40)
        paid_on = _past_date(item, "paid_on", today)
        amount = to_fen(item.get("amount"), "amount", positive=True)
        method = item.get("method", "bank_transfer")
        if method not in PAYMENT_METHODS:
            raise invalid(f"'method' must be one of {', '.join(PAYMENT_METHODS)}", field="method")
        reference = optional_string(item, "reference", 200)
        payment_id = optional_string(item, "id", 40)
        invoice = self.db.execute(
            "SELECT * FROM invoices WHERE number = ?", (invoice_number,)
        ).fetchone()
        if invoice is None:
            raise ApiError(422, "unknown_invoice", f"no invoice {invoice_number}")
        if paid_on < date.fromisoformat(invoice["issued_on"]):
            raise invalid(
                f"'paid_on' {paid_on} is before invoice {invoice_number} was issued "
                f"({invoice['issued_on']})",
                field="paid_on",
            )
        paid = self.db.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM payments WHERE invoice = ?", (invoice_number,)
        ).fetchone()[0]
        if paid + amount > invoice["amount"]:
            raise ApiError(
                409,
                "overpayment",
                f"invoice {invoice_number} has {yuan(invoice['amount'] - paid):,.2f} CNY "
                f"outstanding; a payment of {yuan(amount):,.2f} is more",
                outstanding=yuan(invoice["amount"] - paid),
            )
        seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM payments").fetchone()[0]
        payment_id = payment_id or f"PAY-{seq:06d}"
        if self.db.execute("SELECT 1 FROM payments WHERE id = ?", (payment_id,)).fetchone():
            raise ApiError(409, "duplicate_payment", f"payment {payment_id} exists already")
        self.db.execute(
            "INSERT INTO payments (seq, id, invoice, paid_on, amount, method, reference, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, payment_id, invoice_number, paid_on.isoformat(), amount, method, reference,
             utc_now()),
        )  # fmt: skip
        return payment_id

    def load(
        self, dataset: Mapping[str, Sequence[Mapping[str, Any]]], today: date, *, named: bool
    ) -> dict[str, int]:
        """Customers, then contracts, invoices and payments, in one transaction; ``named``:
        refusals name the collection (``contracts[2]: …``), else only the index."""
        with self.transaction():
            return self._load(dataset, today, named=named)

    def _load(
        self, dataset: Mapping[str, Sequence[Mapping[str, Any]]], today: date, *, named: bool
    ) -> dict[str, int]:
        writers: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "customers": self.put_customer,
            "contracts": lambda item: self.add_contract(item, today),
            "invoices": lambda item: self.add_invoice(item, today),
            "payments": lambda item: self.add_payment(item, today),
        }
        for collection, write in writers.items():
            for index, item in enumerate(dataset.get(collection, ())):
                with item_errors(index, collection if named else None):
                    write(item)
        return {collection: len(dataset.get(collection, ())) for collection in writers}

    def seed_demo(self, today: date) -> bool:
        """Load the demo ledger once per database; False when it already was."""
        if self.is_seeded():
            return False
        with self.transaction():
            self._load(demo_dataset(today), today, named=True)
            self.mark_seeded()
        return True


def _past_date(item: Mapping[str, Any], name: str, today: date) -> date:
    value = required_date(item, name)
    if value > today:
        raise ApiError(
            422,
            "future_date",
            f"{name!r} {value} is after today ({today}); the system records what happened",
            field=name,
        )
    return value


# -- handlers ---------------------------------------------------------------------------------

STORE = web.AppKey("store", Store)


def _customer(request: web.Request) -> sqlite3.Row:
    code = credit_code(request.match_info["credit_code"])
    row = request.app[STORE].customer(code)
    if row is None:
        raise ApiError(404, "unknown_customer", f"no customer with credit code {code}")
    return row


def _customer_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "credit_code": row["credit_code"],
        "name": row["name"],
        "credit_limit": yuan(row["credit_limit"]),
        "payment_terms_days": row["payment_terms_days"],
        "currency": "CNY",
    }


def _contract_json(row: sqlite3.Row, invoices: Sequence[Invoice]) -> dict[str, Any]:
    own = [invoice for invoice in invoices if invoice.contract == row["number"]]
    return {
        "number": row["number"],
        "credit_code": row["credit_code"],
        "title": row["title"],
        "amount": yuan(row["amount"]),
        "currency": row["currency"],
        "signed_on": row["signed_on"],
        "start_on": row["start_on"],
        "end_on": row["end_on"],
        "status": row["status"],
        "invoiced": yuan(sum(invoice.amount for invoice in own)),
        "paid": yuan(sum(invoice.paid for invoice in own)),
        "outstanding": yuan(sum(invoice.outstanding for invoice in own)),
    }


async def list_customers(request: web.Request) -> web.Response:
    reject_unknown_fields(request.query, {"name"})
    rows = request.app[STORE].customers(optional_string(request.query, "name"))
    return json_response([_customer_json(row) for row in rows])


async def get_customer(request: web.Request) -> web.Response:
    return json_response(_customer_json(_customer(request)))


async def customer_contracts(request: web.Request) -> web.Response:
    customer = _customer(request)
    reject_unknown_fields(request.query, {"status"})
    status = optional_string(request.query, "status", 20)
    if status is not None and status not in CONTRACT_STATUSES:
        raise bad_request(f"'status' must be one of {', '.join(CONTRACT_STATUSES)}")
    store = request.app[STORE]
    invoices = store.invoices(code=customer["credit_code"])
    return json_response(
        [
            _contract_json(row, invoices)
            for row in store.contracts(customer["credit_code"])
            if status is None or row["status"] == status
        ]
    )


async def get_contract(request: web.Request) -> web.Response:
    store = request.app[STORE]
    number = request.match_info["number"]
    row = store.contract(number)
    if row is None:
        raise ApiError(404, "unknown_contract", f"no contract {number!r}")
    invoices = store.invoices(contract=number)
    today = request.app[TODAY]()
    return json_response(
        {**_contract_json(row, invoices), "invoices": [i.as_json(today) for i in invoices]}
    )


async def customer_invoices(request: web.Request) -> web.Response:
    customer = _customer(request)
    today = request.app[TODAY]()
    invoices = request.app[STORE].invoices(code=customer["credit_code"])
    return json_response([invoice.as_json(today) for invoice in invoices])


async def customer_payments(request: web.Request) -> web.Response:
    customer = _customer(request)
    invoices = request.app[STORE].invoices(code=customer["credit_code"])
    rows = sorted(
        ((payment, invoice) for invoice in invoices for payment in invoice.payments),
        key=lambda pair: (pair[0]["paid_on"], pair[0]["seq"]),
        reverse=True,
    )
    return json_response(
        [
            {
                "id": payment["id"],
                "invoice": invoice.number,
                "contract": invoice.contract,
                "paid_on": payment["paid_on"],
                "amount": yuan(payment["amount"]),
                "method": payment["method"],
                "reference": payment["reference"],
                "due_on": invoice.due_on.isoformat(),
                "days_late": max(0, (date.fromisoformat(payment["paid_on"]) - invoice.due_on).days),
            }
            for payment, invoice in rows
        ]
    )


async def customer_summary(request: web.Request) -> web.Response:
    customer = _customer(request)
    store = request.app[STORE]
    code = customer["credit_code"]
    summary = summarize(
        customer, store.contracts(code), store.invoices(code=code), request.app[TODAY]()
    )
    return json_response(summary)


def _admin_loader(collection: str) -> Callable[[web.Request], Any]:
    async def load(request: web.Request) -> web.Response:
        items = await admin_items(request)
        counts = request.app[STORE].load({collection: items}, request.app[TODAY](), named=False)
        return json_response({"loaded": counts[collection]})

    return load


async def admin_dataset(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request('the body must be a JSON object {"customers": […], "contracts": […], …}')
    reject_unknown_fields(body, {"customers", "contracts", "invoices", "payments"})
    for collection, items in body.items():
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise bad_request(f"{collection!r} must be a list of objects")
    counts = request.app[STORE].load(body, request.app[TODAY](), named=True)
    return json_response({"loaded": counts})


def create_app(
    db_path: str | Path, *, seed_demo: bool = False, today: Callable[[], date] = china_today
) -> web.Application:
    store = Store(db_path)
    if seed_demo:
        store.seed_demo(today())
    app = create_service_app(store, today=today)
    app[STORE] = store
    app.router.add_get("/api/customers", list_customers)
    app.router.add_get("/api/customers/{credit_code}", get_customer)
    app.router.add_get("/api/customers/{credit_code}/contracts", customer_contracts)
    app.router.add_get("/api/customers/{credit_code}/invoices", customer_invoices)
    app.router.add_get("/api/customers/{credit_code}/payments", customer_payments)
    app.router.add_get("/api/customers/{credit_code}/summary", customer_summary)
    app.router.add_get("/api/contracts/{number}", get_contract)
    for collection in ("customers", "contracts", "invoices", "payments"):
        app.router.add_post(f"/_admin/{collection}", _admin_loader(collection))
    app.router.add_post("/_admin/dataset", admin_dataset)
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

# Per customer: credit limit (CNY), payment terms (days), and contracts as (title, amount,
# signed days ago, months, status, invoices). An invoice is (issued days ago, amount,
# payments as (days after the due date — negative: early —, amount or None for the rest)).
DemoInvoice = tuple[int, int, tuple[tuple[int, int | None], ...]]
DemoContract = tuple[str, int, int, int, str, tuple[DemoInvoice, ...]]
DEMO_LEDGER: dict[str, tuple[int, int, tuple[DemoContract, ...]]] = {
    "121101054526018196": (8_000_000, 90, (
        ("CT球管及配件年度供货合同", 3_600_000, 400, 24, "active", (
            (380, 1_200_000, ((-2, None),)),
            (200, 1_150_000, ((-5, None),)),
            (40, 640_000, ()),  # not due yet
        )),
        ("超声探头备件框架协议", 480_000, 700, 12, "completed", (
            (680, 240_000, ((0, None),)),
            (500, 240_000, ((-2, None),)),
        )),
    )),
    "12310115459083014E": (12_000_000, 60, (
        ("磁共振线圈及冷头维保备件合同", 5_200_000, 300, 36, "active", (
            (280, 1_800_000, ((-2, None),)),
            (120, 1_600_000, ((-3, None),)),
        )),
        ("DR平板探测器更换合同", 960_000, 90, 12, "active", ((70, 960_000, ((-5, None),)),)),
    )),
    "12440106466131862R": (6_000_000, 90, (
        ("监护仪血氧探头耗材供货合同", 420_000, 500, 24, "active", (
            (470, 105_000, ((-5, None),)),
            (350, 105_000, ((-3, None),)),
            (230, 105_000, ((3, None),)),
            (110, 105_000, ((-5, None),)),
        )),
        ("CT滑环碳刷维修备件合同", 260_000, 200, 12, "active", ((180, 260_000, ((-5, None),)),)),
    )),
    "12510104409139091R": (3_000_000, 120, (
        ("X线限束器灯泡年度供货合同", 180_000, 330, 12, "active", (
            (300, 90_000, ((10, None),)),
            (150, 90_000, ((-10, None),)),
        )),
    )),
    "12420102496030827F": (2_500_000, 90, (
        ("超声线阵探头采购合同", 640_000, 260, 12, "active", (
            (240, 320_000, ((-10, None),)),
            (100, 320_000, ()),  # 10 days overdue
        )),
    )),
    "123301024462819431": (1_500_000, 90, (
        ("监护仪血氧探头耗材供货合同", 150_000, 380, 12, "completed", (
            (360, 75_000, ((-2, None),)),
            (180, 75_000, ((-5, None),)),
        )),
    )),
    "52610113582199354J": (1_000_000, 90, (
        ("康复科监护耗材供货合同", 210_000, 420, 24, "active", (
            (400, 70_000, ((10, None),)),
            (250, 70_000, ((20, None),)),
            (120, 70_000, ((-10, 30_000),)),  # the rest 30 days overdue
        )),
    )),
    "91210112M181909307": (800_000, 60, (
        ("DR平板探测器维修更换合同", 380_000, 600, 12, "terminated", (
            (560, 190_000, ((30, None),)),
        )),
    )),
    # The bad payer: late again and again, three invoices long overdue, over its limit.
    "12370102454323197X": (1_500_000, 90, (
        ("CT球管年度供货合同", 2_400_000, 480, 24, "active", (
            (450, 600_000, ((80, None),)),
            (360, 600_000, ((80, None),)),
            (260, 600_000, ((70, 300_000),)),  # the rest 170 days overdue
            (180, 600_000, ()),  # 90 days overdue
        )),
        ("磁共振冷头更换合同", 820_000, 150, 12, "active", (
            (130, 820_000, ((10, 200_000),)),  # the rest 40 days overdue
        )),
        ("超声探头备件合同", 300_000, 20, 12, "draft", ()),
    )),
    "12410105448757490P": (5_000_000, 90, (
        ("CT球管及配件年度供货合同", 2_800_000, 250, 24, "active", (
            (230, 1_400_000, ((-5, None),)),
            (60, 700_000, ()),  # not due yet
        )),
    )),
    "12500112476018951R": (1_200_000, 90, (
        ("新院区监护耗材首批供货合同", 260_000, 45, 12, "active", ((30, 260_000, ()),)),
    )),
}  # fmt: skip


def demo_dataset(today: date) -> dict[str, list[dict[str, Any]]]:
    """The demo ledger, dated relative to the seeding day, for the customers of
    :data:`DEMO_LEDGER` (the same hospitals as the insurance registry's demo, plus the new
    Chongqing one)."""

    def day(days_ago: int) -> str:
        return (today - timedelta(days=days_ago)).isoformat()

    dataset: dict[str, list[dict[str, Any]]] = {
        "customers": [],
        "contracts": [],
        "invoices": [],
        "payments": [],
    }
    contract_seq = invoice_seq = 0
    for code, (limit, terms, contracts) in DEMO_LEDGER.items():
        dataset["customers"].append(
            {
                "credit_code": code,
                "name": BY_CREDIT_CODE[code].name,
                "credit_limit": limit,
                "payment_terms_days": terms,
            }
        )
        for title, amount, signed_ago, months, status, invoices in contracts:
            contract_seq += 1
            signed = today - timedelta(days=signed_ago)
            number = f"HT-{signed.year}-{contract_seq:04d}"
            start_on = signed + timedelta(days=7)
            dataset["contracts"].append(
                {
                    "number": number,
                    "credit_code": code,
                    "title": title,
                    "amount": amount,
                    "signed_on": signed.isoformat(),
                    "start_on": start_on.isoformat(),
                    "end_on": (start_on + timedelta(days=round(months * 30.44))).isoformat(),
                    "status": status,
                }
            )
            for issued_ago, invoice_amount, payments in invoices:
                invoice_seq += 1
                invoice_number = f"FP{today.year - 1}{invoice_seq:06d}"
                dataset["invoices"].append(
                    {
                        "number": invoice_number,
                        "contract": number,
                        "issued_on": day(issued_ago),
                        "amount": invoice_amount,
                    }
                )
                due_ago = issued_ago - terms
                rest = invoice_amount
                for days_late, paid in payments:
                    paid = rest if paid is None else paid
                    rest -= paid
                    dataset["payments"].append(
                        {
                            "invoice": invoice_number,
                            "paid_on": day(due_ago - days_late),
                            "amount": paid,
                            "reference": f"银行回单 {len(dataset['payments']) + 1:05d}",
                        }
                    )
    return dataset


def main(argv: Sequence[str] | None = None) -> None:
    args = service_parser(
        "contracts",
        "Reference contract and payment-history system of a device distributor (tests, demos).",
        seed_help="load the demo customers, contracts, invoices and payments (once per db)",
    ).parse_args(argv)
    run_service(
        lambda: start(
            args.db, args.host, args.port, seed_demo=args.seed_demo, today=clock(args.today)
        )
    )


if __name__ == "__main__":
    main()
