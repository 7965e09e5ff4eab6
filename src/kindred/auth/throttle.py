"""Sign-in throttling: what stops password guessing, API-key guessing and passport sign-in
abuse, and keeps password hashing from starving the server.

Three mechanisms, each where it has to hold:

- **Account lockout** (database, shared by every process): failures per account — an email
  address, a passport DID, an address asking for magic links — counted in
  ``sign_in_failures``. After ``signin_max_failures`` in a row the account is locked for
  ``signin_lockout_seconds``, and every further failure doubles it (up to
  ``signin_lockout_max_seconds``). While locked, attempts are refused *before* the
  credential is checked, so the right password is refused too and costs nothing. An account
  is keyed by an HMAC of its name whether or not it exists: an unknown email is throttled
  exactly like a known one, and the table names nobody.
- **Failure budget per client address** (this process): a token bucket per address and
  kind; failures spend it, refused requests do not. In-process on purpose: it is consulted
  on every API-key request, and a database write per request would cost more than it saves.
  Several processes each give an address its own budget (documented in docs/security.md).
- **Hashing gate** (this process): at most ``password_hash_concurrency`` Argon2 checks or
  hashes at once (each takes ``password_memory_kib``); a caller waiting longer than
  ``password_hash_wait_seconds`` is answered 503 with Retry-After instead of queueing.

Refusals are ``TooManyAttempts`` (429) and ``SignInBusy`` (503), both with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

import sqlalchemy as sa
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from kindred.auth.models import SignInFailure
from kindred.config import Settings
from kindred.db import insert_new
from kindred.errors import KindredError

# What a client address may fail at, each with its own budget.
AddressKind = Literal["password", "api-key", "passport"]
ADDRESS_KINDS: tuple[AddressKind, ...] = ("password", "api-key", "passport")
_ATTEMPTS: dict[AddressKind, str] = {
    "password": "failed sign-ins",
    "api-key": "requests with an invalid API key",
    "passport": "failed passport sign-ins and sign-in requests",
}
# Stale rows are deleted at most this often per process (seconds).
PURGE_INTERVAL = 600.0
# Address buckets kept before full ones are dropped (a full bucket is the same as none).
MAX_ADDRESSES = 50_000


class TooManyAttempts(KindredError):
    """Refused for too many failures; ``Retry-After`` says when to try again."""

    status = 429
    problem = "too-many-attempts"
    title = "Too many attempts"

    def __init__(self, detail: str, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(f"{detail}: try again in {seconds} seconds", retry_after=seconds)
        self.headers = {"Retry-After": str(seconds)}


class SignInBusy(KindredError):
    """Every password-checking slot of this process stayed taken for the allowed wait."""

    status = 503
    problem = "sign-in-busy"
    title = "Too many sign-ins at once"

    def __init__(self) -> None:
        super().__init__(
            "too many passwords are being checked at once: try again in a moment",
            retry_after=1,
        )
        self.headers = {"Retry-After": "1"}


class HashingGate:
    """Bounds concurrent Argon2 work in this process (checks and new hashes alike)."""

    def __init__(self, slots: int, wait_seconds: float) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self.wait_seconds = wait_seconds

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.wait_seconds):
            raise SignInBusy()
        try:
            yield
        finally:
            self._slots.release()


class AddressBudget:
    """Failures one kind of attempt may make per client address: a token bucket of
    ``burst`` tokens, one more every ``refill_seconds``."""

    def __init__(self, burst: int, refill_seconds: float, clock: Callable[[], float]) -> None:
        self.burst = float(burst)
        self.refill_seconds = refill_seconds
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address → (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, address: str, now: float) -> float:
        tokens, at = self._buckets.get(address, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - at) / self.refill_seconds)

    def wait(self, address: str) -> float:
        """Seconds until ``address`` may fail again (0: now)."""
        with self._lock:
            tokens = self._tokens(address, self.clock())
        return 0.0 if tokens >= 1 else (1 - tokens) * self.refill_seconds

    def spend(self, address: str) -> None:
        with self._lock:
            now = self.clock()
            self._buckets[address] = (max(0.0, self._tokens(address, now) - 1), now)
            if len(self._buckets) > MAX_ADDRESSES:
                full = [a for a in self._buckets if self._tokens(a, now) >= self.burst]
                for forgotten in full:
                    del self._buckets[forgotten]


class SignInThrottle:
    """The three mechanisms of this module, configured from the settings."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        # Wall-clock time: lockouts are compared across processes. Tests move it.
        self.clock = clock
        self._hmac_key = HKDF(
            algorithm=SHA256(), length=32, salt=b"kindred-sign-in", info=b"throttle keys"
        ).derive(settings.secret_key.encode())
        self.hashing = HashingGate(
            settings.password_hash_concurrency, settings.password_hash_wait_seconds
        )
        self.addresses = {
            kind: AddressBudget(
                settings.signin_address_failures,
                settings.signin_address_refill_seconds,
                lambda: self.clock(),
            )
            for kind in ADDRESS_KINDS
        }
        self._purged_at = 0.0

    # -- per client address (this process) --------------------------------------------------

    def check_address(self, kind: AddressKind, address: str) -> None:
        wait = self.addresses[kind].wait(address)
        if wait > 0:
            raise TooManyAttempts(f"too many {_ATTEMPTS[kind]} from your address", wait)

    def address_failed(self, kind: AddressKind, address: str) -> None:
        self.addresses[kind].spend(address)

    # -- per account (database) -------------------------------------------------------------

    def account_key(self, kind: str, name: str) -> str:
        """The lockout key of an account: never the name itself (see module docstring)."""
        message = f"{kind}\x00{name.strip().lower()}".encode()
        return hmac.new(self._hmac_key, message, hashlib.sha256).hexdigest()

    def check_account(self, session: Session, key: str, refusal: str) -> bool:
        """Refuse (429, ``refusal`` saying what) while the account is locked; True when it
        has failures on record (a success should then ``clear`` them)."""
        row = session.execute(
            sa.select(SignInFailure.locked_until).where(SignInFailure.key == key)
        ).first()
        if row is None:
            return False
        wait = row.locked_until - self.clock()
        if wait > 0:
            raise TooManyAttempts(refusal, wait)
        return True

    def record_failure(self, session: Session, key: str) -> None:
        """Count a failure (in the caller's write transaction); lock when due."""
        now = self.clock()
        settings = self.settings
        insert_new(
            session,
            SignInFailure,
            {"key": key, "failures": 0, "last_failure_at": now, "locked_until": 0.0},
        )
        # The row lock (PostgreSQL; SQLite writers are serialized) makes concurrent failures
        # of one account count one after the other, in any process.
        row = session.get(SignInFailure, key, with_for_update=True, populate_existing=True)
        assert row is not None  # inserted above unless it existed
        forgotten = now - row.last_failure_at > settings.signin_failure_memory_seconds
        row.failures = 1 if forgotten else row.failures + 1
        row.last_failure_at = now
        if row.failures >= settings.signin_max_failures:
            row.locked_until = max(row.locked_until, now + self.lockout_seconds(row.failures))
        session.flush()
        self._purge(session, now)

    def record_attempt(self, session: Session, key: str, refusal: str) -> None:
        """For requests limited per account whatever their outcome (magic links asked for):
        refused while locked, else counted."""
        self.check_account(session, key, refusal)
        self.record_failure(session, key)

    def lockout_seconds(self, failures: int) -> float:
        """How long ``failures`` failures in a row lock an account: doubling from the first
        lockout, capped."""
        settings = self.settings
        doublings = min(failures - settings.signin_max_failures, 32)
        return float(
            min(settings.signin_lockout_seconds * 2**doublings, settings.signin_lockout_max_seconds)
        )

    def clear(self, session: Session, key: str) -> None:
        """Forget an account's failures (a success, or an administrator's password reset)."""
        session.execute(sa.delete(SignInFailure).where(SignInFailure.key == key))

    def _purge(self, session: Session, now: float) -> None:
        # Unknown names an attacker tried leave rows too; they go once nobody remembers them.
        if now - self._purged_at < PURGE_INTERVAL:
            return
        self._purged_at = now
        session.execute(
            sa.delete(SignInFailure).where(
                SignInFailure.last_failure_at < now - self.settings.signin_failure_memory_seconds,
                SignInFailure.locked_until < now,
            )
        )
