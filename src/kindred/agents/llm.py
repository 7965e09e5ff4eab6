"""The optional LLM of agent workflows: a provider port, its OpenAI-compatible adapter, labels.

Kindred never needs a language model. A workflow step that can use one declares a
deterministic fallback (a template filled from the same facts), and runs that whenever no
provider is configured or the provider fails; :func:`generate_text` does exactly this. So a
step never sees a provider error, only a :class:`LabelledText` that says where its text came
from.

* **Port**: :class:`LLMProvider` — ``complete(CompletionRequest) -> Completion`` and
  ``aclose()``. Errors are typed (:class:`LLMError` and its subclasses
  :class:`LLMUnavailable`, :class:`LLMTimeout`, :class:`LLMBadResponse`); each carries a short
  ``code`` a step records as its fallback reason.
* **Adapter**: :class:`OpenAICompatibleProvider` speaks the chat-completions API that vLLM,
  Ollama, the llama.cpp server (and OpenAI) serve, configured by URL (``KINDRED_LLM_URL``).
  One ``aiohttp`` session per provider; bounded retries with exponential backoff and jitter on
  429, 5xx and connection errors (a small ``Retry-After`` is honoured); one hard deadline
  for the whole call, retries included.
* **Labels**: generated text shown to people carries the explicit label China's labelling
  rules require (人工智能生成合成内容标识办法, GB 45438-2025, in force 2025-09-01) and the
  implicit label — metadata naming it AI-generated, the producer and a content id — in the
  standard's ``AIGC`` field names. Fallback text is marked as *not* generated, so callers
  store and show both the same way. See ``docs/llm.md``.

The reference server :mod:`kindred.reference.llm` speaks the same protocol for tests and demos.
"""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Protocol, runtime_checkable

import aiohttp
import orjson
from yarl import URL

from kindred import __version__

if TYPE_CHECKING:
    from kindred.config import Settings

Role = Literal["system", "user", "assistant"]
ROLES: frozenset[str] = frozenset({"system", "user", "assistant"})

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_TOKENS = 512
# Honour a server's Retry-After up to this; a longer wait fails the call at once, because a
# workflow step is better served by its fallback now than by an answer a minute later.
MAX_RETRY_AFTER_S = 5.0
MAX_BACKOFF_S = 4.0
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
USER_AGENT = f"kindred/{__version__} (llm)"

LABEL_STANDARD = "GB 45438-2025"
# The content producer named in the implicit label, unless the deployment sets its own
# (KINDRED_LLM_CONTENT_PRODUCER: the operating company's name or filing number).
DEFAULT_PRODUCER = "Kindred"
EXPLICIT_LABELS = {"zh": "【AI生成】", "en": "[AI-generated] "}
_VERSION_SEGMENT = re.compile(r"^v\d+$")


# -- errors ------------------------------------------------------------------------------------


class LLMError(Exception):
    """A provider call that produced no usable completion; a step runs its fallback."""

    code = "llm-error"

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.attempts = attempts


class LLMUnavailable(LLMError):
    """The server could not be reached, or kept failing (5xx, 429) through every retry."""

    code = "llm-unavailable"


class LLMTimeout(LLMError):
    """No answer within the call's deadline (retries included)."""

    code = "llm-timeout"


class LLMBadResponse(LLMError):
    """The server refused the request (4xx, with its message) or answered something that is
    not a usable completion. Retrying the same request would get the same answer."""

    code = "llm-bad-response"


# -- request and answer ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {sorted(ROLES)}, got {self.role!r}")
        if not isinstance(self.content, str):
            raise ValueError("content must be text")


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One chat completion. ``model`` ``None``: the provider's configured model;
    ``timeout_s`` ``None``: the provider's deadline. ``messages`` may be given as
    :class:`Message` objects, ``(role, content)`` pairs or ``{"role", "content"}`` dicts."""

    messages: tuple[Message, ...]
    model: str | None = None
    temperature: float = 0.0
    max_tokens: int = DEFAULT_MAX_TOKENS
    json_mode: bool = False
    timeout_s: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", tuple(_message(m) for m in self.messages))
        if not self.messages:
            raise ValueError("a completion request needs at least one message")
        if isinstance(self.temperature, bool) or not 0 <= self.temperature <= 2:
            raise ValueError("temperature must be from 0 to 2")
        if isinstance(self.max_tokens, bool) or not 1 <= self.max_tokens <= 1_000_000:
            raise ValueError("max_tokens must be a positive whole number")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError("timeout_s must be positive")
        if self.model is not None and not self.model:
            raise ValueError("model must be a non-empty name or None")

    @classmethod
    def of(cls, user: str, *, system: str | None = None, **options: Any) -> CompletionRequest:
        """The common shape: an optional system instruction and one user message."""
        messages = [Message("system", system)] if system is not None else []
        messages.append(Message("user", user))
        return cls(messages=tuple(messages), **options)


def _message(value: Message | tuple[str, str] | Mapping[str, Any]) -> Message:
    if isinstance(value, Message):
        return value
    if isinstance(value, Mapping):
        return Message(value.get("role"), value.get("content"))  # type: ignore[arg-type]
    role, content = value
    return Message(role, content)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Completion:
    """A provider's answer. ``latency_ms`` covers the whole call, retries included;
    ``data`` is the parsed JSON value when the request asked for ``json_mode``."""

    text: str
    model: str
    provider: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float
    response_id: str | None
    attempts: int = 1
    data: Any = None


@runtime_checkable
class LLMProvider(Protocol):
    """The port agent steps call. ``name`` is what labels and traces record as the provider."""

    name: str

    async def complete(self, request: CompletionRequest) -> Completion: ...

    async def aclose(self) -> None: ...


# -- the OpenAI-compatible adapter ------------------------------------------------------------


def chat_completions_url(base_url: str) -> URL:
    """``{base}/v1/chat/completions`` for a base given with or without its ``/v1`` (any
    ``/vN`` last segment is kept: some gateways serve ``/v2`` or ``/api/v1``)."""
    url = URL(base_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"the LLM URL must be an http:// or https:// URL, got {base_url!r}")
    if url.user is not None or url.password is not None:
        # Error messages name the URL; a key belongs in KINDRED_LLM_API_KEY.
        raise ValueError("the LLM URL must not contain credentials; set the API key instead")
    if url.query_string or url.fragment:
        raise ValueError(f"the LLM URL must not have a query or fragment, got {base_url!r}")
    segments = [s for s in url.path.split("/") if s]
    if not segments or not _VERSION_SEGMENT.match(segments[-1]):
        segments.append("v1")
    return url.with_path("/" + "/".join([*segments, "chat", "completions"]))


class OpenAICompatibleProvider:
    """An :class:`LLMProvider` over the OpenAI chat-completions HTTP API (non-streaming).

    ``timeout_s`` is the hard deadline of one ``complete`` call, retries and backoff
    included; ``max_retries`` the retries after the first attempt. One ``aiohttp`` session,
    created in the running loop on first use and closed by :meth:`aclose`; the provider is
    then bound to that loop."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_s: float = 0.25,
        name: str | None = None,
    ) -> None:
        if not model:
            raise ValueError("an LLM model name is required")
        if not timeout_s > 0:
            raise ValueError("timeout_s must be positive")
        if isinstance(max_retries, bool) or not 0 <= max_retries <= 10:
            raise ValueError("max_retries must be from 0 to 10")
        if backoff_s < 0:
            raise ValueError("backoff_s must not be negative")
        self.url = chat_completions_url(base_url)
        self.model = model
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        port = f":{self.url.port}" if self.url.explicit_port else ""
        self.name = name or f"openai-compatible@{self.url.host}{port}"
        self._api_key = api_key or None  # never logged, never in repr or errors
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        key = ", api_key=***" if self._api_key else ""
        return f"OpenAICompatibleProvider({str(self.url)!r}, model={self.model!r}{key})"

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed:
            headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            # The deadline is enforced around the whole call (asyncio.timeout_at), so the
            # session's own timeouts are off rather than a second, competing limit.
            self._session = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=None)
            )
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                f"{self!r} is bound to another event loop; create one provider per loop"
            )
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        """The JSON body sent: OpenAI's fields only, understood by every compatible server."""
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.json_mode:
            body["response_format"] = {"type": "json_object"}
        if request.seed is not None:
            body["seed"] = request.seed
        return body

    async def complete(self, request: CompletionRequest) -> Completion:
        timeout = request.timeout_s if request.timeout_s is not None else self.timeout_s
        payload = orjson.dumps(self.request_body(request))
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + timeout
        attempts = 0
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    attempts += 1
                    outcome = await self._attempt(payload)
                    if not isinstance(outcome, _Retry):
                        break
                    pause = self._backoff(attempts, outcome.retry_after)
                    # No retry that could not finish in time: the caller's fallback now is
                    # worth more than a timeout later.
                    if attempts > self.max_retries or loop.time() + pause >= deadline:
                        raise outcome.error
                    await asyncio.sleep(pause)
        except TimeoutError:
            raise LLMTimeout(
                f"no answer from {self.name} within {timeout:g} s ({attempts} attempt(s))",
                provider=self.name,
                attempts=attempts,
            ) from None
        except LLMError as error:
            error.attempts = attempts
            raise
        text, body = outcome
        return self._completion(text, body, request, attempts, (loop.time() - started) * 1000)

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        # Jitter (half to all of the exponential step) so that clients which failed together
        # do not retry together.
        step = min(MAX_BACKOFF_S, self.backoff_s * 2 ** (attempts - 1))
        pause = step * (0.5 + random.random() / 2)
        return max(pause, retry_after or 0.0)

    async def _attempt(self, payload: bytes) -> tuple[str, dict[str, Any]] | _Retry:
        """One HTTP exchange: ``(text, response body)``, or a :class:`_Retry` when another
        attempt may help; raises when none can."""
        session = self._client()
        try:
            async with session.post(
                self.url, data=payload, headers={"Content-Type": "application/json"}
            ) as response:
                data = await _read_capped(response, self.name)
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except TimeoutError:
            raise  # an OSError subclass, but no connection failure: the deadline's to report
        except (aiohttp.ClientError, OSError) as error:
            return _Retry(
                LLMUnavailable(
                    f"cannot reach {self.name} at {self.url}: {_describe(error)}",
                    provider=self.name,
                )
            )
        if status in RETRYABLE_STATUSES:
            error_text = f"{self.name} answered {status}: {_error_message(data)}"
            if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                raise LLMUnavailable(
                    f"{error_text}; it asks to retry after {retry_after:g} s",
                    provider=self.name,
                    status=status,
                )
            return _Retry(
                LLMUnavailable(error_text, provider=self.name, status=status), retry_after
            )
        if not 200 <= status < 300:
            raise LLMBadResponse(
                f"{self.name} refused the request ({status}): {_error_message(data)}",
                provider=self.name,
                status=status,
            )
        return self._text(data, status)

    def _bad(self, detail: str, status: int) -> NoReturn:
        raise LLMBadResponse(
            f"{self.name} answered {status} with {detail}", provider=self.name, status=status
        )

    def _text(self, data: bytes, status: int) -> tuple[str, dict[str, Any]]:
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._bad(f"a body that is not JSON: {_snippet(data)}", status)
        if not isinstance(body, dict):
            self._bad("a JSON body that is not an object", status)
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            self._bad("no choices", status)
        message = choices[0].get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            self._bad("a choice without text content", status)
        return content, body

    def _completion(
        self,
        text: str,
        body: dict[str, Any],
        request: CompletionRequest,
        attempts: int,
        latency_ms: float,
    ) -> Completion:
        choice = body["choices"][0]
        usage = body.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        finish_reason = choice.get("finish_reason")
        parsed: Any = None
        if request.json_mode:
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                cut = " (cut at max_tokens)" if finish_reason == "length" else ""
                raise LLMBadResponse(
                    f"{self.name} answered text that is not JSON in JSON mode{cut}: "
                    f"{_snippet(text.encode())}",
                    provider=self.name,
                    status=200,
                    attempts=attempts,
                ) from None
        model = body.get("model")
        response_id = body.get("id")
        return Completion(
            text=text,
            model=model if isinstance(model, str) and model else request.model or self.model,
            provider=self.name,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
            latency_ms=round(latency_ms, 3),
            response_id=response_id if isinstance(response_id, str) else None,
            attempts=attempts,
            data=parsed,
        )

    async def list_models(self) -> list[str]:
        """The model ids the server offers (``GET {base}/v1/models``): a configuration check
        for operators, not used by workflows."""
        url = self.url.with_path(self.url.path.removesuffix("/chat/completions") + "/models")
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self._client().get(url) as response:
                    data = await _read_capped(response, self.name)
                    status = response.status
        except TimeoutError:
            raise LLMTimeout(
                f"no model list from {self.name} within {self.timeout_s:g} s", provider=self.name
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            raise LLMUnavailable(
                f"cannot reach {self.name} at {url}: {_describe(error)}", provider=self.name
            ) from None
        if status != 200:
            error_type = LLMUnavailable if status >= 500 else LLMBadResponse
            raise error_type(
                f"{self.name} answered {status}: {_error_message(data)}",
                provider=self.name,
                status=status,
            )
        try:
            entries = orjson.loads(data)["data"]
            return [str(entry["id"]) for entry in entries]
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise LLMBadResponse(
                f"{self.name} answered a model list of an unknown shape ({error})",
                provider=self.name,
                status=status,
            ) from None


@dataclass(frozen=True, slots=True)
class _Retry:
    error: LLMUnavailable
    retry_after: float | None = None


async def _read_capped(response: aiohttp.ClientResponse, provider: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise LLMBadResponse(
                f"{provider}'s answer exceeds {MAX_RESPONSE_BYTES} bytes",
                provider=provider,
                status=response.status,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(value: str | None) -> float | None:
    # Only the delay-seconds form: servers of this protocol send that, and an HTTP date
    # would need a trustworthy clock on both sides.
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def _error_message(data: bytes) -> str:
    """The server's own message: OpenAI's ``{"error": {"message"}}``, Ollama's and
    llama.cpp's ``{"error": "…"}``, or the start of the body."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _snippet(data) or "(empty body)"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return _snippet(data)


def _snippet(data: bytes, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- labels ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelledText:
    """Text for people, with where it came from. ``text`` is what is shown (with the
    explicit label when AI-generated); ``body`` the same without the label (for further
    processing); ``metadata`` the implicit label, stored with the text wherever it goes."""

    text: str
    body: str
    label: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ai_generated(self) -> bool:
        return bool(self.metadata.get("aigc"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy for traces and storage."""
        return {
            "text": self.text,
            "body": self.body,
            "label": self.label,
            "metadata": orjson.loads(orjson.dumps(dict(self.metadata))),
        }


def language_of(language: str) -> Literal["zh", "en"]:
    """``"zh"`` for any Chinese tag (``zh``, ``zh-CN``, ``zh_Hant``), else ``"en"``."""
    return "zh" if language.strip().lower().replace("_", "-").startswith("zh") else "en"


def label_generated(
    text: str,
    completion: Completion,
    language: str,
    *,
    producer: str = DEFAULT_PRODUCER,
    propagator: str | None = None,
) -> LabelledText:
    """Mark model output for people: the explicit label as a prefix (``【AI生成】`` in
    Chinese, ``[AI-generated]`` otherwise), and the implicit label in ``metadata``.

    ``metadata`` holds flat fields for Kindred (``aigc``, ``label_standard``, ``provider``,
    ``model``, ``content_id``, ``generated_at``, ``response_id``) and the standard's metadata
    block ``AIGC`` (``Label`` "1" = generated, ``ContentProducer``, ``ProduceID``,
    ``ContentPropagator``, ``PropagateID``, ``ReservedCode1/2``) for export with files."""
    key = language_of(language)
    label = EXPLICIT_LABELS[key]
    body = text.strip()
    # A model told about the rules may have labelled its text already; label it once.
    for known in EXPLICIT_LABELS.values():
        if body.startswith(known.strip()):
            body = body[len(known.strip()) :].lstrip()
    content_id = str(uuid.uuid4())
    metadata: dict[str, Any] = {
        "aigc": True,
        "label_standard": LABEL_STANDARD,
        "provider": completion.provider,
        "model": completion.model,
        "content_id": content_id,
        "generated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "response_id": completion.response_id,
        "language": key,
        "AIGC": {
            "Label": "1",
            "ContentProducer": producer,
            "ProduceID": content_id,
            "ReservedCode1": "",
            "ContentPropagator": propagator or "",
            "PropagateID": "",
            "ReservedCode2": "",
        },
    }
    return LabelledText(text=label + body, body=body, label=label.strip(), metadata=metadata)


def fallback_text(text: str, reason: str, *, detail: str | None = None) -> LabelledText:
    """Deterministic template text a step produced instead of a model: no label, and
    metadata that says so (``aigc: false``, ``source: "fallback-template"``, ``reason``)."""
    metadata: dict[str, Any] = {
        "aigc": False,
        "source": "fallback-template",
        "reason": reason,
        "content_id": str(uuid.uuid4()),
        "generated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    if detail is not None:
        metadata["detail"] = detail
    return LabelledText(text=text, body=text, label=None, metadata=metadata)


NOT_CONFIGURED = "llm-not-configured"


async def generate_text(
    provider: LLMProvider | None,
    request: CompletionRequest,
    *,
    fallback: str | Callable[[], str],
    language: str,
    producer: str = DEFAULT_PRODUCER,
    accept: Callable[[Completion], str | None] | None = None,
) -> LabelledText:
    """One LLM step with its fallback: the labelled completion, or the fallback text when no
    provider is configured, the provider fails (reason: the error's ``code``), or ``accept``
    (which may also rewrite the text) returns ``None`` for the completion (reason
    ``llm-rejected``). Never raises an :class:`LLMError`."""

    def fall_back(reason: str, detail: str | None = None) -> LabelledText:
        text = fallback() if callable(fallback) else fallback
        return fallback_text(text, reason, detail=detail)

    if provider is None:
        return fall_back(NOT_CONFIGURED)
    try:
        completion = await provider.complete(request)
    except LLMError as error:
        return fall_back(error.code, error.message)
    text: str | None = completion.text
    if accept is not None:
        text = accept(completion)
        if text is None:
            return fall_back(
                "llm-rejected", f"the step did not accept {completion.provider}'s answer"
            )
    if not text or not text.strip():
        return fall_back("llm-empty", f"{completion.provider} answered no text")
    return label_generated(text, completion, language, producer=producer)


def provider_from_settings(settings: Settings) -> LLMProvider | None:
    """The configured provider, or ``None`` without ``KINDRED_LLM_URL`` (steps then run
    their fallbacks)."""
    if not settings.llm_url:
        return None
    key = settings.llm_api_key
    return OpenAICompatibleProvider(
        settings.llm_url,
        settings.llm_model,
        key.get_secret_value() if key is not None else None,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )


__all__ = [
    "DEFAULT_PRODUCER",
    "LABEL_STANDARD",
    "NOT_CONFIGURED",
    "Completion",
    "CompletionRequest",
    "LLMBadResponse",
    "LLMError",
    "LLMProvider",
    "LLMTimeout",
    "LLMUnavailable",
    "LabelledText",
    "Message",
    "OpenAICompatibleProvider",
    "chat_completions_url",
    "fallback_text",
    "generate_text",
    "label_generated",
    "language_of",
    "provider_from_settings",
]
