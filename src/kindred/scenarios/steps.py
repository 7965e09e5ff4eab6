"""What a step of a scenario run knows about itself while it acts.

The engine builds one :class:`StepContext` per step and hands it to the step's executor
(:mod:`kindred.scenarios.executors`, :mod:`kindred.scenarios.connectors`). It lives below
both so that the executors import the connectors and nothing imports back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kindred.auth.permissions import Principal


@dataclass
class StepContext:
    run_id: str
    step_id: str
    scenario: str
    version: int
    chain_depth: int
    idempotency_key: str
    # Whose rights the step acts with (the scenario version's run-as principal, loaded with
    # its current rights); None: nobody, and every record action is refused.
    principal: Principal | None = None
    event: dict[str, Any] | None = None  # the triggering event's id, source and type
    purpose: str | None = None
    author: str | None = None  # who saved the version (run_as may be a service principal)
