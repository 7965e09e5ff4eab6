"""The evidence log service: append inside the caller's transaction, signed checkpoints,
proofs, proof bundles for third parties, and a full integrity check.

Leaf format (canonical JSON, sorted keys, no spaces)::

    {"at": "<UTC time>", "c": "<hex SHA-256(salt || canonical payload)>", "i": <index>,
     "k": "<kind, e.g. metadata.add_field>", "s": [<pseudonymous subject ids>], "v": 1}

The leaf never contains personal data: the payload and its salt live in
``ledger_payloads``, which erasure may delete without breaking any proof. The index inside
the leaf makes a reordered, inserted or deleted row detectable at the exact position.

The columns stored beside the leaf (``kind``, ``created_at``) are copies of what the leaf
says, kept for queries; ``verify_log`` checks each against its leaf, so editing one is
detected like editing the leaf. Every signed checkpoint is also handed to a witness outside
the database (``witness.py``) once its transaction commits; ``verify_log`` checks the log
still extends the newest checkpoint any witness holds.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy.orm import Session

from kindred.db.bulk import BulkInserter
from kindred.db.engine import WRITE_OPTION
from kindred.errors import Conflict, NotFound, ValidationFailed, field_error
from kindred.keywrap import KeyWrapper
from kindred.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleTree,
    ProofError,
    leaf_hash,
    verify_consistency,
)
from kindred.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerKey, LedgerPayload
from kindred.ledger.note import (
    Checkpoint,
    NoteError,
    Verifier,
    key_id,
    open_note,
    sign_note,
    split_note,
    verifier_key,
)
from kindred.ledger.verifier import BUNDLE_FORMAT
from kindred.ledger.witness import DirectoryWitness, WitnessCopy, WitnessError

entries: sa.Table = LedgerEntry.__table__  # type: ignore[assignment]
payloads: sa.Table = LedgerPayload.__table__  # type: ignore[assignment]
APPEND_LOCK = 0x4B494E44  # pg_advisory_xact_lock key serializing appends ("KIND")
KEY_LOCK = 0x4B455953  # … and the creation of the first signing key ("KEYS")
WITNESS_PENDING = "kindred.ledger.witness_pending"  # session.info: checkpoints to hand over
logger = logging.getLogger("kindred.ledger")


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def commitment(salt: bytes, payload: Any) -> str:
    return hashlib.sha256(salt + canonical(payload)).hexdigest()


@dataclass
class IntegrityReport:
    entries: int
    checkpoints: int
    problems: list[str] = field(default_factory=list)
    # The size of the newest checkpoint a witness holds (None: no witness holds one yet).
    witnessed: int | None = None

    @property
    def intact(self) -> bool:
        return not self.problems


class LedgerService:
    def __init__(
        self,
        secret: str,
        origin: str = "kindred.local/ledger",
        witness: DirectoryWitness | None = None,
    ) -> None:
        self.origin = origin
        self.witness = witness
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
        """The log as this session sees it, as a Merkle tree (cached; only new leaves and the
        last known one are read)."""
        with self._lock:
            size = self._tree.size
            rows = session.execute(
                sa.select(entries.c.idx, entries.c.leaf_hash)
                .where(entries.c.idx >= max(size - 1, 0))
                .order_by(entries.c.idx)
            ).all()
            if size:
                # The last leaf we saw must still be there: the cache may hold leaves of a
                # transaction that rolled back, or the stored log changed. Signing a root
                # over either would put a false checkpoint in the witness.
                if not rows or rows[0][0] != size - 1 or self._tree.levels[0][-1] != rows[0][1]:
                    return self._rebuild(session)
                rows = rows[1:]
            for index, value in rows:
                if index != self._tree.size:
                    return self._rebuild(session)  # a gap: rebuild from scratch
                self._tree.append_hash(_stored_hash(index, value))
            return self._tree

    def _rebuild(self, session: Session) -> MerkleTree:
        rows = session.execute(
            sa.select(entries.c.idx, entries.c.leaf_hash).order_by(entries.c.idx)
        )
        tree = MerkleTree([_stored_hash(index, value) for index, value in rows])
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
            row = self._first_key(session)
        raw = self._wrapper().unwrap(bytes(row.private_key), row.key_id.encode())
        return row, Ed25519PrivateKey.from_private_bytes(raw)

    def _first_key(self, session: Session) -> LedgerKey:
        """The signing key of a log that has none yet, made once and stored: in the caller's
        write transaction, or — asked from a read, whose work is rolled back — in a write
        transaction of its own (a key made there would sign bundles nobody can verify)."""
        if not _writing(session):
            with _own_write(session) as own:
                return self._first_key(own)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.select(sa.func.pg_advisory_xact_lock(KEY_LOCK)))
        row = session.execute(sa.select(LedgerKey).where(LedgerKey.active)).scalar()
        if row is None:
            self.rotate_key(session)
            row = session.execute(sa.select(LedgerKey).where(LedgerKey.active)).scalar_one()
        return row

    def public_keys(self, session: Session) -> list[str]:
        rows = session.execute(sa.select(LedgerKey).order_by(LedgerKey.created_at)).scalars()
        return [verifier_key(r.name, bytes(r.public_key)) for r in rows]

    def active_public_key(self, session: Session) -> str:
        row, _ = self._active_key(session)
        return verifier_key(row.name, bytes(row.public_key))

    def checkpoint(self, session: Session) -> LedgerCheckpoint:
        """Sign the current tree head (C2SP checkpoint) and store it; the witness gets a copy
        once the transaction commits. Refused (409, nothing signed) when the log no longer
        extends the checkpoint the witness holds: signing would bless the damage. Asked from
        a read session it is signed and stored in a write transaction of its own."""
        if not _writing(session):
            with _own_write(session) as own:
                return self.checkpoint(own)
        tree = self.tree(session)
        self._require_witnessed_prefix(tree)
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
        self._witness_after_commit(
            session, stored.note, verifier_key(row.name, bytes(row.public_key)), tree
        )
        return stored

    def newest_checkpoint_note(self, session: Session) -> str:
        """The signed checkpoint of the largest tree stored or witnessed (one is signed when
        there is none yet): what an operator exports to keep outside the host."""
        stored = session.execute(
            sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)
        ).scalar() or self.checkpoint(session)
        try:
            held = self.witness.latest() if self.witness else None
            if held is not None and held.head().size > stored.size:
                return held.note
        except (WitnessError, NoteError):
            pass  # a damaged witness is for `verify` to report; the stored one still exports
        return stored.note

    # -- witnesses -----------------------------------------------------------------------

    def _require_witnessed_prefix(self, tree: MerkleTree) -> None:
        if self.witness is None:
            return
        try:
            held = self.witness.latest()
            head = held.head() if held is not None else None
        except (WitnessError, NoteError) as error:
            raise Conflict(
                f"refusing to sign a checkpoint: the witness is unusable: {error}"
            ) from None
        if held is None or head is None:
            return
        problem = (
            f"{held.source} holds a checkpoint of another log ({head.origin!r}): give this "
            "log its own KINDRED_LEDGER_WITNESS_DIR"
            if head.origin != self.origin
            else _extension_problem(tree, head, held.source)
        )
        if problem:
            raise Conflict(f"refusing to sign a checkpoint: {problem}; run `kindred ledger verify`")

    def _witness_after_commit(
        self, session: Session, note: str, key: str, tree: MerkleTree
    ) -> None:
        # After the commit, never before: a witness holding the root of a transaction that
        # rolled back would accuse an intact log of truncation forever.
        if self.witness is None:
            return
        pending = session.info.get(WITNESS_PENDING)
        if pending is None:
            pending = session.info[WITNESS_PENDING] = []
            sa.event.listen(session, "after_commit", self._hand_over, once=True)
            sa.event.listen(session, "after_rollback", _drop_pending, once=True)
        pending.append((note, key, tree))

    def _hand_over(self, session: Session) -> None:
        witness = self.witness
        for note, key, tree in session.info.pop(WITNESS_PENDING, []):
            if witness is None:
                return
            try:
                witness.update(note, Verifier.parse(key), tree.consistency_proof)
            except Exception as error:
                # Never raise here: the caller's transaction has committed. Only the copy is
                # missing, and deletions past the witnessed size would go unseen: loud.
                logger.error("the ledger witness did not take a checkpoint: %s", error)

    def latest_checkpoint(self, session: Session) -> LedgerCheckpoint | None:
        return session.execute(
            sa.select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1)
        ).scalar()

    # -- proofs --------------------------------------------------------------------------

    def bundle(self, session: Session, index: int) -> dict[str, Any]:
        """Everything a third party needs to verify entry ``index`` offline. When no stored
        checkpoint covers the entry yet one is signed and stored first — from a read session,
        the whole bundle is made in a write transaction of its own, so it never proves
        against a checkpoint (or a key) that is rolled back with the read."""
        checkpoint = self.latest_checkpoint(session)
        if checkpoint is None or checkpoint.size <= index:
            if not _writing(session):
                with _own_write(session) as own:
                    return self.bundle(own, index)
            checkpoint = self.checkpoint(session)
        entry = session.get(LedgerEntry, index)
        if entry is None:
            raise NotFound(f"no ledger entry {index}")
        tree = self.tree(session)
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

    def verify_log(
        self,
        session: Session,
        copies: Sequence[WitnessCopy] = (),
        keys: Sequence[str] = (),
    ) -> IntegrityReport:
        """Recompute every leaf and the whole tree from the stored bytes and check them
        against every signed checkpoint, the witness's and ``copies`` (operators' exports).
        ``keys``: verifier keys pinned out of band, trusted beside the database's own.

        Never raises on damage: every problem is one line naming the entry, checkpoint or
        witness it is at. Values are read raw (no column type processing), so a value of the
        wrong type or shape is reported like any other edit."""
        problems: list[str] = []
        tree, count = self._verify_entries(session, problems)
        verifiers = self._verifiers(session, keys, problems)
        checkpoints = self._verify_checkpoints(session, tree, verifiers, problems)
        held = list(copies)
        if self.witness is not None:
            try:
                latest = self.witness.latest()
            except WitnessError as error:
                problems.append(str(error))
            else:
                held[:0] = [latest] if latest is not None else []
        witnessed = [self._verify_copy(copy, tree, verifiers, problems) for copy in held]
        sizes = [size for size in witnessed if size is not None]
        return IntegrityReport(
            entries=count,
            checkpoints=checkpoints,
            problems=problems,
            witnessed=max(sizes) if sizes else None,
        )

    def _verify_entries(self, session: Session, problems: list[str]) -> tuple[MerkleTree, int]:
        stored_payloads = {
            _as_index(index): (_as_bytes(salt), payload)
            for index, salt, payload in _raw_rows(
                session, "ledger_payloads", ("idx", "salt", "payload"), json=("payload",)
            )
        }
        rows = _raw_rows(
            session, "ledger_entries", ("idx", "kind", "leaf", "leaf_hash", "created_at")
        )
        tree = MerkleTree()
        expected = 0
        for position, (raw_index, kind, leaf, stored_hash, created_at) in enumerate(rows):
            index = _as_index(raw_index)
            label = f"entry {index}" if index is not None else f"row {position}"
            if index is None:
                problems.append(f"row {position}: its index {_shown(raw_index)} is not a number")
            elif index > expected:
                count = index - expected
                problems.append(
                    f"{_span(expected, index - 1)} "
                    f"{'is' if count == 1 else 'are'} missing "
                    f"({count} row{'s' if count > 1 else ''} deleted)"
                )
            elif index < expected:
                problems.append(f"{label}: found where index {expected} was expected")
            expected = expected + 1 if index is None else max(expected, index + 1)
            data = _as_bytes(leaf) or b""
            try:
                problems.extend(
                    _entry_problems(
                        label,
                        index,
                        _as_text(kind),
                        data,
                        stored_hash,
                        created_at,
                        stored_payloads.get(index),
                    )
                )
            except Exception as error:  # report it; never stop at a surprise
                problems.append(f"{label}: could not be checked ({type(error).__name__})")
            tree.append(data)
        return tree, len(rows)

    def _verifiers(
        self, session: Session, pinned: Sequence[str], problems: list[str]
    ) -> list[Verifier]:
        found = [Verifier.parse(key) for key in pinned]
        for identifier, name, public in _raw_rows(
            session, "ledger_keys", ("key_id", "name", "public_key")
        ):
            try:
                verifier = Verifier.parse(verifier_key(_as_text(name), _as_bytes(public) or b""))
            except (NoteError, ValueError):
                problems.append(
                    f"signing key {_shown(identifier)}: its stored public key is damaged"
                )
                continue
            if verifier.key_id.hex() != _as_text(identifier):
                problems.append(
                    f"signing key {_shown(identifier)}: its id does not match its name and "
                    "public key (key row edited)"
                )
            found.append(verifier)
        return found

    def _verify_checkpoints(
        self, session: Session, tree: MerkleTree, verifiers: list[Verifier], problems: list[str]
    ) -> int:
        rows = _raw_rows(
            session, "ledger_checkpoints", ("id", "size", "root", "note", "key_id"), order="size"
        )
        for _, size, root, note, identifier in rows:
            label = f"checkpoint at size {_shown(size)}"
            try:
                head, verifier = _open_checkpoint(_as_text(note), verifiers)
            except NoteError as error:
                problems.append(f"{label}: {error}")
                continue
            label = f"checkpoint at size {head.size}"
            if _as_index(size) != head.size:
                problems.append(
                    f"{label}: the size column says {_shown(size)} (checkpoint row edited)"
                )
            if _as_bytes(root) != head.root:
                problems.append(
                    f"{label}: the root column differs from the signed root (checkpoint row edited)"
                )
            if _as_text(identifier) != verifier.key_id.hex():
                problems.append(
                    f"{label}: the key_id column says {_shown(identifier)}, it is "
                    f"signed by {verifier.key_id.hex()} (checkpoint row edited)"
                )
            if head.size > tree.size:
                problems.append(f"{label}: the log has only {tree.size} entries (entries deleted)")
            elif tree.root(head.size) != head.root:
                problems.append(
                    f"{label}: the recomputed root differs "
                    f"(an entry below index {head.size} was changed)"
                )
        return len(rows)

    def _verify_copy(
        self,
        copy: WitnessCopy,
        tree: MerkleTree,
        verifiers: list[Verifier],
        problems: list[str],
    ) -> int | None:
        """Check the log against one witnessed checkpoint; its size when it verifies."""
        try:
            head, _ = _open_checkpoint(copy.note, verifiers)
        except _NoSigner:
            try:
                size = str(copy.head().size)
            except NoteError:
                size = "?"
            problems.append(
                f"{copy.source}: its checkpoint at size {size} is signed by no key the "
                "database holds (signing keys deleted or replaced)"
            )
            return None
        except NoteError as error:
            problems.append(f"{copy.source}: {error}")
            return None
        if head.origin != self.origin:
            problems.append(f"{copy.source}: holds a checkpoint of another log ({head.origin!r})")
            return None
        problem = _extension_problem(tree, head, copy.source)
        if problem:
            problems.append(problem)
        return head.size


# -- helpers -------------------------------------------------------------------------------


def _drop_pending(session: Session) -> None:
    session.info.pop(WITNESS_PENDING, None)


def _writing(session: Session) -> bool:
    """Whether ``session`` is a write session (``Database.write``): a read session's work is
    rolled back when it ends."""
    return bool(session.get_bind().get_execution_options().get(WRITE_OPTION, False))


@contextmanager
def _own_write(session: Session) -> Iterator[Session]:
    """A write transaction of its own on the database of read session ``session``,
    committed when the block ends (as ``Database.write`` does)."""
    engine = session.get_bind().execution_options(**{WRITE_OPTION: True})
    with Session(engine, expire_on_commit=False) as own, own.begin():
        yield own


def _stored_hash(index: int, value: Any) -> bytes:
    data = bytes(value) if isinstance(value, bytes | bytearray | memoryview) else b""
    if len(data) != HASH_SIZE:
        raise Conflict(f"ledger entry {index} has a damaged leaf hash; run `kindred ledger verify`")
    return data


def _span(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first}–{last}"


def _extension_problem(tree: MerkleTree, head: Checkpoint, source: str) -> str | None:
    """Why the log does not extend the signed ``head`` (None when it does). RFC 9162
    consistency proof from the head's size to the log's, as a C2SP witness checks it."""
    if head.size > tree.size:
        return (
            f"log truncated: the log has {tree.size} entries, {source} holds a checkpoint "
            f"signed at size {head.size} ({_span(tree.size, head.size - 1)} deleted)"
        )
    try:
        if head.size == 0:
            if head.root != EMPTY_ROOT:
                raise ProofError("the empty tree has one root")
        else:
            proof = tree.consistency_proof(head.size, tree.size)
            verify_consistency(head.size, tree.size, proof, head.root, tree.root())
    except ProofError:
        return (
            f"{source}: the log's first {head.size} entries differ from its checkpoint signed "
            f"at size {head.size} (history rewritten)"
        )
    return None


class _NoSigner(NoteError):
    """No trusted key signed the note."""


def _open_checkpoint(note: str, verifiers: Sequence[Verifier]) -> tuple[Checkpoint, Verifier]:
    """The checkpoint in ``note`` and the trusted key that signed it."""
    _, signatures = split_note(note)
    signed_by = set()
    for line in signatures.splitlines():
        parts = line.split(" ")
        try:
            signed_by.add((parts[1], base64.b64decode(parts[2], validate=True)[:4]))
        except (IndexError, ValueError):
            continue  # open_note names a malformed line below
    candidates = [v for v in verifiers if (v.name, v.key_id) in signed_by]
    if not candidates:
        raise _NoSigner("the note carries no signature by a known key")
    return Checkpoint.parse(open_note(note, candidates[0])), candidates[0]


def _entry_problems(
    label: str,
    index: int | None,
    kind: str,
    leaf: bytes,
    stored_hash: Any,
    created_at: Any,
    payload: tuple[bytes | None, Any] | None,
) -> list[str]:
    found: list[str] = []
    if _as_bytes(stored_hash) != leaf_hash(leaf):
        found.append(
            f"{label}: the stored leaf hash does not match the leaf (leaf or leaf_hash edited)"
        )
    try:
        parsed = orjson.loads(leaf)
    except orjson.JSONDecodeError:
        return [*found, f"{label}: the leaf is not valid JSON (leaf edited)"]
    if not isinstance(parsed, dict):
        return [*found, f"{label}: the leaf is not a JSON object (leaf edited)"]
    if parsed.get("v") != 1:
        found.append(f"{label}: the leaf's format version is {parsed.get('v')!r}, not 1")
    if index is not None and parsed.get("i") != index:
        found.append(f"{label}: leaf says index {parsed.get('i')} (rows reordered or renumbered)")
    if parsed.get("k") != kind:
        found.append(
            f"{label}: the kind column says {kind!r}, the leaf says {parsed.get('k')!r} "
            "(kind edited)"
        )
    found.extend(_time_problems(label, created_at, parsed.get("at")))
    if payload is not None:
        found.extend(_payload_problems(label, parsed.get("c"), *payload))
    return found


def _time_problems(label: str, created_at: Any, at: Any) -> list[str]:
    stored = _stored_time(created_at)
    leaf_time = _stored_time(at) if isinstance(at, str) else None
    if stored is None:
        return [
            f"{label}: the created_at column holds {_shown(created_at)}, not a timestamp "
            "(created_at edited)"
        ]
    if leaf_time is None:
        return [f"{label}: the leaf's time {at!r} is not a timestamp (leaf edited)"]
    if stored != leaf_time:
        return [
            f"{label}: the created_at column says {_iso(stored)}, the leaf says "
            f"{_iso(leaf_time)} (created_at edited)"
        ]
    return []


def _payload_problems(label: str, committed: Any, salt: bytes | None, raw: Any) -> list[str]:
    try:
        payload = orjson.loads(_as_bytes(raw) or b"")
    except orjson.JSONDecodeError:
        return [f"{label}: the stored payload is not valid JSON (payload edited)"]
    try:
        matches = salt is not None and committed == commitment(salt, payload)
    except TypeError:  # orjson cannot write it back (an integer beyond 64 bits): not ours
        matches = False
    return [] if matches else [f"{label}: payload does not match its commitment (payload edited)"]


# -- raw stored values -----------------------------------------------------------------------

_INTEGER = re.compile(rb"-?[0-9]+")


def _raw_rows(
    session: Session,
    table: str,
    columns: Sequence[str],
    *,
    json: Sequence[str] = (),
    order: str | None = None,
) -> list[tuple[Any, ...]]:
    """Rows exactly as stored, with no column type processing: a value of the wrong type or
    shape must become a reported problem, not an exception in a result processor. SQLite
    keeps whatever type it is given, so there every value comes back as its bytes (CAST AS
    BLOB never decodes, so text that is not UTF-8 cannot fail either); PostgreSQL enforces
    the column types, and jsonb comes back as its text."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    selected = ", ".join(
        f"CAST({c} AS BLOB)" if sqlite else f"{c}::text" if c in json else c for c in columns
    )
    sql = f"SELECT {selected} FROM {table} ORDER BY {order or columns[0]}"
    return [tuple(row) for row in session.execute(sa.text(sql))]


def _as_bytes(value: Any) -> bytes | None:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return None


def _as_text(value: Any) -> str:
    raw = _as_bytes(value)
    return raw.decode("utf-8", "replace") if raw is not None else str(value)


def _as_index(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raw = _as_bytes(value)
    return int(raw) if raw is not None and _INTEGER.fullmatch(raw) else None


def _shown(value: Any) -> str:
    """A stored value in a report line: short, printable."""
    text = _as_text(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _stored_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(_as_text(value).strip())
        except ValueError:
            return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
