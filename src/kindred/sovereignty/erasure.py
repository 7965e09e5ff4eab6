"""The customer's rights over their data: a complete export (data subject access request) and
erasure — live values deleted, derived data and caches purged, the customer's data key
shredded (which makes every sealed copy unreadable), all evidenced on the ledger without
personal data.

What erasure removes, for a customer record: the record and its relation links; its change
history; its DID and custodial key; its data key; its consents, consent requests, sign-in
challenges and access decisions; ledger payloads that name its DID (the leaves stay: they
hold salted commitments only, so the log still verifies); derived data that names the
record — scenario runs (and steps) whose event or variables mention it, tags and timeline
entries under it, its search index entries and embedding, its identity-resolution keys
and merge snapshots, its staff-lookup digests. Records of other customers that merely
point at it keep a dangling id.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.ledger.models import LedgerPayload
from kindred.ledger.service import LedgerService
from kindred.records.metadata import bump_generation
from kindred.records.models import ChangeLogEntry, IdempotencyKey, RecordLink, RecordRow
from kindred.records.service import RecordService, RequestContext
from kindred.sovereignty.consents import CONSENTS_COUNTER, ConsentService
from kindred.sovereignty.datakeys import DataKeys, Shredded
from kindred.sovereignty.decision_log import erase_subject, subject_rows
from kindred.sovereignty.identities import IdentityService
from kindred.sovereignty.models import (
    Consent,
    ConsentRequest,
    CustomerIdentity,
    Erasure,
    FieldProvenance,
    PassportChallenge,
)


class CustomerRights:
    def __init__(
        self,
        identities: IdentityService,
        consents: ConsentService,
        datakeys: DataKeys,
        records: RecordService,
        ledger: LedgerService,
    ) -> None:
        self.identities = identities
        self.consents = consents
        self.datakeys = datakeys
        self.records = records
        self.ledger = ledger

    # -- access: everything held about the customer ------------------------------------------

    def export(self, session: Session, did: str) -> dict[str, Any]:
        """Everything held about the customer, as JSON (sealed history opened for them)."""
        identity = self.identities.by_did(session, did)
        subject = (identity.subject_object, identity.subject_id)
        context = RequestContext(
            SYSTEM_PRINCIPAL, purpose="data-access-request", channel="passport"
        )
        record, _ = self.records.get(session, context, *subject)
        history = []
        rows = session.execute(
            sa.select(ChangeLogEntry)
            .where(ChangeLogEntry.object == subject[0], ChangeLogEntry.record_id == subject[1])
            .order_by(ChangeLogEntry.id)
        ).scalars()
        for row in rows:
            try:
                before = self.datakeys.unseal(session, *subject, row.before)
                after = self.datakeys.unseal(session, *subject, row.after)
            except Shredded:
                before, after = row.before, row.after
            history.append(
                {
                    "at": row.created_at.isoformat(),
                    "action": row.action,
                    "actor": row.actor_id,
                    "before": before,
                    "after": after,
                }
            )
        accesses = subject_rows(session, identity.did)
        return {
            "format": "kindred-dsar/1",
            "did": identity.did,
            "custody": identity.custody,
            "subject": {"object": subject[0], "id": subject[1]},
            "record": {k: v for k, v in record.items() if k != "meta"},
            "history": history,
            "consents": [
                {
                    "id": c.id,
                    "dimensions": c.dimensions,
                    "purpose": c.purpose,
                    "grantee": {"kind": c.grantee_kind, "id": c.grantee_id},
                    "state": c.state,
                    "credential": c.credential,
                }
                for c in self.consents.of(session, identity.did)
            ],
            "consent_requests": [
                {"id": r.id, "dimensions": r.dimensions, "purpose": r.purpose, "state": r.state}
                for r in self.consents.requests(session, identity.did)
            ],
            "accesses": [
                {k: v for k, v in decision.items() if k not in ("subject_did", "batch")}
                for _, decisions in accesses
                for decision in decisions
            ],
        }

    # -- erasure ---------------------------------------------------------------------------------

    def erase(self, session: Session, did: str, *, requested_by: str) -> dict[str, int]:
        """Erase the customer; returns what was removed, per kind (also on the ledger)."""
        identity = self.identities.by_did(session, did)
        object_name, record_id = identity.subject_object, identity.subject_id
        identifier = identity.did
        counts: dict[str, int] = {}
        session.flush()

        def remove(name: str, statement: Any) -> None:
            result = session.execute(statement)
            counts[name] = int(getattr(result, "rowcount", 0) or 0)

        remove(
            "relation_links",
            sa.delete(RecordLink).where(
                sa.or_(RecordLink.source_id == record_id, RecordLink.target_id == record_id)
            ),
        )
        remove("records", sa.delete(RecordRow).where(RecordRow.id == record_id))
        remove(
            "change_history",
            sa.delete(ChangeLogEntry).where(
                ChangeLogEntry.object == object_name, ChangeLogEntry.record_id == record_id
            ),
        )
        remove(
            "provenance",
            sa.delete(FieldProvenance).where(
                FieldProvenance.object == object_name, FieldProvenance.record_id == record_id
            ),
        )
        counts["data_keys_shredded"] = self.datakeys.shred(session, object_name, record_id)
        remove("consents", sa.delete(Consent).where(Consent.subject_did == identifier))
        remove(
            "consent_requests",
            sa.delete(ConsentRequest).where(ConsentRequest.subject_did == identifier),
        )
        counts["access_decisions"] = erase_subject(session, identifier)  # reads removed
        remove(
            "sign_in_challenges",
            sa.delete(PassportChallenge).where(PassportChallenge.did == identifier),
        )
        remove(
            "ledger_payloads",
            sa.delete(LedgerPayload).where(
                sa.cast(LedgerPayload.payload, sa.Text).like(f"%{identifier}%")
            ),
        )
        counts.update(self._derived(session, record_id))
        remove("identities", sa.delete(CustomerIdentity).where(CustomerIdentity.did == identifier))
        # Caches: decision caches everywhere, and the record registry's view of the record.
        bump_generation(session, CONSENTS_COUNTER)
        erasure = Erasure(
            id=str(uuid.uuid4()),
            subject_sha256=hashlib.sha256(identifier.encode()).hexdigest(),
            requested_by=requested_by,
            counts=counts,
        )
        session.add(erasure)
        self.ledger.append(
            session,
            "sovereignty.erasure.completed",
            {
                "erasure": erasure.id,
                "subject_sha256": erasure.subject_sha256,
                "requested_by": requested_by,
                "removed": counts,
            },
        )
        return counts

    @staticmethod
    def _derived(session: Session, record_id: str) -> dict[str, int]:
        """Derived data that names the record, in the tables of other domains."""
        from kindred.events.models import TimelineEntry
        from kindred.scenarios.models import CustomerTag, ScenarioRun, ScenarioRunStep

        mention = f"%{record_id}%"
        runs = list(
            session.execute(
                sa.select(ScenarioRun.id).where(
                    sa.or_(
                        ScenarioRun.key == record_id,
                        sa.cast(ScenarioRun.event, sa.Text).like(mention),
                        sa.cast(ScenarioRun.variables, sa.Text).like(mention),
                    )
                )
            ).scalars()
        )
        counts = {"scenario_runs": len(runs)}
        if runs:
            session.execute(sa.delete(ScenarioRunStep).where(ScenarioRunStep.run_id.in_(runs)))
            session.execute(sa.delete(ScenarioRun).where(ScenarioRun.id.in_(runs)))
        result = session.execute(sa.delete(CustomerTag).where(CustomerTag.account_id == record_id))
        counts["tags"] = int(getattr(result, "rowcount", 0) or 0)
        result = session.execute(
            sa.delete(TimelineEntry).where(TimelineEntry.partition_key == record_id)
        )
        counts["timeline"] = int(getattr(result, "rowcount", 0) or 0)
        # Remembered API responses (Idempotency-Key replays) that carried the record.
        result = session.execute(
            sa.delete(IdempotencyKey).where(sa.cast(IdempotencyKey.response, sa.Text).like(mention))
        )
        counts["remembered_responses"] = int(getattr(result, "rowcount", 0) or 0)
        # Identity resolution: its blocking keys, the merges it took part in (their snapshots
        # hold its values) and its place in other merges' edge lists.
        from kindred.graph.resolution import forget_record

        counts.update(forget_record(session, record_id))
        # Its search index entries and embedding, compacted out of the engine's pages too.
        from kindred.graph.search_index import purge_records

        counts["search_index"] = purge_records(session, [record_id])
        # The staff lookup's digests of its email addresses and phone numbers.
        from kindred.sovereignty.lookup import remove_records

        counts["lookup_hashes"] = remove_records(session, [record_id])
        return counts
