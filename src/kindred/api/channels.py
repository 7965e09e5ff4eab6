"""Channel webhooks: WeChat Official Account push, POS transactions, app tracking, social
mentions. Each authenticates the sender its own way (WeChat's SHA-1 signature, HMAC-SHA256
for webhooks, a write key for apps) instead of a user login, then ingests like /events.

Anyone can reach these: a sender that fails authentication is counted and sampled, not
stored whole, and one that keeps failing is refused before its body is read
(``kindred.events.guard``)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import PlainTextResponse

from kindred.api.deps import KindredDep
from kindred.api.events import report_body
from kindred.api.responses import Json
from kindred.errors import NotFound
from kindred.events import channels
from kindred.events.guard import SourceGuard
from kindred.events.schemas import IngestResult
from kindred.events.service import BadSignature, IngestReport
from kindred.events.sources import ingest_native
from kindred.services import Kindred

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])


def _secret(kindred: Kindred, name: str, setting: str) -> str:
    value = getattr(kindred.settings, setting)
    if not value:
        raise NotFound(
            f"the {name} channel is not configured: set KINDRED_{setting.upper()} to enable it"
        )
    return str(value)


def _admit(request: Request, channel: str) -> tuple[SourceGuard, str]:
    """The application's guard and the caller's address, once the address may be heard:
    a source that keeps failing authentication is refused (429) before its body is read."""
    guard: SourceGuard = request.app.state.source_guard
    source = request.client.host if request.client else "unknown"
    guard.admit(channel, source)
    return guard, source


def _finish(report: IngestReport) -> Json:
    if report.rejected:
        raise report.problem()
    return Json(report_body(report))


@router.get("/wechat", summary="WeChat server URL verification (echoes echostr)")
async def wechat_verify_url(
    request: Request,
    kindred: KindredDep,
    signature: str,
    timestamp: str,
    nonce: str,
    echostr: str,
) -> PlainTextResponse:
    token = _secret(kindred, "WeChat", "wechat_token")
    # async, like the other channel routes: the guard is only ever touched from the loop.
    guard, source = _admit(request, "wechat")
    try:
        channels.wechat_verify(token, signature, timestamp, nonce, now=datetime.now(UTC))
    except channels.ChannelError as error:
        guard.failed("wechat", source)  # counted; there is no payload to sample
        raise BadSignature(error.detail) from None
    return PlainTextResponse(echostr)


@router.post("/wechat", summary="WeChat Official Account message push (XML)")
async def wechat_push(
    request: Request,
    kindred: KindredDep,
    signature: Annotated[str, Query()],
    timestamp: Annotated[str, Query()],
    nonce: Annotated[str, Query()],
) -> PlainTextResponse:
    started = time.perf_counter()
    token = _secret(kindred, "WeChat", "wechat_token")
    guard, source = _admit(request, "wechat")
    body = await request.body()
    now = datetime.now(UTC)
    report = await ingest_native(
        kindred.events,
        channel="wechat",
        body=body,
        content_type=request.headers.get("content-type", "text/xml"),
        verify=lambda: channels.wechat_verify(token, signature, timestamp, nonce, now=now),
        translate=lambda: [channels.wechat_to_event(body, now=now)],
        started=started,
        guard=guard,
        source=source,
    )
    if report.rejected:
        raise report.problem()
    # WeChat retries three times unless it reads exactly "success" (or a reply message).
    return PlainTextResponse(channels.wechat_reply_success().decode())


def _webhook(
    channel: str, translate: Callable[[bytes, datetime], list[dict[str, Any]]]
) -> Callable[..., Any]:
    async def receive(
        request: Request,
        kindred: KindredDep,
        x_kindred_signature: Annotated[str | None, Header()] = None,
        x_kindred_timestamp: Annotated[str | None, Header()] = None,
    ) -> Json:
        started = time.perf_counter()
        secret = _secret(kindred, channel, "webhook_secret")
        guard, source = _admit(request, channel)
        body = await request.body()
        now = datetime.now(UTC)
        report = await ingest_native(
            kindred.events,
            channel=channel,
            body=body,
            content_type=request.headers.get("content-type"),
            verify=lambda: channels.webhook_verify(
                secret, x_kindred_signature, x_kindred_timestamp, body, now=now
            ),
            translate=lambda: translate(body, now),
            started=started,
            guard=guard,
            source=source,
        )
        return _finish(report)

    return receive


router.add_api_route(
    "/pos",
    _webhook("pos", lambda body, now: channels.pos_to_events(body, now=now)),
    methods=["POST"],
    summary="POS transactions (JSON; HMAC-SHA256 signed)",
    description=(
        "Sign with `X-Kindred-Timestamp: <unix seconds>` and `X-Kindred-Signature: sha256=<hex "
        "HMAC-SHA256 of '<timestamp>.' + body>` using KINDRED_WEBHOOK_SECRET."
    ),
    response_model=None,
    responses={
        200: {"model": IngestResult, "description": "All events stored (or already stored)"}
    },
)
router.add_api_route(
    "/social",
    _webhook("social", lambda body, now: channels.social_to_events(body, now=now)),
    methods=["POST"],
    summary="Social-media mentions (JSON; HMAC-SHA256 signed)",
    response_model=None,
    responses={
        200: {"model": IngestResult, "description": "All events stored (or already stored)"}
    },
)


@router.post(
    "/app",
    summary="App tracking (batched JSON, Segment-style)",
    response_model=None,
    responses={
        200: {"model": IngestResult, "description": "All events stored (or already stored)"}
    },
)
async def app_tracking(
    request: Request,
    kindred: KindredDep,
    x_kindred_write_key: Annotated[str | None, Header()] = None,
    app_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "app",
) -> Json:
    started = time.perf_counter()
    key = _secret(kindred, "app tracking", "app_write_key")
    guard, source = _admit(request, "app")
    body = await request.body()
    now = datetime.now(UTC)

    def verify() -> None:
        if not x_kindred_write_key or not hmac.compare_digest(
            x_kindred_write_key.encode(), key.encode()
        ):
            raise channels.ChannelError(
                "bad_signature", "missing or wrong X-Kindred-Write-Key header"
            )

    report = await ingest_native(
        kindred.events,
        channel="app",
        body=body,
        content_type=request.headers.get("content-type"),
        verify=verify,
        translate=lambda: channels.app_batch_to_events(body, app_id=app_id, now=now),
        context={"app_id": app_id},
        started=started,
        guard=guard,
        source=source,
    )
    return _finish(report)
