"""The demo data generator: deterministic, valid by the record service's own rules, edges
consistent with relation values, and refusing to seed a non-empty database."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.errors import Conflict
from kindred.records.fields import FieldType
from kindred.records.seed import seed_demo_data
from kindred.records.service import RequestContext


def dump(kindred: Any) -> tuple[list[Any], list[Any]]:
    with kindred.database.read() as session:
        rows = session.execute(
            sa.text("SELECT id, object, data, owner_id, territory_id FROM records ORDER BY id")
        ).all()
        edges = session.execute(
            sa.text(
                "SELECT relation, source_id, target_id FROM record_links "
                "ORDER BY relation, source_id, target_id"
            )
        ).all()

    def parsed(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    return [(r[0], r[1], parsed(r[2]), r[3], r[4]) for r in rows], [tuple(e) for e in edges]


def test_seed_is_deterministic_valid_and_consistent(
    kindred: Any, make_database_url: Any, dialect: str
) -> None:
    counts = seed_demo_data(kindred.database, customers=40, seed=3)
    assert counts["account"] == 40
    rows, edges = dump(kindred)
    by_object: dict[str, int] = defaultdict(int)
    for row in rows:
        by_object[row[1]] += 1
    assert {k: v for k, v in counts.items() if v} == dict(by_object)

    # Same seed → identical rows and ids; another seed differs.
    from kindred.services import Kindred
    from tests.conftest import make_test_settings

    for seed, same in ((3, True), (4, False)):
        other = Kindred.create(settings=make_test_settings(make_database_url(dialect)))
        try:
            other.bootstrap()
            seed_demo_data(other.database, customers=40, seed=seed)
            assert (dump(other) == (rows, edges)) is same
        finally:
            other.close()

    # Every generated record passes the record service's full validation (types, required
    # fields, enums, relation targets, CEL rules, uniqueness): load the same data through
    # the service into a fresh database and compare.
    from kindred.records.seed import ORDER, generate

    generated = generate(40, 3)
    replica = Kindred.create(settings=make_test_settings(make_database_url(dialect)))
    try:
        replica.bootstrap()
        context = RequestContext(SYSTEM_PRINCIPAL)
        with replica.database.write() as session:
            for object_name in ORDER:
                items = [{"id": row[0], **row[2]} for row in generated.rows.get(object_name, [])]
                kindred_written = replica.records.bulk(
                    session, context, object_name, "create", items, present_results=False
                )
                assert len(kindred_written) == len(items)
        replica_rows, replica_edges = dump(replica)
    finally:
        replica.close()
    # Created through the service, every contact and lead also got its DID (random keys).
    assert all(r[2].get("did") for r in replica_rows if r[1] in ("contact", "lead"))
    no_did = [(r[0], r[1], {k: v for k, v in r[2].items() if k != "did"}) for r in replica_rows]
    assert no_did == [r[:3] for r in rows]
    assert replica_edges == edges
    ids = {row[0]: row[1] for row in rows}
    with kindred.database.read() as session:
        registry = kindred.records.registry(session)
        for _, object_name, data, owner, territory in rows:
            assert owner == data.get("owner") and territory == data.get("territory")
            for field in registry.get(object_name).definition.fields:
                if field.type is not FieldType.RELATION or data.get(field.name) is None:
                    continue
                values = data[field.name]
                for target in values if isinstance(values, list) else [values]:
                    assert ids[target] == field.target

    # The territory tree has no cycles.
    parents = {r[0]: r[2].get("parent") for r in rows if r[1] == "territory"}
    for start in parents:
        seen, current = set(), start
        while current:
            assert current not in seen
            seen.add(current)
            current = parents[current]


def test_seeding_a_database_with_accounts_is_refused(kindred: Any) -> None:
    seed_demo_data(kindred.database, customers=5, seed=1)
    before = dump(kindred)
    with pytest.raises(Conflict, match="already holds 5 accounts"):
        seed_demo_data(kindred.database, customers=5, seed=2)
    assert dump(kindred) == before
