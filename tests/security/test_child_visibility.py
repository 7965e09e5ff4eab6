"""Child records are visible exactly where their parent is (issue 16, item 4).

The attack: ``sales.east`` read and PATCHed a line (``discount: 0.99``) of an order that
answers 404 to them. Order lines now inherit their order's visibility; custom objects
declare a ``parent`` to get the same. The last test checks every standard object's
visibility for a territory-scoped reader against an independent oracle over seeded data.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.errors import NotFound, PermissionDenied
from kindred.records.query import ListQuery
from kindred.records.seed import seed_demo_data
from kindred.records.service import RequestContext
from tests.api.conftest import World

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)


def order_with_line(kindred: Any, territory: str, sku: str) -> tuple[str, str]:
    with kindred.database.write() as session:
        account = kindred.records.create(
            session, SYSTEM, "account", {"name": f"Hospital {sku}", "territory": territory}
        )
        product = kindred.records.create(session, SYSTEM, "product", {"name": sku, "sku": sku})
        order = kindred.records.create(
            session,
            SYSTEM,
            "order",
            {"number": f"SO-{sku}", "account": account["id"], "territory": territory},
        )
        line = kindred.records.create(
            session,
            SYSTEM,
            "order_line",
            {"order": order["id"], "product": product["id"], "quantity": 2, "unit_price": 100},
        )
    return order["id"], line["id"]


def line_state(kindred: Any, line_id: str) -> tuple[int, Any]:
    with kindred.database.read() as session:
        record, _ = kindred.records.get(session, SYSTEM, "order_line", line_id)
    return record["version"], record["discount"]


def test_order_lines_of_another_territory_are_neither_readable_nor_writable(
    client: Any, world: World, kindred: Any
) -> None:
    north_order, north_line = order_with_line(kindred, world.territories["north"], "N-1")
    _, east_line = order_with_line(kindred, world.territories["east"], "E-1")
    me = world.sales_east
    url = "/api/v1/objects/order_line/records"
    assert (
        client.get(f"/api/v1/objects/order/records/{north_order}", headers=me.headers).status_code
        == 404
    )
    assert client.get(f"{url}/{north_line}", headers=me.headers).status_code == 404
    before = line_state(kindred, north_line)
    patched = client.patch(f"{url}/{north_line}", json={"discount": 0.99}, headers=me.headers)
    assert patched.status_code == 404
    assert client.delete(f"{url}/{north_line}", headers=me.headers).status_code == 404
    assert line_state(kindred, north_line) == before
    bulk = client.post(
        f"{url}/bulk",
        json={"operation": "update", "records": [{"id": north_line, "discount": 0.5}]},
        headers=me.headers,
    )
    assert bulk.status_code in (404, 422)
    assert line_state(kindred, north_line) == before
    # A new line on their order is refused as an unknown order.
    created = client.post(
        url,
        json={"order": north_order, "product": north_line, "quantity": 1, "unit_price": 1},
        headers=me.headers,
    )
    assert created.status_code == 422
    assert "/order" in {e["path"] for e in created.json()["errors"]}
    listed = client.get(f"{url}?limit=500", headers=me.headers).json()["data"]
    assert [r["id"] for r in listed] == [east_line]
    # Their own territory's line works as before.
    assert (
        client.patch(f"{url}/{east_line}", json={"discount": 5}, headers=me.headers).status_code
        == 200
    )
    # Roles that see every territory see both.
    every = client.get(f"{url}?limit=500", headers=world.analyst.headers).json()["data"]
    assert {r["id"] for r in every} == {north_line, east_line}


def test_a_custom_child_object_inherits_its_parents_visibility(
    client: Any, world: World, kindred: Any
) -> None:
    made = client.post(
        "/api/v1/metadata/objects",
        json={
            "name": "visit_note",
            "label": "Visit note",
            "label_plural": "Visit notes",
            "parent": "account",
            "fields": [
                {"name": "account", "type": "relation", "target": "account", "required": True},
                {"name": "text", "type": "text"},
            ],
        },
        headers=world.admin.headers,
    )
    assert made.status_code == 201, made.text
    with kindred.database.write() as session:
        north = kindred.records.create(
            session, SYSTEM, "account", {"name": "PUMCH", "territory": world.territories["north"]}
        )
        note = kindred.records.create(
            session, SYSTEM, "visit_note", {"account": north["id"], "text": "budget 9M"}
        )
    url = f"/api/v1/objects/visit_note/records/{note['id']}"
    assert client.get(url, headers=world.sales_north.headers).status_code == 200
    assert client.get(url, headers=world.sales_east.headers).status_code == 404
    # A parent must be a required to-one relation.
    loose = client.post(
        "/api/v1/metadata/objects",
        json={
            "name": "loose_note",
            "label": "Loose",
            "label_plural": "Loose",
            "parent": "account",
            "fields": [{"name": "account", "type": "relation", "target": "account"}],
        },
        headers=world.admin.headers,
    )
    assert loose.status_code == 422 and "required" in loose.text


# -- every standard object -----------------------------------------------------------------


def _oracle(
    rows: dict[str, list[Any]],
    parents: dict[str, str],
    registry: Any,
    principal: Any,
    object_name: str,
) -> set[str] | None:
    """Which records of an object the principal may see, worked out in Python from the raw
    rows (independently of the SQL the service builds); None when it may not read them."""
    permission = principal.permission(object_name)
    if not permission.can("read"):
        return None
    compiled = registry.get(object_name)

    def own_rule(row: Any) -> bool:
        if permission.scope == "all":
            return True
        if row.owner_id == principal.user_id:
            return True
        if permission.scope == "territory":
            return "territory" not in compiled.fields or row.territory_id in principal.territory_ids
        return False

    visible = {row.id for row in rows[object_name] if own_rule(row)}
    parent_field = compiled.definition.parent
    if parent_field is None:
        return visible
    target = str(compiled.fields[parent_field].target)
    parent_visible = _oracle(rows, parents, registry, principal, target) or set()
    return {record for record in visible if parents.get(record) in parent_visible}


@pytest.mark.slow
@pytest.mark.parametrize("email", ["sales.east@kindred.demo", "service.east@kindred.demo"])
def test_every_standard_object_shows_a_territory_reader_exactly_what_they_may_see(
    kindred: Any, email: str
) -> None:
    seed_demo_data(kindred.database, customers=60, seed=7)
    with kindred.database.read() as session:
        registry = kindred.records.registry(session)
        user_id = kindred.auth.find_user_id(session, email)
        principal = kindred.auth.load_principal(session, user_id)
        rows: dict[str, list[Any]] = {name: [] for name in registry.objects}
        for row in session.execute(
            sa.text("SELECT id, object, owner_id, territory_id FROM records")
        ).all():
            rows[row.object].append(row)
        parents = dict(
            session.execute(
                sa.text("SELECT source_id, target_id FROM record_links WHERE relation = :r"),
                {"r": "order_line.order"},
            ).all()
        )
    context = RequestContext(principal)
    checked = 0
    for object_name in sorted(registry.objects):
        expected = _oracle(rows, parents, registry, principal, object_name)
        with kindred.database.read() as session:
            if expected is None:
                with pytest.raises(PermissionDenied):
                    kindred.records.list_records(session, context, object_name, ListQuery())
                continue
            seen: set[str] = set()
            cursor = None
            while True:
                page = kindred.records.list_records(
                    session, context, object_name, ListQuery(limit=500, cursor=cursor)
                )
                seen |= {r["id"] for r in page.data}
                cursor = page.next_cursor
                if not cursor:
                    break
            assert seen == expected, object_name
            hidden = sorted({r.id for r in rows[object_name]} - expected)
            if hidden:
                checked += 1
                with pytest.raises(NotFound):
                    kindred.records.get(session, context, object_name, hidden[0])
    # The seeded world spreads records over seven regions: many objects have hidden ones.
    assert checked >= 8
