"""access decision log layout: one row per read batch, and a subject-side index

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:30:00

``access_decisions`` held one row per record read (``subject_did``, ``decisions``); it now
holds one row per read batch (``outcomes``, ``reads``, ``subject_keys``, ``read_count``),
and ``access_decision_subjects`` finds a customer's rows (see
``kindred.sovereignty.decision_log``). Existing rows become batches of one read each, and
are indexed in buckets of consecutive rows; the downgrade splits batches back into reads.
"""

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
CHUNK = 2000
MIGRATED_BUCKET_ROWS = 10_000  # old rows (one read each) per index bucket

decisions_table = sa.table(
    "access_decisions",
    sa.column("id", sa.Integer),
    sa.column("at", sa.Float),
    sa.column("subject_did", sa.String),
    sa.column("object", sa.String),
    sa.column("purpose", sa.String),
    sa.column("accessor", sa.String),
    sa.column("channel", sa.String),
    sa.column("request_id", sa.String),
    sa.column("decisions", JSON),
    sa.column("outcomes", JSON),
    sa.column("reads", JSON),
    sa.column("subject_keys", JSON),
    sa.column("read_count", sa.Integer),
    sa.column("allowed_count", sa.Integer),
    sa.column("withheld_count", sa.Integer),
    sa.column("batch", sa.String),
)
subjects_table = sa.table(
    "access_decision_subjects",
    sa.column("bucket", sa.BigInteger),
    sa.column("subject_key", sa.BigInteger),
    sa.column("decision_id", sa.Integer),
)


def subject_key(did: str) -> int:
    """As ``kindred.sovereignty.decision_log.subject_key`` (a stored format: never changes)."""
    digest = hashlib.blake2b(did.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _chunks(connection: sa.Connection, *columns: Any) -> Iterator[list[Any]]:
    """The table's rows as they are now, in id order, a chunk at a time (keyset: rows the
    caller updates or adds meanwhile are not visited)."""
    table = decisions_table
    last, until = 0, connection.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, *columns)
            .where(table.c.id > last, table.c.id <= until)
            .order_by(table.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        yield list(rows)
        last = rows[-1][0]


def upgrade() -> None:
    op.create_table(
        "access_decision_subjects",
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("subject_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("decision_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint(
            "bucket", "subject_key", "decision_id", name=op.f("pk_access_decision_subjects")
        ),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("access_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_access_decisions_subject")
        batch_op.add_column(sa.Column("outcomes", JSON, nullable=True))
        batch_op.add_column(sa.Column("reads", JSON, nullable=True))
        batch_op.add_column(sa.Column("subject_keys", JSON, nullable=True))
        batch_op.add_column(sa.Column("read_count", sa.Integer(), nullable=True))

    connection = op.get_bind()
    table = decisions_table
    update = (
        table.update()
        .where(table.c.id == sa.bindparam("row"))
        .values(
            outcomes=sa.bindparam("outcomes"),
            reads=sa.bindparam("reads"),
            subject_keys=sa.bindparam("subject_keys"),
            read_count=1,
        )
    )
    for rows in _chunks(connection, table.c.subject_did, table.c.decisions):
        changes: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        for identifier, did, decisions in rows:
            decisions = _json(decisions)
            allowed = {consent for _, granted, _, consent in decisions if granted and consent}
            consent: Any = None
            if len(allowed) == 1:
                consent = allowed.pop()
            elif allowed:
                consent = [consent if granted else None for _, granted, _, consent in decisions]
            keys = [subject_key(did)] if did is not None else []
            changes.append(
                {
                    "row": identifier,
                    "outcomes": [
                        [[field, granted, reason] for field, granted, reason, _ in decisions]
                    ],
                    "reads": [[did, 0, consent]],
                    "subject_keys": keys,
                }
            )
            entries.extend(
                {
                    "bucket": identifier // MIGRATED_BUCKET_ROWS,
                    "subject_key": key,
                    "decision_id": identifier,
                }
                for key in keys
            )
        connection.execute(update, changes)
        if entries:
            connection.execute(subjects_table.insert(), entries)

    with op.batch_alter_table("access_decisions", schema=None) as batch_op:
        for name in ("outcomes", "reads", "subject_keys"):
            batch_op.alter_column(name, existing_type=JSON, nullable=False)
        batch_op.alter_column("read_count", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("decisions")
        batch_op.drop_column("subject_did")


def downgrade() -> None:
    with op.batch_alter_table("access_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_did", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("decisions", JSON, nullable=True))
        for name in ("outcomes", "reads", "subject_keys"):
            batch_op.alter_column(name, existing_type=JSON, nullable=True)
        batch_op.alter_column("read_count", existing_type=sa.Integer(), nullable=True)

    connection = op.get_bind()
    table = decisions_table
    update = (
        table.update()
        .where(table.c.id == sa.bindparam("row"))
        .values(
            subject_did=sa.bindparam("subject"),
            decisions=sa.bindparam("per_field"),
            allowed_count=sa.bindparam("allowed"),
            withheld_count=sa.bindparam("withheld"),
        )
    )
    context = ("at", "object", "purpose", "accessor", "channel", "request_id", "batch")
    for rows in _chunks(
        connection, table.c.outcomes, table.c.reads, *(table.c[name] for name in context)
    ):
        changes: list[dict[str, Any]] = []
        added: list[dict[str, Any]] = []
        for identifier, outcomes, reads, *values in rows:
            outcomes, reads = _json(outcomes), _json(reads)
            per_read = []
            for did, index, consent in reads:
                decisions = [
                    [
                        field,
                        granted,
                        reason,
                        (
                            consent
                            if isinstance(consent, str)
                            else consent[position]
                            if consent
                            else None
                        )
                        if granted
                        else None,
                    ]
                    for position, (field, granted, reason) in enumerate(outcomes[index])
                ]
                allowed = sum(1 for decision in decisions if decision[1])
                per_read.append(
                    {
                        "subject": did,
                        "per_field": decisions,
                        "allowed": allowed,
                        "withheld": len(decisions) - allowed,
                    }
                )
            if not per_read:
                continue
            changes.append({"row": identifier, **per_read[0]})
            added.extend(
                {
                    **dict(zip(context, values, strict=True)),
                    "subject_did": read["subject"],
                    "decisions": read["per_field"],
                    "allowed_count": read["allowed"],
                    "withheld_count": read["withheld"],
                }
                for read in per_read[1:]
            )
        if changes:
            connection.execute(update, changes)
        if added:
            connection.execute(table.insert(), added)

    with op.batch_alter_table("access_decisions", schema=None) as batch_op:
        batch_op.alter_column("decisions", existing_type=JSON, nullable=False)
        batch_op.drop_column("read_count")
        batch_op.drop_column("subject_keys")
        batch_op.drop_column("reads")
        batch_op.drop_column("outcomes")
        batch_op.create_index("ix_access_decisions_subject", ["subject_did", "at"], unique=False)
    op.drop_table("access_decision_subjects")
