"""Event triggers: the ``agents`` bus consumer starts every enabled agent whose event trigger
matches (event type pattern plus CEL filter), with inputs mapped from the event.

A run's idempotency key is derived from the event (source and id) and the trigger, so a
redelivered event finds its run instead of starting a second one; the event is acknowledged
once the run is durably started (at-least-once delivery, exactly one run).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from kindred.agents.definition import CompiledAgent
from kindred.agents.models import AgentRow
from kindred.agents.service import LATEST_TTL
from kindred.common.jsonvalues import plain_json
from kindred.errors import KindredError
from kindred.rules import RuleError
from kindred.scenarios.evaluate import event_variable, matches

if TYPE_CHECKING:
    from kindred.events.bus import Delivery
    from kindred.services import Kindred

log = logging.getLogger(__name__)


def _event_agents(kindred: Kindred) -> list[CompiledAgent]:
    with kindred.database.read() as session:
        rows = session.execute(
            sa.select(AgentRow.name, AgentRow.version).where(AgentRow.enabled.is_(True))
        ).all()
        agents = []
        for name, version in rows:
            try:
                compiled, _ = kindred.agents.compiled(name, version, session=session)
            except KindredError as error:  # a version that no longer checks: skip it, loudly
                log.error("agent %s v%s cannot be triggered: %s", name, version, error)
                continue
            if compiled.event_filters:
                agents.append(compiled)
        return agents


def matching_runs(
    agents: Sequence[CompiledAgent], deliveries: Sequence[Delivery]
) -> list[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    """(agent, inputs, idempotency key, trigger) for every trigger an event fires."""
    starts = []
    for delivery in deliveries:
        event = delivery.event
        variables = {"event": event_variable(event)}
        for compiled in agents:
            for index, rule, mapped in compiled.event_filters:
                trigger = compiled.definition.triggers[index]
                if not matches(trigger.events, event.type):
                    continue
                try:
                    if rule is not None and not rule.evaluate_bool(variables):
                        continue
                    inputs = {name: plain_json(r.evaluate(variables)) for name, r in mapped.items()}
                except RuleError as error:
                    log.warning(
                        "agent %s trigger %d failed on event %s: %s",
                        compiled.name,
                        index,
                        event.id,
                        error.message,
                    )
                    continue
                key = f"event:{event.source}:{event.id}:{index}"
                starts.append(
                    (
                        compiled.name,
                        inputs,
                        key,
                        {
                            "kind": "event",
                            "type": event.type,
                            "id": event.id,
                            "source": event.source,
                        },
                    )
                )
    return starts


def trigger_handler(kindred: Kindred) -> Any:
    from kindred.agents.runtime import runtime_for

    # The consumer sees every event of the bus: the triggering agents are looked up at most
    # once a second (as new versions are: AgentService.LATEST_TTL), not once per batch.
    cached: list[Any] = [0.0, []]

    async def handle(deliveries: Sequence[Delivery]) -> None:
        if cached[0] <= time.monotonic():
            cached[1] = await asyncio.to_thread(_event_agents, kindred)
            cached[0] = time.monotonic() + LATEST_TTL
        agents: list[CompiledAgent] = cached[1]
        if not agents:
            return
        runtime = runtime_for(kindred)
        for name, inputs, key, trigger in matching_runs(agents, deliveries):
            try:
                await runtime.start(name, inputs, idempotency_key=key, trigger=trigger, wait=False)
            except KindredError as error:
                # Bad inputs from an event are the event's problem, not a reason to redeliver.
                log.warning("agent %s not started for %s: %s", name, trigger["id"], error)

    return handle
