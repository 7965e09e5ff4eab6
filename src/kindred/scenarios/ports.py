"""Ports the scenario engine calls but other domains fill.

``AgentLauncher`` is how a ``start_agent`` step starts an agent workflow. The agents domain
registers one (``kindred.extras["agent_launcher"]``: ``kindred.agents.runtime.ScenarioLauncher``,
installed by ``Kindred``); the run starts in the background, once per scenario step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class AgentLauncher(Protocol):
    async def start(
        self,
        workflow: str,
        inputs: Mapping[str, Any],
        *,
        idempotency_key: str,
        trigger: Mapping[str, Any],
        started_by: str | None = None,
    ) -> dict[str, Any]:
        """Start (or, for a known idempotency key, find) a workflow run; returns its id.
        ``started_by``: the principal it acts as (the scenario's run-as principal)."""
        ...
