"""Typed tools in a frozen registry: what agents may call, each wrapping one connector.

A tool has a Pydantic input model and output model, a version, the business system it
talks to and, for tools that read the CRM, the objects it reads (an agent must be granted
them). Agents name tools; the definition check validates literal arguments against the
input model at save time, the runtime validates computed ones before the call and the
output after it, so a reference service answering the wrong shape is a failed step, not a
corrupted decision.

Calls to business systems go over HTTP through one shared connection pool per runtime
(``ToolContext.request``), which records every request and response into the step's
trace (bodies clipped at ``MAX_TRACE_BODY``); the runtime keeps each attempt's calls in the
step's ``attempt_log`` (see :class:`kindred.agents.trace.AttemptLog`). Failures are
:class:`~kindred.common.failures.ActionFailed` (``retryable`` and a stable ``code``), the
same contract as scenario actions, so the runtime's retry and exception routes treat both
alike.

A golden case may pin what named tools answer in its evaluation runs (:class:`SystemPins`,
given to the context by the runtime for evaluation runs only): a pinned failure is answered
here, where the HTTP request would be made, with the pinned status, so retries, routes and
traces behave as for a real outage; the call is recorded with ``pinned: true``.
"""

from __future__ import annotations

import asyncio
import http
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import aiohttp
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kindred.common.failures import ActionFailed
from kindred.common.http import decode_body, read_capped, status_failed, transport_failed

MAX_TRACE_BODY = 4_000  # characters of a request/response body kept in a trace


class ToolModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StrictInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


def segment(value: str) -> str:
    """One URL path segment from a tool argument: percent-encoded, so an argument (which a
    model or an event may have written) cannot reach another path of the business system
    (``../../_admin/…``); the dot segments a URL resolves away are refused outright."""
    if value in ("", ".", ".."):
        raise ActionFailed(
            f"{value!r} is not a valid identifier", retryable=False, code="invalid-argument"
        )
    return urllib.parse.quote(value, safe="")


@dataclass
class SystemPins:
    """What named tools answer in one evaluation run tree (its golden case's ``systems``):
    ``{"fail": {"status": 503, "times": n}}`` fails the tree's first n calls of the tool
    (every call without ``times``), then the real system answers — or ``answer``, a recorded
    response, if the pin has one. Calls are counted per run tree, in this process."""

    systems: Mapping[str, Mapping[str, Any]]
    counted: dict[str, int] = field(default_factory=dict)

    def take(self, tool: str) -> dict[str, Any] | None:
        """This call's pin: ``{"fail": {...}}``, ``{"answer": {...}}`` or None (real)."""
        spec = self.systems.get(tool)
        if not spec:
            return None
        fail = spec.get("fail")
        if fail is not None:
            count = self.counted.get(tool, 0)
            self.counted[tool] = count + 1
            times = fail.get("times")
            if times is None or count < times:
                return {"fail": dict(fail)}
        if "answer" in spec:
            return {"answer": spec["answer"]}
        return None


@dataclass
class ToolContext:
    """What a tool call gets: the connection pool, where each system lives, the step's
    idempotency key and deadline, the CRM reader (for CRM tools) and the trace to write."""

    http: aiohttp.ClientSession | None
    urls: Mapping[str, str]
    idempotency_key: str
    deadline: float  # time.monotonic() by which the call must be done
    calls: list[dict[str, Any]] = field(default_factory=list)
    crm: Any = None  # CrmReader: read(object, query) through the record service as the agent
    pins: SystemPins | None = None  # an evaluation run's pinned systems (never a live run's)
    failing: Mapping[str, Any] | None = None  # this call's pinned failure, set by Tool.call

    def remaining(self) -> float:
        return max(0.001, self.deadline - time.monotonic())

    async def request(
        self,
        system: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200, 201),
        effect: bool = False,
    ) -> tuple[int, Any]:
        """One JSON request to ``system``; returns (status, decoded body) for a status in
        ``ok``; other statuses raise ActionFailed (4xx not retryable, 5xx/429 retryable)
        unless the caller lists them in ``ok`` to interpret them itself."""
        base = self.urls.get(system)
        if not base:
            raise ActionFailed(
                f"no URL is configured for the {system} service (KINDRED_{system.upper()}_URL)",
                retryable=False,
                code="tool-unconfigured",
            )
        if self.http is None:
            raise ActionFailed("the tool runtime is closed", retryable=False, code="closed")
        url = base.rstrip("/") + path
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        if effect:
            headers["Idempotency-Key"] = self.idempotency_key
        what = f"the {system} service ({method} {path})"
        call: dict[str, Any] = {
            "system": system,
            "method": method,
            "url": url,
            "params": query,
            "body": _clip(body),
        }
        self.calls.append(call)
        if self.failing is not None:
            # Pinned by the golden case: the system is "down", answered without the network.
            status = int(self.failing["status"])
            reason = _reason(status)
            answer = {"title": reason, "status": status, "detail": "pinned by the golden case"}
            call.update(status=status, ms=0.0, pinned=True, response=answer)
            if status in ok:  # a status the tool interprets itself (e.g. 404: not known)
                return status, answer
            status_failed(status, reason, "pinned by the golden case", what)
        started = time.perf_counter()
        timeout = self.remaining()
        try:
            async with self.http.request(
                method,
                url,
                params=query,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                raw, truncated = await read_capped(response)
                status = response.status
                decoded = decode_body(raw, truncated, response.headers.get("Content-Type", ""))
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            call["error"] = f"{type(error).__name__}: {error}"
            call["ms"] = round((time.perf_counter() - started) * 1000, 2)
            transport_failed(error, what, round(timeout, 3))
        call["status"] = status
        call["ms"] = round((time.perf_counter() - started) * 1000, 2)
        call["response"] = _clip(decoded)
        if status not in ok:
            text = decoded if isinstance(decoded, str) else orjson.dumps(decoded).decode()
            status_failed(status, response.reason, text, what)
        return status, decoded


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _clip(value: Any) -> Any:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else value
    if len(text) <= MAX_TRACE_BODY:
        return value
    return {"truncated": True, "excerpt": text[:MAX_TRACE_BODY]}


ToolFunction = Callable[[ToolContext, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    system: str  # the business system it wraps ("crm" for in-process record reads)
    input: type[BaseModel]
    output: type[BaseModel]
    function: ToolFunction
    version: str = "1"
    effect: bool = False  # changes something: the call carries the idempotency key
    objects: frozenset[str] = frozenset()  # CRM objects it reads (agents must be granted)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "system": self.system,
            "version": self.version,
            "effect": self.effect,
            "objects": sorted(self.objects),
            "input_schema": self.input.model_json_schema(),
            "output_schema": self.output.model_json_schema(),
        }

    async def call(self, context: ToolContext, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the arguments, call, validate the answer; returns plain JSON."""
        try:
            parsed = self.input.model_validate(dict(arguments))
        except ValidationError as error:
            raise ActionFailed(
                f"invalid arguments for {self.name}: {_errors(error)}",
                retryable=False,
                code="tool-arguments",
            ) from None
        pin = context.pins.take(self.name) if context.pins is not None else None
        if pin is not None and "answer" in pin:
            # A recorded response pinned by the golden case: no request is made.
            result = pin["answer"]
            context.calls.append(
                {
                    "system": self.system,
                    "tool": self.name,
                    "pinned": True,
                    "response": _clip(result),
                }
            )
        else:
            context.failing = pin["fail"] if pin is not None else None
            try:
                result = await self.function(context, parsed)
            finally:
                context.failing = None
        try:
            output = self.output.model_validate(result)
        except ValidationError as error:
            raise ActionFailed(
                f"{self.system} answered {self.name} with an unexpected shape: {_errors(error)}",
                retryable=False,
                code="tool-bad-response",
            ) from None
        return output.model_dump(mode="json")


def _errors(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or '(root)'}: {item['msg']}"
        for item in error.errors()[:5]
    )


class ToolRegistry(Mapping[str, Tool]):
    """An immutable name → tool mapping: built once at start-up, never changed at run time
    (a definition checked against it stays valid for the process's life)."""

    def __init__(self, tools: list[Tool]) -> None:
        names = [t.name for t in tools]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"duplicate tool names: {sorted(duplicates)}")
        self._tools = MappingProxyType({t.name: t for t in tools})

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)


# -- the business systems' tools ---------------------------------------------------------------


class QualificationIn(StrictInput):
    credit_code: str = Field(min_length=18, max_length=18)
    product_category: str = Field(min_length=1, max_length=64)
    amount: float | None = Field(default=None, ge=0)


class Reason(ToolModel):
    code: str
    message: str = ""


class QualificationOut(ToolModel):
    qualified: bool
    reasons: list[Reason] = Field(default_factory=list)
    institution: dict[str, Any] | None = None
    checked_at: str | None = None


async def qualification_check(context: ToolContext, args: QualificationIn) -> Any:
    _, body = await context.request(
        "insurance",
        "POST",
        "/api/qualification-checks",
        body=args.model_dump(exclude_none=True),
    )
    return body


class CreditCodeIn(StrictInput):
    credit_code: str = Field(min_length=18, max_length=18)


class PaymentSummaryOut(ToolModel):
    """The figures the contract system computes per customer (see
    :mod:`kindred.reference.contracts`); ``known`` is false when it has no such customer."""

    known: bool = True
    credit_code: str | None = None
    total_contracted: float = 0
    total_invoiced: float = 0
    total_paid: float = 0
    outstanding: float = 0
    overdue: float = 0
    overdue_invoices: int = 0
    max_days_overdue: int = 0
    on_time_ratio: float | None = None
    late_payments_12m: int = 0
    credit_limit: float | None = None
    available_credit: float | None = None
    active_contracts: int = 0
    last_payment_on: str | None = None
    as_of: str | None = None


async def payment_summary(context: ToolContext, args: CreditCodeIn) -> Any:
    status, body = await context.request(
        "contracts", "GET", f"/api/customers/{segment(args.credit_code)}/summary", ok=(200, 404)
    )
    if status == 404:
        # No history is an answer a policy decides on, not a failure.
        return {"known": False, "credit_code": args.credit_code}
    return body


class StockIn(StrictInput):
    sku: str = Field(min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)


class StockRow(ToolModel):
    warehouse: str
    region: str
    sku: str
    on_hand: int
    reserved: int
    available: int


class StockOut(ToolModel):
    rows: list[StockRow]
    total_available: int


async def spot_stock(context: ToolContext, args: StockIn) -> Any:
    _, rows = await context.request(
        "inventory", "GET", "/api/stock", params=args.model_dump(exclude_none=True)
    )
    rows = rows if isinstance(rows, list) else []
    return {"rows": rows, "total_available": sum(int(r.get("available", 0)) for r in rows)}


class WindowsIn(StrictInput):
    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(default=1, ge=1, le=100_000)
    region: str | None = Field(default=None, max_length=100)


class Window(ToolModel):
    warehouse: str
    region: str
    earliest: str
    latest: str
    available: int
    source: str
    transit_days: int


class WindowsOut(ToolModel):
    windows: list[Window]
    earliest: str | None


async def delivery_windows(context: ToolContext, args: WindowsIn) -> Any:
    _, rows = await context.request(
        "inventory", "GET", "/api/delivery-windows", params=args.model_dump(exclude_none=True)
    )
    rows = rows if isinstance(rows, list) else []
    return {"windows": rows, "earliest": rows[0]["earliest"] if rows else None}


class Shipment(ToolModel):
    warehouse: str
    region: str
    quantity: int
    earliest: str
    latest: str
    source: str
    transit_days: int


class SplitDeliveryOut(ToolModel):
    complete: bool
    earliest: str | None
    latest: str | None
    available: int
    shipments: list[Shipment]


async def split_delivery(context: ToolContext, args: WindowsIn) -> Any:
    _, body = await context.request(
        "inventory", "GET", "/api/split-delivery", params=args.model_dump(exclude_none=True)
    )
    return body


class ReserveIn(StrictInput):
    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=100_000)
    warehouse: str | None = None
    region: str | None = None
    reference: str | None = Field(default=None, max_length=200)


class ReservationOut(ToolModel):
    id: str
    sku: str
    quantity: int
    warehouse: str
    status: str


async def reserve_stock(context: ToolContext, args: ReserveIn) -> Any:
    status, body = await context.request(
        "inventory",
        "POST",
        "/api/reservations",
        body=args.model_dump(exclude_none=True),
        ok=(200, 201, 409),
        effect=True,
    )
    if status == 409:
        available = body.get("available") if isinstance(body, dict) else None
        raise ActionFailed(
            f"not enough {args.sku} in stock to reserve {args.quantity} (available: {available})",
            retryable=False,
            code="insufficient-stock",
        )
    return body


class ReleaseIn(StrictInput):
    reservation: str = Field(min_length=1, max_length=100)


async def release_stock(context: ToolContext, args: ReleaseIn) -> Any:
    _, body = await context.request(
        "inventory", "DELETE", f"/api/reservations/{segment(args.reservation)}", effect=True
    )
    return body


class CompatibilityIn(StrictInput):
    model: str = Field(min_length=1, max_length=100)
    # One device model, or the installed base: then the best-supported verdict wins (the
    # part is bought for the device it fits) and every device's verdict is listed.
    with_: str | list[str] = Field(alias="with", min_length=1)
    lang: str = Field(default="zh", pattern="^(zh|en)$")


class CompatibilityOut(ToolModel):
    verdict: str  # compatible | compatible_with_conditions | incompatible | unknown
    conditions: str | None = None
    document: str | None = None  # the knowledge-base document that states it
    device: str | None = None  # the installed model the verdict is about
    devices: list[dict[str, Any]] = Field(default_factory=list)


RANK = {"compatible": 3, "compatible_with_conditions": 2, "incompatible": 1, "unknown": 0}


async def compatibility(context: ToolContext, args: CompatibilityIn) -> Any:
    models = [args.with_] if isinstance(args.with_, str) else list(dict.fromkeys(args.with_))
    if not models:
        return {"verdict": "unknown", "conditions": "no installed device", "devices": []}

    async def one(device: str) -> dict[str, Any]:
        _, body = await context.request(
            "knowledge",
            "GET",
            "/api/compatibility",
            params={"model": args.model, "with": device, "lang": args.lang},
        )
        body = body if isinstance(body, dict) else {}
        source = body.get("source")
        return {
            "device": device,
            "verdict": body.get("verdict", "unknown"),
            "conditions": body.get("conditions"),
            "document": source.get("id") if isinstance(source, dict) else None,
        }

    verdicts = await asyncio.gather(*(one(m) for m in models[:20]))
    best = max(verdicts, key=lambda v: RANK.get(v["verdict"], 0))
    return {**best, "devices": verdicts}


class SearchIn(StrictInput):
    q: str = Field(min_length=1, max_length=200)
    lang: str | None = None
    limit: int = Field(default=5, ge=1, le=20)


class SearchOut(ToolModel):
    results: list[dict[str, Any]]


async def knowledge_search(context: ToolContext, args: SearchIn) -> Any:
    _, body = await context.request(
        "knowledge", "GET", "/api/search", params=args.model_dump(exclude_none=True)
    )
    results = body.get("results", body) if isinstance(body, dict) else body
    return {"results": results if isinstance(results, list) else []}


class WorkOrdersIn(StrictInput):
    account: str = Field(min_length=1, max_length=64)
    limit: int = Field(default=20, ge=1, le=100)


class WorkOrdersOut(ToolModel):
    tickets: list[dict[str, Any]]
    count: int
    open: int


async def work_orders(context: ToolContext, args: WorkOrdersIn) -> Any:
    if context.crm is None:
        raise ActionFailed("no CRM reader in this context", retryable=False, code="no-crm")
    tickets = await context.crm.read("ticket", {"account": args.account}, args.limit)
    open_states = {"new", "assigned", "in_progress", "waiting"}
    return {
        "tickets": tickets,
        "count": len(tickets),
        "open": sum(1 for t in tickets if t.get("status") in open_states),
    }


class InstalledBaseIn(StrictInput):
    account: str = Field(min_length=1, max_length=64)
    limit: int = Field(default=50, ge=1, le=200)


class InstalledBaseOut(ToolModel):
    devices: list[dict[str, Any]]
    models: list[str]
    count: int


async def installed_base(context: ToolContext, args: InstalledBaseIn) -> Any:
    """The account's installed devices with their product's model and SKU (CRM)."""
    if context.crm is None:
        raise ActionFailed("no CRM reader in this context", retryable=False, code="no-crm")
    assets = await context.crm.read("asset", {"account": args.account}, args.limit)
    product_ids = sorted({a["product"] for a in assets if a.get("product")})
    products = (
        {p["id"]: p for p in await context.crm.read("product", {"id": product_ids}, 200)}
        if product_ids
        else {}
    )
    devices = []
    for asset in assets:
        product = products.get(asset.get("product") or "", {})
        devices.append(
            {
                "serial_number": asset.get("serial_number"),
                "status": asset.get("status"),
                "model": product.get("model"),
                "sku": product.get("sku"),
                "product": product.get("name"),
            }
        )
    models = sorted({d["model"] for d in devices if d.get("model")})
    return {"devices": devices, "models": models, "count": len(devices)}


def default_tools() -> ToolRegistry:
    return ToolRegistry(
        [
            Tool(
                "insurance.qualification_check",
                "Medical-insurance qualification of an institution for a product category",
                "insurance",
                QualificationIn,
                QualificationOut,
                qualification_check,
            ),
            Tool(
                "contracts.payment_summary",
                "Contract and payment-history figures of a customer (by credit code)",
                "contracts",
                CreditCodeIn,
                PaymentSummaryOut,
                payment_summary,
            ),
            Tool(
                "erp.spot_stock",
                "Spot stock of a SKU per warehouse node",
                "inventory",
                StockIn,
                StockOut,
                spot_stock,
            ),
            Tool(
                "erp.delivery_windows",
                "Delivery windows for a quantity of a SKU across warehouse nodes",
                "inventory",
                WindowsIn,
                WindowsOut,
                delivery_windows,
            ),
            Tool(
                "erp.split_delivery",
                "A split delivery: shipments from several warehouse nodes that together "
                "deliver a quantity soonest",
                "inventory",
                WindowsIn,
                SplitDeliveryOut,
                split_delivery,
            ),
            Tool(
                "erp.reserve",
                "Reserve stock (idempotent per step; compensate with erp.release)",
                "inventory",
                ReserveIn,
                ReservationOut,
                reserve_stock,
                effect=True,
            ),
            Tool(
                "erp.release",
                "Release a stock reservation",
                "inventory",
                ReleaseIn,
                ReservationOut,
                release_stock,
                effect=True,
            ),
            Tool(
                "knowledge.compatibility",
                "Compatibility verdict between two device models from the knowledge base",
                "knowledge",
                CompatibilityIn,
                CompatibilityOut,
                compatibility,
            ),
            Tool(
                "knowledge.search",
                "Search compatibility reports and maintenance manuals",
                "knowledge",
                SearchIn,
                SearchOut,
                knowledge_search,
            ),
            Tool(
                "crm.work_orders",
                "Past service tickets and work orders of an account (CRM)",
                "crm",
                WorkOrdersIn,
                WorkOrdersOut,
                work_orders,
                objects=frozenset({"ticket"}),
            ),
            Tool(
                "crm.installed_base",
                "The account's installed devices with their models (CRM)",
                "crm",
                InstalledBaseIn,
                InstalledBaseOut,
                installed_base,
                objects=frozenset({"asset", "product"}),
            ),
        ]
    )
