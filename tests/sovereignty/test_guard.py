"""The governance guard on both dialects: customer-authorized data does not flow into model
training, an LLM step or a bulk export without a consent for that purpose — the release is
refused and nothing at all is returned; with every consent in place, all of it is."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.errors import ValidationFailed
from kindred.records.service import RequestContext
from kindred.sovereignty.credentials import Grantee
from kindred.sovereignty.guard import release
from kindred.sovereignty.pdp import ConsentRequired

SUMMARIZER = dataclasses.replace(RequestContext(SYSTEM_PRINCIPAL), agent="agent:summarizer")


def contacts(kindred: Any, count: int) -> list[str]:
    with kindred.database.write() as session:
        return [
            kindred.records.create(
                session,
                SUMMARIZER,
                "contact",
                {"last_name": f"Guarded{i}", "email": f"guarded{i}@example.com"},
            )["id"]
            for i in range(count)
        ]


def consent(kindred: Any, contact: str, purpose: str) -> None:
    with kindred.database.write() as session:
        kindred.consents.grant(
            session,
            kindred.identities.of_subject(session, "contact", contact).did,
            dimensions=["contact.email"],
            purpose=purpose,
            grantee=Grantee("agent", "agent:summarizer"),
            valid_until=datetime.now(UTC) + timedelta(days=1),
        )


@pytest.mark.parametrize("purpose", ["llm-processing", "model-training", "bulk-export"])
def test_nothing_leaves_without_every_consent(kindred: Any, purpose: str) -> None:
    first, second = contacts(kindred, 2)
    consent(kindred, first, purpose)
    consent(kindred, second, "marketing")  # a consent, but for another purpose
    with kindred.database.read() as session, pytest.raises(ConsentRequired) as refused:
        release(
            kindred.records,
            session,
            SUMMARIZER,
            "contact",
            [first, second],
            ["last_name", "email"],
            purpose=purpose,
        )
    assert refused.value.status == 403
    assert refused.value.extra["missing"] == [
        {"record": second, "field": "email", "reason": "no-consent"}
    ]
    consent(kindred, second, purpose)
    with kindred.database.read() as session:
        released = release(
            kindred.records,
            session,
            SUMMARIZER,
            "contact",
            [first, second],
            ["last_name", "email"],
            purpose=purpose,
        )
    assert [r["email"] for r in released] == ["guarded0@example.com", "guarded1@example.com"]


def test_only_outbound_purposes_release(kindred: Any) -> None:
    (contact,) = contacts(kindred, 1)
    with kindred.database.read() as session, pytest.raises(ValidationFailed):
        release(
            kindred.records, session, SUMMARIZER, "contact", [contact], ["email"], purpose="sales"
        )
