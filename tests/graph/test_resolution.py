"""Identity resolution on both dialects: the same hospital arriving from the ERP, a lead form,
WeChat and an English-language source is found and explained; different tax ids never
match; a merge re-points every edge and hides the duplicate; undo restores every record and
edge exactly, or refuses (changing nothing) when something changed since; consent-guarded
values in merge snapshots stay sealed, consent-checked, and leave with erasure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.auth.permissions import BUILTIN_ROLES, SYSTEM_PRINCIPAL, Principal
from kindred.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kindred.graph.resolution import (
    BLOCK_CAP,
    Thresholds,
    canonical_org,
    canonical_place,
    latin_org,
    latin_person,
    normalize_phone,
    organization_profile,
    person_profile,
    score,
)
from kindred.graph.resolution_models import IdentityKey, IdentityMerge
from kindred.ledger.models import LedgerEntry, LedgerPayload
from kindred.records.credit_codes import credit_code_checks_out
from kindred.records.models import ChangeLogEntry, RecordLink, RecordRow
from kindred.records.query import ListQuery
from kindred.records.service import RequestContext
from kindred.sovereignty.credentials import Grantee

SYSTEM = RequestContext(SYSTEM_PRINCIPAL, request_id="test")
ERP = RequestContext(SYSTEM_PRINCIPAL, request_id="erp-import", source="erp")
# Valid GB 32100 codes (check character computed), two different legal entities.
TAX_RUIJIN = "913100004250123457"
TAX_OTHER = "91310000425012346A"


def create(kindred: Any, object_name: str, values: dict[str, Any], context: Any = SYSTEM) -> str:
    with kindred.database.write() as session:
        return str(kindred.records.create(session, context, object_name, values)["id"])


def state(kindred: Any) -> tuple[dict[str, Any], set[tuple[str, str, str]]]:
    """Every record (data and origin, not version stamps) and every edge."""
    with kindred.database.read() as session:
        rows = {
            row.id: (row.object, row.data, row.owner_id, row.territory_id, row.created_at)
            for row in session.execute(sa.select(RecordRow)).scalars()
        }
        edges = {
            (link.relation, link.source_id, link.target_id)
            for link in session.execute(sa.select(RecordLink)).scalars()
        }
    return rows, edges


def change_log_count(kindred: Any) -> int:
    with kindred.database.read() as session:
        return int(session.execute(sa.select(sa.func.count()).select_from(ChangeLogEntry)).scalar())


def last_change(kindred: Any) -> int:
    with kindred.database.read() as session:
        return int(session.execute(sa.select(sa.func.max(ChangeLogEntry.id))).scalar() or 0)


def features(match: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["feature"]: f for f in match["features"]}


# -- normalization (pure) ------------------------------------------------------------------------


def test_chinese_and_english_organization_names_normalize_to_comparable_forms() -> None:
    assert (
        canonical_org("上海市第一人民医院")
        == canonical_org("上海第一人民医院")
        == "上海第一人民医院"
    )
    assert canonical_org("上海联影医疗科技股份有限公司") == "上海联影医疗科技"
    assert canonical_org("ＡＢＣ　Ｍｅｄｉｃａｌ Co., Ltd.") == "abc medical"  # full-width
    assert latin_org("上海市第一人民医院") == ("shanghai", "#1", "people", "hospital")
    assert latin_org("Shanghai First People's Hospital") == ("shanghai", "#1", "people", "hospital")
    assert latin_org("Shanghai No. 1 People's Hospital") == ("shanghai", "#1", "people", "hospital")
    assert sorted(latin_org("复旦大学附属华山医院")) == sorted(
        latin_org("Huashan Hospital Affiliated to Fudan University")
    )
    assert canonical_place("上海市") == canonical_place("Shanghai City") == "shanghai"
    assert canonical_place("重庆") == "chongqing"  # the phrase reading, not zhong-qing
    assert sorted(latin_person("张小伟")) == sorted(latin_person("Xiao-Wei Zhang"))
    assert normalize_phone("+86 21 6666 7777") == normalize_phone("021-6666 7777 转 12")
    assert credit_code_checks_out(TAX_RUIJIN) and credit_code_checks_out(TAX_OTHER)
    assert not credit_code_checks_out(TAX_RUIJIN[:-1] + "X")


def test_scores_explain_every_feature_and_respect_the_thresholds() -> None:
    erp = organization_profile(
        {
            "name": "上海市第一人民医院",
            "city": "上海",
            "tax_id": TAX_RUIJIN,
            "phone": "021-66667777",
        }
    )
    thresholds = Thresholds()
    form = score(
        erp, organization_profile({"name": "上海第一人民医院", "city": "上海市"}), thresholds
    )
    assert form.decision == "review" and 0.9 < form.score < 0.99
    by_name = {f.feature: f for f in form.features}
    assert by_name["name"].similarity == 1.0 and by_name["name"].contribution == 6.0
    assert by_name["city"].contribution == 1.5
    assert "identical after normalization" in by_name["name"].explanation
    called = organization_profile({"name": "上海第一人民医院", "phone": "+86 21 6666 7777"})
    assert score(erp, called, thresholds).decision == "auto_merge"  # name and phone agree
    second = organization_profile({"name": "上海市第二人民医院", "city": "上海"})
    numbered = score(erp, second, thresholds)
    assert numbered.decision == "no_match"
    assert any(f.feature == "name_number" and f.conflict for f in numbered.features)
    elsewhere = organization_profile({"name": "第一人民医院", "city": "北京"})
    assert score(erp, elsewhere, thresholds).decision == "no_match"
    # A mistyped code (fails its checksum) is not counted as a different entity.
    typo = organization_profile({"name": "上海第一人民医院", "tax_id": TAX_RUIJIN[:-1] + "X"})
    typo_match = score(erp, typo, thresholds)
    assert {f.feature: f.contribution for f in typo_match.features}["tax_id"] == 0.0
    assert not typo_match.conflict
    # People: the same email decides; the same common name alone does not.
    li = person_profile({"full_name": "李娜", "email": "li.na@ruijin.example"})
    assert (
        score(
            li,
            person_profile(
                {"last_name": "李", "first_name": "娜", "email": "Li.Na@ruijin.example"}
            ),
            thresholds,
        ).decision
        == "auto_merge"
    )
    assert score(li, person_profile({"full_name": "李娜"}), thresholds).decision == "no_match"


# -- matching on the database ------------------------------------------------------------------


def test_the_hospital_from_the_erp_is_found_for_a_lead_form_and_explained(kindred: Any) -> None:
    erp = create(
        kindred,
        "account",
        {
            "name": "上海市第一人民医院",
            "kind": "hospital",
            "tax_id": TAX_RUIJIN,
            "city": "上海",
            "province": "上海",
            "phone": "021-6666 7777",
            "external_ids": {"erp": "C-1001"},
        },
        ERP,
    )
    wechat = create(kindred, "account", {"name": "上海第一人民医院"})
    english = create(
        kindred, "account", {"name": "Shanghai First People's Hospital", "city": "Shanghai"}
    )
    create(kindred, "account", {"name": "上海市第二人民医院", "city": "上海"})
    create(kindred, "account", {"name": "北京协和医院", "city": "北京"})
    lead = create(
        kindred, "lead", {"name": "Dr. Wang", "company": "上海市第一人民医院", "source": "web"}
    )

    with kindred.database.read() as session:
        found = kindred.resolution.candidates(
            session, SYSTEM, "account", values={"name": "上海第一人民医院", "city": "上海市"}
        )
        # Name and city agree for the ERP record and the English one (a tie, in id order);
        # the WeChat record has no city to compare.
        assert [m["record"]["id"] for m in found["data"][:3]] == [erp, english, wechat]
        assert [m["score"] for m in found["data"][:3]] == [0.9707, 0.9707, 0.8808]
        best = found["data"][0]
        assert best["decision"] == "review"
        assert features(best)["name"]["similarity"] == 1.0
        assert features(best)["city"]["explanation"] == "Same city."
        assert best["summary"].startswith("Needs review (97%)")
        ids = [m["record"]["id"] for m in found["data"] if m["decision"] != "no_match"]
        assert set(ids) == {erp, wechat, english}

        # The lead record: which account does its company belong to?
        suggestions = kindred.resolution.candidates(session, SYSTEM, "account", record_id=lead)
        assert suggestions["query"] == {"record": lead, "object": "lead"}
        assert suggestions["data"][0]["record"]["id"] in {erp, wechat}
        assert {m["record"]["id"] for m in suggestions["data"][:2]} == {erp, wechat}

        # The ERP record itself finds its duplicates, not itself.
        own = kindred.resolution.candidates(session, SYSTEM, "account", record_id=erp)
        assert erp not in {m["record"]["id"] for m in own["data"]}
        english_match = next(m for m in own["data"] if m["record"]["id"] == english)
        assert "across languages" in features(english_match)["name"]["explanation"]

        pairs = kindred.resolution.duplicates(session, SYSTEM, "account")
        listed = {frozenset(r["id"] for r in pair["records"]) for pair in pairs["data"]}
        assert listed == {
            frozenset({erp, wechat}),
            frozenset({erp, english}),
            frozenset({wechat, english}),
        }
        assert [p["score"] for p in pairs["data"]] == sorted(
            (p["score"] for p in pairs["data"]), reverse=True
        )


def test_different_tax_ids_are_never_a_match(kindred: Any) -> None:
    first = create(
        kindred, "account", {"name": "上海瑞金医院", "city": "上海", "tax_id": TAX_RUIJIN}
    )
    second = create(
        kindred, "account", {"name": "上海瑞金医院", "city": "上海", "tax_id": TAX_OTHER}
    )
    with kindred.database.read() as session:
        found = kindred.resolution.candidates(
            session, SYSTEM, "account", record_id=first, min_score=0
        )
        match = next(m for m in found["data"] if m["record"]["id"] == second)
        assert match["decision"] == "no_match" and match["score"] < 0.01
        tax = features(match)["tax_id"]
        assert tax["conflict"] and tax["contribution"] == -14.0
        assert "two distinct legal entities" in tax["explanation"]
        assert kindred.resolution.duplicates(session, SYSTEM, "account")["data"] == []


def test_duplicate_pairs_are_paged_best_first(kindred: Any) -> None:
    for name in ("瑞金医院", "华山医院", "仁济医院"):
        create(kindred, "account", {"name": f"上海市{name}", "city": "上海"})
        create(kindred, "account", {"name": f"上海{name}", "city": "上海市"})
    seen: list[tuple[str, ...]] = []
    cursor = None
    with kindred.database.read() as session:
        for _ in range(4):
            page = kindred.resolution.duplicates(session, SYSTEM, "account", limit=1, cursor=cursor)
            seen += [tuple(r["id"] for r in p["records"]) for p in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        everything = kindred.resolution.duplicates(session, SYSTEM, "account")
        with pytest.raises(ValidationFailed):
            kindred.resolution.duplicates(session, SYSTEM, "account", cursor="not-a-cursor")
    assert len(seen) == 3 and cursor is None
    assert seen == [tuple(r["id"] for r in p["records"]) for p in everything["data"]]


def test_records_written_around_the_service_are_indexed_by_reindex(kindred: Any) -> None:
    known = create(kindred, "account", {"name": "上海市瑞金医院", "city": "上海"})
    with kindred.database.write() as session:
        session.execute(
            sa.insert(RecordRow).values(
                id="01900000-0000-7000-8000-000000000001",
                object="account",
                data={"name": "上海瑞金医院", "city": "上海"},
                version=1,
            )
        )
    with kindred.database.read() as session:
        before = kindred.resolution.candidates(session, SYSTEM, "account", record_id=known)
    assert before["data"] == []
    with kindred.database.write() as session:
        assert kindred.resolution.reindex(session) == 1
        assert kindred.resolution.reindex(session) == 0
    with kindred.database.read() as session:
        after = kindred.resolution.candidates(session, SYSTEM, "account", record_id=known)
    assert [m["record"]["id"] for m in after["data"]] == ["01900000-0000-7000-8000-000000000001"]


def test_a_block_shared_by_too_many_records_is_not_compared(kindred: Any) -> None:
    # BLOCK_CAP + 1 accounts with the very same name: the name keys say nothing any more, so a
    # query finds them only through a discriminating key (here the phone).
    with kindred.database.write() as session:
        kindred.records.bulk(
            session,
            SYSTEM,
            "account",
            "create",
            [{"name": "社区卫生服务中心"} for _ in range(BLOCK_CAP + 1)],
            present_results=False,
        )
    phoned = create(kindred, "account", {"name": "社区卫生服务中心", "phone": "021-5555 1234"})
    with kindred.database.read() as session:
        found = kindred.resolution.candidates(
            session, SYSTEM, "account", values={"name": "社区卫生服务中心", "phone": "02155551234"}
        )
    assert [m["record"]["id"] for m in found["data"]] == [phoned]


# -- merges --------------------------------------------------------------------------------------


def hospital_pair(kindred: Any) -> dict[str, str]:
    """The ERP's hospital (survivor) and the WeChat duplicate with contacts, tickets, an
    order and a child account of its own."""
    ids = {
        "survivor": create(
            kindred,
            "account",
            {
                "name": "上海市第一人民医院",
                "city": "上海",
                "phone": "021-6666 7777",
                "external_ids": {"erp": "C-1001"},
            },
            ERP,
        ),
        "duplicate": create(
            kindred,
            "account",
            {
                "name": "上海第一人民医院",
                "tax_id": TAX_RUIJIN,
                "website": "https://www.sfph.example",
                "external_ids": {"wechat": "gh_1234"},
                "tier": "A",
            },
        ),
    }
    ids["contact"] = create(kindred, "contact", {"last_name": "Li", "account": ids["duplicate"]})
    ids["kept_contact"] = create(
        kindred, "contact", {"last_name": "Wu", "account": ids["survivor"]}
    )
    ids["ticket"] = create(kindred, "ticket", {"subject": "CT down", "account": ids["duplicate"]})
    ids["order"] = create(kindred, "order", {"number": "SO-1", "account": ids["duplicate"]})
    ids["branch"] = create(kindred, "account", {"name": "分院", "parent_account": ids["duplicate"]})
    ids["product"] = create(kindred, "product", {"name": "CT 500", "sku": "CT-500"})
    return ids


def test_merge_repoints_every_edge_and_hides_the_duplicate(kindred: Any) -> None:
    ids = hospital_pair(kindred)
    log_before = last_change(kindred)
    with kindred.database.write() as session:
        merged = kindred.resolution.merge(
            session, SYSTEM, "account", ids["survivor"], ids["duplicate"], overrides={"tier": "B"}
        )
    survivor = merged["survivor_record"]
    assert survivor["tax_id"] == TAX_RUIJIN  # the survivor lacked it
    assert survivor["website"] == "https://www.sfph.example"
    assert survivor["name"] == "上海市第一人民医院"  # the survivor's own value wins
    assert survivor["external_ids"] == {"erp": "C-1001", "wechat": "gh_1234"}
    assert survivor["tier"] == "B"  # the explicit override
    assert {c["field"] for c in merged["survivor_changes"]} == {
        "tax_id",
        "website",
        "external_ids",
        "tier",
    }
    assert {(e["object"], e["record"]) for e in merged["edges"]} == {
        ("contact", ids["contact"]),
        ("ticket", ids["ticket"]),
        ("order", ids["order"]),
        ("account", ids["branch"]),
    }
    with kindred.database.read() as session:
        for name, relation in (
            ("contact", "account"),
            ("ticket", "account"),
            ("order", "account"),
            ("branch", "parent_account"),
        ):
            object_name = "account" if name == "branch" else name
            record, _ = kindred.records.get(session, SYSTEM, object_name, ids[name])
            assert record[relation] == ids["survivor"]
        targets = set(
            session.execute(
                sa.select(RecordLink.target_id).where(
                    RecordLink.source_id.in_([ids["contact"], ids["ticket"], ids["order"]]),
                    RecordLink.relation.like("%.account"),
                )
            ).scalars()
        )
        assert targets == {ids["survivor"]}
        with pytest.raises(NotFound):
            kindred.records.get(session, SYSTEM, "account", ids["duplicate"])
        listed = kindred.records.list_records(session, SYSTEM, "account", ListQuery(limit=100))
        assert ids["duplicate"] not in {r["id"] for r in listed.data}
        # Every change is in the change log: four re-pointed records, the delete, the
        # survivor's update, and the merge on both records.
        actions = [
            (row.record_id, row.action)
            for row in session.execute(
                sa.select(ChangeLogEntry).where(ChangeLogEntry.id > log_before)
            ).scalars()
        ]
        assert (ids["duplicate"], "delete") in actions and (ids["survivor"], "update") in actions
        for name in ("contact", "ticket", "order", "branch"):
            assert (ids[name], "update") in actions
        assert (ids["survivor"], "merge") in actions and (ids["duplicate"], "merge") in actions
        # Evidence on the ledger, with ids and field names only.
        payload = session.execute(
            sa.select(LedgerPayload.payload)
            .join(LedgerEntry, LedgerEntry.index == LedgerPayload.index)
            .where(LedgerEntry.kind == "resolution.merge")
        ).scalar_one()
        assert payload["merge"] == merged["id"] and payload["edges"] == 4
        assert "上海第一人民医院" not in str(payload) and TAX_RUIJIN not in str(payload)
        assert kindred.ledger.verify_log(session).intact
        # The survivor is now found under the duplicate's identifiers.
        by_tax = kindred.resolution.candidates(
            session, SYSTEM, "account", values={"name": "某医院", "tax_id": TAX_RUIJIN}
        )
        assert by_tax["data"][0]["record"]["id"] == ids["survivor"]


def test_undo_restores_every_record_and_edge_exactly(kindred: Any) -> None:
    ids = hospital_pair(kindred)
    records_before, edges_before = state(kindred)
    with kindred.database.write() as session:
        merged = kindred.resolution.merge(
            session, SYSTEM, "account", ids["survivor"], ids["duplicate"], overrides={"tier": "B"}
        )
    assert state(kindred) != (records_before, edges_before)
    with kindred.database.write() as session:
        undone = kindred.resolution.unmerge(session, SYSTEM, merged["id"])
    assert undone["state"] == "undone" and undone["restored_record"]["id"] == ids["duplicate"]
    records_after, edges_after = state(kindred)
    assert records_after == records_before  # data, owner, territory and creation time
    assert edges_after == edges_before
    with kindred.database.read() as session:
        row = session.get(IdentityMerge, merged["id"])
        assert row is not None and row.duplicate == {} and row.survivor_before == {}
        history = kindred.records.history(session, SYSTEM, "account", ids["duplicate"])
        assert [h["action"] for h in history][:3] == ["unmerge", "create", "merge"]
        kinds = list(session.execute(sa.select(LedgerEntry.kind)).scalars())
        assert "resolution.unmerge" in kinds
    with kindred.database.write() as session, pytest.raises(Conflict, match="already undone"):
        kindred.resolution.unmerge(session, SYSTEM, merged["id"])


def test_undo_is_refused_after_a_conflicting_edit_and_changes_nothing(kindred: Any) -> None:
    ids = hospital_pair(kindred)
    with kindred.database.write() as session:
        merged = kindred.resolution.merge(
            session, SYSTEM, "account", ids["survivor"], ids["duplicate"]
        )
        # Someone corrects the website the merge brought in, and moves the ticket.
        kindred.records.update(
            session,
            SYSTEM,
            "account",
            ids["survivor"],
            {"website": "https://sfph.example"},
            if_match=None,
        )
        other = kindred.records.create(session, SYSTEM, "account", {"name": "华山医院"})
        kindred.records.update(
            session, SYSTEM, "ticket", ids["ticket"], {"account": other["id"]}, if_match=None
        )
    before = state(kindred)
    log_before = change_log_count(kindred)
    with kindred.database.write() as session, pytest.raises(Conflict) as refused:
        kindred.resolution.unmerge(session, SYSTEM, merged["id"])
    conflicts = refused.value.extra["conflicts"]
    assert {(c["record"], c.get("field"), c["reason"]) for c in conflicts} == {
        (ids["survivor"], "website", "changed"),
        (ids["ticket"], "account", "changed"),
    }
    assert state(kindred) == before and change_log_count(kindred) == log_before
    with kindred.database.read() as session:
        assert kindred.resolution.get_merge(session, SYSTEM, merged["id"])["state"] == "merged"


def test_merges_are_refused_without_permission_or_with_bad_input(kindred: Any) -> None:
    ids = hospital_pair(kindred)
    rep = RequestContext(
        Principal(
            user_id="01900000-0000-7000-8000-0000000000aa",
            name="rep",
            roles=("sales",),
            role_permissions=(BUILTIN_ROLES["sales"][1],),
        )
    )
    reader = RequestContext(
        Principal(
            user_id="01900000-0000-7000-8000-0000000000bb",
            name="ops",
            roles=("ops",),
            # May update and delete accounts, but only read tickets: re-pointing needs more.
            role_permissions=(
                BUILTIN_ROLES["admin"][1].model_copy(
                    update={
                        "objects": {
                            **BUILTIN_ROLES["admin"][1].objects,
                            "ticket": BUILTIN_ROLES["analyst"][1].objects["*"],
                        }
                    }
                ),
            ),
        )
    )
    before = state(kindred)
    log_before = change_log_count(kindred)
    attempts: list[tuple[Any, str, str, type[Exception], dict[str, Any]]] = [
        (rep, ids["survivor"], ids["duplicate"], PermissionDenied, {}),
        (reader, ids["survivor"], ids["duplicate"], PermissionDenied, {}),
        (SYSTEM, ids["survivor"], ids["survivor"], ValidationFailed, {}),
        (SYSTEM, ids["survivor"], ids["contact"], ValidationFailed, {}),
        (SYSTEM, ids["survivor"], "01900000-0000-7000-8000-00000000ffff", NotFound, {}),
        (SYSTEM, ids["survivor"], ids["duplicate"], ValidationFailed, {"overrides": {"nope": 1}}),
        (
            SYSTEM,
            ids["survivor"],
            ids["duplicate"],
            ValidationFailed,
            {"overrides": {"parent_account": ids["duplicate"]}},
        ),
    ]
    for context, survivor, duplicate, error, extra in attempts:
        with kindred.database.write() as session, pytest.raises(error):
            kindred.resolution.merge(session, context, "account", survivor, duplicate, **extra)
    with kindred.database.write() as session, pytest.raises(ValidationFailed):
        kindred.resolution.merge(session, SYSTEM, "product", ids["product"], ids["product"])
    with kindred.database.write() as session, pytest.raises(NotFound):
        kindred.resolution.merge(session, SYSTEM, "spaceship", "a", "b")
    assert state(kindred) == before and change_log_count(kindred) == log_before
    with kindred.database.read() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(IdentityMerge)).scalar() == 0


# -- consent-guarded values --------------------------------------------------------------------

SECRET = {"full_name": "陈美玲", "email": "meiling.chen@example.com", "phone": "+86 139 1111 2222"}


def contact_pair(kindred: Any) -> dict[str, str]:
    account = create(kindred, "account", {"name": "上海瑞金医院"})
    survivor = create(
        kindred, "contact", {"last_name": "陈", "full_name": "陈美玲", "account": account}
    )
    duplicate = create(
        kindred,
        "contact",
        {"last_name": "Chen", **SECRET, "account": account, "title": "Head nurse"},
    )
    return {"account": account, "survivor": survivor, "duplicate": duplicate}


def my_tables_text(kindred: Any) -> str:
    with kindred.database.read() as session:
        rows = [
            *session.execute(sa.select(IdentityMerge.__table__)).all(),
            *session.execute(sa.select(IdentityKey.__table__)).all(),
        ]
    return "\n".join(str(tuple(row)) for row in rows)


def test_merge_snapshots_are_sealed_and_consent_checked(kindred: Any) -> None:
    ids = contact_pair(kindred)
    with kindred.database.read() as session:
        found = kindred.resolution.candidates(
            session, SYSTEM, "contact", record_id=ids["duplicate"]
        )
    assert found["data"][0]["record"]["id"] == ids["survivor"]
    with kindred.database.write() as session:
        merged = kindred.resolution.merge(
            session, SYSTEM, "contact", ids["survivor"], ids["duplicate"]
        )
    stored = my_tables_text(kindred)
    for value in (SECRET["email"], SECRET["phone"]):
        assert value not in stored  # sealed under the customer's data key, not stored plainly

    admin = RequestContext(
        Principal(
            user_id="01900000-0000-7000-8000-0000000000cc",
            name="admin",
            roles=("admin",),
            role_permissions=(BUILTIN_ROLES["admin"][1],),
        ),
        purpose="service",
    )
    with kindred.database.read() as session:
        shown = kindred.resolution.get_merge(session, admin, merged["id"])
    snapshot = shown["duplicate_record"]
    assert "email" not in snapshot and "phone" not in snapshot
    assert {w["field"] for w in snapshot["meta"]["withheld"]} >= {"email", "phone"}
    assert snapshot["title"] == "Head nurse"
    assert {"field": "email", "withheld": True} in shown["survivor_changes"]
    # The match kept with the merge was scored on what the merging caller could see.
    assert {f["feature"] for f in shown["features"]} == {"name", "account"}
    with kindred.database.write() as session:
        did = kindred.identities.of_subject(session, "contact", ids["duplicate"]).did
        kindred.consents.grant(
            session,
            did,
            dimensions=["contact.email"],
            purpose="service",
            grantee=Grantee("role", "admin"),
            valid_until=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        )
    with kindred.database.read() as session:
        consented = kindred.resolution.get_merge(session, admin, merged["id"])
    assert consented["duplicate_record"]["email"] == SECRET["email"]
    assert "phone" not in consented["duplicate_record"]
    # Undo opens the seal and restores the values exactly.
    with kindred.database.write() as session:
        kindred.resolution.unmerge(session, SYSTEM, merged["id"])
        restored = session.get(RecordRow, ids["duplicate"])
        assert restored is not None
        assert {k: restored.data[k] for k in SECRET} == SECRET


def test_erasure_removes_snapshots_keys_and_edges(kindred: Any) -> None:
    ids = contact_pair(kindred)
    with kindred.database.write() as session:
        kindred.resolution.merge(session, SYSTEM, "contact", ids["survivor"], ids["duplicate"])
    # An account merge that re-pointed the survivor contact: its id is in the edge list.
    other = create(kindred, "account", {"name": "瑞金医院", "city": "上海"})
    with kindred.database.write() as session:
        kindred.records.update(
            session, SYSTEM, "contact", ids["survivor"], {"account": other}, if_match=None
        )
        account_merge = kindred.resolution.merge(session, SYSTEM, "account", ids["account"], other)
    assert ids["survivor"] in {e["record"] for e in account_merge["edges"]}
    assert "陈美玲" in my_tables_text(kindred)

    with kindred.database.write() as session:
        duplicate_did = kindred.identities.of_subject(session, "contact", ids["duplicate"]).did
        survivor_did = kindred.identities.of_subject(session, "contact", ids["survivor"]).did
        removed = kindred.rights.erase(session, duplicate_did, requested_by="test")
        assert removed["identity_merges"] == 1
        removed = kindred.rights.erase(session, survivor_did, requested_by="test")
        assert removed["identity_keys"] > 0 and removed["identity_merge_edges"] == 1
    text = my_tables_text(kindred)
    for value in (*SECRET.values(), "Chen", ids["duplicate"], ids["survivor"]):
        assert value not in text
    with kindred.database.read() as session:
        remaining = session.execute(sa.select(IdentityMerge)).scalars().all()
        assert [m.id for m in remaining] == [account_merge["id"]]
        assert kindred.ledger.verify_log(session).intact
