"""Connector actions: reserve stock in the distributor's ERP, and a generic JSON HTTP call.

Like the messaging actions (:mod:`kindred.scenarios.messaging`), every failure becomes one
:class:`~kindred.common.failures.ActionFailed` whose ``retryable`` flag says whether
running the same step again can help, and every request with an effect carries the step's
idempotency key (``Idempotency-Key`` header), so a retried step does not act twice:

* ``reserve_inventory`` posts to ``{KINDRED_INVENTORY_URL}/api/reservations`` (the
  reference implementation is :mod:`kindred.reference.erp`); a retry with the same step
  returns the reservation the first attempt made;
* ``release_inventory`` releases a reservation (compensation);
* ``http_call`` sends JSON to any http(s) URL and returns ``{"status", "body"}``.

The executors need nothing of ``kindred`` but ``kindred.settings.inventory_url`` (and,
optionally, ``inventory_timeout``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, NoReturn

import aiohttp
import orjson
from yarl import URL

from kindred.common.failures import ActionFailed
from kindred.common.http import decode_body, http_url, read_capped, status_failed, transport_failed
from kindred.scenarios.messaging import USER_AGENT, OutboundPolicy, outbound_policy
from kindred.scenarios.steps import StepContext

DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 60.0
MAX_KEY_LENGTH = 255
MAX_REFERENCE_LENGTH = 200
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
# Set by the action itself, or by the HTTP client from the body.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "idempotency-key"}
)


def _invalid(detail: str) -> NoReturn:
    raise ActionFailed(detail, retryable=False, code="payload-invalid")


def _key(step: StepContext) -> str:
    key = step.idempotency_key
    if any(c in key for c in "\r\n\0") or len(key) > MAX_KEY_LENGTH:
        # Still one key per step, just short and header-safe.
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


async def _send(
    method: str,
    target: URL,
    *,
    what: str,
    timeout: float,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    policy: OutboundPolicy | None = None,
) -> tuple[int, str | None, Any, bytes]:
    """One request; returns ``(status, reason, decoded body, raw capped body)``. With a
    ``policy``, only to a destination it allows (user-given URLs; the configured inventory
    service is trusted)."""
    request_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
    if body is not None:
        request_headers["Content-Type"] = "application/json"
    client = await policy.session(target) if policy is not None else aiohttp.ClientSession()
    async with client as session:
        try:
            async with session.request(
                method,
                target,
                data=body,
                headers=request_headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                data, truncated = await read_capped(response)
                status, reason = response.status, response.reason
                content_type = response.headers.get("Content-Type", "")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            transport_failed(error, what, timeout)
    return status, reason, decode_body(data, truncated, content_type), data


def _failed(status: int, reason: str | None, decoded: Any, data: bytes, what: str) -> NoReturn:
    text = decoded if isinstance(decoded, str) else data.decode("utf-8", "replace")
    if 300 <= status < 400:
        label = f"{status} {reason or ''}".strip()
        raise ActionFailed(
            f"{what} answered {label}; redirects are not followed, use the final URL",
            retryable=False,
            code="http-3xx",
        )
    status_failed(status, reason, text, what)


# -- inventory --------------------------------------------------------------------------------


def _inventory_base(kindred: Any) -> URL:
    base = getattr(kindred.settings, "inventory_url", None)
    if not base:
        raise ActionFailed(
            "inventory reservations are not configured: set KINDRED_INVENTORY_URL to the "
            "ERP's base URL (e.g. http://erp.internal:8600)",
            retryable=False,
            code="inventory-unconfigured",
        )
    try:
        return http_url(str(base).rstrip("/"))
    except ActionFailed:
        raise ActionFailed(
            f"KINDRED_INVENTORY_URL ({base!r}) is not an http:// or https:// URL with a host",
            retryable=False,
            code="inventory-unconfigured",
        ) from None


def _inventory_timeout(kindred: Any) -> float:
    timeout = getattr(kindred.settings, "inventory_timeout", None)
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    return DEFAULT_TIMEOUT


def _text(params: Mapping[str, Any], name: str, *, required: bool, limit: int = 100) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            _invalid(f"the parameter {name!r} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        _invalid(f"the parameter {name!r} must be text, got {type(value).__name__}")
    text = str(value).strip()
    if not text or len(text) > limit or any(c in text for c in "\r\n\0"):
        _invalid(f"the parameter {name!r} must be one line of 1 to {limit} characters")
    return text


def _quantity(value: Any) -> int:
    """A positive whole number; rendered templates give text ("3"), CEL may give 3.0."""
    number: Any = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        _invalid(f"the quantity must be a positive whole number, got {value!r}")
    return number


def _inventory_failed(
    status: int, reason: str | None, decoded: Any, data: bytes, what: str, sku: str
) -> NoReturn:
    error = decoded.get("error") if isinstance(decoded, dict) else None
    message = decoded.get("message") if isinstance(decoded, dict) else None
    if status == 409 and error == "insufficient_stock":
        available = decoded.get("available")
        where = f" in {decoded['warehouse']}" if decoded.get("warehouse") else ""
        raise ActionFailed(
            f"not enough {sku} in stock{where}: {available} available ({message})",
            retryable=False,
            code="insufficient-stock",
        )
    if status == 404 and error in ("unknown_sku", "unknown_warehouse", "unknown_reservation"):
        raise ActionFailed(
            f"{what}: {message or error}",
            retryable=False,
            code=str(error).replace("_", "-"),
        )
    _failed(status, reason, decoded, data, what)


async def reserve_inventory(
    kindred: Any, params: dict[str, Any], step: StepContext
) -> dict[str, Any]:
    """Reserve ``quantity`` of ``sku`` (in ``warehouse``, else near ``region``, else
    anywhere); returns the reservation ``{"id", "sku", "quantity", "warehouse", "status",
    "reference", …}``. ``reference`` defaults to the scenario run."""
    base = _inventory_base(kindred)
    sku = _text(params, "sku", required=True)
    assert sku is not None
    quantity = _quantity(params.get("quantity"))
    payload: dict[str, Any] = {"sku": sku, "quantity": quantity}
    for name in ("warehouse", "region"):
        value = _text(params, name, required=False)
        if value is not None:
            payload[name] = value
    reference = _text(params, "reference", required=False, limit=MAX_REFERENCE_LENGTH)
    if reference is None:
        reference = f"kindred scenario {step.scenario} run {step.run_id}"[:MAX_REFERENCE_LENGTH]
    payload["reference"] = reference

    target = base / "api" / "reservations"
    what = f"the inventory service {target}"
    status, reason, decoded, data = await _send(
        "POST",
        target,
        what=what,
        timeout=_inventory_timeout(kindred),
        body=orjson.dumps(payload),
        headers={"Idempotency-Key": _key(step)},
    )
    if status not in (200, 201):
        _inventory_failed(status, reason, decoded, data, what, sku)
    if not isinstance(decoded, dict) or not isinstance(decoded.get("id"), str):
        raise ActionFailed(
            f"{what} answered {status} without a reservation: {data[:200]!r}",
            retryable=True,
            code="inventory-bad-response",
        )
    return decoded


async def release_inventory(
    kindred: Any, params: dict[str, Any], step: StepContext
) -> dict[str, Any]:
    """Release the reservation ``reservation`` (its id); releasing twice is harmless."""
    base = _inventory_base(kindred)
    reservation = _text(params, "reservation", required=True)
    assert reservation is not None
    target = base / "api" / "reservations" / reservation
    what = f"the inventory service {target}"
    status, reason, decoded, data = await _send(
        "DELETE",
        target,
        what=what,
        timeout=_inventory_timeout(kindred),
        headers={"Idempotency-Key": _key(step)},
    )
    if status != 200:
        _inventory_failed(status, reason, decoded, data, what, "")
    if not isinstance(decoded, dict):
        raise ActionFailed(
            f"{what} answered {status} without a reservation: {data[:200]!r}",
            retryable=True,
            code="inventory-bad-response",
        )
    return decoded


# -- generic HTTP -----------------------------------------------------------------------------


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        _invalid(f"'headers' must be an object of names to values, got {type(value).__name__}")
    headers: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            _invalid(f"the header name {name!r} is not valid")
        if name.lower() in _RESERVED_HEADERS:
            _invalid(f"the header {name!r} is set by the action itself; leave it out")
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            _invalid(f"the value of header {name!r} must be text")
        text = str(item)
        if any(c in text for c in "\r\n\0"):
            _invalid(f"the value of header {name!r} must be a single line")
        headers[name] = text
    return headers


def _timeout(value: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_TIMEOUT
    ):
        _invalid(f"'timeout' must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}")
    return float(value)


async def http_call(kindred: Any, params: dict[str, Any], step: StepContext) -> dict[str, Any]:
    """Send ``method`` (default GET) to ``url`` with an optional JSON ``body`` and
    ``headers``; returns ``{"status", "body"}`` for a 2xx answer (the body parsed as JSON
    when it is JSON, else text; capped at 64 KiB). Requests other than GET carry the step's
    ``Idempotency-Key``. Redirects are not followed."""
    method = str(params.get("method") or "GET").strip().upper()
    if method not in HTTP_METHODS:
        _invalid(f"the method {method!r} is not one of {', '.join(sorted(HTTP_METHODS))}")
    target = http_url(params.get("url"))
    headers = _headers(params.get("headers"))
    timeout = _timeout(params.get("timeout"))
    body: bytes | None = None
    if params.get("body") is not None:
        if method == "GET":
            _invalid("a GET request has no body; put the parameters in the URL's query")
        try:
            body = orjson.dumps(params["body"])
        except TypeError as error:
            _invalid(f"the body is not JSON-serialisable: {error}")
    if method != "GET":
        headers["Idempotency-Key"] = _key(step)

    what = f"{method} {target.with_query(None).with_fragment(None)}"
    policy = outbound_policy(kindred.settings) if kindred is not None else None
    status, reason, decoded, data = await _send(
        method, target, what=what, timeout=timeout, body=body, headers=headers, policy=policy
    )
    if not 200 <= status < 300:
        _failed(status, reason, decoded, data, what)
    return {"status": status, "body": decoded}


__all__ = ["http_call", "release_inventory", "reserve_inventory"]
