"""The field-level read hook: every read path (get, list, include, bulk results, export)
passes records through it, so consent enforcement cannot be bypassed by choosing a path."""

from __future__ import annotations

import io
from typing import Any

from kindred.records.transfer import export_records
from tests.api.conftest import World
from tests.api.test_records_api import BASE, make_account


class WithholdEmail:
    """Withholds ``email`` unless the caller declares the purpose ``service``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(
        self, session: Any, context: Any, compiled: Any, presented: list[dict[str, Any]]
    ) -> None:
        self.calls.append((compiled.name, len(presented)))
        if compiled.name != "contact" or context.purpose == "service":
            return
        for record in presented:
            if "email" in record:
                del record["email"]
                record.setdefault("meta", {})["withheld"] = {"email": "no consent for purpose"}


def test_every_read_path_passes_the_hook(client: Any, world: World, kindred: Any) -> None:
    hook = WithholdEmail()
    # The mechanism alone (the consent decision point, normally installed, is tested in
    # tests/sovereignty): this hook in its place.
    kindred.records.read_hooks[:] = [hook]
    admin = world.admin.headers
    account = make_account(client, admin)
    created = client.post(
        f"{BASE}/contact/records",
        headers=admin,
        json={"last_name": "Sun", "email": "sun@example.com", "account": account["id"]},
    )
    assert created.status_code == 201
    assert "email" not in created.json()
    assert created.json()["meta"]["withheld"] == {"email": "no consent for purpose"}
    contact_id = created.json()["id"]

    single = client.get(f"{BASE}/contact/records/{contact_id}", headers=admin).json()
    assert "email" not in single
    allowed = client.get(
        f"{BASE}/contact/records/{contact_id}", headers={**admin, "X-Purpose": "service"}
    ).json()
    assert allowed["email"] == "sun@example.com"
    listed = client.get(f"{BASE}/contact/records", headers=admin).json()["data"]
    assert "email" not in listed[0]
    via_include = client.get(
        f"{BASE}/activity/records", headers=admin, params={"include": "contact"}
    ).json()
    assert via_include["included"] == []  # no activities yet, so nothing included
    activity = client.post(
        f"{BASE}/activity/records",
        headers=admin,
        json={"kind": "call", "subject": "Follow-up", "contact": contact_id},
    )
    assert activity.status_code == 201
    included = client.get(
        f"{BASE}/activity/records", headers=admin, params={"include": "contact"}
    ).json()["included"]
    assert included[0]["id"] == contact_id and "email" not in included[0]

    from kindred.records.service import RequestContext

    with kindred.database.read() as session:
        principal = kindred.auth.load_principal(session, world.admin.id)
        out = io.StringIO()
        export_records(
            kindred.records, session, RequestContext(principal), "contact", out, format="jsonl"
        )
    assert "sun@example.com" not in out.getvalue()
    assert ("contact", 1) in hook.calls
