"""People and places for API tests: a territory tree and one user per built-in role; the
served OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kindred.app import create_app
from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.records.service import RequestContext
from kindred.services import Kindred
from tests.conftest import make_test_settings

PASSWORD = "correct-horse-battery"


@dataclass
class Person:
    id: str
    email: str
    headers: dict[str, str]


@dataclass
class World:
    territories: dict[str, str]
    people: dict[str, Person]

    def __getattr__(self, name: str) -> Person:
        try:
            return self.people[name]
        except KeyError:
            raise AttributeError(name) from None


@pytest.fixture
def world(kindred: Any, client: Any) -> World:
    """Territories East China ⊃ Shanghai and North China; users per role.

    sales_east sees East China (and Shanghai below it); sales_north sees North China.
    """
    context = RequestContext(SYSTEM_PRINCIPAL)
    territories: dict[str, str] = {}
    with kindred.database.write() as session:
        east = kindred.records.create(
            session, context, "territory", {"name": "East China", "code": "EC"}
        )
        shanghai = kindred.records.create(
            session, context, "territory", {"name": "Shanghai", "code": "SH", "parent": east["id"]}
        )
        north = kindred.records.create(
            session, context, "territory", {"name": "North China", "code": "NC"}
        )
        territories = {"east": east["id"], "shanghai": shanghai["id"], "north": north["id"]}
        specs = {
            "admin": (["admin"], []),
            "sales_east": (["sales"], [east["id"]]),
            "sales_north": (["sales"], [north["id"]]),
            "service_east": (["service"], [east["id"]]),
            "analyst": (["analyst"], []),
            "compliance": (["compliance"], []),
            "integration": (["integration"], []),
        }
        created = {}
        for name, (roles, scope) in specs.items():
            email = f"{name.replace('_', '.')}@example.com"
            user = kindred.auth.create_user(
                session,
                email=email,
                name=name,
                password=PASSWORD,
                roles=roles,
                territories=scope,
            )
            created[name] = (user["id"], email)
    people = {}
    for name, (user_id, email) in created.items():
        response = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        people[name] = Person(user_id, email, {"Authorization": f"Bearer {token}"})
    return World(territories, people)


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


@pytest.fixture(scope="module")
def served(sqlite_template_url: str) -> Iterator[dict[str, Any]]:
    """The document alone (no database writes): for the checks of the schemas themselves."""
    services = Kindred.create(settings=make_test_settings(sqlite_template_url))
    try:
        with TestClient(create_app(services, bootstrap=False)) as client:
            yield client.get("/openapi.json").json()
    finally:
        services.close()
