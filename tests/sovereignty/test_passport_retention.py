"""Passport challenges and magic links are forgotten once long expired (issue 19, item 8).

Before, ``PassportAuth.purge`` existed but nothing called it: every challenge and link ever
asked for stayed in ``passport_challenges``. Now the retention pass runs it as a task
(``passport_challenges``): rows that expired more than a day before the pass (used or not)
go; live ones, and ones expired too recently to forget (a late try is still told 'expired'),
stay.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

import sqlalchemy as sa

from kindred.events.runtime import EventRuntime, RuntimeJobs
from kindred.sovereignty.models import PassportChallenge
from kindred.sovereignty.passport import EXPIRED_KEPT_SECONDS, PassportRefused

DID = "did:key:z6MkretentionTest"
HOUR = 3600.0


def _row(name: str, kind: str, expires_at: float, *, used_at: float | None = None) -> Any:
    return PassportChallenge(
        nonce_hash=hashlib.sha256(name.encode()).hexdigest(),
        did=DID,
        kind=kind,
        expires_at=expires_at,
        used_at=used_at,
    )


def _store(kindred: Any, now: float) -> None:
    """Long expired (unused and used), recently expired and live, of both kinds."""
    old = now - EXPIRED_KEPT_SECONDS - HOUR
    with kindred.database.write() as session:
        session.add_all(
            [
                _row("old-challenge", "challenge", old),
                _row("old-used-challenge", "challenge", old, used_at=old - 60),
                _row("old-link", "magic-link", old),
                _row("recent-challenge", "challenge", now - HOUR),
                _row("recent-link", "magic-link", now - HOUR),
                _row("live-challenge", "challenge", now + 300),
                _row("live-link", "magic-link", now + 900),
            ]
        )


def _left(kindred: Any) -> set[str]:
    names = {
        hashlib.sha256(name.encode()).hexdigest(): name
        for name in (
            "old-challenge",
            "old-used-challenge",
            "old-link",
            "recent-challenge",
            "recent-link",
            "live-challenge",
            "live-link",
        )
    }
    with kindred.database.read() as session:
        hashes = session.execute(sa.select(PassportChallenge.nonce_hash)).scalars().all()
    return {names[h] for h in hashes}


KEPT = {"recent-challenge", "recent-link", "live-challenge", "live-link"}


def test_the_retention_pass_forgets_long_expired_challenges_and_links(kindred: Any) -> None:
    _store(kindred, time.time())
    # The server's own retention pass: the composition root registers the passport's task.
    assert "passport_challenges" in {task.name for task in kindred.consumers.retention}
    runtime = EventRuntime(kindred, RuntimeJobs(retention=True))

    report = asyncio.run(runtime.run_retention_once())

    assert report["passport_challenges"] == 3
    assert _left(kindred) == KEPT
    # A second pass finds nothing more to remove and keeps the rest.
    assert asyncio.run(runtime.run_retention_once())["passport_challenges"] == 0
    assert _left(kindred) == KEPT


def test_purge_uses_the_clock_it_is_given(kindred: Any) -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _store(kindred, now.timestamp())

    # A pass an hour before the long-expired rows became forgettable removes nothing.
    early = datetime.fromtimestamp(now.timestamp() - 2 * HOUR, UTC)
    assert kindred.passport.purge_expired(kindred.database, early) == 0
    assert len(_left(kindred)) == 7

    assert kindred.passport.purge_expired(kindred.database, now) == 3
    assert _left(kindred) == KEPT


def test_a_purged_magic_link_is_unknown_a_kept_one_still_says_expired(kindred: Any) -> None:
    now = time.time()
    _store(kindred, now)
    kindred.passport.purge_expired(kindred.database, datetime.fromtimestamp(now, UTC))

    for name, reason in (("old-link", "unknown"), ("recent-link", "expired")):
        with kindred.database.write() as session:
            refusal = kindred.passport.attempt(
                session, partial(kindred.passport.sign_in_with_magic_link, session, name)
            )
        assert isinstance(refusal, PassportRefused)
        assert refusal.reason == reason, name
