"""Consents: a customer grants data dimensions for a purpose to a grantee for a time, as a
credential signed with *their* key; revokes it (a bit in a status list, at once); sales reps
ask for consents the customer approves or declines. Every grant, revoke, request and
decision goes on the ledger.

Dimensions are ``<object>.<field>`` for every customer-authorized field of a customer object
(``contact.email``); purposes come from the frozen registry (``purposes.py``). Custodial
customers' consents are signed here with their custodial key, after they signed in to their
passport; customers with a wallet sign a prepared credential themselves and submit it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, field_error
from kindred.ledger.service import LedgerService
from kindred.records.metadata import bump_generation
from kindred.records.service import RecordService, RequestContext
from kindred.sovereignty.credentials import (
    ConsentGrant,
    CredentialError,
    Grantee,
    StatusReference,
    issue_consent,
    verify_consent,
)
from kindred.sovereignty.decision_log import subject_rows
from kindred.sovereignty.identities import IdentityService
from kindred.sovereignty.identity import key_fragment
from kindred.sovereignty.models import Consent, ConsentRequest, StatusListRow
from kindred.sovereignty.purposes import purpose as registered_purpose
from kindred.sovereignty.status_list import DEFAULT_SIZE, StatusList, status_list_token

CONSENTS_COUNTER = 5  # metadata_state row: bumped on every grant and revoke (PDP caches)


STATUS_LIST = "1"
MAX_VALIDITY = timedelta(days=5 * 366)


def _grantee(row: Consent | ConsentRequest) -> Grantee:
    return Grantee(row.grantee_kind, row.grantee_id)  # type: ignore[arg-type]  # stored checked


def _seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


class ConsentService:
    def __init__(
        self, identities: IdentityService, ledger: LedgerService, records: RecordService
    ) -> None:
        self.identities = identities
        self.ledger = ledger
        self.records = records

    # -- what may be granted ------------------------------------------------------------------

    def dimensions(self, session: Session) -> dict[str, tuple[str, str]]:
        """Every grantable dimension: ``object.field`` → (object, field)."""
        registry = self.records.registry(session)
        found: dict[str, tuple[str, str]] = {}
        for object_name in sorted(self.identities.customer_objects):
            compiled = registry.objects.get(object_name)
            if compiled is None:
                continue
            for name in compiled.customer_authorized:
                found[f"{object_name}.{name}"] = (object_name, name)
        return found

    def _checked(
        self,
        session: Session,
        dimensions: Sequence[str],
        purpose: str,
        grantee: Grantee,
        valid_from: datetime,
        valid_until: datetime,
    ) -> None:
        errors = []
        known = self.dimensions(session)
        if not dimensions:
            errors.append(field_error("/dimensions", "required", "name at least one dimension"))
        for index, dimension in enumerate(dimensions):
            if dimension not in known:
                errors.append(
                    field_error(
                        f"/dimensions/{index}",
                        "unknown-dimension",
                        f"{dimension!r} is not a customer-authorized field (known: "
                        f"{', '.join(known) or 'none'})",
                    )
                )
        if len(set(dimensions)) != len(dimensions):
            errors.append(field_error("/dimensions", "duplicate", "a dimension is listed twice"))
        try:
            registered = registered_purpose(purpose)
            if registered.basis != "consent":
                errors.append(
                    field_error("/purpose", "not-consentable", f"{purpose} needs no consent")
                )
        except ValidationFailed as error:
            errors += error.errors
        if valid_until <= valid_from:
            errors.append(field_error("/valid_until", "window", "must be after valid_from"))
        if valid_until - valid_from > MAX_VALIDITY:
            errors.append(field_error("/valid_until", "window", "at most 5 years"))
        if errors:
            raise ValidationFailed(
                "the consent cannot be granted; nothing was saved", errors=errors
            )

    # -- granting ------------------------------------------------------------------------------

    def _allocate(self, session: Session) -> StatusReference:
        row = session.get(StatusListRow, STATUS_LIST, with_for_update=True)
        if row is None:
            row = StatusListRow(
                id=STATUS_LIST,
                size=DEFAULT_SIZE,
                next_index=0,
                bits=StatusList(DEFAULT_SIZE).encode().encode(),
            )
            session.add(row)
            session.flush()
        if row.next_index >= row.size:
            raise Conflict("the revocation list is full; an operator must start a new one")
        index = row.next_index
        row.next_index = index + 1
        return StatusReference(self.status_list_uri(row.id), index)

    def status_list_uri(self, list_id: str = STATUS_LIST) -> str:
        return f"https://{self.identities.public_host}/api/v1/status-lists/{list_id}"

    def _draft(
        self,
        session: Session,
        did: str,
        dimensions: Sequence[str],
        purpose: str,
        grantee: Grantee,
        valid_from: datetime | None,
        valid_until: datetime,
    ) -> ConsentGrant:
        start = _seconds(valid_from or datetime.now(UTC))
        end = _seconds(valid_until)
        self._checked(session, dimensions, purpose, grantee, start, end)
        return ConsentGrant.create(
            subject=did,
            dimensions=list(dimensions),
            purpose=purpose,
            grantee=grantee,
            valid_from=start,
            valid_until=end,
            status=self._allocate(session),
        )

    def grant(
        self,
        session: Session,
        did: str,
        *,
        dimensions: Sequence[str],
        purpose: str,
        grantee: Grantee,
        valid_until: datetime,
        valid_from: datetime | None = None,
        request_id: str | None = None,
    ) -> Consent:
        """A consent of a custodial customer, signed with their key (they asked for it in
        their passport)."""
        key = self.identities.custodial_key(session, did)
        grant = self._draft(session, did, dimensions, purpose, grantee, valid_from, valid_until)
        token = issue_consent(grant, key, kid=key_fragment(did))
        row = self._row(grant, token, "active", request_id)
        session.add(row)
        self._granted(session, row)
        return row

    def prepare(
        self,
        session: Session,
        did: str,
        *,
        dimensions: Sequence[str],
        purpose: str,
        grantee: Grantee,
        valid_until: datetime,
        valid_from: datetime | None = None,
    ) -> ConsentGrant:
        """The grant a customer with a wallet signs (as an SD-JWT VC) and submits."""
        identity = self.identities.by_did(session, did)
        if identity.custody != "customer":
            raise Conflict("a custodial customer's consents are signed by the passport")
        grant = self._draft(session, did, dimensions, purpose, grantee, valid_from, valid_until)
        session.add(self._row(grant, None, "prepared", None))
        return grant

    def submit(self, session: Session, did: str, credential: str) -> Consent:
        """A wallet-signed credential for a prepared grant: verified against the customer's
        DID key and against what was prepared, then active."""

        def key_for(kid: str) -> Any:
            return self.identities.public_key(kid) if kid.split("#")[0] == did else None

        grant = verify_consent(credential, key_for, now=datetime.now(UTC))
        row = session.get(Consent, grant.id, with_for_update=True)
        if row is None or row.subject_did != did or row.state != "prepared":
            raise CredentialError("invalid-claims", "this credential answers no prepared grant")
        expected = self._row(grant, None, "prepared", None)
        for name in ("dimensions", "purpose", "grantee_kind", "grantee_id", "valid_from"):
            if getattr(expected, name) != getattr(row, name):
                raise CredentialError("invalid-claims", f"the credential's {name} differs")
        if (expected.valid_until, expected.status_index) != (row.valid_until, row.status_index):
            raise CredentialError("invalid-claims", "the credential's window or status differs")
        row.credential, row.state = credential, "active"
        self._granted(session, row)
        return row

    @staticmethod
    def _row(grant: ConsentGrant, token: str | None, state: str, request: str | None) -> Consent:
        return Consent(
            id=grant.id,
            subject_did=grant.subject,
            dimensions=list(grant.dimensions),
            purpose=grant.purpose,
            grantee_kind=grant.grantee.kind,
            grantee_id=grant.grantee.id,
            valid_from=grant.valid_from.timestamp(),
            valid_until=grant.valid_until.timestamp(),
            status_list=grant.status.list_uri.rsplit("/", 1)[1],
            status_index=grant.status.index,
            credential=token,
            state=state,
            request_id=request,
        )

    def _granted(self, session: Session, row: Consent) -> None:
        session.flush()
        bump_generation(session, CONSENTS_COUNTER)
        self.ledger.append(
            session,
            "sovereignty.consent.granted",
            {
                "consent": row.id,
                "did": row.subject_did,
                "dimensions": row.dimensions,
                "purpose": row.purpose,
                "grantee": {"kind": row.grantee_kind, "id": row.grantee_id},
                "valid_until": row.valid_until,
            },
        )

    # -- revoking and changing --------------------------------------------------------------

    def _own(self, session: Session, did: str, consent_id: str) -> Consent:
        row = session.get(Consent, consent_id, with_for_update=True)
        if row is None or row.subject_did != did:
            raise NotFound(f"you have no consent {consent_id}")
        return row

    def revoke(self, session: Session, did: str, consent_id: str) -> Consent:
        """Effective at once: the status bit is set and every decision cache is invalidated."""
        row = self._own(session, did, consent_id)
        if row.state == "revoked":
            return row
        lists = session.get(StatusListRow, row.status_list, with_for_update=True)
        assert lists is not None
        bits = StatusList.decode(bytes(lists.bits).decode(), size=lists.size)
        bits.set(row.status_index, True)
        lists.bits = bits.encode().encode()
        row.state, row.revoked_at = "revoked", datetime.now(UTC).timestamp()
        session.flush()
        bump_generation(session, CONSENTS_COUNTER)
        self.ledger.append(
            session,
            "sovereignty.consent.revoked",
            {"consent": row.id, "did": did, "status_index": row.status_index},
        )
        return row

    def shorten(
        self, session: Session, did: str, consent_id: str, valid_until: datetime
    ) -> Consent:
        """A new, shorter consent in place of the old one (a signed credential cannot be
        edited): the old one is revoked. Custodial customers only; a wallet signs a new one."""
        row = self._own(session, did, consent_id)
        if row.state != "active":
            raise Conflict(f"consent {consent_id} is {row.state}")
        if _seconds(valid_until).timestamp() >= row.valid_until:
            raise ValidationFailed(
                "a consent can only be shortened; grant a new one to extend it",
                errors=[field_error("/valid_until", "window", "earlier than the current end")],
            )
        self.revoke(session, did, consent_id)
        return self.grant(
            session,
            did,
            dimensions=row.dimensions,
            purpose=row.purpose,
            grantee=_grantee(row),
            valid_from=datetime.fromtimestamp(row.valid_from, UTC),
            valid_until=valid_until,
        )

    def of(self, session: Session, did: str) -> list[Consent]:
        return list(
            session.execute(
                sa.select(Consent)
                .where(Consent.subject_did == did, Consent.state != "prepared")
                .order_by(Consent.created_at)
            ).scalars()
        )

    def status_list(self, session: Session, list_id: str) -> str:
        """The signed status list token (typ statuslist+jwt) verifiers fetch."""
        row = session.get(StatusListRow, list_id)
        if row is None:
            raise NotFound(f"there is no status list {list_id}")
        kid, key = self.identities.signing_key(session)
        return status_list_token(
            StatusList.decode(bytes(row.bits).decode(), size=row.size),
            key,
            kid=kid,
            uri=self.status_list_uri(list_id),
            issuer=self.identities.enterprise_did,
            now=datetime.now(UTC),
            ttl=timedelta(minutes=5),
        )

    # -- consent requests ------------------------------------------------------------------------

    def ask(
        self,
        session: Session,
        context: RequestContext,
        subject_object: str,
        subject_id: str,
        *,
        dimensions: Sequence[str],
        purpose: str,
        valid_for: timedelta,
        note: str | None = None,
    ) -> ConsentRequest:
        """A rep asks the customer (whom they may see) for dimensions × purpose, for themself."""
        self.records.get(session, context, subject_object, subject_id, fields=[])
        identity = self.identities.of_subject(session, subject_object, subject_id)
        if context.principal.user_id is None:
            raise PermissionDenied("consent requests are made by a signed-in user")
        grantee = Grantee("user", context.principal.user_id)
        now = datetime.now(UTC)
        self._checked(session, dimensions, purpose, grantee, now, now + valid_for)
        row = ConsentRequest(
            id=str(uuid.uuid4()),
            subject_did=identity.did,
            dimensions=list(dimensions),
            purpose=purpose,
            grantee_kind=grantee.kind,
            grantee_id=grantee.id,
            valid_seconds=valid_for.total_seconds(),
            note=note,
            requested_by=context.principal.user_id,
            state="pending",
        )
        session.add(row)
        session.flush()
        self.ledger.append(
            session,
            "sovereignty.consent.requested",
            {
                "request": row.id,
                "did": identity.did,
                "dimensions": row.dimensions,
                "purpose": purpose,
            },
        )
        return row

    def requests(self, session: Session, did: str) -> list[ConsentRequest]:
        return list(
            session.execute(
                sa.select(ConsentRequest)
                .where(ConsentRequest.subject_did == did)
                .order_by(ConsentRequest.created_at)
            ).scalars()
        )

    def decide(self, session: Session, did: str, request_id: str, approve: bool) -> ConsentRequest:
        row = session.get(ConsentRequest, request_id, with_for_update=True)
        if row is None or row.subject_did != did:
            raise NotFound(f"you have no consent request {request_id}")
        if row.state != "pending":
            raise Conflict(f"this request was already {row.state}")
        if approve:
            consent = self.grant(
                session,
                did,
                dimensions=row.dimensions,
                purpose=row.purpose,
                grantee=_grantee(row),
                valid_until=datetime.now(UTC) + timedelta(seconds=row.valid_seconds),
                request_id=row.id,
            )
            row.consent_id = consent.id
        row.state = "approved" if approve else "declined"
        row.decided_at = datetime.now(UTC)
        session.flush()
        if not approve:
            self.ledger.append(
                session, "sovereignty.consent.declined", {"request": row.id, "did": did}
            )
        return row

    # -- the passport view ---------------------------------------------------------------------

    def passport(self, session: Session, did: str) -> dict[str, Any]:
        """Every dimension held about the customer: its value (theirs to see), class, data
        domain, the consents covering it and the latest accesses to it."""
        from kindred.auth.permissions import SYSTEM_PRINCIPAL

        identity = self.identities.by_did(session, did)
        context = RequestContext(
            SYSTEM_PRINCIPAL, purpose="data-access-request", channel="passport"
        )
        record, _ = self.records.get(session, context, identity.subject_object, identity.subject_id)
        compiled = self.records.registry(session).get(identity.subject_object)
        consents = [c for c in self.of(session, did) if c.state == "active"]
        recent: dict[str, list[dict[str, Any]]] = {}
        for _, decisions in subject_rows(session, did, newest_first=True, limit=500):
            for decision in decisions:
                bucket = recent.setdefault(decision["dimension"], [])
                if len(bucket) < 5:
                    bucket.append(
                        {
                            "at": datetime.fromtimestamp(decision["at"], UTC).isoformat(),
                            "accessor": decision["accessor"],
                            "purpose": decision["purpose"],
                            "channel": decision["channel"],
                            "allowed": decision["allowed"],
                            "reason": decision["reason"],
                        }
                    )
        domain = "crm"  # records live in the CRM's own data domain
        dimensions = []
        for definition in compiled.definition.fields:
            dimension = f"{identity.subject_object}.{definition.name}"
            value = record.get(definition.name)
            dimensions.append(
                {
                    "dimension": dimension,
                    "label": definition.label,
                    "class": str(definition.sovereignty),
                    "domain": domain,
                    "held": value not in (None, "", []),
                    "value": value,
                    "consents": [c.id for c in consents if dimension in c.dimensions],
                    "accesses": recent.get(dimension, []),
                }
            )
        return {
            "did": did,
            "custody": identity.custody,
            "subject": {"object": identity.subject_object, "id": identity.subject_id},
            "domains": [
                {"name": name, "did": self.identities.domain_did(name)}
                for name in self.identities.data_domains
            ],
            "dimensions": dimensions,
        }
