"""Reading answers from other systems over HTTP, shared by scenario actions and agent tools.

Each helper turns one kind of trouble into an :class:`~kindred.common.failures.ActionFailed`
with a stable ``code`` and the right ``retryable`` flag: transport errors (timeouts, refused
connections, TLS), unwanted statuses (5xx, 408 and 429 are retryable; 3xx and other 4xx are
not) and bad URLs. Response bodies are read up to ``MAX_RESPONSE_BYTES`` and no further.
"""

from __future__ import annotations

from typing import Any, NoReturn

import aiohttp
import orjson
from yarl import URL

from kindred.common.failures import ActionFailed

# The response bodies we keep are capped: a chatty endpoint must not fill memory or the log.
MAX_RESPONSE_BYTES = 64 * 1024


def http_url(url: Any) -> URL:
    """``url`` parsed, if it is an http(s) URL with a host; otherwise a non-retryable failure."""
    try:
        parsed = URL(url) if isinstance(url, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ActionFailed(
            f"the URL {url!r} is not an http:// or https:// URL with a host",
            retryable=False,
            code="url-invalid",
        )
    return parsed


def transport_failed(error: BaseException, what: str, timeout: float) -> NoReturn:
    """Map an aiohttp/asyncio exception raised while talking to ``what``."""
    if isinstance(error, TimeoutError):  # aiohttp's timeouts subclass it as well
        raise ActionFailed(
            f"{what} did not answer within {timeout} s", retryable=True, code="timeout"
        ) from None
    if isinstance(error, aiohttp.ClientSSLError):
        raise ActionFailed(
            f"TLS with {what} failed: {error}", retryable=False, code="http-tls"
        ) from None
    if isinstance(error, aiohttp.ClientConnectorError):
        raise ActionFailed(
            f"cannot connect to {what}: {error}", retryable=True, code="http-unreachable"
        ) from None
    if isinstance(error, aiohttp.InvalidURL):
        raise ActionFailed(
            f"the URL of {what} is invalid: {error}", retryable=False, code="url-invalid"
        ) from None
    raise ActionFailed(
        f"the connection to {what} failed: {type(error).__name__}: {error}",
        retryable=True,
        code="http-disconnected",
    ) from None


def status_failed(status: int, reason: str | None, body: str, what: str) -> NoReturn:
    excerpt = f": {body[:500]}" if body else ""
    label = f"{status} {reason or ''}".strip()
    if status >= 500:
        raise ActionFailed(f"{what} answered {label}{excerpt}", retryable=True, code="http-5xx")
    if status in (408, 429):  # Request Timeout, Too Many Requests: asked to come back later
        raise ActionFailed(
            f"{what} answered {label}{excerpt}", retryable=True, code=f"http-{status}"
        )
    if 300 <= status < 400:
        raise ActionFailed(
            f"{what} answered {label} (redirects are not followed: a signed POST must go "
            f"to the configured URL; update it){excerpt}",
            retryable=False,
            code="http-3xx",
        )
    raise ActionFailed(f"{what} answered {label}{excerpt}", retryable=False, code="http-4xx")


async def read_capped(response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """The body's first ``MAX_RESPONSE_BYTES`` bytes, and whether there was more."""
    data = await response.content.read(MAX_RESPONSE_BYTES + 1)
    # read(n) returns what is buffered; keep reading until the cap or the end.
    while len(data) <= MAX_RESPONSE_BYTES:
        more = await response.content.read(MAX_RESPONSE_BYTES + 1 - len(data))
        if not more:
            break
        data += more
    truncated = len(data) > MAX_RESPONSE_BYTES
    return data[:MAX_RESPONSE_BYTES], truncated


def decode_body(data: bytes, truncated: bool, content_type: str) -> Any:
    """A complete JSON body parsed; anything else (or a truncated body) as text."""
    if not truncated and "json" in content_type:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return data.decode("utf-8", "replace")
