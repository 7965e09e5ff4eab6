"""The reference medical-insurance qualification registry, over real sockets.

One registry process (demo register seeded, calendar pinned to ``TODAY``) serves the module;
tests that load institutions use credit codes of their own, so they do not see each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kindred.records.credit_codes import credit_code_check_character, credit_code_problem
from kindred.reference.hospitals import DEMO_HOSPITALS
from tests.reference.conftest import TODAY, call, check_forced_failures, ok, refused, running

BEIJING = "121101054526018196"
SHANGHAI = "12310115459083014E"
CHENGDU = "12510104409139091R"
WUHAN = "12420102496030827F"
XIAN = "52610113582199354J"
SHENYANG = "91210112M181909307"
NANJING = "523201045786579735"
ZHENGZHOU = "12410105448757490P"
KUNMING = "12530112411862529R"
CHONGQING = "12500112476018951R"  # a customer, but not in the register


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running("insurance", tmp_path_factory.mktemp("insurance") / "i.db", "--seed-demo") as url:
        yield url


def code(prefix17: str) -> str:
    return prefix17 + credit_code_check_character(prefix17)


def institution(credit_code: str, /, **changes: Any) -> dict[str, Any]:
    item = {
        "credit_code": credit_code,
        "name": "测试机构甲",
        "name_en": "Test Institution A",
        "province": "测试省",
        "city": "测试市",
        "grade": "三级甲等",
        "status": "active",
        "valid_from": "2029-01-01",
        "valid_until": "2031-12-31",
        "schemes": ["employee", "resident"],
        "licences": [
            {"type": "radiology_practice", "number": "放证-001", "valid_until": "2032-01-01"}
        ],
    }
    item.update(changes)
    return {key: value for key, value in item.items() if value is not None}


def check(base: str, credit_code: str, category: str, **extra: Any) -> dict[str, Any]:
    status, result = call(
        base,
        "POST",
        "/api/qualification-checks",
        {"credit_code": credit_code, "product_category": category, **extra},
    )
    assert status == 201, result
    return dict(result)


def reason_codes(result: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in result["reasons"]]


def audit(base: str, credit_code: str) -> list[dict[str, Any]]:
    return list(ok(base, "GET", "/api/qualification-checks", params={"credit_code": credit_code}))


# -- credit codes -----------------------------------------------------------------------------


def test_credit_code_check_character_matches_published_codes() -> None:
    # Codes printed on real business licences (GB 32100-2015 examples in the wild).
    for published in ("91350100M000100Y43", "91110108551385082Q", "12100000400000624D"):
        assert credit_code_problem(published) is None
        assert credit_code_check_character(published[:17]) == published[17]
    for hospital in DEMO_HOSPITALS:
        assert credit_code_problem(hospital.credit_code) is None, hospital


def test_credit_code_problems_say_what_is_wrong() -> None:
    assert "18 characters" in str(credit_code_problem("91350100M000100Y4"))
    assert "'I' at position 9" in str(credit_code_problem("91350100I000100Y43"))
    assert "administrative division" in str(credit_code_problem("9135A100M000100Y43"))
    # Any single changed character is caught by the check character.
    assert "should be 'Q'" in str(credit_code_problem("91110108551385082R"))
    changed = "91350100M000100Y53"
    assert "check character" in str(credit_code_problem(changed))


# -- institutions -----------------------------------------------------------------------------


def test_demo_register(registry: str) -> None:
    found = ok(registry, "GET", "/api/institutions", params={"limit": 100})
    codes = [row["credit_code"] for row in found]
    assert codes == sorted(codes)
    codes = [c for c in codes if not c.startswith("1299")]  # loaded by other tests
    assert set(codes) == {h.credit_code for h in DEMO_HOSPITALS} - {CHONGQING}
    assert {row["status"] for row in found if row["credit_code"] in codes} == {
        "active",
        "suspended",
        "revoked",
        "expired",
    }


def test_get_institution(registry: str) -> None:
    beijing = ok(registry, "GET", f"/api/institutions/{BEIJING}")
    assert beijing | {"updated_at": None} == {
        "credit_code": BEIJING,
        "name": "北京安和医院",
        "name_en": "Beijing Anhe Hospital",
        "province": "北京市",
        "city": "北京市",
        "grade": "三级甲等",
        "designation_number": "H11010500017",
        "status": "active",
        "status_reason": None,
        "valid_from": "2027-11-06",
        "valid_until": "2030-11-05",
        "schemes": ["employee", "resident"],
        "licences": [
            {
                "type": "radiology_practice",
                "name": "放射诊疗许可证 (radiological diagnosis and treatment licence)",
                "number": "放射诊疗许可证〔2028〕第0117号",
                "valid_until": "2031-12-15",
                "expired": False,
            },
            {
                "type": "radiation_safety",
                "name": "辐射安全许可证 (radiation safety licence)",
                "number": "国环辐证[00231]",
                "valid_until": "2031-12-15",
                "expired": False,
            },
            {
                "type": "large_equipment_b",
                "name": "乙类大型医用设备配置许可证 (class B large medical equipment licence)",
                "number": "乙类配置许可 2028-B-0452",
                "valid_until": "2031-12-15",
                "expired": False,
            },
        ],
        "restricted_categories": [],
        "updated_at": None,
    }
    # Lower-case input and surrounding spaces are what people type; the code is the same.
    assert ok(registry, "GET", f"/api/institutions/{BEIJING.lower()}%20")["name"] == "北京安和医院"


def test_effective_status(registry: str) -> None:
    nanjing = ok(registry, "GET", f"/api/institutions/{NANJING}")
    assert (nanjing["status"], nanjing["valid_until"]) == ("expired", "2030-01-04")
    assert nanjing["status_reason"] == "the designation ended on 2030-01-04"
    xian = ok(registry, "GET", f"/api/institutions/{XIAN}")
    assert xian["status"] == "suspended"
    assert "暂停医保服务协议六个月" in xian["status_reason"]
    wuhan = ok(registry, "GET", f"/api/institutions/{WUHAN}")
    assert [(lic["type"], lic["expired"]) for lic in wuhan["licences"]] == [
        ("radiology_practice", False),
        ("radiation_safety", True),
    ]


def test_unknown_and_malformed_codes(registry: str) -> None:
    status, error, body = refused(registry, "GET", f"/api/institutions/{CHONGQING}")
    assert (status, error) == (404, "unknown_institution")
    assert CHONGQING in body["message"]
    for bad, fragment in [
        ("12500112476018951", "18 characters"),
        ("12500112476O18951R", "'O' at position 12"),
        ("12500112476018951S", "'S' at position 18"),
        ("12500112476018951Q", "should be 'R'"),
    ]:
        status, error, body = refused(registry, "GET", f"/api/institutions/{bad}")
        assert (status, error) == (400, "invalid_credit_code"), body
        assert fragment in body["message"], body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "浦江"}, [SHANGHAI]),
        ({"name": "人民医院"}, ["12440106466131862R", CHENGDU]),
        ({"name": "CANCER"}, [ZHENGZHOU]),
        ({"province": "四川"}, [CHENGDU]),
        ({"city": "西安市"}, [XIAN]),
        ({"status": "suspended"}, [XIAN]),
        ({"status": "revoked"}, [SHENYANG]),
        ({"status": "expired"}, [NANJING]),
        ({"name": "医院", "province": "上海"}, [SHANGHAI]),
        ({"name": "%"}, []),  # no LIKE wildcards from users
        ({"name": "不存在的医院"}, []),
        ({"name": "医院", "limit": 2}, [BEIJING, SHANGHAI]),
    ],
)
def test_search(registry: str, params: dict[str, Any], expected: list[str]) -> None:
    found = ok(registry, "GET", "/api/institutions", params=params)
    assert [row["credit_code"] for row in found] == expected


def test_search_refusals(registry: str) -> None:
    for params, fragment in [
        ({"status": "pending"}, "'status' must be one of"),
        ({"limit": 0}, "'limit'"),
        ({"limit": 501}, "'limit'"),
        ({"nmae": "x"}, "unknown fields: nmae"),
    ]:
        status, error, body = refused(registry, "GET", "/api/institutions", params=params)
        assert (status, error) == (400, "bad_request"), body
        assert fragment in body["message"], body


def test_product_categories(registry: str) -> None:
    categories = {c["code"]: c for c in ok(registry, "GET", "/api/product-categories")}
    assert categories["radiology_equipment"] == {
        "code": "radiology_equipment",
        "name": "放射诊疗设备",
        "name_en": "radiological equipment (CT, DR, X-ray units)",
        "licences": ["radiology_practice", "radiation_safety"],
        "min_grade_level": 2,
    }
    assert categories["consumable"]["licences"] == []


# -- qualification checks ---------------------------------------------------------------------


def test_qualified_check_is_recorded(registry: str) -> None:
    result = check(registry, BEIJING, "radiology_part", amount=1_280_000, reference="PI-0001")
    assert result["qualified"] is True
    assert result["reasons"] == []
    assert result["id"].startswith("QC-")
    assert (result["credit_code"], result["product_category"]) == (BEIJING, "radiology_part")
    assert (result["amount"], result["reference"], result["as_of"]) == (
        1_280_000,
        "PI-0001",
        TODAY.isoformat(),
    )
    assert result["institution"] == ok(registry, "GET", f"/api/institutions/{BEIJING}")
    assert ok(registry, "GET", f"/api/qualification-checks/{result['id']}") == result
    assert audit(registry, BEIJING)[0] == result


@pytest.mark.parametrize(
    ("credit_code", "category", "amount", "expected"),
    [
        (XIAN, "consumable", None, ["designation_suspended"]),
        (SHENYANG, "spare_part", None, ["designation_revoked"]),
        (NANJING, "consumable", None, ["designation_expired"]),
        (WUHAN, "radiology_part", None, []),
        (WUHAN, "radiology_equipment", None, ["licence_expired"]),
        (KUNMING, "consumable", None, []),
        (KUNMING, "radiology_part", None, ["licence_missing"]),
        (KUNMING, "high_value_consumable", None, ["grade_too_low"]),
        (
            KUNMING,
            "radiology_equipment",
            None,
            ["grade_too_low", "licence_missing", "licence_missing"],
        ),
        (ZHENGZHOU, "high_value_consumable", None, ["category_restricted"]),
        (ZHENGZHOU, "consumable", None, []),
        (CHENGDU, "large_medical_equipment", None, ["licence_missing"]),
        (CHENGDU, "spare_part", 29_999_999.99, []),
        (CHENGDU, "spare_part", 30_000_000, ["licence_missing"]),
        (BEIJING, "radiology_equipment", 49_999_999, []),
        (BEIJING, "radiology_equipment", 50_000_000, ["licence_missing"]),
        (SHANGHAI, "large_medical_equipment", 68_000_000, []),
        (CHONGQING, "consumable", None, ["not_registered"]),
    ],
)
def test_check_reasons(
    registry: str, credit_code: str, category: str, amount: float | None, expected: list[str]
) -> None:
    result = check(
        registry, credit_code, category, **({} if amount is None else {"amount": amount})
    )
    assert reason_codes(result) == expected
    assert result["qualified"] is (not expected)
    assert all(reason["message"] for reason in result["reasons"])
    assert audit(registry, credit_code)[0]["id"] == result["id"]


def test_check_reason_details(registry: str) -> None:
    xian = check(registry, XIAN, "consumable")
    assert "暂停医保服务协议六个月" in xian["reasons"][0]["message"]
    kunming = check(registry, KUNMING, "radiology_equipment")
    assert [r.get("licence") for r in kunming["reasons"]] == [
        None,
        "radiology_practice",
        "radiation_safety",
    ]
    assert kunming["reasons"][0]["min_grade_level"] == 2
    assert "一级甲等" in kunming["reasons"][0]["message"]
    wuhan = check(registry, WUHAN, "radiology_equipment")
    assert wuhan["reasons"][0]["licence"] == "radiation_safety"
    assert "expired on 2029-12-25" in wuhan["reasons"][0]["message"]
    big = check(registry, BEIJING, "spare_part", amount="52000000.50")
    assert big["amount"] == 52_000_000.5
    assert [r["licence"] for r in big["reasons"]] == ["large_equipment_a"]
    assert "52,000,000.50 CNY" in big["reasons"][0]["message"]
    chongqing = check(registry, CHONGQING, "consumable")
    assert chongqing["institution"] is None
    zhengzhou = check(registry, ZHENGZHOU, "high_value_consumable")
    assert "豫医保函〔2029〕33号" in zhengzhou["reasons"][0]["message"]


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        ({"credit_code": BEIJING, "product_category": "toys"}, 422,
         "unknown_product_category", "toys"),
        ({"credit_code": BEIJING[:-1] + "0", "product_category": "consumable"}, 400,
         "invalid_credit_code", "check character"),
        ({"product_category": "consumable"}, 400, "invalid_credit_code", "credit_code"),
        ({"credit_code": BEIJING}, 400, "bad_request", "'product_category' is required"),
        ({"credit_code": BEIJING, "product_category": "consumable", "amount": -1}, 422,
         "invalid", "'amount'"),
        ({"credit_code": BEIJING, "product_category": "consumable", "amount": "lots"}, 400,
         "bad_request", "'amount'"),
        ({"credit_code": BEIJING, "product_category": "consumable", "amount": 1.005}, 422,
         "invalid", "two decimals"),
        ({"credit_code": BEIJING, "product_category": "consumable", "amount": True}, 400,
         "bad_request", "'amount'"),
        ({"credit_code": BEIJING, "product_category": "consumable", "sku": "X"}, 400,
         "bad_request", "unknown fields: sku"),
        ([BEIJING], 400, "bad_request", "JSON object"),
    ],
)  # fmt: skip
def test_check_refusals_record_nothing(
    registry: str, body: Any, status: int, code: str, fragment: str
) -> None:
    before = audit(registry, BEIJING)
    got_status, error, result = refused(registry, "POST", "/api/qualification-checks", body)
    assert (got_status, error) == (status, code), result
    assert fragment in result["message"], result
    assert audit(registry, BEIJING) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"credit_code": None}, "credit_code"),
        ({"credit_code": "123"}, "credit_code"),
        ({"product_category": None}, "product_category"),
        ({"product_category": "toys"}, "product_category"),
        ({"amount": -3}, "amount"),
        ({"reference": ""}, "reference"),
    ],
)
def test_check_refusals_name_the_field(registry: str, changes: dict[str, Any], field: str) -> None:
    body = {"credit_code": BEIJING, "product_category": "consumable", **changes}
    body = {key: value for key, value in body.items() if value is not None}
    assert refused(registry, "POST", "/api/qualification-checks", body)[2]["field"] == field


def test_check_refuses_a_body_that_is_not_json(registry: str) -> None:
    before = audit(registry, BEIJING)
    status, error, _ = refused(registry, "POST", "/api/qualification-checks", raw=b"{nope")
    assert (status, error) == (400, "bad_request")
    assert audit(registry, BEIJING) == before


def test_audit_list(registry: str) -> None:
    first = check(registry, SHANGHAI, "consumable", reference="PI-AUDIT-1")
    second = check(registry, SHANGHAI, "spare_part", reference="PI-AUDIT-2")
    listed = audit(registry, SHANGHAI)
    assert [c["id"] for c in listed[:2]] == [second["id"], first["id"]]
    by_reference = ok(
        registry, "GET", "/api/qualification-checks", params={"reference": "PI-AUDIT-1"}
    )
    assert by_reference == [first]
    limited = ok(
        registry, "GET", "/api/qualification-checks", params={"credit_code": SHANGHAI, "limit": 1}
    )
    assert limited == [second]
    assert refused(registry, "GET", "/api/qualification-checks/QC-999999")[:2] == (
        404,
        "unknown_check",
    )
    assert refused(registry, "GET", "/api/qualification-checks", params={"credit_code": "x"})[
        :2
    ] == (400, "invalid_credit_code")


# -- admin ------------------------------------------------------------------------------------


def test_admin_load_and_replace(registry: str) -> None:
    new = code("12990101A00000001")
    assert ok(registry, "POST", "/_admin/institutions", institution(new)) == {"loaded": 1}
    loaded = ok(registry, "GET", f"/api/institutions/{new}")
    assert (loaded["name"], loaded["status"], loaded["designation_number"]) == (
        "测试机构甲",
        "active",
        None,
    )
    assert check(registry, new, "radiology_part")["qualified"] is True
    # Loading the same code again replaces the entry (here: the registry suspends it).
    ok(
        registry,
        "POST",
        "/_admin/institutions",
        [institution(new, status="suspended", status_reason="飞行检查发现问题")],
    )
    assert ok(registry, "GET", f"/api/institutions/{new}")["status"] == "suspended"
    assert reason_codes(check(registry, new, "radiology_part")) == ["designation_suspended"]
    ok(registry, "POST", "/_admin/institutions", [institution(new, status="expired")])
    assert reason_codes(check(registry, new, "consumable")) == ["designation_expired"]
    future = code("12990101A00000002")
    ok(registry, "POST", "/_admin/institutions", [institution(future, valid_from="2030-03-01")])
    assert reason_codes(check(registry, future, "consumable")) == ["designation_not_yet_valid"]


@pytest.mark.parametrize(
    ("changes", "status", "error", "fragment"),
    [
        ({"credit_code": "12990101A0000000X8"}, 400, "invalid_credit_code", "check character"),
        ({"name": None}, 400, "bad_request", "'name' is required"),
        ({"grade": "特级"}, 422, "invalid", "'grade'"),
        ({"status": "pending"}, 422, "invalid", "'status'"),
        ({"valid_until": "2028-12-31"}, 422, "invalid", "before 'valid_from'"),
        ({"valid_from": "2029-13-01"}, 400, "bad_request", "'valid_from' must be a date"),
        ({"schemes": []}, 422, "invalid", "'schemes'"),
        ({"schemes": ["commercial"]}, 422, "invalid", "'schemes'"),
        ({"schemes": "employee"}, 400, "bad_request", "'schemes' must be a list"),
        ({"designation_number": "X1"}, 422, "invalid", "'designation_number'"),
        ({"licences": [{"type": "driving", "number": "1", "valid_until": "2031-01-01"}]},
         422, "invalid", "licences[0].type"),
        ({"licences": [{"type": "radiation_safety", "number": "1"}]},
         400, "bad_request", "'valid_until' is required"),
        ({"restricted_categories": [{"category": "toys", "reason": "x"}]},
         422, "invalid", "restricted_categories[0].category"),
        ({"beds": 800}, 400, "bad_request", "unknown fields: beds"),
    ],
)  # fmt: skip
def test_admin_load_is_all_or_nothing(
    registry: str, changes: dict[str, Any], status: int, error: str, fragment: str
) -> None:
    existing = code("12990102A00000001")
    fresh = code("12990102A00000002")
    ok(registry, "POST", "/_admin/institutions", [institution(existing, name="原有医院")])
    before = ok(registry, "GET", f"/api/institutions/{existing}")
    bad = institution(code("12990102A00000003"), **changes)
    batch = [institution(existing, name="改名医院"), institution(fresh), bad]
    got_status, got_error, body = refused(registry, "POST", "/_admin/institutions", batch)
    assert (got_status, got_error) == (status, error), body
    assert fragment in body["message"], body
    assert body["index"] == 2
    assert body["message"].startswith("item 2: ")
    assert ok(registry, "GET", f"/api/institutions/{existing}") == before  # not renamed
    assert refused(registry, "GET", f"/api/institutions/{fresh}")[0] == 404


def test_admin_refuses_duplicates_and_bad_bodies(registry: str) -> None:
    twice = code("12990103A00000001")
    status, error, body = refused(
        registry, "POST", "/_admin/institutions", [institution(twice), institution(twice)]
    )
    assert (status, error, body["index"]) == (422, "duplicate_credit_code", 1)
    assert refused(registry, "GET", f"/api/institutions/{twice}")[0] == 404
    for bad in ([1, 2], "x", None):
        assert refused(registry, "POST", "/_admin/institutions", bad)[:2] == (400, "bad_request")


# -- the service ------------------------------------------------------------------------------


def test_forced_failures(registry: str) -> None:
    check_forced_failures(registry, f"/api/institutions/{BEIJING}")


def test_unknown_routes_answer_json(registry: str) -> None:
    assert refused(registry, "GET", "/api/nothing")[:2] == (404, "not_found")
    assert refused(registry, "DELETE", f"/api/institutions/{BEIJING}")[:2] == (
        405,
        "method_not_allowed",
    )


def test_state_survives_a_restart_and_demo_seeds_once(tmp_path: Path) -> None:
    db = tmp_path / "insurance.db"
    with running("insurance", db, "--seed-demo") as base:
        recorded = check(base, XIAN, "consumable")
        ok(base, "POST", "/_admin/institutions", [institution(XIAN, name="西安雁塔康复医院（新）")])
    with running("insurance", db, "--seed-demo") as base:
        assert ok(base, "GET", f"/api/institutions/{XIAN}")["name"] == "西安雁塔康复医院（新）"
        assert audit(base, XIAN) == [recorded]
    with running("insurance", tmp_path / "empty.db") as base:
        assert ok(base, "GET", "/api/institutions") == []
