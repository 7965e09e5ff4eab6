"""Agents started by events, scenarios or the upkeep act as their run-as principal, not as
an all-powerful system (issue 16, item 1): its visibility bounds their reads, a deactivated
principal stops them, and only someone whose rights cover a service principal may grant it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.agents.models import AgentRun
from kindred.agents.runtime import runtime_for
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.errors import PermissionDenied, Unauthenticated
from kindred.records.service import RequestContext
from tests.api.conftest import World
from tests.conftest import service_principal

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)

READER = {
    "name": "account_reader",
    "title": "Read an account",
    "role": "service",
    "inputs": {"account": {"type": "string", "required": True}},
    "reads": [{"name": "account", "object": "account", "id": "inputs.account"}],
    "grants": {"account": ["name"]},
    "steps": [
        {
            "id": "decide",
            "kind": "rule",
            "rules": [{"when": "reads.account != null", "then": {"seen": True}}],
            "default": {"seen": False},
        }
    ],
    "outputs": {"value": {"seen": {"cel": "steps.decide.seen"}}},
}


def start(kindred: Any, account: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        runtime = runtime_for(kindred)
        try:
            return dict(await runtime.start("account_reader", {"account": account}))
        finally:
            kindred.extras.pop("agent_runtime", None)
            await runtime.aclose()

    return asyncio.run(go())


def run_count(kindred: Any) -> int:
    with kindred.database.read() as session:
        return int(session.execute(sa.select(sa.func.count()).select_from(AgentRun)).scalar_one())


def test_an_event_started_agent_reads_with_its_run_as_principals_rights(
    kindred: Any, world: World
) -> None:
    east_robot = service_principal(kindred, roles=("sales",), email="east-robot@example.com")
    with kindred.database.write() as session:
        kindred.records.update(
            session,
            SYSTEM,
            "user",
            east_robot,
            {"territories": [world.territories["east"]]},
            if_match=None,
        )
        north = kindred.records.create(
            session, SYSTEM, "account", {"name": "PUMCH", "territory": world.territories["north"]}
        )
        east = kindred.records.create(
            session, SYSTEM, "account", {"name": "Ruijin", "territory": world.territories["east"]}
        )
        kindred.agents.save(session, READER, actor_id=None, run_as=east_robot)
    # No principal given (as an event trigger or the upkeep starts it): the run-as one.
    seen_east = start(kindred, east["id"])
    assert seen_east["outputs"] == {"seen": True}
    seen_north = start(kindred, north["id"])
    # Not visible to the robot: the read finds nothing, as the robot's own GET would.
    assert seen_north["status"] == "failed" and seen_north["outputs"] is None
    assert north["id"] in seen_north["error"]
    with kindred.database.read() as session:
        starters = set(session.execute(sa.select(AgentRun.started_by)).scalars())
    assert starters == {east_robot}


def test_a_deactivated_run_as_principal_starts_nothing(kindred: Any, world: World) -> None:
    robot = service_principal(kindred, roles=("admin",), email="robot@example.com")
    with kindred.database.write() as session:
        account = kindred.records.create(session, SYSTEM, "account", {"name": "Ruijin"})
        kindred.agents.save(session, READER, actor_id=None, run_as=robot)
        kindred.records.update(session, SYSTEM, "user", robot, {"active": False}, if_match=None)
    with pytest.raises((Unauthenticated, PermissionDenied)):
        start(kindred, account["id"])
    assert run_count(kindred) == 0


def test_granting_an_agent_a_service_principal_needs_covering_rights(
    client: Any, world: World, kindred: Any
) -> None:
    robot = service_principal(kindred, roles=("admin",), email="robot@example.com")
    saved = client.post("/api/v1/agents", json=READER, headers=world.admin.headers)
    assert saved.status_code == 201, saved.text
    assert saved.json()["run_as"] == world.admin.id and saved.json()["owner"] == world.admin.id
    url = "/api/v1/agents/account_reader/run-as"
    # Only agent authors (admins) reach it at all; a sales rep is refused.
    assert (
        client.put(url, json={"principal": robot}, headers=world.sales_east.headers).status_code
        == 403
    )
    # A person cannot be lent: automation runs as its author or a service principal.
    person = client.put(url, json={"principal": world.sales_north.id}, headers=world.admin.headers)
    assert person.status_code == 422
    granted = client.put(url, json={"principal": robot}, headers=world.admin.headers)
    assert granted.status_code == 200 and granted.json()["run_as"] == robot
    with kindred.database.read() as session:
        kinds = list(session.execute(sa.text("SELECT kind FROM ledger_entries")).scalars())
    assert "agent.run_as" in kinds
