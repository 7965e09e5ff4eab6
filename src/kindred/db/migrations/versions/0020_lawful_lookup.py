"""hashed contact values for the staff lookup; identity keys rebuilt for cross-script names

``lookup_hashes``: keyed digests of customers' email addresses and phone numbers, by which
staff find a caller (``kindred.sovereignty.lookup``). Filled for existing records by the
start-up re-index (``StaffLookup.reindex``), as identity keys are.

``identity_keys`` are emptied: the cross-script name forms changed (a Chinese name's words
as pinyin, syllables joined), and the start-up re-index (``ResolutionService.reindex``)
rebuilds the keys of every record that has none. Derived data only: nothing is lost.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lookup_hashes",
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint(
            "object", "field", "digest", "record_id", name=op.f("pk_lookup_hashes")
        ),
    )
    with op.batch_alter_table("lookup_hashes", schema=None) as batch_op:
        batch_op.create_index("ix_lookup_hashes_record", ["record_id"], unique=False)
    op.execute("DELETE FROM identity_keys")


def downgrade() -> None:
    # Keys of the newer name forms: rebuilt by the older re-index as it reads names.
    op.execute("DELETE FROM identity_keys")
    with op.batch_alter_table("lookup_hashes", schema=None) as batch_op:
        batch_op.drop_index("ix_lookup_hashes_record")
    op.drop_table("lookup_hashes")
