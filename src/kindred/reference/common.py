"""What every JSON reference service shares: errors, fault injection, storage, entry point.

The ERP, insurance registry, contract system and knowledge base (and any later JSON service)
are built from these pieces so that they behave the same to a client:

* every refusal is ``{"error": code, "message": text, **extra}`` with a 4xx status, raised
  as :class:`ApiError` anywhere in a handler and rendered by the :func:`errors` middleware
  (unknown routes and wrong methods, too, answer in that shape);
* ``POST /_admin/fail-next {"status": 503, "count": 1, "delay": 0}`` makes the next
  ``count`` ``/api`` calls answer ``status`` after ``delay`` seconds (with only ``delay``
  they are handled normally and answered late, for client-timeout tests; ``count: 0``
  clears) — see :func:`forced_failures`;
* state lives in one SQLite file behind a :class:`SQLiteStore`, whose writes are single
  ``BEGIN IMMEDIATE`` transactions, so an admin load that fails validation halfway changes
  nothing;
* ``python -m kindred.reference.<name> --db FILE --host H --port P [--seed-demo]
  [--today YYYY-MM-DD]`` (:func:`service_parser`, :func:`run_service`) prints
  ``listening on URL`` once it accepts connections;
* unified social credit codes (GB 32100-2015, the key of Chinese organisations) are
  checked to the check character, and money is CNY with at most two decimals.

Build an app with :func:`create_service_app` and add the service's own routes to it.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

import orjson
from aiohttp import web

from kindred.records.credit_codes import credit_code_problem
from kindred.reference import serve_until_signalled

CHINA = timezone(timedelta(hours=8), "CST")
MAX_QUANTITY = 1_000_000


def china_today() -> date:
    """The calendar day in China (UTC+8), which is what a Chinese business system's dates
    mean."""
    return datetime.now(CHINA).date()


def utc_now() -> str:
    """An ISO 8601 UTC timestamp to the second, for ``created_at``-style fields."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- errors -----------------------------------------------------------------------------------


class ApiError(Exception):
    """An answer other than success: ``{"error": code, "message": …, **extra}``."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.extra = extra


def bad_request(message: str, **extra: Any) -> ApiError:
    """400 ``bad_request``: the request itself is malformed (syntax, types, missing fields)."""
    return ApiError(400, "bad_request", message, **extra)


def invalid(message: str, **extra: Any) -> ApiError:
    """422 ``invalid``: well-formed, but the values break the service's rules."""
    return ApiError(422, "invalid", message, **extra)


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type="application/json", charset="utf-8"
    )


# aiohttp's own refusals (no such route, wrong method, body too large) get codes too, so a
# client never has to parse aiohttp's plain-text pages.
_HTTP_ERROR_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except ApiError as error:
        return json_response(
            {"error": error.error, "message": error.message, **error.extra}, status=error.status
        )
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = _HTTP_ERROR_CODES.get(error.status, "http_error")
        message = f"{error.reason}: {request.method} {request.path}"
        return json_response({"error": code, "message": message}, status=error.status)
    return response


# -- fault injection --------------------------------------------------------------------------


@dataclass
class Failure:
    status: int | None  # None: answer normally, only late
    count: int
    delay: float


FAILURES = web.AppKey("failures", list)


@web.middleware
async def forced_failures(request: web.Request, handler: Any) -> web.StreamResponse:
    pending: list[Failure] = request.app[FAILURES]
    if not request.path.startswith("/api/") or not pending:
        response: web.StreamResponse = await handler(request)
        return response
    failure = pending[0]
    failure.count -= 1
    if failure.count <= 0:
        pending.pop(0)
    if failure.status is None:
        try:
            response = await handler(request)  # the work is done; only the answer is late
        finally:
            await asyncio.sleep(failure.delay)
        return response
    await asyncio.sleep(failure.delay)
    return json_response(
        {"error": "forced_failure", "message": f"forced {failure.status} (/_admin/fail-next)"},
        status=failure.status,
    )


async def admin_fail_next(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    status = body.get("status", None if "delay" in body else 503)
    count = body.get("count", 1)
    delay = body.get("delay", 0)
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
    ):
        raise bad_request("'status' must be an HTTP error status (400-599)")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise bad_request("'count' must be a non-negative whole number")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 60:
        raise bad_request("'delay' must be from 0 to 60 seconds")
    failures: list[Failure] = request.app[FAILURES]
    failures.clear()
    if count:
        failures.append(Failure(status, count, float(delay)))
    return json_response({"status": status, "count": count, "delay": delay})


# -- request bodies and parameters ------------------------------------------------------------


async def read_json(request: web.Request) -> Any:
    """The parsed body (``None`` when empty); 400 when it is not JSON."""
    try:
        return orjson.loads(await request.read() or b"null")
    except orjson.JSONDecodeError as error:
        raise bad_request(f"the body is not valid JSON: {error}") from None


async def admin_items(request: web.Request) -> list[Mapping[str, Any]]:
    """An admin loader's body: one object or a list of objects."""
    body = await read_json(request)
    items = [body] if isinstance(body, dict) else body
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise bad_request("the body must be a JSON object or a list of objects")
    return items


def optional_string(body: Mapping[str, Any], name: str, limit: int = 100) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise bad_request(
            f"{name!r} must be a non-empty string of at most {limit} characters", field=name
        )
    return value.strip()


def required_string(body: Mapping[str, Any], name: str, limit: int = 100) -> str:
    value = optional_string(body, name, limit)
    if value is None:
        raise bad_request(f"{name!r} is required", field=name)
    return value


def positive_int(value: Any, name: str, maximum: int = MAX_QUANTITY) -> int:
    """A whole number from 1 to ``maximum``; digit strings (query parameters) are accepted."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise bad_request(f"{name!r} must be a whole number from 1 to {maximum}", field=name)
    return value


MAX_AMOUNT = Decimal(10_000_000_000)


def money(value: Any, name: str = "amount", *, positive: bool = False) -> Decimal:
    """An amount of CNY with at most two decimals (fen): a JSON number or a decimal string
    (what finance exports hold), 0 (or, ``positive``, more than 0) up to 10 billion."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise bad_request(f"{name!r} must be a number (CNY)", field=name)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise bad_request(f"{name!r} must be a number (CNY), not {value!r}", field=name) from None
    if not amount.is_finite():
        raise bad_request(f"{name!r} must be a number (CNY), not {value!r}", field=name)
    low = "more than 0" if positive else "from 0"
    if amount < 0 or (positive and amount == 0) or amount > MAX_AMOUNT:
        raise invalid(f"{name!r} must be {low} up to {MAX_AMOUNT:,} CNY", field=name)
    if amount != amount.quantize(Decimal("0.01")):
        raise invalid(f"{name!r} has at most two decimals (fen)", field=name)
    return amount.quantize(Decimal("0.01"))


def optional_date(body: Mapping[str, Any], name: str) -> date | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise bad_request(f"{name!r} must be a date YYYY-MM-DD", field=name)


def required_date(body: Mapping[str, Any], name: str) -> date:
    value = optional_date(body, name)
    if value is None:
        raise bad_request(f"{name!r} is required", field=name)
    return value


@contextmanager
def item_errors(index: int, collection: str | None = None) -> Iterator[None]:
    """Name the item of an admin batch a refusal is about: ``"item 3: …"`` (or
    ``"contracts[3]: …"``) and ``"index": 3`` (and ``"collection"``) in the answer."""
    try:
        yield
    except ApiError as error:
        where = f"item {index}" if collection is None else f"{collection}[{index}]"
        extra = {**error.extra, "index": index}
        if collection is not None:
            extra["collection"] = collection
        raise ApiError(error.status, error.error, f"{where}: {error.message}", **extra) from None


def reject_unknown_fields(body: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """400 naming every field the endpoint does not know: a typo must not pass silently."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(f"unknown fields: {', '.join(unknown)}", fields=unknown)


# -- storage ----------------------------------------------------------------------------------

META_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class SQLiteStore:
    """A service's SQLite state. Calls are quick and run on the event loop thread; every
    write is one ``BEGIN IMMEDIATE`` transaction (take the write lock up front), so a write
    is atomic even when several processes share the file. Subclasses set ``schema``."""

    schema: ClassVar[str] = ""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA busy_timeout = 5000")
        # WAL with NORMAL sync, as Kindred's own database: a commit is durable against a
        # process crash without an fsync per write (which costs ~10 ms per call here).
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.executescript(self.schema + META_SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def is_seeded(self, marker: str = "demo_seeded") -> bool:
        """Whether the demo data (or another one-time load named ``marker``) is in."""
        row = self.db.execute("SELECT 1 FROM meta WHERE key = ?", (marker,)).fetchone()
        return row is not None

    def mark_seeded(self, marker: str = "demo_seeded") -> None:
        """Record a one-time load; call inside the transaction that did it."""
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (marker, utc_now()))


# -- the application and the entry point ------------------------------------------------------

TODAY = web.AppKey[Callable[[], date]]("today")


def create_service_app(
    store: SQLiteStore, *, today: Callable[[], date] = china_today
) -> web.Application:
    """An app with the shared middlewares, ``POST /_admin/fail-next``, the clock under
    :data:`TODAY` and ``store`` closed on cleanup; the caller keeps ``store`` under its own
    typed key and adds its routes."""
    app = web.Application(middlewares=[errors, forced_failures])
    app[FAILURES] = []
    app[TODAY] = today

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    app.router.add_post("/_admin/fail-next", admin_fail_next)
    return app


def date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from None


def service_parser(
    name: str, description: str, *, seed_help: str, pin_today: bool = True
) -> argparse.ArgumentParser:
    """The common command line: ``--host --port --db --seed-demo [--today]``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m kindred.reference.{name}", description=description
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--db", required=True, help="SQLite file (':memory:' for none)")
    parser.add_argument("--seed-demo", action="store_true", help=seed_help)
    if pin_today:
        parser.add_argument(
            "--today", type=date_arg, metavar="YYYY-MM-DD", help="pin the service's calendar day"
        )
    return parser


def clock(pinned: date | None) -> Callable[[], date]:
    """The service's calendar: China's day, or ``pinned`` for reproducible runs."""
    return china_today if pinned is None else (lambda: pinned)


def run_service(starting: Callable[[], Awaitable[tuple[web.AppRunner, str]]]) -> None:
    """Run ``starting()`` (a service's ``start(...)``) in a new loop, announce the URL and
    serve until SIGINT/SIGTERM."""

    async def serve() -> None:
        runner, url = await starting()
        await serve_until_signalled(runner, url)

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        sys.exit(130)


# -- unified social credit codes (GB 32100-2015; checked in kindred.records.credit_codes) --


def credit_code(value: Any, name: str = "credit_code") -> str:
    """A validated credit code (surrounding spaces removed, letters upper-cased);
    400 ``invalid_credit_code`` saying exactly what is wrong otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ApiError(
            400, "invalid_credit_code", f"{name!r} must be a non-empty string", field=name
        )
    code = value.strip().upper()
    problem = credit_code_problem(code)
    if problem is not None:
        raise ApiError(400, "invalid_credit_code", problem, field=name)
    return code
