"""The reference knowledge base, over real sockets: documents, full-text search in Chinese and
English, and compatibility verdicts.

One process (demo documents seeded, calendar pinned to ``TODAY``) serves the module; tests
that load documents use ids and models of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kindred.reference.knowledge_data import DEMO_DOCUMENTS
from tests.reference.conftest import TODAY, call, check_forced_failures, ok, refused, running


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running("knowledge", tmp_path_factory.mktemp("kb") / "kb.db", "--seed-demo") as url:
        yield url


def search(base: str, q: str, **params: Any) -> dict[str, Any]:
    return dict(ok(base, "GET", "/api/search", params={"q": q, **params}))


def ids(result: dict[str, Any]) -> list[str]:
    return [hit["id"] for hit in result["results"]]


def containing(text: str, language: str | None = None) -> set[str]:
    """The demo documents whose title or body contains ``text`` (case-insensitively)."""
    return {
        doc["id"]
        for doc in DEMO_DOCUMENTS
        if text.casefold() in (doc["title"] + doc["body"]).casefold()
        and language in (None, doc["language"])
    }


def document(document_id: str, **changes: Any) -> dict[str, Any]:
    item = {
        "id": document_id,
        "title": "TEST-PART-1 compatibility with the TEST-DEV-1",
        "kind": "compatibility_report",
        "language": "en",
        "models": ["TEST-PART-1", "TEST-DEV-1"],
        "version": "1.0",
        "published_on": "2029-06-01",
        "body": "The TEST-PART-1 zircon gasket fits the TEST-DEV-1 housing.",
        "compatibility": [{"model": "TEST-PART-1", "with": "TEST-DEV-1", "verdict": "compatible"}],
    }
    item.update(changes)
    return {key: value for key, value in item.items() if value is not None}


def verdict(base: str, model: str, with_model: str, **params: Any) -> dict[str, Any]:
    return dict(
        ok(base, "GET", "/api/compatibility", params={"model": model, "with": with_model, **params})
    )


# -- documents --------------------------------------------------------------------------------


def test_demo_documents(kb: str) -> None:
    listed = ok(kb, "GET", "/api/documents")
    assert {d["id"] for d in listed} >= {d["id"] for d in DEMO_DOCUMENTS}
    assert len(DEMO_DOCUMENTS) >= 20
    demo = [d for d in listed if d["id"].startswith("KB-")]
    assert {d["language"] for d in demo} == {"zh", "en"}
    assert {d["kind"] for d in demo} == {
        "compatibility_report",
        "maintenance_manual",
        "service_bulletin",
    }
    dates = [d["published_on"] for d in listed]
    assert dates == sorted(dates, reverse=True)
    assert all("body" not in d and d["summary"] for d in listed)


def test_get_document(kb: str) -> None:
    report = ok(kb, "GET", "/api/documents/KB-CR-001")
    assert report | {"body": None} == {
        "id": "KB-CR-001",
        "title": "CT-TUBE-01 球管与 HX-CT 系列 CT 兼容性报告",
        "kind": "compatibility_report",
        "language": "zh",
        "models": ["CT-TUBE-01", "HX-CT 64", "HX-CT 128 Pro", "MD-CT 16"],
        "version": "2.0",
        "published_on": (TODAY - timedelta(days=420)).isoformat(),
        "body": None,
        "compatibility": [
            {"model": "CT-TUBE-01", "with": "HX-CT 64", "verdict": "compatible",
             "conditions": None},
            {"model": "CT-TUBE-01", "with": "HX-CT 128 Pro",
             "verdict": "compatible_with_conditions",
             "conditions": "机架固件须为 4.2 及以上版本；安装后重新进行空气校准和剂量校准。"},
            {"model": "CT-TUBE-01", "with": "MD-CT 16", "verdict": "incompatible",
             "conditions": "安装法兰、高压插座及发生器功率均不匹配。"},
        ],
    }  # fmt: skip
    assert report["body"].startswith("本报告说明 CT-TUBE-01 球管组件")
    status, error, body = refused(kb, "GET", "/api/documents/KB-NOPE")
    assert (status, error) == (404, "unknown_document")
    assert "KB-NOPE" in body["message"]


def test_documents_by_model_kind_and_language(kb: str) -> None:
    tube = ok(kb, "GET", "/api/documents", params={"model": "ct-tube-01"})
    expected = {d["id"] for d in DEMO_DOCUMENTS if "CT-TUBE-01" in d["models"]}
    assert {d["id"] for d in tube} == expected
    manuals = ok(
        kb, "GET", "/api/documents", params={"model": "CT-TUBE-01", "kind": "maintenance_manual"}
    )
    assert [d["id"] for d in manuals] == ["KB-MM-002", "KB-MM-001"]  # newest first
    english = ok(kb, "GET", "/api/documents", params={"model": "HX-CT  128 pro", "lang": "en"})
    assert [d["id"] for d in english] == ["KB-SB-002", "KB-CR-002", "KB-MM-002"]
    assert ok(kb, "GET", "/api/documents", params={"model": "HX-CT 999"}) == []
    for params in ({"kind": "faq"}, {"lang": "fr"}, {"sku": "X"}):
        assert refused(kb, "GET", "/api/documents", params=params)[:2] == (400, "bad_request")


# -- search -----------------------------------------------------------------------------------


def test_chinese_search_finds_words_inside_compounds(kb: str) -> None:
    result = search(kb, "兼容")
    assert result["terms"] == ["兼容"]
    # 兼容 is found in 兼容性 and 不兼容 as well.
    assert set(ids(result)) == containing("兼容")
    assert {hit["language"] for hit in result["results"]} == {"zh"}
    for hit in result["results"]:
        body = ok(kb, "GET", f"/api/documents/{hit['id']}")["body"]
        # The snippet is the body around the first match (its start when only the title has it).
        expected = "<mark>兼容</mark>" if "兼容" in body else body[:20]
        assert expected in hit["snippet"], hit


def test_chinese_search_ranks_title_matches_first(kb: str) -> None:
    result = search(kb, "保养")
    found = ids(result)
    assert set(found) == containing("保养")
    in_title = {d["id"] for d in DEMO_DOCUMENTS if "保养" in d["title"]}
    assert set(found[: len(in_title)]) == in_title
    assert found[-1] == "KB-MM-001"  # only in its body
    scores = [hit["score"] for hit in result["results"]]
    assert scores == sorted(scores, reverse=True)
    assert result["results"][0]["snippet"].count("<mark>保养</mark>") >= 1


def test_chinese_multi_word_query(kb: str) -> None:
    cable = search(kb, "更换高压电缆")
    assert cable["terms"] == ["更换", "高压", "电缆"]
    every_word = containing("更换") & containing("高压") & containing("电缆")
    assert set(ids(cable)) == every_word == {"KB-SB-001", "KB-MM-001"}
    any_word = search(kb, "更换高压电缆", match="any")
    assert ids(any_word)[0] == "KB-SB-001"
    assert set(ids(any_word)) > {"KB-SB-001", "KB-MM-001"}
    assert search(kb, "球")["results"], "a single character matches the words it starts"


def test_english_search_is_stemmed(kb: str) -> None:
    calibration = search(kb, "calibration", lang="en")
    assert set(ids(calibration)) == containing("calibrat", "en")
    assert set(ids(search(kb, "calibrate", lang="en"))) == set(ids(calibration))
    for hit in calibration["results"]:
        assert hit["language"] == "en"
        assert "<mark>calibrat" in hit["snippet"].lower(), hit
    helium = search(kb, "helium boil-off")
    assert ids(helium) == ["KB-MM-005"]
    assert "<mark>helium</mark>" in helium["results"][0]["snippet"]
    # Stop words do not narrow the search.
    assert ids(search(kb, "the helium of the magnet")) == ["KB-MM-005"]


def test_search_by_sku_and_filters(kb: str) -> None:
    expected = {d["id"] for d in DEMO_DOCUMENTS if "CT-TUBE-01" in d["title"] + d["body"]}
    assert set(ids(search(kb, "CT-TUBE-01", limit=50))) == expected
    english = search(kb, "CT-TUBE-01", lang="en")
    assert set(ids(english)) == {d for d in expected if d in containing("", "en")}
    zh_bulletins = search(kb, "CT-TUBE-01", lang="zh", kind="service_bulletin")
    assert ids(zh_bulletins) == ["KB-SB-001"]
    by_model = search(kb, "calibration", model="DR-DET-4343")
    assert ids(by_model) == ["KB-SB-005"]
    assert len(ids(search(kb, "兼容", limit=2))) == 2
    hit = search(kb, "cold head", lang="en")["results"][0]
    assert set(hit) == {
        "id", "title", "kind", "language", "models", "version", "published_on", "score",
        "snippet",
    }  # fmt: skip


def test_search_refusals_and_odd_queries(kb: str) -> None:
    for params, fragment in [
        ({}, "'q' is required"),
        ({"q": "！？。"}, "no words"),
        ({"q": "x", "lang": "fr"}, "'lang'"),
        ({"q": "x", "limit": 0}, "'limit'"),
        ({"q": "x", "limit": 51}, "'limit'"),
        ({"q": "x", "match": "some"}, "'match'"),
        ({"q": "x", "query": "y"}, "unknown fields: query"),
    ]:
        status, error, body = refused(kb, "GET", "/api/search", params=params)
        assert (status, error) == (400, "bad_request"), body
        assert fragment in body["message"], body
    # FTS5 query syntax in user input is searched for as words, never interpreted.
    for odd in ['"unbalanced', "NEAR(x y)", "* OR -", "body:probe", "'; DROP TABLE documents"]:
        status, result = call(kb, "GET", "/api/search", params={"q": odd})
        assert status in (200, 400), (odd, result)
    assert ok(kb, "GET", "/api/documents/KB-CR-001")["id"] == "KB-CR-001"
    assert search(kb, "no such words anywhere")["results"] == []


# -- compatibility ----------------------------------------------------------------------------


def test_compatibility_verdicts(kb: str) -> None:
    native = verdict(kb, "CT-TUBE-01", "HX-CT 64")
    assert native == {
        "model": "CT-TUBE-01",
        "with": "HX-CT 64",
        "verdict": "compatible",
        "conditions": None,
        "source": native["source"],
        "other_sources": [native["other_sources"][0]],
    }
    assert native["source"]["kind"] == "compatibility_report"
    assert {native["source"]["id"], native["other_sources"][0]["id"]} == {"KB-CR-001", "KB-CR-002"}
    # Either order, any case and spacing: the same statement, spelt as the documents do.
    reverse = verdict(kb, "hx-ct  64", "ct-tube-01")
    assert (reverse["model"], reverse["with"], reverse["verdict"]) == (
        "HX-CT 64",
        "CT-TUBE-01",
        "compatible",
    )
    coil = verdict(kb, "MRI-COIL-8", "HX-MR 3.0T Vista", lang="en")
    assert coil["verdict"] == "incompatible"
    assert (
        coil["conditions"] == "A 1.5 T coil (63.9 MHz) cannot be used on a 3 T system (127.7 MHz)."
    )
    assert coil["source"]["id"] == "KB-CR-004"
    assert verdict(kb, "MRI-COIL-8", "HX-MR 3.0T Vista", lang="zh")["source"]["id"] == "KB-CR-003"


def test_newest_document_revises_older_statements(kb: str) -> None:
    # The bulletins of 60 days ago add a condition the report of 420 days ago did not have.
    english = verdict(kb, "CT-TUBE-01", "HX-CT 128 Pro", lang="en")
    assert english["verdict"] == "compatible_with_conditions"
    assert english["source"] == {
        "id": "KB-SB-002",
        "title": "Service bulletin: HX-CT 128 Pro early units need an HV cable check before a "
        "tube replacement",
        "kind": "service_bulletin",
        "language": "en",
        "version": "1.0",
        "published_on": (TODAY - timedelta(days=60)).isoformat(),
    }
    assert "HV-CAB-75" in english["conditions"]
    assert [s["id"] for s in english["other_sources"]] == ["KB-SB-001", "KB-CR-001", "KB-CR-002"]
    chinese = verdict(kb, "CT-TUBE-01", "HX-CT 128 Pro", lang="zh")
    assert chinese["source"]["id"] == "KB-SB-001"
    assert "高压电缆 HV-CAB-75" in chinese["conditions"]
    # A bulletin turns a plain "compatible" into one with conditions.
    sensor = verdict(kb, "PM-SPO2-03", "HX-PM 12")
    assert (sensor["verdict"], sensor["source"]["id"]) == (
        "compatible_with_conditions",
        "KB-SB-004",
    )
    assert sensor["other_sources"] == [
        {
            "id": "KB-CR-009",
            "language": "en",
            "published_on": (TODAY - timedelta(days=500)).isoformat(),
            "verdict": "compatible",
        }
    ]


def test_unknown_compatibility(kb: str) -> None:
    assert verdict(kb, "CT-TUBE-01", "HX-MR 1.5T Aura") == {
        "model": "CT-TUBE-01",
        "with": "HX-MR 1.5T Aura",
        "verdict": "unknown",
        "conditions": None,
        "source": None,
        "other_sources": [],
    }
    assert verdict(kb, "NO-SUCH-PART", "NO-SUCH-DEVICE")["verdict"] == "unknown"


def test_every_statement_about_a_model(kb: str) -> None:
    listed = ok(kb, "GET", "/api/compatibility", params={"model": "pm-spo2-03", "lang": "en"})
    assert listed["model"] == "pm-spo2-03"
    assert [(s["with"], s["verdict"], s["source"]["id"]) for s in listed["statements"]] == [
        ("HX-PM 12", "compatible_with_conditions", "KB-SB-004"),
        ("HX-PM 15", "compatible", "KB-CR-009"),
        ("MD-PM 8", "incompatible", "KB-CR-009"),
    ]
    device = ok(kb, "GET", "/api/compatibility", params={"model": "HX-DR 320M"})
    assert [(s["model"], s["with"], s["verdict"]) for s in device["statements"]] == [
        ("HX-DR 320M", "DR-DET-4343", "compatible_with_conditions"),
        ("HX-DR 320M", "XR-LAMP-24V", "incompatible"),
    ]
    assert ok(kb, "GET", "/api/compatibility", params={"model": "X-1"})["statements"] == []


def test_compatibility_refusals(kb: str) -> None:
    for params in ({}, {"with": "HX-CT 64"}, {"model": "A", "lang": "de"}, {"model": "A", "w": 1}):
        assert refused(kb, "GET", "/api/compatibility", params=params)[:2] == (400, "bad_request")


# -- admin ------------------------------------------------------------------------------------


def test_admin_load_makes_documents_searchable_and_replaces(kb: str) -> None:
    ok(kb, "POST", "/_admin/documents", [document("T-LOAD-1")])
    assert ids(search(kb, "zircon gasket")) == ["T-LOAD-1"]
    assert verdict(kb, "TEST-PART-1", "TEST-DEV-1")["verdict"] == "compatible"
    # Same id again: the document, its index entry and its statements are replaced.
    ok(
        kb,
        "POST",
        "/_admin/documents",
        document(
            "T-LOAD-1",
            title="TEST-PART-1 与 TEST-DEV-1 兼容性报告",
            language="zh",
            version="2.0",
            body="TEST-PART-1 锆石密封圈仅适用于 2029 年以后生产的 TEST-DEV-1 外壳。",
            compatibility=[
                {"model": "TEST-DEV-1", "with": "TEST-PART-1",
                 "verdict": "compatible_with_conditions",
                 "conditions": "仅限 2029 年以后生产的外壳。"}
            ],
        ),
    )  # fmt: skip
    assert search(kb, "zircon gasket")["results"] == []
    assert ids(search(kb, "锆石密封圈")) == ["T-LOAD-1"]
    replaced = verdict(kb, "TEST-PART-1", "TEST-DEV-1")
    assert (replaced["verdict"], replaced["conditions"], replaced["other_sources"]) == (
        "compatible_with_conditions",
        "仅限 2029 年以后生产的外壳。",
        [],
    )
    assert ok(kb, "GET", "/api/documents/T-LOAD-1")["version"] == "2.0"
    # A newer bulletin from another document revises it.
    ok(
        kb,
        "POST",
        "/_admin/documents",
        document(
            "T-LOAD-2",
            kind="service_bulletin",
            published_on="2029-12-01",
            body="Recall: the TEST-PART-1 gasket cracks in the TEST-DEV-1.",
            compatibility=[
                {"model": "TEST-PART-1", "with": "TEST-DEV-1", "verdict": "incompatible"}
            ],
        ),
    )
    current = verdict(kb, "TEST-DEV-1", "TEST-PART-1")
    assert (current["verdict"], current["source"]["id"]) == ("incompatible", "T-LOAD-2")
    assert [s["id"] for s in current["other_sources"]] == ["T-LOAD-1"]


@pytest.mark.parametrize(
    ("changes", "status", "error", "fragment"),
    [
        ({"kind": "faq"}, 422, "invalid", "'kind'"),
        ({"language": "fr"}, 422, "invalid", "'language'"),
        ({"id": "has space"}, 422, "invalid", "'id'"),
        ({"models": []}, 400, "bad_request", "'models'"),
        ({"models": "TEST-PART-1"}, 400, "bad_request", "'models'"),
        ({"body": None}, 400, "bad_request", "'body' is required"),
        ({"published_on": "June 2029"}, 400, "bad_request", "'published_on'"),
        ({"author": "me"}, 400, "bad_request", "unknown fields: author"),
        ({"compatibility": [{"model": "TEST-PART-1", "with": "TEST-DEV-1",
                             "verdict": "unknown"}]}, 422, "invalid", "compatibility[0].verdict"),
        ({"compatibility": [{"model": "TEST-PART-1", "with": "OTHER-1",
                             "verdict": "compatible"}]}, 422, "invalid", "OTHER-1"),
        ({"compatibility": [{"model": "TEST-PART-1", "with": "TEST-DEV-1",
                             "verdict": "compatible_with_conditions"}]}, 422, "invalid",
         "name the conditions"),
        ({"compatibility": [{"model": "TEST-PART-1", "with": "test-part-1",
                             "verdict": "compatible"}]}, 422, "invalid", "with itself"),
        ({"compatibility": {"model": "TEST-PART-1"}}, 400, "bad_request", "'compatibility'"),
    ],
)  # fmt: skip
def test_admin_load_is_all_or_nothing(
    kb: str, changes: dict[str, Any], status: int, error: str, fragment: str
) -> None:
    ok(kb, "POST", "/_admin/documents", document("T-KEEP", body="Original kept text quokka."))
    before = ok(kb, "GET", "/api/documents/T-KEEP")
    batch = [
        document("T-KEEP", body="Changed text wombat."),
        document("T-FRESH", body="Fresh text numbat."),
        document("T-BAD", **changes),
    ]
    got_status, got_error, body = refused(kb, "POST", "/_admin/documents", batch)
    assert (got_status, got_error) == (status, error), body
    assert fragment in body["message"], body
    assert (body["index"], body["message"][:8]) == (2, "item 2: ")
    assert ok(kb, "GET", "/api/documents/T-KEEP") == before
    assert refused(kb, "GET", "/api/documents/T-FRESH")[0] == 404
    assert ids(search(kb, "quokka")) == ["T-KEEP"]
    assert search(kb, "wombat")["results"] == []
    assert search(kb, "numbat")["results"] == []


def test_admin_refuses_duplicates_and_bad_bodies(kb: str) -> None:
    status, error, body = refused(
        kb, "POST", "/_admin/documents", [document("T-TWICE"), document("T-TWICE")]
    )
    assert (status, error, body["index"]) == (422, "duplicate_document", 1)
    assert refused(kb, "GET", "/api/documents/T-TWICE")[0] == 404
    for bad in ([1], "doc", None):
        assert refused(kb, "POST", "/_admin/documents", bad)[:2] == (400, "bad_request")


# -- the service ------------------------------------------------------------------------------


def test_forced_failures(kb: str) -> None:
    check_forced_failures(kb, "/api/documents/KB-CR-001")


def test_state_survives_a_restart_and_demo_seeds_once(tmp_path: Path) -> None:
    db = tmp_path / "kb.db"
    with running("knowledge", db, "--seed-demo") as base:
        ok(base, "POST", "/_admin/documents", document("KB-CR-001", body="Replaced platypus."))
    with running("knowledge", db, "--seed-demo") as base:
        assert ok(base, "GET", "/api/documents/KB-CR-001")["body"] == "Replaced platypus."
        assert ids(search(base, "platypus")) == ["KB-CR-001"]  # the index is on disk too
        assert len(ok(base, "GET", "/api/documents")) == len(DEMO_DOCUMENTS)
    with running("knowledge", tmp_path / "empty.db") as base:
        assert ok(base, "GET", "/api/documents") == []
        assert search(base, "兼容")["results"] == []
