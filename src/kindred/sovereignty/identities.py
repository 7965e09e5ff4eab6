"""Identities: every customer gets a ``did:key`` when their record is created — by any path:
the API, a bulk, an import, a scenario, the seed — in the same transaction, and the record's
``did`` field shows it; customers from before that get theirs at the next start (``backfill``).
The enterprise and each data domain sign as a ``did:web`` with keys kept here.

Custody: by default a customer's key is custodial — generated here, stored wrapped, used only
to sign what the customer asked for (after they authenticated). A customer with a wallet
registers their own public key instead (``custody="customer"``): then only their wallet can
sign their consents, and the private key never reaches us.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy.orm import Session

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.db.base import utcnow
from kindred.db.bulk import BulkInserter
from kindred.errors import Conflict, NotFound, ValidationFailed, field_error
from kindred.keywrap import KeyWrapper
from kindred.ledger.service import LedgerService
from kindred.records.metadata import CompiledObject
from kindred.records.models import RecordRow
from kindred.records.service import Draft, RecordService, RequestContext
from kindred.records.storage import field_expression
from kindred.sovereignty.identity import (
    DidError,
    did_key,
    did_key_document,
    did_key_public_key,
    did_web,
    did_web_document,
    domain_did,
)
from kindred.sovereignty.models import CustomerIdentity, DomainKey, subject_chunks

ENTERPRISE = "enterprise"
DID_FIELD = "did"  # the field of a customer object that shows the customer's DID
DID_IS_ISSUED = (
    "the DID is issued by Kindred when the customer record is created: it cannot be set or "
    "changed (leave it out, or send back the value the record has)"
)
BACKFILL_BATCH = 1000
RECORDS: sa.Table = RecordRow.__table__  # type: ignore[assignment]
IDENTITY_COLUMNS = (
    "did",
    "subject_object",
    "subject_id",
    "custody",
    "public_key",
    "private_key",
    "created_at",
)


def _raw_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


class IdentityService:
    def __init__(
        self,
        secret: str,
        ledger: LedgerService,
        *,
        public_host: str,
        data_domains: Sequence[str],
        customer_objects: Sequence[str],
    ) -> None:
        self._wrapper = KeyWrapper(secret, salt=b"kindred-sovereignty", info=b"identity key wrap")
        self.ledger = ledger
        self.public_host = public_host
        self.data_domains = tuple(data_domains)
        self.customer_objects = frozenset(customer_objects)
        self.enterprise_did = did_web(public_host)

    # -- customers ------------------------------------------------------------------------

    def register(
        self,
        session: Session,
        subject_object: str,
        subject_id: str,
        *,
        public_key: bytes | None = None,
    ) -> CustomerIdentity:
        """Give a customer a DID: custodial (a key generated here) unless ``public_key`` (the
        raw 32 bytes of the customer's own Ed25519 key) is given."""
        return self.register_many(session, [(subject_object, subject_id)], public_key=public_key)[0]

    def register_many(
        self,
        session: Session,
        subjects: Sequence[tuple[str, str]],
        *,
        public_key: bytes | None = None,
    ) -> list[CustomerIdentity]:
        existing = self._existing(session, subjects)
        if existing and public_key is not None:
            raise Conflict("this customer already has a DID")
        created: list[CustomerIdentity] = []
        result = []
        for subject_object, subject_id in subjects:
            found = existing.get((subject_object, subject_id))
            if found is not None:
                result.append(found)
                continue
            wrapped: bytes | None = None
            if public_key is not None:
                try:
                    public = Ed25519PublicKey.from_public_bytes(public_key)
                except ValueError:
                    raise ValidationFailed(
                        "the public key is not an Ed25519 key",
                        errors=[
                            field_error("public_key", "invalid", "32 raw bytes of an Ed25519 key")
                        ],
                    ) from None
                did, custody = did_key(public), "customer"
                public_raw = public.public_bytes_raw()
            else:
                did, public_raw, wrapped = self._custodial_key()
                custody = "custodial"
            identity = CustomerIdentity(
                did=did,
                subject_object=subject_object,
                subject_id=subject_id,
                custody=custody,
                public_key=public_raw,
                private_key=wrapped,
            )
            created.append(identity)
            result.append(identity)
        if created:
            session.add_all(created)
            session.flush()
        self._evidence(session, [(i.did, i.custody, i.subject_object) for i in created])
        return result

    def _evidence(self, session: Session, created: list[tuple[str, str, str]]) -> None:
        """Evidence: the payload (erasable) names the DID; the leaf only commits to it."""
        if created:
            self.ledger.append_many(
                session,
                [
                    (
                        "sovereignty.identity.registered",
                        {"did": did, "custody": custody, "subject": subject_object},
                        (),
                    )
                    for did, custody, subject_object in created
                ],
            )

    def _custodial_key(self) -> tuple[str, bytes, bytes]:
        """A new custodial key: (its DID, the raw public key, the private key wrapped for
        that DID)."""
        private = Ed25519PrivateKey.generate()
        public = private.public_key()
        did = did_key(public)
        return (
            did,
            public.public_bytes_raw(),
            self._wrapper.wrap(_raw_private(private), did.encode()),
        )

    def _issue(
        self, session: Session, object_name: str, record_ids: Sequence[str]
    ) -> dict[str, str]:
        """Custodial DIDs for customers without one (records being created, or a backfill),
        without ORM objects: one driver-level insert, where the unit of work cost ~80 µs per
        identity. Returns record id → DID."""
        now = utcnow()
        rows = []
        for record_id in record_ids:
            did, public_raw, wrapped = self._custodial_key()
            rows.append((did, object_name, record_id, "custodial", public_raw, wrapped, now))
        if rows:
            BulkInserter(session).insert(
                "customer_identities",
                IDENTITY_COLUMNS,
                rows,
                time_columns=frozenset({"created_at"}),
            )
            self._evidence(session, [(row[0], row[3], row[1]) for row in rows])
        return {row[2]: row[0] for row in rows}

    def _existing(
        self, session: Session, subjects: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], CustomerIdentity]:
        found: dict[tuple[str, str], CustomerIdentity] = {}
        for subject_object, ids in subject_chunks(subjects):
            rows = session.execute(
                sa.select(CustomerIdentity).where(
                    CustomerIdentity.subject_object == subject_object,
                    CustomerIdentity.subject_id.in_(ids),
                )
            ).scalars()
            for row in rows:
                found[(row.subject_object, row.subject_id)] = row
        return found

    def on_write(
        self, session: Session, compiled: CompiledObject, drafts: Sequence[Draft]
    ) -> list[tuple[int, str, str, str]]:
        """Records write hook: a customer record being created is a customer registered. Its
        DID is issued in the write's transaction, before the record is written, and shown in
        the record's ``did`` field (when its object has one). That field only ever holds the
        record's own DID: a client may send it back unchanged, never set or change it (a
        record re-created under its old id, as an undone merge is, keeps the DID it had)."""
        if compiled.name not in self.customer_objects:
            return []
        claimed = [d for d in drafts if not d.existing or DID_FIELD in d.changed]
        if not claimed:
            return []
        held = self._existing(session, [(compiled.name, d.record_id) for d in claimed])
        problems = []
        for draft in claimed:
            identity = held.get((compiled.name, draft.record_id))
            value = draft.data.get(DID_FIELD)
            if (draft.existing or value is not None) and (
                identity is None or value != identity.did
            ):
                problems.append((draft.position, DID_FIELD, "read_only", DID_IS_ISSUED))
        if problems:
            return problems
        created = [d for d in claimed if not d.existing]
        issued = self._issue(
            session,
            compiled.name,
            [d.record_id for d in created if (compiled.name, d.record_id) not in held],
        )
        if DID_FIELD in compiled.fields:
            for draft in created:
                identity = held.get((compiled.name, draft.record_id))
                draft.data[DID_FIELD] = identity.did if identity else issued[draft.record_id]
                draft.changed.add(DID_FIELD)
        return []

    def backfill(self, session: Session, records: RecordService) -> int:
        """Customers without a DID (records from before DIDs were issued at creation, or
        loaded around the record service) get one, and the ``did`` field of every customer
        record is made to show its DID (a versioned change, in the record's history). Runs at
        every start (``Kindred.bootstrap``) and finds nothing to do once done; returns how
        many DIDs it issued."""
        registry = records.registry(session)
        context = RequestContext(SYSTEM_PRINCIPAL, request_id="backfill:dids", channel="system")
        dialect = session.get_bind().dialect.name
        issued = 0
        for name in sorted(self.customer_objects):
            compiled = registry.objects.get(name)
            if compiled is None:
                continue
            missing = list(
                session.execute(
                    sa.select(RECORDS.c.id)
                    .where(
                        RECORDS.c.object == name,
                        ~sa.exists().where(
                            CustomerIdentity.subject_object == name,
                            CustomerIdentity.subject_id == RECORDS.c.id,
                        ),
                    )
                    .order_by(RECORDS.c.id)
                ).scalars()
            )
            for start in range(0, len(missing), BACKFILL_BATCH):
                issued += len(self._issue(session, name, missing[start : start + BACKFILL_BATCH]))
            definition = compiled.fields.get(DID_FIELD)
            if definition is None:
                continue
            shown = field_expression(dialect, DID_FIELD, definition.sql_kind)
            stale = session.execute(
                sa.select(RECORDS.c.id, CustomerIdentity.did)
                .join(
                    CustomerIdentity,
                    sa.and_(
                        CustomerIdentity.subject_object == name,
                        CustomerIdentity.subject_id == RECORDS.c.id,
                    ),
                )
                .where(
                    RECORDS.c.object == name,
                    sa.or_(shown.is_(None), shown != CustomerIdentity.did),
                )
                .order_by(RECORDS.c.id)
            ).all()
            for start in range(0, len(stale), BACKFILL_BATCH):
                batch = stale[start : start + BACKFILL_BATCH]
                records.write_issued(
                    session, context, name, {row.id: {DID_FIELD: row.did} for row in batch}
                )
        return issued

    def of_subject(
        self, session: Session, subject_object: str, subject_id: str
    ) -> CustomerIdentity:
        row = session.execute(
            sa.select(CustomerIdentity).where(
                CustomerIdentity.subject_object == subject_object,
                CustomerIdentity.subject_id == subject_id,
            )
        ).scalar()
        if row is None:
            raise NotFound(f"{subject_object} {subject_id} has no DID")
        return row

    def by_did(self, session: Session, did: str) -> CustomerIdentity:
        row = session.get(CustomerIdentity, did.split("#", 1)[0])
        if row is None:
            raise NotFound(f"no customer has the DID {did}")
        return row

    def custodial_key(self, session: Session, did: str) -> Ed25519PrivateKey:
        """The customer's key, for signing what they asked for; only for custodial DIDs."""
        identity = self.by_did(session, did)
        if identity.custody != "custodial" or identity.private_key is None:
            raise Conflict(f"{did} holds its own key: only the customer's wallet can sign")
        raw = self._wrapper.unwrap(bytes(identity.private_key), identity.did.encode())
        return Ed25519PrivateKey.from_private_bytes(raw)

    def hand_over(self, session: Session, did: str) -> Ed25519PrivateKey:
        """Give a custodial customer their key, for their own wallet, and forget our copy:
        the DID stays the same (it is the key), and from now on only they can sign."""
        key = self.custodial_key(session, did)
        identity = self.by_did(session, did)
        identity.private_key, identity.custody = None, "customer"
        session.flush()
        self.ledger.append(session, "sovereignty.key.handed_over", {"did": identity.did})
        return key

    # -- the enterprise and its data domains ------------------------------------------------

    def domain_did(self, domain: str) -> str:
        if domain not in self.data_domains:
            known = ", ".join(self.data_domains)
            raise NotFound(f"there is no data domain {domain!r} (known: {known})")
        return domain_did(self.public_host, domain)

    def _owner(self, domain: str | None) -> str:
        if domain is None:
            return ENTERPRISE
        self.domain_did(domain)
        return f"domain:{domain}"

    def signing_key(
        self, session: Session, domain: str | None = None
    ) -> tuple[str, Ed25519PrivateKey]:
        """(DID URL of the key, the key) the enterprise (or ``domain``) signs with now; the
        first call makes one."""
        owner = self._owner(domain)
        row = session.execute(
            sa.select(DomainKey).where(DomainKey.owner == owner, DomainKey.active)
        ).scalar()
        if row is None:
            row = self._new_key(session, owner)
        raw = self._wrapper.unwrap(bytes(row.private_key), row.key_id.encode())
        did = self.enterprise_did if domain is None else self.domain_did(domain)
        return f"{did}#{row.key_id}", Ed25519PrivateKey.from_private_bytes(raw)

    def rotate(self, session: Session, domain: str | None = None) -> str:
        """A new active key; the old ones stay in the document (old signatures verify)."""
        owner = self._owner(domain)
        session.execute(sa.update(DomainKey).where(DomainKey.owner == owner).values(active=False))
        return self._new_key(session, owner).key_id

    def _new_key(self, session: Session, owner: str) -> DomainKey:
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes_raw()
        key_id = "key-" + hashlib.sha256(public).hexdigest()[:16]
        row = DomainKey(
            key_id=key_id,
            owner=owner,
            public_key=public,
            private_key=self._wrapper.wrap(_raw_private(private), key_id.encode()),
            active=True,
        )
        session.add(row)
        session.flush()
        self.ledger.append(
            session, "sovereignty.key.created", {"owner": owner, "key_id": key_id}, [owner]
        )
        return row

    def web_document(self, session: Session, domain: str | None = None) -> dict[str, Any]:
        owner = self._owner(domain)
        rows = list(
            session.execute(
                sa.select(DomainKey).where(DomainKey.owner == owner).order_by(DomainKey.created_at)
            ).scalars()
        )
        if not rows:
            rows = [self._new_key(session, owner)]
        active = next((r.key_id for r in rows if r.active), rows[-1].key_id)
        did = self.enterprise_did if domain is None else self.domain_did(domain)
        keys = [(r.key_id, Ed25519PublicKey.from_public_bytes(bytes(r.public_key))) for r in rows]
        return did_web_document(did, keys, active=active)

    # -- resolution -------------------------------------------------------------------------

    def resolve(self, session: Session, did: str) -> dict[str, Any]:
        """The DID document of a did:key (any, derived from the identifier) or of one of our
        did:webs (the enterprise or a data domain)."""
        identifier = did.split("#", 1)[0]
        if identifier.startswith("did:key:"):
            try:
                return did_key_document(identifier)
            except DidError as error:
                raise ValidationFailed(
                    f"not a usable did:key: {error.message}",
                    errors=[field_error("did", "invalid", error.message)],
                ) from None
        if identifier == self.enterprise_did:
            return self.web_document(session)
        prefix = self.enterprise_did + ":domains:"
        if identifier.startswith(prefix):
            return self.web_document(session, identifier[len(prefix) :])
        raise NotFound(f"{did} is neither a did:key nor one of this deployment's did:web")

    @staticmethod
    def public_key(did: str) -> Ed25519PublicKey:
        return did_key_public_key(did)
