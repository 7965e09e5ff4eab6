"""The event log and dead letters show a reader no more than their record reads would
(issue 16, item 3): event data naming a customer's record keeps only what the reader's own
read of that record shows; a dead letter holding withheld values cannot be overwritten by
someone who cannot see them (their copy would lose those values)."""

from __future__ import annotations

from typing import Any

from kindred.events.models import DeadLetter
from tests.api.conftest import World


def birthday_event(event_id: str, contact: str, days_left: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:test:scheduler",
        "type": "customer.birthday.upcoming",
        "data": {"contact_id": contact, "birthday": "1980-05-14", "days_left": days_left},
    }


def test_event_log_and_dead_letters_withhold_what_record_reads_withhold(
    client: Any, world: World, kindred: Any
) -> None:
    contact = client.post(
        "/api/v1/objects/contact/records",
        json={"last_name": "Wu", "birthday": "1980-05-14"},
        headers=world.admin.headers,
    ).json()
    stored = client.post(
        "/api/v1/events",
        json=birthday_event("b-1", contact["id"], 3),
        headers={**world.admin.headers, "Content-Type": "application/cloudevents+json"},
    )
    assert stored.status_code in (200, 202), stored.text
    # The analyst role hides customers' personal data: the birthday stays out of the log.
    seen = client.get("/api/v1/events?limit=10", headers=world.analyst.headers).json()["data"]
    [event] = [e["event"] for e in seen if e["event"]["id"] == "b-1"]
    assert "birthday" not in event["data"] and event["data"]["days_left"] == 3
    assert event["data"]["meta"]["withheld"] == ["birthday"]
    position = next(e["position"] for e in seen if e["event"]["id"] == "b-1")
    one = client.get(f"/api/v1/events/{position}", headers=world.analyst.headers).json()
    assert "birthday" not in one["event"]["data"]

    # An invalid event lands in the dead letters with the birthday in its payload.
    refused = client.post(
        "/api/v1/events",
        json=birthday_event("b-2", contact["id"], "soon"),
        headers={**world.integration.headers, "Content-Type": "application/cloudevents+json"},
    )
    assert refused.status_code == 422, refused.text
    letters = client.get("/api/v1/dead-letters", headers=world.integration.headers).json()
    [letter] = [item for item in letters["data"] if item["event_id"] == "b-2"]
    url = f"/api/v1/dead-letters/{letter['id']}"
    shown = client.get(url, headers=world.integration.headers).json()
    # No consent for the customer-authorized birthday (no purpose): withheld.
    assert shown["payload_redacted"] is True and "1980-05-14" not in shown["payload"]
    fixed = client.patch(
        url,
        json={"payload": birthday_event("b-2", contact["id"], 2)},
        headers=world.integration.headers,
    )
    assert fixed.status_code == 403
    # The original stays whole, for whoever may read it (or to replay or discard).
    with kindred.database.read() as session:
        row = session.get(DeadLetter, letter["id"])
        assert row is not None and b"1980-05-14" in row.payload and row.status == "open"
