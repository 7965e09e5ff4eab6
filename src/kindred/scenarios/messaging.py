"""Message-sending actions of the scenario engine: webhooks and WeChat template messages, and
the sandboxed templates their bodies (and e-mails', see :mod:`kindred.common.mail`) come from.

Each adapter speaks its real protocol to a real server (HTTP through :mod:`aiohttp`) and
turns every failure into one :class:`~kindred.common.failures.ActionFailed` whose
``retryable`` flag tells the scenario runner whether trying the same step again can help:

* the other side was unreachable, timed out, was busy or asked us to slow down → retryable;
* the request itself is wrong (a bad URL, refused credentials, a 4xx answer, a template that
  does not render) → not retryable: the same request would fail again.

Every send takes an idempotency handle (``idempotency_key``, ``client_msg_id``): a runner
that retries a step passes the same handle each time, so the receiving side can recognise
the repeat instead of delivering twice.

Message bodies come from user-authored Jinja2 templates, rendered in a sandbox (see
:func:`render`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn

import aiohttp
import jinja2
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from jinja2.sandbox import ImmutableSandboxedEnvironment
from yarl import URL

from kindred.common.failures import ActionFailed
from kindred.common.http import decode_body, http_url, read_capped, status_failed, transport_failed
from kindred.events.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_signature

# Rendered output is capped: a runaway loop in a template must not fill memory or the audit log.
# (Response bodies are capped at ``kindred.common.http.MAX_RESPONSE_BYTES``.)
MAX_OUTPUT_BYTES = 64 * 1024
TEMPLATE_CACHE_SIZE = 256
USER_AGENT = "kindred-scenarios/0.1"


# -- templates --------------------------------------------------------------------------------


class _Sandbox(ImmutableSandboxedEnvironment):
    """The stock immutable sandbox (no private/dunder attributes, no mutation of passed-in
    lists and dicts, bounded ``range``) plus bounds on the two operators that can build a huge
    value from a short template: ``'x' * 10**9`` and ``2 ** 10**9``.

    This bounds memory for the obvious cases; it does not bound CPU (a template can still
    loop for a long time without output). Templates are authored by staff, not customers.
    """

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | bytes | list | tuple)
                    and isinstance(count, int)
                    and len(seq) * count > MAX_OUTPUT_BYTES
                ):
                    raise jinja2.exceptions.SecurityError(
                        f"repeating a sequence {count} times would exceed {MAX_OUTPUT_BYTES} bytes"
                    )
        elif (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right > 0
            and abs(left).bit_length() * right > MAX_OUTPUT_BYTES * 8
        ):
            raise jinja2.exceptions.SecurityError(f"{left} ** {right} is too large to compute")
        return super().call_binop(context, operator, left, right)


_TEXT_ENV = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False)
_HTML_ENV = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=True)


@functools.lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def _compile(source: str, html: bool) -> jinja2.Template:
    """Compile once per distinct source; syntax errors are not cached (they raise)."""
    return (_HTML_ENV if html else _TEXT_ENV).from_string(source)


def _template_line(tb: TracebackType | None) -> int | None:
    """The innermost template line in a traceback Jinja has rewritten to point at the
    template source (its frames carry the filename ``<template>``)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _template_failed(error: Exception, line: int | None) -> NoReturn:
    where = f" on line {line}" if line is not None else ""
    if isinstance(error, jinja2.exceptions.TemplateSyntaxError):
        message = error.message or str(error)
        raise ActionFailed(
            f"template syntax error{where}: {message}", retryable=False, code="template-error"
        ) from None
    if isinstance(error, jinja2.exceptions.UndefinedError):
        raise ActionFailed(
            f"template variable is undefined{where}: {error}; add it to the scenario's "
            "context or guard it with {% if … is defined %}",
            retryable=False,
            code="template-error",
        ) from None
    if isinstance(error, jinja2.exceptions.SecurityError):
        raise ActionFailed(
            f"template refused by the sandbox{where}: {error}",
            retryable=False,
            code="template-error",
        ) from None
    raise ActionFailed(
        f"template failed{where}: {type(error).__name__}: {error}",
        retryable=False,
        code="template-error",
    ) from None


def _render(source: str, context: Mapping[str, Any], html: bool) -> str:
    try:
        template = _compile(source, html)
    except jinja2.exceptions.TemplateSyntaxError as error:
        _template_failed(error, error.lineno)
    parts: list[str] = []
    size = 0
    try:
        # Streamed, so a runaway loop stops at the cap instead of building the whole output.
        for chunk in template.generate(dict(context)):
            size += len(chunk.encode("utf-8", "surrogatepass"))
            if size > MAX_OUTPUT_BYTES:
                raise ActionFailed(
                    f"the rendered template is larger than {MAX_OUTPUT_BYTES} bytes; "
                    "shorten it or the data it loops over",
                    retryable=False,
                    code="template-error",
                )
            parts.append(chunk)
    except ActionFailed:
        raise
    except Exception as error:
        _template_failed(error, _template_line(error.__traceback__))
    return "".join(parts)


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render a plain-text template (no autoescaping) in the sandbox.

    Undefined variables are errors, not empty strings: a message saying "Dear ," is worse
    than no message. Every failure is ``ActionFailed(code="template-error", retryable=False)``
    naming the line and, for undefined variables, the missing name.
    """
    return _render(source, context, html=False)


def render_html(source: str, context: Mapping[str, Any]) -> str:
    """Like :func:`render`, with HTML autoescaping of every substituted value."""
    return _render(source, context, html=True)


def check_template(source: str) -> list[dict[str, Any]]:
    """Save-time validation: ``[]`` or ``[{"line": n, "message": …}]`` for a syntax error
    (unknown filters and tests count: Jinja reports them when compiling). Whether variables
    exist can only be known when rendering with real data."""
    try:
        _compile(source, False)
    except jinja2.exceptions.TemplateSyntaxError as error:
        return [{"line": error.lineno, "message": error.message or str(error)}]
    return []


# -- HTTP -------------------------------------------------------------------------------------


class _PinnedResolver(AbstractResolver):
    """Answers with the addresses the outbound policy checked, and nothing else: the
    connection goes where the check looked (no second DNS answer between check and connect)."""

    def __init__(self, results: list[ResolveResult]) -> None:
        self._results = results

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [{**r, "port": port or r["port"]} for r in self._results]

    async def close(self) -> None:
        return None


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Special-purpose blocks ``ipaddress`` has no property for (RFC 1918, RFC 6598, RFC 4193, and
# the IPv6 blocks that carry an IPv4 address: RFC 4291 §2.5.5.1, RFC 2765, RFC 6052, RFC 8215).
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_SHARED_V4 = ipaddress.IPv4Network("100.64.0.0/10")
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")


def _low_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    """The IPv4 address in the last 32 bits (where the /96 embeddings put it)."""
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _ipv4_problem(address: ipaddress.IPv4Address) -> str | None:
    """Why ``address`` is not a public destination, or None when it is."""
    if address.is_multicast:
        return "a multicast address"  # ``is_global`` is True for some multicast blocks
    if address.is_global:
        return None
    if address.is_unspecified:
        return "the unspecified address (connecting to it reaches this host)"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata endpoints live)"
    if any(address in network for network in _PRIVATE_V4):
        return "a private address"
    if address in _SHARED_V4:
        return "a shared (carrier-grade NAT) address"
    if address.is_reserved:
        return "a reserved or broadcast address"
    return "a special-purpose address that is not globally reachable"


def _ipv6_problem(address: ipaddress.IPv6Address) -> str | None:
    """Why ``address`` is not a public destination, or None when it is.

    ``is_global`` judges the IPv6 address alone, so the forms that carry an IPv4 address
    are decided first. Where the connection goes to exactly the embedded IPv4 address
    (IPv4-mapped: this host's own socket; the NAT64 well-known prefix, which RFC 6052 keeps
    for global IPv4 addresses and IPv6-only networks need) that address is judged. The
    other forms are refused whole: IPv4-compatible and IPv4-translated addresses are
    deprecated and reach their IPv4 address through a tunnel or translator; in a local-use
    NAT64 prefix the operator chooses where the IPv4 address sits, so it cannot be read;
    6to4 (deprecated) and Teredo name a relay, not the host. An operator who needs one of
    them allows the prefix in ``KINDRED_SCENARIO_OUTBOUND_ALLOW``.
    """
    mapped = address.ipv4_mapped
    if mapped is not None:
        problem = _ipv4_problem(mapped)
        return f"an IPv4-mapped address of {mapped}, {problem}" if problem else None
    if address in _NAT64_WELL_KNOWN:
        embedded = _low_ipv4(address)
        problem = _ipv4_problem(embedded)
        return f"a NAT64 address of {embedded}, {problem}" if problem else None
    if address in _NAT64_LOCAL_USE:
        return (
            "a local-use NAT64 address (64:ff9b:1::/48), whose embedded IPv4 address cannot "
            "be located and checked"
        )
    if address.sixtofour is not None:
        return (
            f"a 6to4 address (2002::/16) carrying {address.sixtofour}; 6to4 is deprecated and "
            "reaches the host through a relay, so it is refused whatever it carries"
        )
    if address.teredo is not None:
        server, client = address.teredo
        return (
            f"a Teredo address (2001::/32) of {client} via the server {server}; Teredo "
            "reaches the host through a relay, so it is refused whatever it carries"
        )
    if address.is_unspecified:
        return "the unspecified address (connecting to it reaches this host)"
    if address.is_loopback:
        return "a loopback address"
    if address in _IPV4_COMPATIBLE:
        return (
            f"an IPv4-compatible address of {_low_ipv4(address)} (deprecated by RFC 4291), "
            "refused whatever it carries"
        )
    if address in _IPV4_TRANSLATED:
        return (
            f"an IPv4-translated address of {_low_ipv4(address)} (SIIT), refused whatever "
            "it carries"
        )
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_site_local:
        return "a site-local address (deprecated)"
    if address in _UNIQUE_LOCAL:
        return "a unique-local address (a private network)"
    if address not in _GLOBAL_UNICAST or not address.is_global:
        return "a special-purpose address that is not globally reachable"
    return None


def destination_problem(address: IPAddress) -> str | None:
    """Why a connection to ``address`` might not reach a public host (a phrase for an error
    message), or None for a public unicast address."""
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_problem(address)
    return _ipv6_problem(address)


@dataclass(frozen=True)
class OutboundPolicy:
    """Where scenario steps (webhooks, HTTP calls) may send requests: public addresses, and
    the hosts or networks in ``allow`` (e.g. ``erp.internal``, ``10.20.0.0/16``).

    Why: a scenario is written by business users; without this, a step could reach the
    server's own loopback services, the private network or a cloud metadata endpoint.
    Every address a host resolves to is judged by :func:`destination_problem`, which
    decodes the IPv4 address inside IPv6 forms (``::ffff:127.0.0.1``, ``64:ff9b::7f00:1``).
    """

    allow: tuple[str, ...] = ()

    def _allowed(self, host: str, address: IPAddress) -> bool:
        # An IPv4-mapped address is the same destination as its IPv4 address (one socket
        # connects to the other), so an allowed IPv4 network covers it; the other embedded
        # forms go through a tunnel or translator and must be allowed as IPv6 networks.
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        for entry in self.allow:
            if entry == host:
                return True
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if any(candidate in network for candidate in candidates):
                return True
        return False

    async def resolve(self, target: URL) -> list[ResolveResult]:
        """The target's addresses, each checked; ActionFailed if any may not be reached."""
        host = (target.host or "").strip("[]")
        port = target.port or (443 if target.scheme == "https" else 80)
        try:
            addresses = [(ipaddress.ip_address(host), socket.AF_UNSPEC)]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except OSError as error:
                raise ActionFailed(
                    f"{host} could not be resolved ({error})", retryable=True, code="dns"
                ) from None
            addresses = [(ipaddress.ip_address(info[4][0]), info[0]) for info in infos]
        results: list[ResolveResult] = []
        for address, family in addresses:
            problem = destination_problem(address)
            if problem is not None and not self._allowed(host, address):
                named = str(address) if host == str(address) else f"{host} ({address})"
                raise ActionFailed(
                    f"{named} is {problem}: scenario steps may only call public addresses "
                    "(allow it with KINDRED_SCENARIO_OUTBOUND_ALLOW)",
                    retryable=False,
                    code="blocked-destination",
                )
            results.append(
                {
                    "hostname": host,
                    "host": str(address),
                    "port": port,
                    "family": int(
                        family or (socket.AF_INET6 if address.version == 6 else socket.AF_INET)
                    ),
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        return results

    async def session(self, target: URL) -> aiohttp.ClientSession:
        """A client session that can reach only the checked addresses of ``target``."""
        results = await self.resolve(target)
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=_PinnedResolver(results))
        )


def outbound_policy(settings: Any) -> OutboundPolicy:
    return OutboundPolicy(tuple(settings.scenario_outbound_allow))


async def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    secret: str | None = None,
    idempotency_key: str | None = None,
    timeout: float = 10.0,
    session: aiohttp.ClientSession | None = None,
    policy: OutboundPolicy | None = None,
) -> dict[str, Any]:
    """POST ``payload`` as JSON, to a destination ``policy`` allows (when given). With
    ``secret``, sign it like inbound Kindred webhooks (``X-Kindred-Timestamp`` +
    ``X-Kindred-Signature``, see :func:`kindred.events.channels.webhook_signature`) so
    receivers verify both directions with one routine. Returns ``{"status", "body"}``
    (parsed JSON, else text, capped at 64 KiB). Redirects are not followed.
    """
    target = http_url(url)
    try:
        body = orjson.dumps(payload)
    except TypeError as error:
        raise ActionFailed(
            f"the webhook payload is not JSON-serialisable: {error}",
            retryable=False,
            code="payload-invalid",
        ) from None
    request_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if idempotency_key is not None:
        if any(c in idempotency_key for c in "\r\n\0"):
            raise ActionFailed(
                "the idempotency key must be a single-line string",
                retryable=False,
                code="payload-invalid",
            )
        request_headers["Idempotency-Key"] = idempotency_key
    if secret is not None:
        timestamp = str(int(time.time()))
        request_headers[TIMESTAMP_HEADER] = timestamp
        request_headers[SIGNATURE_HEADER] = webhook_signature(secret, timestamp, body)

    what = f"the webhook {target.with_query(None).with_fragment(None)}"
    own_session = session is None
    if session is not None and policy is not None:
        await policy.resolve(target)  # a caller's session: checked, not pinned
    if session is None:
        client = await policy.session(target) if policy is not None else aiohttp.ClientSession()
    else:
        client = session
    try:
        async with client.post(
            target,
            data=body,
            headers=request_headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            data, truncated = await read_capped(response)
            status = response.status
            reason = response.reason
            content_type = response.headers.get("Content-Type", "")
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        transport_failed(error, what, timeout)
    finally:
        if own_session:
            await client.close()
    decoded = decode_body(data, truncated, content_type)
    if not 200 <= status < 300:
        text = decoded if isinstance(decoded, str) else data.decode("utf-8", "replace")
        status_failed(status, reason, text, what)
    return {"status": status, "body": decoded}


# -- WeChat Official Account ------------------------------------------------------------------

# Token problems: fetch a fresh token once and repeat the call.
WECHAT_TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# Errors that go away by themselves: system busy, quota and frequency limits.
WECHAT_RETRYABLE = frozenset({-1, 45009, 45011, 45047})
WECHAT_ERRORS = {
    -1: "system busy",
    40001: "access token is invalid",
    40003: "invalid openid (the user does not follow this account)",
    40013: "invalid appid",
    40014: "invalid access token",
    40037: "invalid template_id",
    40125: "invalid app secret",
    40164: "caller IP is not whitelisted",
    41001: "access token missing",
    42001: "access token expired",
    43004: "the user has unsubscribed",
    45009: "daily API quota reached",
    45011: "API called too frequently",
    47001: "data format error",
    47003: "argument invalid (the data keys must match the template's keywords)",
}


class WechatClient:
    """WeChat Official Account API: access-token handling and template messages.

    One client per app; the token is shared by all calls and refreshed once when WeChat
    says it is invalid or expired. Close the client when done (it owns an HTTP session).
    """

    def __init__(
        self, api_base: str, app_id: str, app_secret: str, *, timeout: float = 10.0
    ) -> None:
        self._base = http_url(api_base.rstrip("/"))
        self._app_id = app_id
        self._app_secret = app_secret
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = asyncio.Lock()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> WechatClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _url(self, path: str, **query: str) -> URL:
        return (self._base / path.lstrip("/")).with_query(query)

    async def _call(self, method: str, url: URL, body: bytes | None = None) -> dict[str, Any]:
        what = f"the WeChat API {url.with_query(None)}"
        try:
            async with self._client().request(
                method,
                url,
                data=body,
                headers={"Content-Type": "application/json"} if body is not None else None,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,
            ) as response:
                data, truncated = await read_capped(response)
                status, reason = response.status, response.reason
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            transport_failed(error, what, self._timeout)
        if status != 200:
            status_failed(status, reason, data.decode("utf-8", "replace"), what)
        # WeChat often labels its JSON text/plain, so the content type is not checked.
        try:
            parsed = orjson.loads(data) if not truncated else None
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ActionFailed(
                f"{what} answered something that is not a JSON object: "
                f"{data[:200].decode('utf-8', 'replace')!r}",
                retryable=True,
                code="wechat-bad-response",
            )
        return parsed

    @staticmethod
    def _failed(result: Mapping[str, Any], what: str) -> NoReturn:
        errcode = result.get("errcode")
        errmsg = result.get("errmsg", "")
        known = WECHAT_ERRORS.get(errcode) if isinstance(errcode, int) else None
        meaning = f" ({known})" if known else ""
        raise ActionFailed(
            f"WeChat refused {what}: errcode {errcode}{meaning}: {errmsg}",
            retryable=errcode in WECHAT_RETRYABLE or errcode in WECHAT_TOKEN_ERRORS,
            code=f"wechat-{errcode}",
        )

    async def access_token(self) -> str:
        """The cached access token, fetched when missing or within 60 s of expiry."""
        async with self._lock:
            if self._token is not None and time.monotonic() < self._token_expires:
                return self._token
            result = await self._call(
                "GET",
                self._url(
                    "/cgi-bin/token",
                    grant_type="client_credential",
                    appid=self._app_id,
                    secret=self._app_secret,
                ),
            )
            token = result.get("access_token")
            if not isinstance(token, str) or not token:
                self._failed(result, f"an access token for app {self._app_id!r}")
            expires_in = result.get("expires_in")
            lifetime = expires_in if isinstance(expires_in, int | float) else 7200
            self._token = token
            self._token_expires = time.monotonic() + max(lifetime - 60, 0)
            return token

    def _forget(self, token: str) -> None:
        # Only drop the token we used: another call may already have fetched a newer one.
        if self._token == token:
            self._token = None

    async def send_template(
        self,
        *,
        openid: str,
        template_id: str,
        data: Mapping[str, str],
        url: str | None = None,
        client_msg_id: str | None = None,
    ) -> dict[str, Any]:
        """Send a template message; returns ``{"msgid": …}``.

        ``client_msg_id`` is WeChat's idempotency key (per openid): pass the same value on
        every retry of one step so at most one message reaches the user.
        """
        for key, value in data.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ActionFailed(
                    f"template data must map keyword names to strings (got {key!r}: "
                    f"{type(value).__name__})",
                    retryable=False,
                    code="payload-invalid",
                )
        message: dict[str, Any] = {"touser": openid, "template_id": template_id}
        if url is not None:
            message["url"] = url
        if client_msg_id is not None:
            message["client_msg_id"] = client_msg_id
        message["data"] = {key: {"value": value} for key, value in data.items()}
        body = orjson.dumps(message)
        what = f"the template message {template_id!r} to {openid!r}"

        for attempt in range(2):
            token = await self.access_token()
            result = await self._call(
                "POST", self._url("/cgi-bin/message/template/send", access_token=token), body
            )
            errcode = result.get("errcode", 0)
            if errcode == 0:
                return {"msgid": result.get("msgid")}
            if errcode in WECHAT_TOKEN_ERRORS and attempt == 0:
                self._forget(token)
                continue
            self._failed(result, what)
        raise AssertionError("unreachable")  # pragma: no cover


def message_key(*parts: str) -> str:
    """A stable idempotency handle from the parts that identify one send (scenario run id,
    step index, recipient): the same step always gets the same key, a different step never.
    Usable as ``idempotency_key`` and ``client_msg_id``; wrap as ``<key@domain>`` for e-mail."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:32]


__all__ = [
    "WechatClient",
    "check_template",
    "message_key",
    "post_webhook",
    "render",
    "render_html",
]
