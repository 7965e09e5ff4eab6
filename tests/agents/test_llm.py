"""The LLM port's OpenAI-compatible adapter against the reference server, over real sockets.

The reference server runs as a subprocess (``python -m kindred.reference.llm``), once without
and once with an API key. Its request log (``GET /_admin/requests``) shows what the adapter
actually sent and how many attempts it made; ``/_admin/fail-next`` makes it fail, stall or
answer garbage on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from kindred.agents.llm import (
    LABEL_STANDARD,
    NOT_CONFIGURED,
    Completion,
    CompletionRequest,
    LLMBadResponse,
    LLMProvider,
    LLMTimeout,
    LLMUnavailable,
    Message,
    OpenAICompatibleProvider,
    chat_completions_url,
    fallback_text,
    generate_text,
    label_generated,
    provider_from_settings,
)
from kindred.config import Settings
from kindred.reference.llm import count_tokens

MODEL = "kindred-reference"
OTHER_MODEL = "qwen2.5:7b-instruct"
API_KEY = "sk-test-" + "k" * 24
EN_PROMPT = "Account: ACME Medical\n- urgent: CT scanner down"
EN_ANSWER = (
    "Summary: Account: ACME Medical; urgent: CT scanner down.\n"
    "Recommendation: contact the customer today; the notes mention 'urgent'."
)
ZH_PROMPT = "请总结客户情况。\n客户：上海瑞金医院\n- 预算已批准，计划采购CT\n1、上月投诉服务响应慢"
ZH_ANSWER = (
    "摘要：客户：上海瑞金医院；预算已批准，计划采购CT；上月投诉服务响应慢。\n"
    "建议：今天联系客户，记录中提到“投诉”。"
)


@contextlib.contextmanager
def run_llm_server(db: Path, *extra: str) -> Iterator[str]:
    """The reference server as a subprocess; yields its base URL (no ``/v1``) and checks a
    clean exit."""
    command = [sys.executable, "-m", "kindred.reference.llm", "--db", str(db), "--port", "0"]
    process = subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the reference LLM server did not start within 20 s"
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        yield line.removeprefix("listening on ")
    finally:
        process.terminate()
        try:
            returncode = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
        process.stdout.close()
    assert returncode == 0, "the reference LLM server did not shut down cleanly"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("llm") / "llm.db"
    with run_llm_server(db, "--model", MODEL, "--model", OTHER_MODEL) as base:
        yield base


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_llm_server(
        tmp_path_factory.mktemp("llm-key") / "llm.db", "--api-key", API_KEY
    ) as base:
        yield base


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: bound, then released, so a connect is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A plain HTTP request; returns (status, parsed JSON body)."""
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, orjson.loads(error.read())


def fail_next(base: str, **failure: Any) -> None:
    status, answer = call(base, "POST", "/_admin/fail-next", failure)
    assert status == 200, answer


@contextlib.contextmanager
def failing(base: str, **failure: Any) -> Iterator[None]:
    fail_next(base, **failure)
    try:
        yield
    finally:
        fail_next(base, count=0)  # a test that stopped early leaves no failure behind


def served(base: str, after: int = 0) -> list[dict[str, Any]]:
    status, rows = call(base, "GET", f"/_admin/requests?after={after}&limit=10000")
    assert status == 200, rows
    assert isinstance(rows, list)
    return rows


def mark(base: str) -> int:
    """The id of the last request the server logged (0 before any)."""
    rows = served(base)
    return rows[-1]["id"] if rows else 0


def run(awaitable: Awaitable[Any]) -> Any:
    async def wrapper() -> Any:
        return await awaitable

    return asyncio.run(wrapper())


def complete(
    base_url: str, request: CompletionRequest, *, model: str = MODEL, **options: Any
) -> Completion:
    """One completion through a fresh provider, closed afterwards."""

    async def go() -> Completion:
        provider = OpenAICompatibleProvider(base_url, model, **options)
        try:
            return await provider.complete(request)
        finally:
            await provider.aclose()

    result: Completion = run(go())
    return result


def hello(**options: Any) -> CompletionRequest:
    return CompletionRequest.of("hello", **options)


# -- completions ------------------------------------------------------------------------------


def test_completion_text_usage_and_answer_fields(server: str) -> None:
    request = CompletionRequest.of(EN_PROMPT, system="Be brief.")

    completion = complete(server, request)

    assert completion.text == EN_ANSWER
    assert completion.model == MODEL
    assert completion.provider == "openai-compatible@" + server.removeprefix("http://")
    assert completion.finish_reason == "stop"
    # "Be brief." = Be / brief / . ; the user message = Account / : / ACME / Medical / - /
    # urgent / : / CT / scanner / down.
    assert completion.prompt_tokens == 3 + 10
    assert completion.completion_tokens == count_tokens(EN_ANSWER)
    assert completion.response_id is not None and completion.response_id.startswith("chatcmpl-")
    assert completion.attempts == 1
    assert completion.latency_ms > 0
    assert completion.data is None


def test_the_request_body_has_exactly_the_openai_shape(server: str) -> None:
    before = mark(server)
    request = CompletionRequest(
        messages=(Message("system", "Answer in JSON."), Message("user", EN_PROMPT)),
        model=OTHER_MODEL,
        temperature=0.3,
        max_tokens=200,
        json_mode=True,
        seed=7,
    )

    complete(server, request)
    complete(server, CompletionRequest.of("hello", max_tokens=64))

    json_call, text_call = served(server, before)
    assert json_call["method"] == "POST"
    assert json_call["path"] == "/v1/chat/completions"
    assert json_call["status"] == 200
    assert json_call["headers"]["Content-Type"] == "application/json"
    assert "Authorization" not in json_call["headers"]
    assert json_call["body"] == {
        "model": OTHER_MODEL,
        "messages": [
            {"role": "system", "content": "Answer in JSON."},
            {"role": "user", "content": EN_PROMPT},
        ],
        "temperature": 0.3,
        "max_tokens": 200,
        "response_format": {"type": "json_object"},
        "seed": 7,
    }
    assert text_call["body"] == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hello"}],
        "temperature": 0.0,
        "max_tokens": 64,
    }


def test_json_mode_answers_are_parsed(server: str) -> None:
    completion = complete(server, CompletionRequest.of(EN_PROMPT, json_mode=True))

    assert completion.data == {
        "summary": EN_ANSWER.split("\n")[0],
        "facts": ["Account: ACME Medical", "urgent: CT scanner down"],
        "recommendation": EN_ANSWER.split("\n")[1],
        "language": "en",
    }
    assert json.loads(completion.text) == completion.data


def test_an_answer_cut_at_max_tokens_says_so(server: str) -> None:
    completion = complete(server, CompletionRequest.of(EN_PROMPT, max_tokens=3))

    assert completion.text == "Summary: Account"
    assert completion.finish_reason == "length"
    assert completion.completion_tokens == 3


def test_json_mode_refuses_a_cut_json_answer_without_retrying(server: str) -> None:
    before = mark(server)

    with pytest.raises(LLMBadResponse, match=r"not JSON in JSON mode \(cut at max_tokens\)"):
        complete(server, CompletionRequest.of(EN_PROMPT, json_mode=True, max_tokens=5))

    assert len(served(server, before)) == 1


def test_a_chinese_prompt_gets_a_chinese_answer(server: str) -> None:
    completion = complete(server, CompletionRequest.of(ZH_PROMPT))

    assert completion.text == ZH_ANSWER
    labelled = label_generated(completion.text, completion, "zh-CN")
    assert labelled.text == "【AI生成】" + ZH_ANSWER

    data = complete(server, CompletionRequest.of(ZH_PROMPT, json_mode=True)).data
    assert data["language"] == "zh"
    assert data["facts"] == ["客户：上海瑞金医院", "预算已批准，计划采购CT", "上月投诉服务响应慢"]


def test_base_url_with_or_without_v1(server: str) -> None:
    before = mark(server)

    for base in (server, server + "/", server + "/v1", server + "/v1/"):
        assert complete(base, hello()).text.startswith("Summary:")

    assert [row["path"] for row in served(server, before)] == ["/v1/chat/completions"] * 4


def test_chat_completions_url() -> None:
    assert str(chat_completions_url("http://127.0.0.1:11434")) == (
        "http://127.0.0.1:11434/v1/chat/completions"
    )
    assert str(chat_completions_url("https://llm.internal/api/v1/")) == (
        "https://llm.internal/api/v1/chat/completions"
    )
    assert str(chat_completions_url("http://gw.internal/openai")) == (
        "http://gw.internal/openai/v1/chat/completions"
    )
    for bad in ("ftp://host/v1", "127.0.0.1:8000", "http:///v1", "http://h/v1?key=x"):
        with pytest.raises(ValueError, match="LLM URL"):
            chat_completions_url(bad)
    with pytest.raises(ValueError, match="credentials") as raised:
        chat_completions_url("http://user:sk-secret@h/v1")
    assert "sk-secret" not in str(raised.value)


def test_an_unknown_model_is_a_bad_response_with_the_servers_message(server: str) -> None:
    before = mark(server)

    with pytest.raises(LLMBadResponse) as raised:
        complete(server, hello(), model="gpt-nonexistent")

    assert "The model `gpt-nonexistent` does not exist." in raised.value.message
    assert raised.value.status == 404
    assert raised.value.attempts == 1
    assert [row["status"] for row in served(server, before)] == [404]


# -- authentication ---------------------------------------------------------------------------


def test_the_api_key_is_sent_as_bearer_and_never_logged(keyed_server: str) -> None:
    before = mark(keyed_server)

    completion = complete(keyed_server, hello(), api_key=API_KEY)

    assert completion.finish_reason == "stop"
    (row,) = served(keyed_server, before)
    assert row["status"] == 200
    assert row["headers"]["Authorization"] == "[redacted]"
    assert API_KEY not in orjson.dumps(served(keyed_server)).decode()
    provider = OpenAICompatibleProvider(keyed_server, MODEL, API_KEY)
    assert API_KEY not in repr(provider)


@pytest.mark.parametrize(
    ("key", "message"),
    [("sk-wrong", "Incorrect API key provided."), (None, "You didn't provide an API key.")],
)
def test_a_refused_api_key_is_not_retried(keyed_server: str, key: str | None, message: str) -> None:
    before = mark(keyed_server)

    with pytest.raises(LLMBadResponse) as raised:
        complete(keyed_server, hello(), api_key=key, max_retries=3)

    assert message in raised.value.message
    assert raised.value.status == 401
    assert raised.value.attempts == 1
    assert [row["status"] for row in served(keyed_server, before)] == [401]


# -- retries, deadlines, unreachable servers --------------------------------------------------


def test_retries_after_503_then_succeeds(server: str) -> None:
    before = mark(server)

    with failing(server, status=503, count=2):
        completion = complete(server, CompletionRequest.of(EN_PROMPT), max_retries=2)

    assert completion.text == EN_ANSWER
    assert completion.attempts == 3
    rows = served(server, before)
    assert [row["status"] for row in rows] == [503, 503, 200]
    assert rows[0]["body"] == rows[1]["body"] == rows[2]["body"]


def test_a_server_that_keeps_failing_is_unavailable_after_the_retries(server: str) -> None:
    before = mark(server)

    with failing(server, status=502, count=10), pytest.raises(LLMUnavailable) as raised:
        complete(server, hello(), max_retries=2)

    assert raised.value.status == 502
    assert raised.value.attempts == 3
    assert "forced 502" in raised.value.message
    assert [row["status"] for row in served(server, before)] == [502, 502, 502]


def test_a_small_retry_after_is_honoured(server: str) -> None:
    before = mark(server)
    started = time.monotonic()

    with failing(server, status=429, count=1, retry_after=1):
        completion = complete(server, hello(), backoff_s=0.01)

    assert time.monotonic() - started >= 0.95
    assert completion.attempts == 2
    first, second = served(server, before)
    assert (first["status"], second["status"]) == (429, 200)
    gap = datetime.fromisoformat(second["at"]) - datetime.fromisoformat(first["at"])
    assert gap >= timedelta(seconds=0.95)


def test_a_long_retry_after_fails_at_once(server: str) -> None:
    """Not waited for: the call fails on the first answer (a deadline long enough for the
    wait shows it was the Retry-After, not the deadline, that ended it)."""
    before = mark(server)

    with (
        failing(server, status=429, count=1, retry_after=30),
        pytest.raises(LLMUnavailable) as raised,
    ):
        complete(server, hello(), max_retries=3, timeout_s=120)

    assert raised.value.status == 429
    assert "retry after 30 s" in raised.value.message
    assert raised.value.attempts == 1
    assert len(served(server, before)) == 1


def test_a_slow_server_times_out_within_the_deadline(server: str) -> None:
    # The server answers (200) after 4 s: a timeout at all means the 0.5 s deadline cut the
    # call short, and the message names that deadline.
    with failing(server, delay=4, count=1), pytest.raises(LLMTimeout) as raised:
        complete(server, hello(), timeout_s=0.5)

    assert "within 0.5 s" in raised.value.message
    assert raised.value.attempts == 1


def test_the_requests_timeout_overrides_the_providers(server: str) -> None:
    # Under the provider's 30 s the 4 s stall would end in an answer; the request's 0.5 s
    # is what times it out.
    with failing(server, delay=4, count=1), pytest.raises(LLMTimeout) as raised:
        complete(server, hello(timeout_s=0.5), timeout_s=30)

    assert "within 0.5 s" in raised.value.message


def test_the_deadline_covers_the_retries(server: str) -> None:
    """Backoff that would outlast the deadline is not started: the last error comes now
    (the server's 503, not a timeout after sleeping into the deadline)."""
    before = mark(server)

    with failing(server, status=503, count=10), pytest.raises(LLMUnavailable) as raised:
        complete(server, hello(), timeout_s=1.0, max_retries=10, backoff_s=0.4)

    assert raised.value.status == 503
    assert 1 <= raised.value.attempts < 10
    assert [row["status"] for row in served(server, before)] == [503] * raised.value.attempts


def test_an_unreachable_server_is_unavailable_quickly(closed_port: int) -> None:
    # Refused connections are retried, then reported as unavailable: not left to time out.
    with pytest.raises(LLMUnavailable) as raised:
        complete(f"http://127.0.0.1:{closed_port}/v1", hello(), max_retries=2, timeout_s=120)

    assert raised.value.attempts == 3
    assert "cannot reach" in raised.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>gateway</html>", "a body that is not JSON"),
        ('{"choices": []}', "no choices"),
        ('{"choices": [{"message": {"role": "assistant"}}]}', "without text content"),
    ],
)
def test_unusable_answers_are_bad_responses(server: str, body: str, message: str) -> None:
    before = mark(server)

    with failing(server, status=200, count=1, body=body), pytest.raises(LLMBadResponse) as raised:
        complete(server, hello())

    assert message in raised.value.message
    assert raised.value.attempts == 1
    assert len(served(server, before)) == 1


# -- labels and fallbacks ---------------------------------------------------------------------


def test_generated_text_carries_explicit_and_implicit_labels(server: str) -> None:
    completion = complete(server, CompletionRequest.of(EN_PROMPT))

    now = datetime.now(UTC)
    before = now.replace(microsecond=now.microsecond // 1000 * 1000)  # stamped to the ms
    first = label_generated(completion.text, completion, "en", producer="ACME Distribution Ltd")
    after = datetime.now(UTC)
    second = label_generated(completion.text, completion, "en")

    assert first.text == "[AI-generated] " + EN_ANSWER
    assert first.body == EN_ANSWER
    assert first.label == "[AI-generated]"
    assert first.ai_generated
    meta = first.metadata
    assert meta["aigc"] is True
    assert meta["label_standard"] == LABEL_STANDARD == "GB 45438-2025"
    assert meta["provider"] == completion.provider
    assert meta["model"] == MODEL
    assert meta["response_id"] == completion.response_id
    assert uuid.UUID(meta["content_id"]).version == 4
    generated_at = datetime.fromisoformat(meta["generated_at"])
    assert generated_at.utcoffset() == timedelta(0)
    assert before <= generated_at <= after  # stamped while labelling, not some other time
    assert meta["AIGC"]["Label"] == "1"
    assert meta["AIGC"]["ContentProducer"] == "ACME Distribution Ltd"
    assert meta["AIGC"]["ProduceID"] == meta["content_id"]
    assert second.metadata["AIGC"]["ContentProducer"] == "Kindred"
    assert second.metadata["content_id"] != meta["content_id"]
    assert orjson.loads(orjson.dumps(first.to_dict())) == {
        "text": first.text,
        "body": first.body,
        "label": "[AI-generated]",
        "metadata": dict(meta),
    }


def test_text_already_labelled_by_the_model_is_labelled_once(server: str) -> None:
    completion = complete(server, hello())

    labelled = label_generated("【AI生成】 已经标注的内容", completion, "zh")

    assert labelled.text == "【AI生成】已经标注的内容"
    assert labelled.body == "已经标注的内容"


def test_fallback_text_is_marked_as_not_generated() -> None:
    labelled = fallback_text("Follow up within 3 working days.", "llm-timeout", detail="slow")

    assert labelled.text == labelled.body == "Follow up within 3 working days."
    assert labelled.label is None
    assert not labelled.ai_generated
    assert labelled.metadata["aigc"] is False
    assert labelled.metadata["source"] == "fallback-template"
    assert labelled.metadata["reason"] == "llm-timeout"
    assert labelled.metadata["detail"] == "slow"
    assert "AIGC" not in labelled.metadata
    assert labelled.to_dict()["metadata"]["aigc"] is False


def test_generate_text_falls_back_and_labels(server: str, closed_port: int) -> None:
    request = CompletionRequest.of(EN_PROMPT)
    template = "Summary: ACME Medical reported a CT scanner outage."

    async def go() -> list[Any]:
        working = OpenAICompatibleProvider(server, MODEL)
        down = OpenAICompatibleProvider(f"http://127.0.0.1:{closed_port}", MODEL, max_retries=0)
        try:
            return [
                await generate_text(None, request, fallback=template, language="en"),
                await generate_text(down, request, fallback=lambda: template, language="en"),
                await generate_text(working, request, fallback=template, language="en"),
                await generate_text(
                    working, request, fallback=template, language="en", accept=lambda c: None
                ),
            ]
        finally:
            await working.aclose()
            await down.aclose()

    unconfigured, unavailable, generated, rejected = run(go())

    assert (unconfigured.text, unconfigured.metadata["reason"]) == (template, NOT_CONFIGURED)
    assert (unavailable.text, unavailable.metadata["reason"]) == (template, "llm-unavailable")
    assert "cannot reach" in unavailable.metadata["detail"]
    assert generated.text == "[AI-generated] " + EN_ANSWER
    assert generated.metadata["aigc"] is True
    assert (rejected.text, rejected.metadata["reason"]) == (template, "llm-rejected")


# -- settings ---------------------------------------------------------------------------------


def test_no_url_means_no_provider() -> None:
    assert provider_from_settings(Settings(_env_file=None, llm_url=None)) is None


def test_the_provider_from_settings_uses_url_model_key_and_deadline(keyed_server: str) -> None:
    settings = Settings(
        _env_file=None,
        llm_url=keyed_server + "/v1",
        llm_model=MODEL,
        llm_api_key=API_KEY,
        llm_timeout_s=0.5,
        llm_max_retries=0,
    )
    assert API_KEY not in repr(settings)

    async def go() -> tuple[Completion, LLMTimeout]:
        provider = provider_from_settings(settings)
        assert isinstance(provider, LLMProvider)
        try:
            completion = await provider.complete(hello())
            fail_next(keyed_server, delay=4, count=1)  # a quick local call, then the stall
            with pytest.raises(LLMTimeout) as raised:
                await provider.complete(hello())
            return completion, raised.value
        finally:
            await provider.aclose()

    try:
        completion, timeout = run(go())
    finally:
        fail_next(keyed_server, count=0)

    assert completion.model == MODEL
    # The 4 s stall would have ended in an answer: the settings' 0.5 s deadline cut it short.
    assert "within 0.5 s" in timeout.message and timeout.attempts == 1


# -- the reference server's own protocol ------------------------------------------------------


def test_the_request_checks_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="at least one message"):
        CompletionRequest(messages=())
    with pytest.raises(ValueError, match="temperature"):
        CompletionRequest.of("x", temperature=3)
    with pytest.raises(ValueError, match="role"):
        CompletionRequest(messages=(("robot", "x"),))
    pairs = CompletionRequest(messages=(("user", "a"), {"role": "assistant", "content": "b"}))
    assert pairs.messages == (Message("user", "a"), Message("assistant", "b"))


def test_streaming_sends_the_same_answer_as_server_sent_events(server: str) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": ZH_PROMPT}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }

    async def go() -> tuple[str, bytes, dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            url = server + "/v1/chat/completions"
            async with session.post(url, json=body) as response:
                content_type = response.headers["Content-Type"]
                raw = await response.read()
            async with session.post(url, json={**body, "stream": False}) as response:
                whole = await response.json()
        return content_type, raw, whole

    content_type, raw, whole = run(go())

    assert content_type.startswith("text/event-stream")
    events = [line.removeprefix(b"data: ") for line in raw.split(b"\n\n") if line]
    assert all(line.startswith(b"data: ") for line in raw.split(b"\n\n") if line)
    assert events[-1] == b"[DONE]"
    chunks = [orjson.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == whole["choices"][0]["message"]["content"] == ZH_ANSWER
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == whole["usage"]


def test_models_and_errors_in_openai_shape(server: str) -> None:
    status, models = call(server, "GET", "/v1/models")
    assert status == 200
    assert [entry["id"] for entry in models["data"]] == [MODEL, OTHER_MODEL]

    status, error = call(server, "POST", "/v1/chat/completions", {"model": MODEL, "messages": []})
    assert status == 400
    assert error == {
        "error": {
            "message": "'messages' must be a non-empty array",
            "type": "invalid_request_error",
            "code": None,
            "param": "messages",
        }
    }
    status, error = call(
        server,
        "POST",
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
    )
    assert (status, error["error"]["param"]) == (400, "max_tokens")
    status, error = call(server, "GET", "/v1/embeddings")
    assert status == 404
    assert set(error["error"]) == {"message", "type", "code", "param"}


def test_token_counts_follow_the_documented_rule() -> None:
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("上海瑞金医院") == 6
    # CT / 扫 / 描 / 仪 / down / ： / 3 / 台
    assert count_tokens("CT扫描仪 down：3台") == 8
