"""The evidence log service: append inside the caller's transaction, signed checkpoints,
proofs, proof bundles for third parties, and a full integrity check.

Leaf format (canonical JSON, sorted keys, no spaces)::

    {"at": "<UTC time>", "c": "<hex SHA-256(salt || canonical payload)>", "i": <index>,
     "k": "<kind, e.g. metadata.add_field>", "s": [<pseudonymous subject ids>], "v": 1}

The leaf never contains personal data: the payload and its salt live in
``ledger_payloads``, which erasure may delete without breaking any proof. The index inside
the leaf makes a reordered, inserted or deleted row detectable at the exact position.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy.orm import Session

from kindred.db.bulk import BulkInserter
from kindred.errors import NotFound, ValidationFailed, field_error
from kindred.keywrap import KeyWrapper
from kindred.ledger.merkle import MerkleTree, leaf_hash
from kindred.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerKey, LedgerPayload
from kindred.ledger.note import Checkpoint, Verifier, key_id, sign_note, verifier_key
from kindred.ledger.verifier import BUNDLE_FORMAT

entries: sa.Table = LedgerEntry.__table__  # type: ignore[assignment]
payloads: sa.Table = LedgerPayload.__table__  # type: ignore[assignment]
APPEND_LOCK = 0x4B494E44  # pg_advisory_xact_lock key serializing appends ("KIND")


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def commitment(salt: bytes, payload: Any) -> str:
    return hashlib.sha256(salt + canonical(payload)).hexdigest()


@dataclass
class IntegrityReport:
    entries: int
    checkpoints: int
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


class LedgerService:
    def __init__(self, secret: str, origin: str = "kindred.local/ledger") -> None:
        self.origin = origin
        self._secret = secret
        self._tree = MerkleTree()
        self._lock = threading.Lock()

    # -- appending -----------------------------------------------------------------------

    def append(
        self, session: Session, kind: str, payload: Any, subjects: Sequence[str] = ()
    ) -> int:
        """Append one entry inside the caller's transaction; returns its index."""
        return self.append_many(session, [(kind, payload, subjects)])[0]

    def append_many(
        self, session: Session, items: Sequence[tuple[str, Any, Sequence[str]]]
    ) -> list[int]:
        if not items:
            return []
        if session.get_bind().dialect.name == "postgresql":
            # Gap-free, unique indexes under concurrent writers (SQLite writers are already
            # serialized by BEGIN IMMEDIATE).
            session.execute(sa.select(sa.func.pg_advisory_xact_lock(APPEND_LOCK)))
        start = session.execute(sa.select(sa.func.coalesce(sa.func.max(entries.c.idx) + 1, 0)))
        next_index = int(start.scalar_one())
        now = dt.datetime.now(dt.UTC)
        stamp = now.isoformat().replace("+00:00", "Z")
        entry_rows, payload_rows, indexes = [], [], []
        for offset, (kind, payload, subjects) in enumerate(items):
            index = next_index + offset
            salt = os.urandom(16)
            leaf = canonical(
                {
                    "v": 1,
                    "i": index,
                    "k": kind,
                    "s": list(subjects),
                    "c": commitment(salt, payload),
                    "at": stamp,
                }
            )
            entry_rows.append((index, kind, leaf, leaf_hash(leaf), now))
            payload_rows.append((index, salt, payload))
            indexes.append(index)
        bulk = BulkInserter(session)
        bulk.insert(
            "ledger_entries",
            ("idx", "kind", "leaf", "leaf_hash", "created_at"),
            entry_rows,
            time_columns=frozenset({"created_at"}),
        )
        bulk.insert(
            "ledger_payloads",
            ("idx", "salt", "payload"),
            payload_rows,
            json_columns=frozenset({"payload"}),
        )
        return indexes

    # -- the tree ------------------------------------------------------------------------

    def tree(self, session: Session) -> MerkleTree:
        """The committed log as a Merkle tree (cached; only new leaves are read)."""
        with self._lock:
            size = self._tree.size
            rows = session.execute(
                sa.select(entries.c.idx, entries.c.leaf_hash)
                .where(entries.c.idx >= size)
                .order_by(entries.c.idx)
            ).all()
            for index, value in rows:
                if index != self._tree.size:
                    # The stored log no longer extends what we saw: rebuild from scratch.
                    self._tree = MerkleTree()
                    return self._rebuild(session)
                self._tree.append_hash(bytes(value))
            return self._tree

    def _rebuild(self, session: Session) -> MerkleTree:
        tree = MerkleTree(
            [
                bytes(v)
                for v in session.execute(
                    sa.select(entries.c.leaf_hash).order_by(entries.c.idx)
                ).scalars()
            ]
        )
        self._tree = tree
        return tree

    # -- keys and checkpoints ------------------------------------------------------------

    def _wrapper(self) -> KeyWrapper:
        # Salt and info unchanged since keys were first stored: existing keys still unwrap.
        return KeyWrapper(
            self._secret, salt=b"kindred-ledger-keys", info=b"ledger signing key wrap"
        )

    def rotate_key(self, session: Session) -> str:
        """Make a new signing key active; old checkpoints stay verifiable with old keys."""
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes_raw()
        identifier = key_id(self.origin, public).hex()
        raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        session.execute(sa.update(LedgerKey).values(active=False))
        session.add(
            LedgerKey(
                key_id=identifier,
                name=self.origin,
                public_key=public,
                private_key=self._wrapper().wrap(raw, identifier.encode()),
                active=True,
            )
        )
        session.flush()
        return verifier_key(self.origin, public)

    def _active_key(self, session: Session) -> tuple[LedgerKey, Ed25519PrivateKey]:
        row = session.execute(sa.select(LedgerKey).where(LedgerKey.active)).scalar()
        if row is None:
            self.rotate_key(session)
            row = session.execute(sa.select(LedgerKey).where(LedgerKey.active)).scalar_one()
        raw = self._wrapper().unwrap(bytes(row.private_key), row.key_id.encode())
        return row, Ed25519PrivateKey.from_private_bytes(raw)

    def public_keys(self, session: Session) -> list[str]:
        rows = session.execute(sa.select(LedgerKey).order_by(LedgerKey.created_at)).scalars()
        return [verifier_key(r.name, bytes(r.public_key)) for r in rows]

    def active_public_key(self, session: Session) -> str:
        row, _ = self._active_key(session)
        return verifier_key(row.name, bytes(row.public_key))

    def checkpoint(self, session: Session) -> LedgerCheckpoint:
        """Sign the current tree head (C2SP checkpoint) and store it."""
        tree = self.tree(session)
        row, private = self._active_key(session)
        body = Checkpoint(self.origin, tree.size, tree.root()).text()
        stored = LedgerCheckpoint(
            size=tree.size,
            root=tree.root(),
            key_id=row.key_id,
            note=sign_note(body, row.name, private),
        )
        session.add(stored)
        session.flush()
        return stored

    def latest_checkpoint(self, session: Session) -> LedgerCheckpoint | None:
        return session.execute(
            sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1)
        ).scalar()

    # -- proofs --------------------------------------------------------------------------

    def bundle(self, session: Session, index: int) -> dict[str, Any]:
        """Everything a third party needs to verify entry ``index`` offline."""
        checkpoint = self.latest_checkpoint(session)
        if checkpoint is None or checkpoint.size <= index:
            checkpoint = self.checkpoint(session)
        entry = session.get(LedgerEntry, index)
        if entry is None:
            raise NotFound(f"no ledger entry {index}")
        tree = self.tree(session)
        import base64

        return {
            "format": BUNDLE_FORMAT,
            "index": index,
            "tree_size": checkpoint.size,
            "leaf": base64.b64encode(bytes(entry.leaf)).decode(),
            "inclusion_proof": [
                base64.b64encode(p).decode() for p in tree.inclusion_proof(index, checkpoint.size)
            ],
            "checkpoint": checkpoint.note,
        }

    def consistency(self, session: Session, size1: int, size2: int) -> list[bytes]:
        tree = self.tree(session)
        if not 0 < size1 <= size2 <= tree.size:
            raise ValidationFailed(
                "invalid sizes",
                errors=[field_error("/size1", "range", f"need 0 < size1 <= size2 <= {tree.size}")],
            )
        return tree.consistency_proof(size1, size2)

    # -- integrity -----------------------------------------------------------------------

    def verify_log(self, session: Session) -> IntegrityReport:
        """Recompute every leaf and the whole tree from the stored rows and check them
        against every signed checkpoint. Reports each problem with the row it is at."""
        rows = session.execute(
            sa.select(entries.c.idx, entries.c.leaf, entries.c.leaf_hash).order_by(entries.c.idx)
        ).all()
        salts = {
            index: (bytes(salt), payload)
            for index, salt, payload in session.execute(
                sa.select(payloads.c.idx, payloads.c.salt, payloads.c.payload)
            )
        }
        problems: list[str] = []
        tree = MerkleTree()
        for position, (index, leaf, stored_hash) in enumerate(rows):
            leaf = bytes(leaf)
            if index != position:
                problems.append(
                    f"row {position}: index {index} where {position} was expected "
                    f"({'a row is missing' if index > position else 'a row was inserted'})"
                )
            try:
                parsed = orjson.loads(leaf)
            except orjson.JSONDecodeError:
                problems.append(f"entry {index}: leaf is not valid JSON (edited)")
                parsed = {}
            if parsed.get("i") not in (None, index):
                problems.append(
                    f"entry {index}: leaf says index {parsed.get('i')} "
                    "(rows reordered or renumbered)"
                )
            if leaf_hash(leaf) != bytes(stored_hash):
                problems.append(f"entry {index}: leaf hash does not match the leaf (edited)")
            if index in salts:
                salt, payload = salts[index]
                if parsed.get("c") != commitment(salt, payload):
                    problems.append(
                        f"entry {index}: payload does not match its commitment (payload edited)"
                    )
            tree.append(leaf)
        checkpoints = list(
            session.execute(sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.size)).scalars()
        )
        keys = {r.key_id: r for r in session.execute(sa.select(LedgerKey)).scalars()}
        for checkpoint in checkpoints:
            key = keys.get(checkpoint.key_id)
            if key is None:
                problems.append(f"checkpoint at size {checkpoint.size}: unknown key")
                continue
            from kindred.ledger.note import NoteError, open_note

            try:
                body = Checkpoint.parse(
                    open_note(
                        checkpoint.note,
                        Verifier.parse(verifier_key(key.name, bytes(key.public_key))),
                    )
                )
            except NoteError as error:
                problems.append(f"checkpoint at size {checkpoint.size}: {error}")
                continue
            if body.size > tree.size:
                problems.append(
                    f"checkpoint at size {body.size}: the log has only "
                    f"{tree.size} entries (entries deleted from the end)"
                )
            elif tree.root(body.size) != body.root:
                problems.append(
                    f"checkpoint at size {body.size}: the recomputed root differs "
                    f"(an entry below index {body.size} was changed)"
                )
        return IntegrityReport(entries=len(rows), checkpoints=len(checkpoints), problems=problems)
