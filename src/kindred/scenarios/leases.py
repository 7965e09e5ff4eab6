"""Which scenario runs an engine may claim: those without a live lease — and those whose
lease belongs to a process known to be gone (``kindred.events.liveness``).

A run is leased to the engine executing it (``lease_owner``, ``lease_until``) so two members
never execute it at once. A process that crashes or is killed leaves its leases behind;
waiting them out stalls its runs for a whole lease. When its owner is a process on this
machine that has provably ended, the lease is free at once. An engine that stops in the
middle of a run hands it back (``release``) for the next engine to resume.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from kindred.events import liveness
from kindred.scenarios.models import ScenarioRun

log = logging.getLogger("kindred.scenarios")
GONE_CHECK_SECONDS = 2.0  # how often the owners of live leases are checked


class RunLeases:
    def __init__(self, member: str) -> None:
        self.member = member
        self._gone: list[str] = []  # lease owners whose process has ended
        self._checked = 0.0

    def hold(self) -> None:
        """Before this member's first lease: others can then tell when it has ended."""
        liveness.hold(self.member)

    def free(self, now: float) -> sa.ColumnElement[bool]:
        """A run's lease may be taken: none, expired, or its owner's process has ended."""
        free = [ScenarioRun.lease_until.is_(None), ScenarioRun.lease_until < now]
        if self._gone:
            free.append(ScenarioRun.lease_owner.in_(self._gone))
        return sa.or_(*free)

    def refresh(self, session: Any, now: float) -> None:
        """Find the owners of live leases whose process has ended (every few seconds)."""
        if now - self._checked < GONE_CHECK_SECONDS:
            return
        self._checked = now
        owners = session.execute(
            sa.select(ScenarioRun.lease_owner)
            .where(
                ScenarioRun.status.in_(("running", "waiting")),
                ScenarioRun.lease_until >= now,
                ScenarioRun.lease_owner != self.member,
            )
            .distinct()
            .limit(100)
        ).scalars()
        self._gone = [owner for owner in owners if owner and liveness.gone(owner)]
        for owner in self._gone:
            log.info("scenario runs leased by %s: its process has ended; taking them over", owner)

    def release(self, session: Any, run_id: str) -> None:
        """Hand a run this member holds back (it stopped before the run ended)."""
        session.execute(
            sa.update(ScenarioRun)
            .where(ScenarioRun.id == run_id, ScenarioRun.lease_owner == self.member)
            .values(lease_owner=None, lease_until=None)
        )
