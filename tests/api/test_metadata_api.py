"""Runtime custom objects and fields through the API, on both dialects."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.api.conftest import World
from tests.api.test_records_api import BASE, make_account, problem, state

META = "/api/v1/metadata/objects"

PLANT = {
    "name": "pv_plant",
    "label": "PV plant",
    "label_plural": "PV plants",
    "label_zh": "光伏电站",
    "title_field": "name",
    "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "capacity_kw", "type": "number", "minimum": 0, "indexed": True},
        {"name": "owner_account", "type": "relation", "target": "account"},
        {"name": "grid_code", "type": "text", "unique": True},
        {"name": "commissioned", "type": "date"},
        {
            "name": "panels",
            "type": "multi_enum",
            "options": [{"value": "mono"}, {"value": "poly"}, {"value": "thin_film"}],
        },
        {"name": "credit_score", "type": "percent", "minimum": 0, "maximum": 100},
    ],
    "validation_rules": [
        {
            "name": "big_plants_need_grid_code",
            "expression": "record.capacity_kw < 1000.0 || has(record.grid_code)",
            "message": "Plants of 1 MW or more need a grid code.",
            "path": "/grid_code",
        },
    ],
}


def metadata_state(kindred: Any) -> tuple[Any, ...]:
    with kindred.database.read() as session:
        return (
            session.execute(
                sa.text("SELECT name, version FROM object_definitions ORDER BY name")
            ).all(),
            session.execute(sa.text("SELECT count(*) FROM metadata_changes")).scalar_one(),
        )


def test_custom_object_lifecycle(client: Any, world: World, kindred: Any) -> None:
    admin = world.admin.headers
    created = client.post(META, json=PLANT, headers=admin)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"v1"'
    account = make_account(client, admin)

    plant = client.post(
        f"{BASE}/pv_plant/records",
        json={
            "name": "Dezhou Rooftop",
            "capacity_kw": 850,
            "owner_account": account["id"],
            "panels": ["mono", "mono", "poly"],
            "commissioned": "2025-04-01",
        },
        headers=admin,
    )
    assert plant.status_code == 201, plant.text
    assert plant.json()["panels"] == ["mono", "poly"]

    body = problem(
        client.post(
            f"{BASE}/pv_plant/records", json={"name": "Big", "capacity_kw": 5000.5}, headers=admin
        ),
        422,
    )
    assert body["errors"][0]["code"] == "rule_failed"
    assert body["errors"][0]["path"] == "/grid_code"

    listed = client.get(
        f"{BASE}/pv_plant/records", headers=admin, params={"filter[panels][has]": "poly"}
    ).json()["data"]
    assert [p["name"] for p in listed] == ["Dezhou Rooftop"]
    assert (
        client.get(
            f"{BASE}/pv_plant/records", headers=admin, params={"filter[panels][has]": "thin_film"}
        ).json()["data"]
        == []
    )

    # Add a field with If-Match, then make it required with a default for existing rows.
    added = client.post(
        f"{META}/pv_plant/fields",
        json={
            "name": "inverter_brand",
            "type": "enum",
            "required": True,
            "default": "huawei",
            "options": [{"value": "huawei"}, {"value": "sungrow"}],
        },
        headers={**admin, "If-Match": '"v1"'},
    )
    assert added.status_code == 201, added.text
    assert added.headers["etag"] == '"v2"'
    refreshed = client.get(f"{BASE}/pv_plant/records/{plant.json()['id']}", headers=admin).json()
    assert refreshed["inverter_brand"] == "huawei"

    history = client.get(f"{META}/pv_plant/history", headers=admin).json()["data"]
    assert [h["action"] for h in history] == ["create", "add_field"]
    assert history[1]["actor_id"] == world.admin.id

    # Deleting a field removes its values; re-adding starts empty.
    assert client.delete(f"{META}/pv_plant/fields/credit_score", headers=admin).status_code == 200
    problem(client.delete(f"{META}/account/fields/name", headers=admin), 403)
    problem(client.delete(f"{META}/pv_plant", headers=admin), 409)  # it still has records


def test_invalid_definitions_are_refused_and_nothing_is_saved(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    before = metadata_state(kindred)
    bad_cel = {
        **PLANT,
        "validation_rules": [
            {"name": "broken", "expression": "record.capacity_kw > > 1", "message": "x"}
        ],
    }
    body = problem(client.post(META, json=bad_cel, headers=admin), 422)
    error = body["errors"][0]
    assert error["path"] == "/validation_rules/0/expression"
    assert error["code"] == "invalid_cel"
    assert error["column"] == 22
    bare = {key: value for key, value in PLANT.items() if key != "title_field"}
    cases = [
        ({**PLANT, "name": "Bad Name"}, "/name"),
        ({**PLANT, "title_field": "colour"}, ""),  # the definition as a whole
        (
            {**bare, "validation_rules": [], "fields": [{"name": "x", "type": "colour"}]},
            "/fields/0/type",
        ),
        ({**bare, "validation_rules": [], "fields": [{"name": "x", "type": "enum"}]}, "/fields/0"),
        (
            {
                **bare,
                "validation_rules": [],
                "fields": [{"name": "x", "type": "relation", "target": "starship"}],
            },
            "/fields/0/target",
        ),
        (
            {**bare, "validation_rules": [], "fields": [{"name": "id", "type": "text"}]},
            "/fields/0/name",
        ),
        ({**PLANT, "unexpected": True}, "/unexpected"),
    ]
    for payload, path in cases:
        body = problem(client.post(META, json=payload, headers=admin), 422)
        assert path in [e["path"] for e in body["errors"]], (path, body["errors"])
    problem(client.post(META, json={**PLANT, "name": "account"}, headers=admin), 409)
    problem(
        client.post(f"{META}/account/fields", json={"name": "tier", "type": "text"}, headers=admin),
        409,
    )
    problem(
        client.post(
            f"{META}/account/fields",
            json={"name": "x", "type": "text"},
            headers={**admin, "If-Match": '"v999"'},
        ),
        412,
    )
    problem(
        client.patch(f"{META}/account/fields/tier", json={"type": "number"}, headers=admin), 422
    )
    assert metadata_state(kindred) == before


def test_making_a_field_unique_or_required_checks_existing_data(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    make_account(client, admin, name="Twin", city="Suzhou")
    make_account(client, admin, name="Twin", city="Suzhou")
    before = (metadata_state(kindred), state(kindred))
    body = problem(
        client.patch(f"{META}/account/fields/city", json={"unique": True}, headers=admin), 409
    )
    assert body["duplicate_values"] == ["Suzhou"]
    problem(
        client.patch(f"{META}/account/fields/industry", json={"required": True}, headers=admin), 409
    )
    problem(
        client.post(
            f"{META}/account/fields",
            json={"name": "segment", "type": "text", "required": True},
            headers=admin,
        ),
        409,
    )
    assert (metadata_state(kindred), state(kindred)) == before


def test_custom_field_on_standard_object_filters_and_sorts_with_an_index(
    client: Any, world: World, kindred: Any
) -> None:
    admin = world.admin.headers
    response = client.post(
        f"{META}/account/fields",
        json={"name": "bed_count", "type": "number", "indexed": True, "label_zh": "床位数"},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    for beds in (120, 800, 450):
        make_account(client, admin, name=f"H{beds}", bed_count=beds)
    rows = client.get(
        f"{BASE}/account/records",
        headers=admin,
        params={"filter[bed_count][gte]": "400", "sort": "-bed_count"},
    ).json()
    assert [r["bed_count"] for r in rows["data"]] == [800, 450]
    with kindred.database.read() as session:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            names = (
                session.execute(sa.text("SELECT name FROM sqlite_master WHERE type='index'"))
                .scalars()
                .all()
            )
        else:
            names = session.execute(sa.text("SELECT indexname FROM pg_indexes")).scalars().all()
    assert "ix_rf_account_bed_count" in names
