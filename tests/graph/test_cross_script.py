"""Cross-script identity resolution (issue 18): an organization written in English or pinyin
("Beijing Anhe Hospital", "Beijing An He Yiyuan") is a strong match for its Chinese name
(北京安和医院), found through the blocking index on both dialects — while a different
hospital of the same city and kind (北京协和医院, 北京安贞医院) is not a match, however
much of the name ("Beijing … Hospital") agrees."""

from __future__ import annotations

from typing import Any

import pytest

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.graph.resolution import (
    Thresholds,
    latin_org,
    latin_person,
    organization_profile,
    score,
)
from kindred.records.service import RequestContext
from kindred.reference.hospitals import DEMO_HOSPITALS

SYSTEM = RequestContext(SYSTEM_PRINCIPAL, request_id="test")
THRESHOLDS = Thresholds()


def match(a: str, b: str, city_a: str | None = None, city_b: str | None = None) -> Any:
    first = organization_profile({"name": a, **({"city": city_a} if city_a else {})})
    second = organization_profile({"name": b, **({"city": city_b} if city_b else {})})
    return score(first, second, THRESHOLDS)


def test_an_english_name_is_a_strong_match_for_its_chinese_name() -> None:
    # Before: jieba cut the unknown name 安和 into 安 / 和, "an he" ≠ "anhe" (score 0.10–0.31).
    assert latin_org("北京安和医院") == latin_org("Beijing Anhe Hospital")
    alone = match("Beijing Anhe Hospital", "北京安和医院")
    assert alone.decision == "review" and alone.score >= 0.85
    name = next(f for f in alone.features if f.feature == "name")
    assert name.similarity == 1.0 and "across languages" in name.explanation
    with_city = match("Beijing Anhe Hospital", "北京安和医院", "Beijing", "北京市")
    assert with_city.decision == "review" and with_city.score >= 0.95
    # The other way round, and with the legal form on one side only.
    assert match("北京安和医院有限公司", "Beijing Anhe Hospital").score == alone.score


@pytest.mark.parametrize(
    ("written", "city"),
    [
        ("Beijing An He Hospital", None),  # pinyin syllable by syllable
        ("Beijing Anhe Yiyuan", None),  # the generic word in pinyin too
        ("Beijing Anhe Yiyuan Youxian Gongsi", None),  # and the legal form
        ("BEIJING ANHE HOSPITAL", None),
        ("Anhe Hospital", "Beijing"),  # the city only in the city field
    ],
)
def test_pinyin_spellings_of_the_name_match(written: str, city: str | None) -> None:
    found = match(written, "北京安和医院", city, "北京" if city else None)
    assert found.decision == "review" and found.score >= 0.85, found.to_dict()


@pytest.mark.parametrize(
    "other", ["北京协和医院", "北京安贞医院", "上海安和医院", "北京安和诊所", "协和医院"]
)
def test_a_different_organization_with_a_similar_name_is_not_a_match(other: str) -> None:
    for cities in ((None, None), ("Beijing", "北京")):
        found = match("Beijing Anhe Hospital", other, *cities)
        assert found.decision == "no_match", (other, cities, found.to_dict())


def test_every_demo_hospital_matches_its_english_name_and_no_other() -> None:
    for english in DEMO_HOSPITALS:
        for chinese in DEMO_HOSPITALS:
            found = match(english.name_en, chinese.name)
            if english is chinese:
                assert found.decision == "review" and found.score >= 0.85, english.name_en
            else:
                assert found.decision == "no_match", (english.name_en, chinese.name)


def test_person_names_keep_their_pinyin() -> None:
    # 中心 is "center" in an organization's name, but Zhongxin is also a given name.
    assert sorted(latin_person("王中心")) == sorted(latin_person("Zhongxin Wang"))
    # And a name word is never translated away: 中信 (a bank) is not 中心 (a center).
    assert match("Zhongxin Yinhang", "中信银行").decision == "review"


def test_candidates_find_the_chinese_record_for_an_english_name(kindred: Any) -> None:
    with kindred.database.write() as session:
        ids = {
            name: kindred.records.create(
                session, SYSTEM, "account", {"name": name, "city": "北京", "kind": "hospital"}
            )["id"]
            for name in ("北京安和医院", "北京协和医院", "北京安贞医院")
        }
        english = kindred.records.create(
            session, SYSTEM, "account", {"name": "Anhe Hospital", "city": "Beijing"}
        )["id"]
    with kindred.database.read() as session:
        found = kindred.resolution.candidates(
            session,
            SYSTEM,
            "account",
            values={"name": "Beijing Anhe Hospital", "city": "Beijing"},
            min_score=0,
        )
        decided = {m["record"]["id"]: m["decision"] for m in found["data"]}
        best = found["data"][0]
        assert best["record"]["id"] in {ids["北京安和医院"], english}
        assert best["score"] >= 0.95 and best["decision"] == "review"
        assert decided[ids["北京安和医院"]] == "review" and decided[english] == "review"
        assert all(
            decided.get(ids[n], "no_match") == "no_match" for n in ("北京协和医院", "北京安贞医院")
        )

        pairs = kindred.resolution.duplicates(session, SYSTEM, "account")
        listed = {frozenset(r["id"] for r in pair["records"]) for pair in pairs["data"]}
        assert listed == {frozenset({ids["北京安和医院"], english})}


def test_an_english_search_finds_a_chinese_name(kindred: Any) -> None:
    names = ("北京安和医院", "北京协和医院", "上海市第一人民医院")
    with kindred.database.write() as session:
        ids = {
            name: kindred.records.create(session, SYSTEM, "account", {"name": name})["id"]
            for name in names
        }
        # A note mentioning a hospital is not a name: it is not transliterated.
        kindred.records.create(
            session, SYSTEM, "account", {"name": "Acme", "description": "拜访北京安和医院"}
        )

    def found(text: str) -> list[str]:
        with kindred.database.read() as session:
            hits = kindred.search.search(session, SYSTEM, text, objects=["account"])
        return [hit["id"] for hit in hits["data"]]

    assert found("Beijing Anhe Hospital") == [ids["北京安和医院"]]
    assert found("anhe yiyuan") == [ids["北京安和医院"]]
    assert set(found("Beijing hospital")) == {ids["北京安和医院"], ids["北京协和医院"]}
    assert found("Shanghai People Hospital") == [ids["上海市第一人民医院"]]
    # Chinese queries as before: the name and the note.
    assert len(found("北京安和医院")) == 2 and ids["北京安和医院"] in found("北京安和医院")
    with kindred.database.read() as session:
        [hit] = kindred.search.search(session, SYSTEM, "Anhe", objects=["account"])["data"]
    assert hit["snippet"] == {"field": "name", "text": "北京安和医院", "highlights": [[2, 4]]}
