"""A reference OpenAI-compatible chat-completions server with a small rule-based "model".

A separate aiohttp service speaking the wire format vLLM, Ollama and the llama.cpp server
share (``/v1/chat/completions``), so Kindred's LLM adapter
(:mod:`kindred.agents.llm`) is exercised over real sockets, with the errors, retries and
timeouts a real server produces, and so demos run without a GPU. Its answers are
deterministic functions of the prompt:

* ``POST /v1/chat/completions`` ``{"model", "messages": [{"role", "content"}], "temperature"?,
  "max_tokens"? | "max_completion_tokens"?, "response_format"? {"type": "text" |
  "json_object"}, "stream"?, "stream_options"? {"include_usage"}, "seed"?, "n"? (1)}`` →
  ``{"id": "chatcmpl-…", "object": "chat.completion", "created", "model", "choices": [{"index":
  0, "message": {"role": "assistant", "content"}, "finish_reason": "stop" | "length"}],
  "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}``; with ``"stream": true``
  the same text as Server-Sent Events (``data: {chat.completion.chunk}`` lines, one token a
  chunk, then ``data: [DONE]``);
* ``GET /v1/models`` → ``{"object": "list", "data": [{"id", "object": "model", "created",
  "owned_by"}]}``.

The "model" reads the last user message. Lines that are bullets (``- x``, ``* x``, ``1. x``,
``1、x``) or ``key: value`` pairs (ASCII or full-width colon) are its facts; it answers with a
summary of them (or of the first sentence when there are none) and a recommendation chosen by
keywords (urgent / complaint / overdue … → contact today; quote / purchase … → send a quote;
else follow up within 3 working days), in Chinese when the message is mostly Chinese (at
least as many CJK ideographs as Latin words), else in English. With ``response_format
{"type": "json_object"}`` the answer is a JSON object ``{"summary", "facts",
"recommendation", "language"}``. ``temperature`` and ``seed`` are accepted and have no effect.

Token counts (``usage``, ``max_tokens``): a token is one CJK ideograph, one run of other
letters/digits, or one other non-space character; prompt tokens are the sum over the
messages' contents. An answer longer than ``max_tokens`` is cut there with ``finish_reason
"length"`` (a cut JSON answer is not valid JSON, as with real servers).

Errors have OpenAI's shape ``{"error": {"message", "type", "code", "param"}}``: a bad body →
400 ``invalid_request_error``; an unknown model → 404 ``model_not_found``; with ``--api-key``
a missing or wrong ``Authorization: Bearer`` key → 401 ``invalid_api_key``.

Admin endpoints (unauthenticated: bind to loopback):

* ``GET /_admin/requests[?after=ID][&limit=N]`` → the ``/v1`` requests served, oldest first:
  ``[{"id", "at", "method", "path", "headers", "body", "status"}]`` (``body`` parsed when it
  is JSON; the ``Authorization`` value is stored as ``[redacted]``), so tests check exactly
  what a client sent and how many attempts it made;
* ``POST /_admin/fail-next {"status": 503, "count": 1, "delay": 0, "retry_after"?, "body"?}``:
  the next ``count`` ``/v1`` calls answer ``status`` after ``delay`` seconds, with a
  ``Retry-After`` header when given and ``body`` (raw text) instead of the OpenAI error when
  given (status 200 with a broken body tests a client's parser); with only ``delay`` they are
  handled normally and answered late (client-timeout tests); ``count: 0`` clears.

Run it::

    python -m kindred.reference.llm --port 0 --db llm.db [--model NAME]... [--api-key K]

It prints ``listening on http://HOST:PORT`` (flushed) once it accepts connections and stops
cleanly on SIGINT/SIGTERM. Point Kindred at it with ``KINDRED_LLM_URL=http://HOST:PORT/v1``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kindred.reference import start_app
from kindred.reference.common import SQLiteStore, run_service

DEFAULT_MODEL = "kindred-reference"
DEFAULT_MAX_TOKENS = 1024
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_FACTS = 8
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
REDACTED = "[redacted]"

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")
# A token with the whitespace before it: the pieces streamed, which join back to the text.
PIECE = re.compile(rf"\s*(?:[{_CJK}]|[^\W{_CJK}]+|[^\w\s])")
CJK_CHARACTER = re.compile(rf"[{_CJK}]")
LATIN_WORD = re.compile(r"[A-Za-z]+")
BULLET = re.compile(r"^\s*(?:[-*•·・]|\d{1,3}[.)、．]|[（(]\d{1,3}[)）])\s*(\S.*?)\s*$")
KEY_VALUE = re.compile(r"^\s*([^:：\s][^:：]{0,39}?)\s*[:：]\s*(\S.*?)\s*$")
SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")

# Keyword → the recommendation it triggers, checked in this order.
URGENT_WORDS = {
    "en": ("urgent", "complaint", "overdue", "outage", "broken", "cancel", "churn", "refund"),
    "zh": ("紧急", "投诉", "逾期", "故障", "损坏", "取消", "流失", "退货", "退款"),
}
BUYING_WORDS = {
    "en": ("quote", "purchase", "order", "budget", "tender", "upgrade", "renewal"),
    "zh": ("报价", "采购", "购买", "订单", "预算", "招标", "升级", "续约"),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    headers TEXT NOT NULL,
    body TEXT,
    status INTEGER NOT NULL
);
"""


class ApiError(Exception):
    """An OpenAI-shaped error answer: ``{"error": {"message", "type", "code", "param"}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param

    def payload(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": self.param,
            }
        }


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


@dataclass
class Failure:
    status: int | None  # None: answer normally, only late
    count: int
    delay: float
    retry_after: int | None
    body: str | None


# -- the rule-based model ---------------------------------------------------------------------


def count_tokens(text: str) -> int:
    return len(TOKEN.findall(text))


def detect_language(text: str) -> str:
    """``"zh"`` when the text has at least as many CJK ideographs as Latin words."""
    ideographs = len(CJK_CHARACTER.findall(text))
    return "zh" if ideographs and ideographs >= len(LATIN_WORD.findall(text)) else "en"


def extract_facts(text: str) -> tuple[list[str], list[str]]:
    """The message's facts (bullets and ``key: value`` lines) and its other lines."""
    facts: list[str] = []
    prose: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        bullet = BULLET.match(line)
        pair = KEY_VALUE.match(line)
        if bullet:
            fact = bullet.group(1)
        elif pair:
            fact = f"{pair.group(1)}: {pair.group(2)}"
        else:
            prose.append(line.strip())
            continue
        if fact not in facts:
            facts.append(fact)
    return facts[:MAX_FACTS], prose


def _first_sentence(lines: list[str], limit: int = 40) -> str:
    text = " ".join(lines)
    sentence = SENTENCE_END.split(text, maxsplit=1)[0] if text else ""
    pieces = PIECE.findall(sentence)
    return "".join(pieces[:limit]).strip()


def _recommendation(text: str, language: str) -> str:
    lowered = text.lower()
    urgent = next((w for w in URGENT_WORDS[language] if w in lowered), None)
    if urgent is not None:
        if language == "zh":
            return f"建议：今天联系客户，记录中提到“{urgent}”。"
        return f"Recommendation: contact the customer today; the notes mention '{urgent}'."
    if any(w in lowered for w in BUYING_WORDS[language]):
        if language == "zh":
            return "建议：本周发送报价并约客户面谈。"
        return "Recommendation: send a quote and propose a meeting this week."
    if language == "zh":
        return "建议：3个工作日内跟进。"
    return "Recommendation: follow up within 3 working days."


def answer(prompt: str, *, json_mode: bool) -> str:
    """The model's full answer to the last user message (before any ``max_tokens`` cut)."""
    language = detect_language(prompt)
    facts, prose = extract_facts(prompt)
    if language == "zh":
        facts = [f.replace(": ", "：", 1) for f in facts]
        body = "；".join(facts) if facts else _first_sentence(prose)
        summary = f"摘要：{body or '（无内容）'}" + ("" if body.endswith("。") else "。")
    else:
        body = "; ".join(facts) if facts else _first_sentence(prose)
        summary = f"Summary: {body or '(empty)'}" + ("" if body.endswith(".") else ".")
    recommendation = _recommendation(prompt, language)
    if json_mode:
        return orjson.dumps(
            {
                "summary": summary,
                "facts": facts,
                "recommendation": recommendation,
                "language": language,
            }
        ).decode()
    return f"{summary}\n{recommendation}"


# -- request checking -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[tuple[str, str]]
    max_tokens: int
    json_mode: bool
    stream: bool
    include_usage: bool


def _content_text(content: Any, index: int) -> str:
    """A message's text: a string, or OpenAI's list of parts (text parts are joined)."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise bad_request(
                    "only text content parts are supported", f"messages[{index}].content"
                )
            text = part.get("text")
            if not isinstance(text, str):
                raise bad_request("a text part needs 'text'", f"messages[{index}].content")
            texts.append(text)
        return "".join(texts)
    raise bad_request("'content' must be a string or a list of parts", f"messages[{index}]")


def _number(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise bad_request(f"'{name}' must be a number from {low:g} to {high:g}", name)


def parse_chat_request(body: Any, models: Sequence[str]) -> ChatRequest:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty array", "messages")
    parsed: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise bad_request("each message must be an object", f"messages[{index}]")
        role = message.get("role")
        if role not in ROLES:
            raise bad_request(
                f"'role' must be one of {', '.join(sorted(ROLES))}", f"messages[{index}].role"
            )
        parsed.append((role, _content_text(message.get("content"), index)))
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise bad_request("'max_tokens' must be a positive integer", "max_tokens")
    if body.get("n", 1) != 1:
        raise bad_request("only n=1 is supported", "n")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise bad_request("'seed' must be an integer", "seed")
    response_format = body.get("response_format")
    json_mode = False
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind not in ("text", "json_object"):
            raise bad_request(
                "'response_format.type' must be 'text' or 'json_object'", "response_format"
            )
        json_mode = kind == "json_object"
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_request("'stream' must be a boolean", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object", "stream_options")
    if model not in models:
        raise ApiError(
            404,
            f"The model `{model}` does not exist.",
            code="model_not_found",
            param="model",
        )
    return ChatRequest(
        model=model,
        messages=parsed,
        max_tokens=max_tokens,
        json_mode=json_mode,
        stream=stream,
        include_usage=bool(options and options.get("include_usage")),
    )


# -- storage ----------------------------------------------------------------------------------


class RequestLog(SQLiteStore):
    """The /v1 requests served, in SQLite (quick calls on the event loop thread)."""

    schema = SCHEMA

    def add(
        self, method: str, path: str, headers: dict[str, str], body: str | None, status: int
    ) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO requests (at, method, path, headers, body, status) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(timespec="milliseconds"),
                    method,
                    path,
                    orjson.dumps(headers).decode(),
                    body,
                    status,
                ),
            )

    def entries(self, after: int, limit: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT * FROM requests WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
        ).fetchall()
        result = []
        for row in rows:
            body: Any = row["body"]
            if body is not None:
                # Bodies that are not JSON are kept as sent: the log shows bad bodies too.
                with contextlib.suppress(orjson.JSONDecodeError):
                    body = orjson.loads(body)
            result.append(
                {
                    "id": row["id"],
                    "at": row["at"],
                    "method": row["method"],
                    "path": row["path"],
                    "headers": orjson.loads(row["headers"]),
                    "body": body,
                    "status": row["status"],
                }
            )
        return result


LOG = web.AppKey("log", RequestLog)
MODELS = web.AppKey[tuple[str, ...]]("models")
API_KEY = web.AppKey("api_key", str)
FAILURES = web.AppKey("failures", list)


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


# -- middleware (outermost first) -------------------------------------------------------------


@web.middleware
async def request_log(request: web.Request, handler: Any) -> web.StreamResponse:
    """Record every ``/v1`` request with the status it got, whatever answered it."""
    if not request.path.startswith("/v1/"):
        response: web.StreamResponse = await handler(request)
        return response
    headers = {  # str(): aiohttp's case-insensitive names are a str subclass orjson refuses
        str(name): REDACTED if name.lower() == "authorization" else value
        for name, value in request.headers.items()
    }
    log = request.app[LOG]
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        log.add(request.method, request.path_qs, headers, None, 413)
        error = ApiError(413, f"the request body exceeds {MAX_BODY_BYTES} bytes")
        return _json(error.payload(), 413)
    body = raw.decode("utf-8", "replace")
    try:
        response = await handler(request)
    except Exception:
        log.add(request.method, request.path_qs, headers, body, 500)
        raise
    log.add(request.method, request.path_qs, headers, body, response.status)
    return response


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except ApiError as error:
        return _json(error.payload(), status=error.status)
    except web.HTTPException as error:  # aiohttp's own (404 route, 405 method, …)
        if error.status < 400:
            raise
        kind = "not_found_error" if error.status == 404 else "invalid_request_error"
        return _json(ApiError(error.status, error.reason, type_=kind).payload(), error.status)
    return response


@web.middleware
async def forced_failures(request: web.Request, handler: Any) -> web.StreamResponse:
    pending: list[Failure] = request.app[FAILURES]
    if not request.path.startswith("/v1/") or not pending:
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
    headers = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
    if failure.body is not None:
        return web.Response(
            text=failure.body,
            status=failure.status,
            content_type="application/json",
            headers=headers,
        )
    kind = "server_error" if failure.status >= 500 else "invalid_request_error"
    error = ApiError(
        failure.status, f"forced {failure.status} (/_admin/fail-next)", type_=kind, code="forced"
    )
    return _json(error.payload(), status=failure.status, headers=headers)


@web.middleware
async def authentication(request: web.Request, handler: Any) -> web.StreamResponse:
    expected = request.app[API_KEY]
    if expected and request.path.startswith("/v1/"):
        given = request.headers.get("Authorization", "")
        scheme, _, key = given.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(
                401,
                "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.",
                code="invalid_api_key",
            )
        if not hmac.compare_digest(key.strip().encode(), expected.encode()):
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    response: web.StreamResponse = await handler(request)
    return response


# -- handlers ---------------------------------------------------------------------------------


def _json_body(raw: bytes) -> Any:
    try:
        return orjson.loads(raw or b"null")
    except orjson.JSONDecodeError as error:
        raise bad_request(f"the body is not valid JSON: {error}") from None


async def chat_completions(request: web.Request) -> web.StreamResponse:
    models: tuple[str, ...] = request.app[MODELS]
    chat = parse_chat_request(_json_body(await request.read()), models)
    prompt = next((text for role, text in reversed(chat.messages) if role == "user"), "")
    pieces = PIECE.findall(answer(prompt, json_mode=chat.json_mode))
    finish_reason = "length" if len(pieces) > chat.max_tokens else "stop"
    pieces = pieces[: chat.max_tokens]
    usage = {
        "prompt_tokens": sum(count_tokens(text) for _, text in chat.messages),
        "completion_tokens": len(pieces),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not chat.stream:
        return _json(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": chat.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(pieces)},
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": usage,
            }
        )

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chat.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if chat.include_usage:
            payload["usage"] = None
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    await response.write(chunk({"role": "assistant", "content": ""}, None))
    for piece in pieces:
        await response.write(chunk({"content": piece}, None))
    await response.write(chunk({}, finish_reason))
    if chat.include_usage:
        final = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chat.model,
            "choices": [],
            "usage": usage,
        }
        await response.write(b"data: " + orjson.dumps(final) + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def list_models(request: web.Request) -> web.Response:
    return _json(
        {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "kindred-reference"}
                for name in request.app[MODELS]
            ],
        }
    )


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(f"'{name}' must be a whole number from {low} to {high}", name)
    return value


async def admin_requests(request: web.Request) -> web.Response:
    after = _whole(request.query.get("after", 0), "after", 0, 2**62)
    limit = _whole(request.query.get("limit", 1000), "limit", 1, 10_000)
    return _json(request.app[LOG].entries(after, limit))


async def admin_fail_next(request: web.Request) -> web.Response:
    body = _json_body(await request.read())
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    status = body.get("status", None if "delay" in body else 503)
    count = body.get("count", 1)
    delay = body.get("delay", 0)
    retry_after = body.get("retry_after")
    raw_body = body.get("body")
    low = 200 if raw_body is not None else 400
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not low <= status <= 599
    ):
        raise bad_request(f"'status' must be an HTTP status from {low} to 599")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise bad_request("'count' must be a non-negative whole number")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 60:
        raise bad_request("'delay' must be from 0 to 60 seconds")
    if retry_after is not None and (
        isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0
    ):
        raise bad_request("'retry_after' must be a non-negative whole number of seconds")
    if raw_body is not None and (not isinstance(raw_body, str) or status is None):
        raise bad_request("'body' must be text, and needs a 'status'")
    failures: list[Failure] = request.app[FAILURES]
    failures.clear()
    if count:
        failures.append(Failure(status, count, float(delay), retry_after, raw_body))
    return _json({"status": status, "count": count, "delay": delay, "retry_after": retry_after})


def create_app(
    db_path: str | Path, *, models: Sequence[str] = (DEFAULT_MODEL,), api_key: str | None = None
) -> web.Application:
    if not models:
        raise ValueError("serve at least one model name")
    log = RequestLog(db_path)
    app = web.Application(
        middlewares=[request_log, errors, forced_failures, authentication],
        client_max_size=MAX_BODY_BYTES,
    )
    app[LOG] = log
    app[MODELS] = tuple(models)
    app[API_KEY] = api_key or ""
    app[FAILURES] = []

    async def close_log(_: web.Application) -> None:
        log.close()

    app.on_cleanup.append(close_log)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/_admin/requests", admin_requests)
    app.router.add_post("/_admin/fail-next", admin_fail_next)
    return app


async def start(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    models: Sequence[str] = (DEFAULT_MODEL,),
    api_key: str | None = None,
) -> tuple[web.AppRunner, str]:
    """Start the service in the running loop; returns the runner (``await runner.cleanup()``
    to stop it) and the base URL with the actual port (without ``/v1``)."""
    return await start_app(create_app(db_path, models=models, api_key=api_key), host, port)


def main(argv: Sequence[str] | None = None) -> None:
    # Not common.service_parser: no demo data or calendar here, but models and an API key.
    parser = argparse.ArgumentParser(
        prog="python -m kindred.reference.llm",
        description="Reference OpenAI-compatible chat-completions server (tests, demos).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--db", required=True, help="SQLite request log (':memory:' for none)")
    parser.add_argument(
        "--model",
        action="append",
        help=f"a model name to serve (repeatable; default {DEFAULT_MODEL!r})",
    )
    parser.add_argument(
        "--api-key", help="require 'Authorization: Bearer KEY' on /v1 (default: no key)"
    )
    args = parser.parse_args(argv)
    run_service(
        lambda: start(
            args.db,
            args.host,
            args.port,
            models=args.model or [DEFAULT_MODEL],
            api_key=args.api_key,
        )
    )


if __name__ == "__main__":
    main()
