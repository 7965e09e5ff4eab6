"""Agents over real parts: the reference business systems run as their own processes (one
per test module), the CRM on both dialects, the LLM (when a test wants it) as the
OpenAI-compatible reference server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import make_test_settings, service_principal
from tests.reference.conftest import call, ok, running

T = TypeVar("T")
__all__ = ["call", "ok"]
# The reference business systems the purchase-intent agents call.
SYSTEMS = ("erp", "insurance", "contracts", "knowledge")


@pytest.fixture(scope="module")
def erp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running("erp", tmp_path_factory.mktemp("erp") / "erp.db", "--seed-demo") as base:
        yield base


@pytest.fixture(scope="module")
def systems(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("systems")
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(running(name, folder / f"{name}.db", "--seed-demo"))
            for name in SYSTEMS
        }


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running("llm", tmp_path_factory.mktemp("llm") / "llm.db", today=None) as base:
        yield base


@pytest.fixture
def make_kindred(database_url: str) -> Iterator[Callable[..., Any]]:
    """Factory: services over the test's database with settings overrides (URLs of the
    reference systems); every one made is closed at the end."""
    from kindred.services import Kindred

    made: list[Any] = []

    def make(**overrides: Any) -> Any:
        services = Kindred.create(settings=make_test_settings(database_url, **overrides))
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


def shipped_agents(make_kindred: Callable[..., Any], systems: dict[str, str]) -> Any:
    """The shipped agents over the four reference systems, acting as a service principal of
    the integration role (as in the demo), with the demo's purchase intents seeded
    (``kindred.intents``: case key → intent id; ``kindred.acting``: the principal)."""
    from kindred.agents.demo import seed_case
    from tests.reference.conftest import TODAY

    kindred = make_kindred(
        inventory_url=systems["erp"],
        insurance_url=systems["insurance"],
        contracts_url=systems["contracts"],
        knowledge_url=systems["knowledge"],
    )
    principal = service_principal(kindred, roles=("integration",))
    with kindred.database.write() as session:
        kindred.agents.install_examples(session, run_as=principal)
        kindred.intents = seed_case(session, kindred.records, today=TODAY.isoformat())
    kindred.acting = principal
    return kindred


def run_async(kindred: Any, body: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``body(runtime)`` in a fresh event loop with the loop's agent runtime, closing the
    runtime (its connection pool, its pending writes) afterwards."""
    from kindred.agents.runtime import runtime_for

    async def main() -> T:
        runtime = runtime_for(kindred)
        try:
            return await body(runtime)
        finally:
            kindred.extras.pop("agent_runtime", None)
            await runtime.aclose()

    return asyncio.run(main())


def save(kindred: Any, definition: dict[str, Any]) -> dict[str, Any]:
    # Started by events, scenarios or the upkeep, the agent acts as a service principal.
    principal = service_principal(kindred)
    with kindred.database.write() as session:
        saved: dict[str, Any] = kindred.agents.save(
            session, definition, actor_id=None, run_as=principal
        )
    return saved


def trace(kindred: Any, run_id: str) -> dict[str, Any]:
    with kindred.database.read() as session:
        result: dict[str, Any] = kindred.agents.run(session, run_id)
    return result


def steps(kindred: Any, run_id: str) -> dict[str, dict[str, Any]]:
    return {s["step"]: s for s in trace(kindred, run_id)["steps"]}


def db_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))
