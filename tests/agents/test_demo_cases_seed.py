"""The demo's purchase-intent cases seed additively: a database seeded by an older release
(fewer cases) gains only the new cases on the next `kindred demo`, and seeding again changes
nothing."""

from __future__ import annotations

from typing import Any

import pytest

from kindred.agents import demo
from kindred.records.query import ListQuery


def _count(kindred: Any, object_name: str) -> int:
    with kindred.database.read() as session:
        page = kindred.records.list_records(
            session, demo.SYSTEM, object_name, ListQuery(limit=1000)
        )
    return len(page.data)


def test_an_older_demo_database_gains_only_the_new_cases(
    kindred: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    older, newest = demo.CASES[:-1], demo.CASES[-1]
    monkeypatch.setattr(demo, "CASES", older)
    with kindred.database.write() as session:
        first = demo.seed_case(session, kindred.records, today="2030-01-01")
    before = {name: _count(kindred, name) for name in ("product", "account", "purchase_intent")}
    assert set(first) == {case.key for case in older}

    monkeypatch.setattr(demo, "CASES", (*older, newest))
    with kindred.database.write() as session:
        second = demo.seed_case(session, kindred.records, today="2030-01-01")
    assert {key: second[key] for key in first} == first  # the old cases are reused
    assert newest.key in second and second[newest.key] not in first.values()
    after = {name: _count(kindred, name) for name in ("product", "account", "purchase_intent")}
    assert after["product"] == before["product"]  # products are found by SKU
    assert after["purchase_intent"] == before["purchase_intent"] + 1
    new_hospital = newest.credit_code not in {case.credit_code for case in older}
    assert after["account"] == before["account"] + (1 if new_hospital else 0)

    with kindred.database.write() as session:
        third = demo.seed_case(session, kindred.records, today="2030-01-01")
    assert third == second
    assert {n: _count(kindred, n) for n in ("product", "account", "purchase_intent")} == after
