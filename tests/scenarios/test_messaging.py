"""Message-sending actions against real servers on loopback.

SMTP goes to a real aiosmtpd server, webhooks to a real aiohttp server, WeChat to the
reference WeChat API server started as a subprocess. No mocks: every adapter speaks its wire
protocol over a socket, and every failure is checked for its code and retryable flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import select
import socket
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kindred.common.failures import ActionFailed
from kindred.common.http import MAX_RESPONSE_BYTES
from kindred.common.mail import SmtpSettings, send_email
from kindred.events.channels import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ChannelError,
    webhook_verify,
)
from kindred.reference import wechat as reference
from kindred.scenarios import messaging
from kindred.scenarios.messaging import (
    WechatClient,
    check_template,
    post_webhook,
    render,
    render_html,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def fails(awaitable: Awaitable[Any]) -> ActionFailed:
    """Run ``awaitable`` and return the ActionFailed it raises."""

    async def run() -> Any:
        return await awaitable

    with pytest.raises(ActionFailed) as caught:
        asyncio.run(run())
    return caught.value


# -- templates --------------------------------------------------------------------------------


def test_render_chinese_text() -> None:
    source = "{{ name }}您好,\n您的订单 {{ order.id }} 已发货,共 {{ order['items'] | length }} 件。"
    context = {"name": "张三", "order": {"id": "KD-001", "items": ["茶", "杯"]}}
    assert render(source, context) == "张三您好,\n您的订单 KD-001 已发货,共 2 件。"


def test_render_text_does_not_escape_html_does() -> None:
    assert render("{{ x }}", {"x": "<b>&</b>"}) == "<b>&</b>"
    assert render_html("<p>{{ x }}</p>", {"x": "<b>&</b>"}) == "<p>&lt;b&gt;&amp;&lt;/b&gt;</p>"


def test_undefined_variable_names_it_and_its_line() -> None:
    with pytest.raises(ActionFailed) as caught:
        render("尊敬的客户:\n\n{{ customer_name }} 您好", {})
    error = caught.value
    assert (error.code, error.retryable) == ("template-error", False)
    assert "customer_name" in error.detail
    assert "line 3" in error.detail


def test_undefined_attribute_names_it_and_its_line() -> None:
    with pytest.raises(ActionFailed) as caught:
        render("a\n{% if True %}\n{{ order.totl }}{% endif %}", {"order": {"total": 1}})
    assert "totl" in caught.value.detail
    assert "line 3" in caught.value.detail


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ x._private }}",
        "{{ 'x' * 10000000 }}",
        "{{ 9 ** 99999999 }}",
    ],
)
def test_sandbox_refuses(source: str) -> None:
    class Thing:
        _private = "secret"

    with pytest.raises(ActionFailed) as caught:
        render(source, {"x": Thing()})
    assert caught.value.code == "template-error"
    assert not caught.value.retryable
    assert "secret" not in caught.value.detail


def test_sandbox_refuses_mutating_the_context() -> None:
    items = [1, 2]
    with pytest.raises(ActionFailed):
        render("{{ items.append(3) }}", {"items": items})
    assert items == [1, 2]


def test_output_is_capped() -> None:
    with pytest.raises(ActionFailed) as caught:
        render("{% for i in range(20000) %}一二三四五{% endfor %}", {})
    assert caught.value.code == "template-error"
    assert "65536" in caught.value.detail
    # Just under the cap is fine.
    assert len(render("{% for i in range(6553) %}0123456789{% endfor %}", {})) == 65530


def test_runtime_errors_are_template_errors() -> None:
    with pytest.raises(ActionFailed) as caught:
        render("ok\n{{ 1 / n }}", {"n": 0})
    assert caught.value.code == "template-error"
    assert "line 2" in caught.value.detail


def test_syntax_error_at_render_has_line() -> None:
    with pytest.raises(ActionFailed) as caught:
        render("第一行\n{% if x %}\n没有结束", {"x": 1})
    assert caught.value.code == "template-error"
    assert "line 2" in caught.value.detail  # the unclosed tag


def test_check_template() -> None:
    assert check_template("你好 {{ name }}") == []
    assert check_template("一\n二\n{% for %}") == [
        {"line": 3, "message": "Expected an expression, got 'end of statement block'"}
    ]
    [problem] = check_template("{{ x | no_such_filter }}")
    assert problem["line"] == 1
    assert "no_such_filter" in problem["message"]
    [problem] = check_template("a\n{{ x }\n")
    assert problem["line"] == 2


def test_templates_compile_once() -> None:
    source = "cache probe {{ n }} " + "x" * 7
    before = messaging._compile.cache_info()
    for n in range(5):
        assert render(source, {"n": n}).startswith(f"cache probe {n}")
    after = messaging._compile.cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 4


# -- SMTP -------------------------------------------------------------------------------------


class Recorder:
    """aiosmtpd handler: records delivered envelopes; ``rcpt_replies`` scripts refusals."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.rcpt_replies: dict[str, str] = {}

    async def handle_RCPT(
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def parsed(self, index: int = -1) -> EmailMessage:
        content = self.envelopes[index].original_content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@contextlib.contextmanager
def smtp_server(**options: Any) -> Iterator[tuple[Recorder, SmtpSettings]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield recorder, SmtpSettings(host="127.0.0.1", port=port, sender="crm@kindred.test")
    finally:
        controller.stop()


def test_email_chinese_round_trip_with_message_id() -> None:
    with smtp_server() as (recorder, settings):
        result = asyncio.run(
            send_email(
                settings,
                to=["lilei@example.com", "hanmeimei@example.com"],
                subject="您的订单已发货 📦",
                text="李雷您好:\n\n您的订单 KD-001 已发货。\n\n—— 金德瑞",
                html="<p>李雷您好:</p><p>您的订单 <b>KD-001</b> 已发货。</p>",
                message_id="<run-42.step-3@kindred.test>",
                headers={"X-Kindred-Scenario": "shipping-notice"},
            )
        )
    assert result == {
        "message_id": "<run-42.step-3@kindred.test>",
        "accepted": ["lilei@example.com", "hanmeimei@example.com"],
        "refused": {},
    }
    [envelope] = recorder.envelopes
    assert envelope.mail_from == "crm@kindred.test"
    assert envelope.rcpt_tos == ["lilei@example.com", "hanmeimei@example.com"]
    message = recorder.parsed()
    assert message["Subject"] == "您的订单已发货 📦"
    assert message["Message-ID"] == "<run-42.step-3@kindred.test>"
    assert message["From"] == "crm@kindred.test"
    assert message["X-Kindred-Scenario"] == "shipping-notice"
    assert message["Date"]
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n") == (
        "李雷您好:\n\n您的订单 KD-001 已发货。\n\n—— 金德瑞\n"
    )
    assert "<b>KD-001</b> 已发货" in html.get_content()
    # The raw bytes on the wire are 7-bit clean: the Chinese text is MIME-encoded.
    raw = envelope.original_content
    assert isinstance(raw, bytes)
    assert raw.isascii()


def test_email_same_message_id_every_time() -> None:
    with smtp_server() as (recorder, settings):
        for _ in range(2):
            result = asyncio.run(
                send_email(
                    settings,
                    to=["a@example.com"],
                    subject="s",
                    text="t",
                    message_id="step-7@kindred.test",  # brackets are added
                )
            )
            assert result["message_id"] == "<step-7@kindred.test>"
        assert [recorder.parsed(i)["Message-ID"] for i in (0, 1)] == [
            "<step-7@kindred.test>",
            "<step-7@kindred.test>",
        ]


def test_email_generates_message_id_when_not_given() -> None:
    with smtp_server() as (recorder, settings):
        result = asyncio.run(send_email(settings, to=["a@example.com"], subject="s", text="t"))
    assert result["message_id"].startswith("<") and result["message_id"].endswith("@kindred.test>")
    assert recorder.parsed()["Message-ID"] == result["message_id"]


def test_email_internationalised_domain_goes_out_as_idna() -> None:
    with smtp_server() as (recorder, settings):
        result = asyncio.run(send_email(settings, to=["kefu@例子.中国"], subject="s", text="t"))
    assert result["accepted"] == ["kefu@xn--fsqu00a.xn--fiqs8s"]
    assert recorder.envelopes[0].rcpt_tos == ["kefu@xn--fsqu00a.xn--fiqs8s"]


@pytest.mark.parametrize(
    ("to", "extra"),
    [
        (["not-an-address"], {}),
        (["a@b@c.com"], {}),
        (["a@example.com, b@example.com"], {}),
        (["a@example.com\r\nRCPT TO:<x@evil.test>"], {}),
        (["a@-bad-.com"], {}),
        ([], {}),
        (["a@example.com"], {"subject": "line\r\nBcc: x@evil.test"}),
        (["a@example.com"], {"headers": {"Bcc": "x@evil.test"}}),
        (["a@example.com"], {"headers": {"X-Ok": "v\r\nBcc: x@evil.test"}}),
        (["a@example.com"], {"headers": {"Bad Name": "v"}}),
        (["a@example.com"], {"message_id": "no at sign"}),
    ],
)
def test_email_invalid_input_refused_without_connecting(
    to: list[str], extra: dict[str, Any]
) -> None:
    # Nothing listens on this port: had the adapter connected, the code would be
    # smtp-unreachable, not email-invalid.
    settings = SmtpSettings(port=free_port())
    arguments: dict[str, Any] = {"subject": "s", "text": "t", **extra}
    error = fails(send_email(settings, to=to, **arguments))
    assert (error.code, error.retryable) == ("email-invalid", False)


def test_email_bad_sender_refused() -> None:
    error = fails(
        send_email(SmtpSettings(sender="nobody"), to=["a@example.com"], subject="s", text="t")
    )
    assert (error.code, error.retryable) == ("email-invalid", False)
    assert "sender" in error.detail


def test_email_unreachable_is_retryable() -> None:
    settings = SmtpSettings(port=free_port(), timeout=2)
    error = fails(send_email(settings, to=["a@example.com"], subject="s", text="t"))
    assert (error.code, error.retryable) == ("smtp-unreachable", True)


def test_email_silent_server_times_out_retryably() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        settings = SmtpSettings(port=silent.getsockname()[1], timeout=0.3)
        error = fails(send_email(settings, to=["a@example.com"], subject="s", text="t"))
    assert (error.code, error.retryable) == ("timeout", True)


def test_email_permanent_and_temporary_refusals() -> None:
    with smtp_server() as (recorder, settings):
        recorder.rcpt_replies = {
            "gone@example.com": "550 5.1.1 No such user",
            "full@example.com": "452 4.2.2 Mailbox full",
        }
        error = fails(send_email(settings, to=["gone@example.com"], subject="s", text="t"))
        assert (error.code, error.retryable) == ("smtp-refused", False)
        assert "550" in error.detail and "No such user" in error.detail

        error = fails(send_email(settings, to=["full@example.com"], subject="s", text="t"))
        assert (error.code, error.retryable) == ("smtp-deferred", True)

        # Some refused, some accepted: the message went out, the refusals are reported.
        result = asyncio.run(
            send_email(settings, to=["ok@example.com", "gone@example.com"], subject="s", text="t")
        )
        assert result["accepted"] == ["ok@example.com"]
        assert result["refused"] == {"gone@example.com": "550 5.1.1 No such user"}
        assert recorder.envelopes[0].rcpt_tos == ["ok@example.com"]


def _authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"crm",
        b"correct horse",
    )
    return AuthResult(success=ok, handled=False)


def test_email_login() -> None:
    with smtp_server(authenticator=_authenticator, auth_require_tls=False) as (recorder, base):
        good = SmtpSettings(
            host=base.host, port=base.port, username="crm", password="correct horse"
        )
        asyncio.run(send_email(good, to=["a@example.com"], subject="s", text="t"))
        assert len(recorder.envelopes) == 1

        bad = SmtpSettings(host=base.host, port=base.port, username="crm", password="wrong")
        error = fails(send_email(bad, to=["a@example.com"], subject="s", text="t"))
        assert (error.code, error.retryable) == ("smtp-refused", False)
        assert "535" in error.detail


def _self_signed_context(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


def test_email_starttls_verifies_the_certificate(tmp_path: Path) -> None:
    context = _self_signed_context(tmp_path)
    with smtp_server(tls_context=context, require_starttls=True) as (recorder, base):
        tls = SmtpSettings(host=base.host, port=base.port, starttls=True)
        error = fails(send_email(tls, to=["a@example.com"], subject="s", text="t"))
        assert (error.code, error.retryable) == ("smtp-tls", False)
        assert "certificate" in error.detail.lower()

        # Without STARTTLS the server refuses to take mail at all.
        error = fails(send_email(base, to=["a@example.com"], subject="s", text="t"))
        assert (error.code, error.retryable) == ("smtp-refused", False)
        assert "530" in error.detail
        assert recorder.envelopes == []


# -- webhooks ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def http_server(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def test_webhook_signed_and_verifiable() -> None:
    seen: list[tuple[dict[str, str], bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.read()))
        return web.json_response({"received": True, "备注": "好"})

    async def run() -> dict[str, Any]:
        async with http_server(handler) as base:
            return await post_webhook(
                f"{base}/hooks/orders?tenant=t1",
                {"event": "订单已发货", "order": {"id": "KD-001", "total": 99.5}},
                secret="s3cret",
                idempotency_key="run-42.step-3",
            )

    result = asyncio.run(run())
    assert result == {"status": 200, "body": {"received": True, "备注": "好"}}
    [(headers, body)] = seen
    assert orjson.loads(body) == {"event": "订单已发货", "order": {"id": "KD-001", "total": 99.5}}
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == "run-42.step-3"
    now = dt.datetime.now(dt.UTC)
    webhook_verify("s3cret", headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], body, now=now)
    with pytest.raises(ChannelError):
        webhook_verify("other", headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], body, now=now)


def test_webhook_without_secret_is_unsigned_and_text_body_kept() -> None:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(status=202, text="排队中")

    async def run() -> dict[str, Any]:
        async with http_server(handler) as base, aiohttp.ClientSession() as session:
            return await post_webhook(f"{base}/h", {"a": 1}, session=session)

    assert asyncio.run(run()) == {"status": 202, "body": "排队中"}
    assert SIGNATURE_HEADER not in seen[0]
    assert TIMESTAMP_HEADER not in seen[0]
    assert "Idempotency-Key" not in seen[0]


def test_webhook_response_body_is_capped() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="x" * 200_000)

    async def run() -> dict[str, Any]:
        async with http_server(handler) as base:
            return await post_webhook(f"{base}/h", {})

    result = asyncio.run(run())
    assert len(result["body"]) == MAX_RESPONSE_BYTES


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (500, "http-5xx", True),
        (503, "http-5xx", True),
        (429, "http-429", True),
        (400, "http-4xx", False),
        (401, "http-4xx", False),
        (404, "http-4xx", False),
        (302, "http-3xx", False),
    ],
)
def test_webhook_status_errors(status: int, code: str, retryable: bool) -> None:
    async def handler(request: web.Request) -> web.Response:
        headers = {"Location": "http://elsewhere.test/"} if status == 302 else None
        return web.Response(status=status, text=f"problem {status}", headers=headers)

    async def run() -> None:
        async with http_server(handler) as base:
            await post_webhook(f"{base}/h", {"a": 1})

    error = fails(run())
    assert (error.code, error.retryable) == (code, retryable)
    assert str(status) in error.detail


def test_webhook_timeout_is_retryable() -> None:
    async def run() -> None:
        release = asyncio.Event()

        async def handler(request: web.Request) -> web.Response:
            await release.wait()
            return web.Response(text="too late")

        async with http_server(handler) as base:
            try:
                await post_webhook(f"{base}/slow", {"a": 1}, timeout=0.3)
            finally:
                release.set()

    error = fails(run())
    assert (error.code, error.retryable) == ("timeout", True)


def test_webhook_connection_refused_is_retryable() -> None:
    error = fails(post_webhook(f"http://127.0.0.1:{free_port()}/h", {"a": 1}, timeout=2))
    assert (error.code, error.retryable) == ("http-unreachable", True)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "example.com/hook", "http://", ""]
)
def test_webhook_only_http_urls(url: str) -> None:
    error = fails(post_webhook(url, {"a": 1}))
    assert (error.code, error.retryable) == ("url-invalid", False)


def test_webhook_unserialisable_payload() -> None:
    error = fails(post_webhook("http://127.0.0.1:9/h", {"when": object()}))
    assert (error.code, error.retryable) == ("payload-invalid", False)


# -- WeChat -----------------------------------------------------------------------------------

APP_ID = "wx0123456789abcdef"
APP_SECRET = "s3cret-app-secret"
FOLLOWERS = ["oUser-zhangsan", "oUser-lisi", "oUser-idem", "oUser-expired", "oUser-busy"]
ORDER_TEMPLATE = "TPL-order-shipped"
ORDER_CONTENT = "{{first.DATA}}\n订单号:{{keyword1.DATA}}\n物流:{{keyword2.DATA}}\n{{remark.DATA}}"
ORDER_DATA = {
    "first": "您的订单已发货",
    "keyword1": "KD-001",
    "keyword2": "顺丰 SF123",
    "remark": "谢谢",
}


def admin(base: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(
        base + path, data=data, method="GET" if body is None else "POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = orjson.loads(response.read())
    return result


def stored(base: str, openid: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = admin(base, f"/_admin/messages?openid={openid}")["messages"]
    return messages


@pytest.fixture(scope="module")
def wechat_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The reference WeChat server as a subprocess; yields its base URL."""
    db = tmp_path_factory.mktemp("wechat") / "wechat.db"
    command = [
        sys.executable,
        "-m",
        "kindred.reference.wechat",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--db",
        str(db),
        "--app",
        f"{APP_ID}:{APP_SECRET}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the reference WeChat server did not start within 20 s"
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        base = line.removeprefix("listening on ")
        for openid in FOLLOWERS:
            admin(base, "/_admin/followers", {"openid": openid, "nickname": "粉丝"})
        admin(
            base,
            "/_admin/templates",
            {"template_id": ORDER_TEMPLATE, "title": "订单发货通知", "content": ORDER_CONTENT},
        )
        yield base
    finally:
        process.terminate()
        try:
            returncode = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
        process.stdout.close()
    assert returncode == 0, "the reference server did not shut down cleanly"


async def _with_client(
    base: str, action: Callable[[WechatClient], Awaitable[Any]], secret: str = APP_SECRET
) -> Any:
    async with WechatClient(base, APP_ID, secret, timeout=5) as client:
        return await action(client)


def send(base: str, openid: str, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "openid": openid,
        "template_id": ORDER_TEMPLATE,
        "data": ORDER_DATA,
        **overrides,
    }
    result: dict[str, Any] = asyncio.run(
        _with_client(base, lambda client: client.send_template(**arguments))
    )
    return result


def send_fails(base: str, openid: str, **overrides: Any) -> ActionFailed:
    with pytest.raises(ActionFailed) as caught:
        send(base, openid, **overrides)
    return caught.value


def test_wechat_template_message_delivered(wechat_api: str) -> None:
    result = send(
        wechat_api, "oUser-zhangsan", url="https://shop.example/orders/KD-001", client_msg_id="m1"
    )
    assert isinstance(result["msgid"], int)
    [message] = stored(wechat_api, "oUser-zhangsan")
    assert message["msgid"] == result["msgid"]
    assert message["template_id"] == ORDER_TEMPLATE
    assert message["url"] == "https://shop.example/orders/KD-001"
    assert message["client_msg_id"] == "m1"
    assert message["data"] == {key: {"value": value} for key, value in ORDER_DATA.items()}


def test_wechat_token_is_cached(wechat_api: str) -> None:
    async def twice(client: WechatClient) -> tuple[str, str]:
        return await client.access_token(), await client.access_token()

    first, second = asyncio.run(_with_client(wechat_api, twice))
    assert first == second


def test_wechat_wrong_secret(wechat_api: str) -> None:
    with pytest.raises(ActionFailed) as caught:
        asyncio.run(_with_client(wechat_api, lambda client: client.access_token(), secret="wrong"))
    assert (caught.value.code, caught.value.retryable) == ("wechat-40125", False)


def test_wechat_unknown_app() -> None:
    async def run(base: str) -> None:
        async with WechatClient(base, "wx-unknown", "x") as client:
            await client.access_token()

    async def main(tmp: str) -> None:
        runner, base = await reference.start(tmp, {APP_ID: APP_SECRET})
        try:
            await run(base)
        finally:
            await runner.cleanup()

    error = fails(main(":memory:"))
    assert (error.code, error.retryable) == ("wechat-40013", False)


@pytest.mark.parametrize(
    ("openid", "overrides", "code"),
    [
        ("oUser-stranger", {}, "wechat-40003"),
        ("oUser-lisi", {"template_id": "TPL-nope"}, "wechat-40037"),
        ("oUser-lisi", {"data": {"first": "x", "keyword1": "y"}}, "wechat-47003"),
        ("oUser-lisi", {"data": {**ORDER_DATA, "keyword9": "z"}}, "wechat-47003"),
    ],
)
def test_wechat_refusals_are_not_retryable(
    wechat_api: str, openid: str, overrides: dict[str, Any], code: str
) -> None:
    error = send_fails(wechat_api, openid, **overrides)
    assert (error.code, error.retryable) == (code, False)
    assert stored(wechat_api, "oUser-lisi") == []


def test_wechat_expired_token_refreshed_once_transparently(wechat_api: str) -> None:
    async def run(client: WechatClient) -> tuple[str, str, list[Any]]:
        before = await client.access_token()
        first = await client.send_template(
            openid="oUser-expired", template_id=ORDER_TEMPLATE, data=ORDER_DATA
        )
        expired = await asyncio.to_thread(admin, wechat_api, "/_admin/expire-tokens", {})
        assert expired["expired"] >= 1
        second = await client.send_template(
            openid="oUser-expired", template_id=ORDER_TEMPLATE, data=ORDER_DATA
        )
        return before, await client.access_token(), [first, second]

    before, after, results = asyncio.run(_with_client(wechat_api, run))
    assert before != after
    assert [m["msgid"] for m in stored(wechat_api, "oUser-expired")] == [
        r["msgid"] for r in results
    ]


def test_wechat_token_refresh_happens_only_once(wechat_api: str) -> None:
    # Two invalid-token answers in a row: one refresh, then the error surfaces.
    admin(wechat_api, "/_admin/fail-next", {"errcode": 40001, "count": 2})
    error = send_fails(wechat_api, "oUser-busy")
    assert error.code == "wechat-40001"
    assert error.retryable
    # Exactly both forced failures were used up: the next send goes through.
    send(wechat_api, "oUser-busy")
    assert len(stored(wechat_api, "oUser-busy")) == 1


@pytest.mark.parametrize(("errcode", "retryable"), [(-1, True), (45009, True), (48001, False)])
def test_wechat_forced_failures(wechat_api: str, errcode: int, retryable: bool) -> None:
    openid = f"oUser-forced{errcode}"
    admin(wechat_api, "/_admin/followers", {"openid": openid})
    admin(wechat_api, "/_admin/fail-next", {"errcode": errcode, "count": 2})
    for _ in range(2):
        error = send_fails(wechat_api, openid, client_msg_id=f"retry-{errcode}")
        assert (error.code, error.retryable) == (f"wechat-{errcode}", retryable)
    # The third attempt (a runner retrying the same step) succeeds, and only once is stored.
    result = send(wechat_api, openid, client_msg_id=f"retry-{errcode}")
    [message] = stored(wechat_api, openid)
    assert message["msgid"] == result["msgid"]


def test_wechat_same_client_msg_id_sends_once(wechat_api: str) -> None:
    first = send(wechat_api, "oUser-idem", client_msg_id="run-42.step-3")
    second = send(wechat_api, "oUser-idem", client_msg_id="run-42.step-3")
    third = send(wechat_api, "oUser-idem", client_msg_id="run-42.step-4")
    assert first == second
    assert third != first
    assert [m["client_msg_id"] for m in stored(wechat_api, "oUser-idem")] == [
        "run-42.step-3",
        "run-42.step-4",
    ]


def test_wechat_unreachable_is_retryable() -> None:
    error = fails(
        _with_client(f"http://127.0.0.1:{free_port()}", lambda client: client.access_token())
    )
    assert (error.code, error.retryable) == ("http-unreachable", True)


def test_reference_server_in_process_persists(tmp_path: Path) -> None:
    db = tmp_path / "wechat.db"

    async def first_run() -> int:
        runner, base = await reference.start(db, [(APP_ID, APP_SECRET)])
        try:
            async with aiohttp.ClientSession() as http:
                for path, body in [
                    ("/_admin/followers", {"openid": "oA"}),
                    ("/_admin/templates", {"template_id": "T1", "keywords": ["thing1"]}),
                ]:
                    async with http.post(base + path, json=body) as response:
                        assert response.status == 200
                async with http.post(base + "/_admin/templates", json={"template_id": "T2"}) as r:
                    assert r.status == 400
                    assert "keywords" in (await r.json())["error"]
            async with WechatClient(base, APP_ID, APP_SECRET) as client:
                result = await client.send_template(
                    openid="oA", template_id="T1", data={"thing1": "会员日"}
                )
            msgid: int = result["msgid"]
            return msgid
        finally:
            await runner.cleanup()

    async def second_run() -> list[dict[str, Any]]:
        runner, base = await reference.start(db, {})
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/_admin/messages?openid=oA") as response:
                    messages: list[dict[str, Any]] = (await response.json())["messages"]
                async with http.get(
                    base + "/cgi-bin/message/template/send", allow_redirects=False
                ) as response:
                    assert response.status == 405
            return messages
        finally:
            await runner.cleanup()

    msgid = asyncio.run(first_run())
    [message] = asyncio.run(second_run())
    assert message["msgid"] == msgid
    assert message["data"] == {"thing1": {"value": "会员日"}}
