"""``Idempotency-Key`` on POST: a retried request replays the first response instead of
writing twice. The key is reserved and its response stored in the same transaction as the
write, so a crash can never leave a write without its key or a key without its write, and
two requests with the same key at the same moment write once (the second replays)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.api.responses import Json
from kindred.db import insert_new, utcnow
from kindred.errors import Conflict, MalformedRequest, ValidationFailed, field_error
from kindred.records.models import IdempotencyKey
from kindred.records.service import RequestContext
from kindred.services import Kindred

MAX_KEY_LENGTH = 255
RESERVE_ATTEMPTS = 3
PENDING = 0  # the status of a reservation whose action has not finished


class IdempotencyInProgress(Conflict):
    """The key stayed taken without a stored answer: the first request is still running."""

    problem = "idempotency-in-progress"
    title = "Request with this Idempotency-Key in progress"

    def __init__(self) -> None:
        super().__init__(
            "a request with this Idempotency-Key is being processed; retry shortly",
            retry_after=1,
        )
        self.headers = {"Retry-After": "1"}


def fingerprint(method: str, path: str, body: Any) -> str:
    """The request's identity for ``Idempotency-Key``. A body JSON storage cannot hold is
    refused here, naming each value (it failed as a 500 in orjson before)."""
    try:
        raw = orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        errors = list(_unstorable(body, ""))
        raise ValidationFailed(
            "the body holds values that cannot be stored",
            errors=errors or [field_error("", "unstorable", "the body cannot be stored as JSON")],
        ) from None
    return hashlib.sha256(raw).hexdigest()


def _unstorable(value: Any, path: str) -> Iterator[dict[str, Any]]:
    """The values orjson refuses, by JSON Pointer: integers beyond 64 bits and text with
    lone surrogates (Python's JSON parser accepts escaped ones such as ``\\ud800``; UTF-8
    cannot hold them)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            yield field_error(
                path, "integer_range", "integers are limited to 64 bits; send larger ones as text"
            )
    elif isinstance(value, str):
        if not _is_unicode(value):
            yield field_error(
                path, "invalid_unicode", "the text holds a lone surrogate (\\ud800–\\udfff)"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if isinstance(key, str) and not _is_unicode(key):
                yield field_error(child, "invalid_unicode", "the name holds a lone surrogate")
            else:
                yield from _unstorable(item, child)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _unstorable(item, f"{path}/{index}")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def run_idempotent(
    kindred: Kindred,
    context: RequestContext,
    key: str | None,
    request_fingerprint: str,
    action: Callable[[Session], tuple[int, Any, dict[str, str]]],
) -> Json:
    """Run ``action(session)`` in a write transaction, honouring the idempotency key.

    The key is reserved inside the write transaction, before the action runs, by an INSERT
    that does nothing when the key is taken; the reservation becomes the stored response
    when the action is done, and rolls back with it when the action fails. A concurrent
    request with the same key therefore waits for the first one's transaction (SQLite: for
    the write lock; PostgreSQL: on the key's unique index) and then replays its answer —
    it never runs the action a second time."""
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise MalformedRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    if key is None:
        with kindred.database.write() as session:
            status, body, headers = action(session)
        return Json(body, status_code=status, headers=headers)
    principal_id = context.principal.user_id
    # A sequential retry replays from a read, without waiting for the write lock.
    with kindred.database.read() as session:
        stored = session.get(IdempotencyKey, (principal_id, key))
        if stored is not None and not _expired(kindred, stored.created_at):
            return _replay(stored, request_fingerprint)
    for _ in range(RESERVE_ATTEMPTS):
        with kindred.database.write() as session:
            if _reserve(kindred, session, principal_id, key, request_fingerprint):
                status, body, headers = action(session)
                session.execute(
                    sa.update(IdempotencyKey)
                    .where(IdempotencyKey.principal_id == principal_id, IdempotencyKey.key == key)
                    .values(status_code=status, response=body, headers=headers)
                    .execution_options(synchronize_session=False)
                )
                return Json(body, status_code=status, headers=headers)
            # Taken: by a request that committed while this one waited for its turn.
            stored = session.execute(
                sa.select(IdempotencyKey)
                .where(IdempotencyKey.principal_id == principal_id, IdempotencyKey.key == key)
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
            if stored is not None and stored.status_code != PENDING:
                return _replay(stored, request_fingerprint)
        # The holder's row went away between the INSERT and the read (an erasure): again.
    raise IdempotencyInProgress()


def _reserve(
    kindred: Kindred, session: Session, principal_id: str, key: str, request_fingerprint: str
) -> bool:
    """Take ``key`` for this transaction: True when this request is the one to run. Only an
    expired row is deleted first; a live one (committed by another request) is left alone."""
    session.execute(
        sa.delete(IdempotencyKey)
        .where(
            IdempotencyKey.principal_id == principal_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at < _cutoff(kindred),
        )
        .execution_options(synchronize_session=False)
    )
    values = {
        "principal_id": principal_id,
        "key": key,
        "fingerprint": request_fingerprint,
        "status_code": PENDING,
        "response": {},
        "headers": {},
        "created_at": utcnow(),
    }
    return insert_new(session, IdempotencyKey, values)


def _replay(stored: IdempotencyKey, request_fingerprint: str) -> Json:
    if stored.fingerprint != request_fingerprint:
        raise ValidationFailed(
            "this Idempotency-Key was already used for a different request",
            errors=[
                field_error(
                    "/header/Idempotency-Key", "key_reused", "use a new key for a new request"
                )
            ],
        )
    return Json(
        stored.response,
        status_code=stored.status_code,
        headers={**stored.headers, "Idempotent-Replayed": "true"},
    )


def _cutoff(kindred: Kindred) -> dt.datetime:
    """Keys created before this have expired."""
    return utcnow() - dt.timedelta(seconds=kindred.settings.idempotency_ttl_seconds)


def _expired(kindred: Kindred, created_at: dt.datetime) -> bool:
    return created_at < _cutoff(kindred)
