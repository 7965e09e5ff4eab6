"""Every standard object, field and option has a Simplified Chinese label, and databases made
before a label shipped get it on the next bootstrap, without losing labels admins set."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from kindred.records.metadata import load_definitions
from kindred.records.models import MetadataChange, ObjectDefinitionRow
from kindred.records.standard import STANDARD_OBJECTS

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# Labels that may legitimately be Latin only (codes, proper nouns); none are needed today.
LATIN_ALLOWED: frozenset[str] = frozenset()


def standard_labels() -> Iterator[tuple[str, str | None]]:
    for obj in STANDARD_OBJECTS:
        yield obj.name, obj.label_zh
        for field in obj.fields:
            yield f"{obj.name}.{field.name}", field.label_zh
            for option in field.options:
                yield f"{obj.name}.{field.name}.{option.value}", option.label_zh


def test_every_standard_label_has_chinese() -> None:
    missing = [
        path
        for path, label in standard_labels()
        if not label or not (CJK.search(label) or label in LATIN_ALLOWED)
    ]
    assert missing == []


def test_english_labels_are_kept() -> None:
    account = next(o for o in STANDARD_OBJECTS if o.name == "account")
    labels = {f.name: f.label for f in account.fields}
    assert labels["tax_id"] == "Tax id"
    assert labels["annual_revenue"] == "Annual revenue"
    kind = next(f for f in account.fields if f.name == "kind")
    assert (kind.options[0].label, kind.options[0].label_zh) == ("Hospital", "医院")


def stored(session: Any, name: str) -> dict[str, Any]:
    row = session.get(ObjectDefinitionRow, name)
    return copy.deepcopy(row.definition)


def store(session: Any, name: str, definition: dict[str, Any]) -> None:
    session.execute(
        sa.update(ObjectDefinitionRow)
        .where(ObjectDefinitionRow.name == name)
        .values(definition=definition)
    )


def fields_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in definition["fields"]}


def test_upgrade_fills_missing_labels_and_keeps_admin_ones(kindred: Any) -> None:
    with kindred.database.write() as session:
        old = stored(session, "account")
        fields = fields_of(old)
        # An older release: no Chinese label on these; an admin renamed ``phone`` meanwhile.
        fields["tax_id"]["label_zh"] = None
        fields["email"]["label_zh"] = None
        hospital = next(o for o in fields["kind"]["options"] if o["value"] == "hospital")
        hospital["label_zh"] = None
        fields["phone"]["label_zh"] = "总机"
        # ... and it also lacked a field, so both upgrades run in one bootstrap.
        old["fields"] = [f for f in old["fields"] if f["name"] != "insurance_qualified"]
        store(session, "account", old)
        version_before = session.get(ObjectDefinitionRow, "account").version

    with kindred.database.write() as session:
        # Two upgrade changes: the missing field, then the missing labels.
        assert kindred.metadata.install_standard_objects(session) == 2

    with kindred.database.read() as session:
        account = next(d for d in load_definitions(session) if d.name == "account")
        labels = {f.name: f.label_zh for f in account.fields}
        assert labels["tax_id"] == "统一社会信用代码"
        assert labels["email"] == "邮箱"
        assert labels["insurance_qualified"] == "医保定点资质"
        assert labels["phone"] == "总机"  # the admin's label stays
        kind = next(f for f in account.fields if f.name == "kind")
        assert {o.value: o.label_zh for o in kind.options}["hospital"] == "医院"
        changes = (
            session.execute(
                sa.select(MetadataChange)
                .where(MetadataChange.object == "account")
                .where(MetadataChange.version > version_before)
                .order_by(MetadataChange.version)
            )
            .scalars()
            .all()
        )
        assert [(c.version, c.action) for c in changes] == [
            (version_before + 1, "upgrade"),
            (version_before + 2, "upgrade"),
        ]
        assert account.version == version_before + 2
        summary = changes[1].summary
        assert "tax_id" in summary and "email" in summary and "kind.hospital" in summary
        assert "phone" not in summary

    # Nothing left to fill: a second bootstrap changes nothing.
    with kindred.database.write() as session:
        assert kindred.metadata.install_standard_objects(session) == 0
