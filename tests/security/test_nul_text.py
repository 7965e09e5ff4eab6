"""Text holding U+0000 is refused with the field's path, never a 500 (PostgreSQL refuses NUL in
text and jsonb; issue 16, item 11's family)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.api.conftest import World


def accounts(kindred: Any) -> int:
    with kindred.database.read() as session:
        return int(
            session.execute(
                sa.text("SELECT count(*) FROM records WHERE object = 'account'")
            ).scalar_one()
        )


def test_nul_in_text_and_json_values_is_a_clear_422_and_stores_nothing(
    client: Any, world: World, kindred: Any
) -> None:
    url = "/api/v1/objects/account/records"
    before = accounts(kindred)
    named = client.post(url, json={"name": "a\u0000b"}, headers=world.admin.headers)
    assert named.status_code == 422
    assert named.headers["content-type"] == "application/problem+json"
    assert ("/name", "nul") in [(e["path"], e["code"]) for e in named.json()["errors"]]
    made = client.post(url, json={"name": "Ruijin"}, headers=world.admin.headers).json()
    patched = client.patch(
        f"{url}/{made['id']}", json={"description": "x\u0000"}, headers=world.admin.headers
    )
    assert patched.status_code == 422
    assert accounts(kindred) == before + 1
    field = client.post(
        "/api/v1/metadata/objects/account/fields",
        json={"name": "extra", "type": "json"},
        headers=world.admin.headers,
    )
    assert field.status_code == 201, field.text
    nested = client.patch(
        f"{url}/{made['id']}",
        json={"extra": {"k": ["ok", "b\u0000d"]}},
        headers=world.admin.headers,
    )
    assert nested.status_code == 422
    assert nested.json()["errors"][0]["path"] == "/extra"
    got = client.get(f"{url}/{made['id']}", headers=world.admin.headers).json()
    assert got["version"] == 1 and got["extra"] is None
