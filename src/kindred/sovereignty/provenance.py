"""Provenance and validity of every field value: the source system, who collected it, when,
until when it is valid and on what legal basis; customers dispute values, staff verify them.

Written by a records change hook, so every write path (API, bulk, import, scenario actions)
records it in the same transaction as the value. The source and legal basis come from the
request (``X-Source-System``, ``X-Legal-Basis``); a field's class gives the default basis.
How long values stay valid is configured per dimension (``value_validity_days``, e.g.
``{"contact.phone": 730}``) or set per value. An expired value is flagged on every read and
kept out of automated decisions (scenario and agent reads do not see it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.db import driver_rows
from kindred.db.bulk import BulkInserter
from kindred.errors import NotFound, PermissionDenied, ValidationFailed, field_error, pointer
from kindred.records.fields import SovereigntyClass
from kindred.records.service import RecordService, RequestContext
from kindred.sovereignty.decision_log import authorization_totals
from kindred.sovereignty.models import Consent, CustomerIdentity, FieldProvenance

DEFAULT_BASIS = {
    SovereigntyClass.CUSTOMER_AUTHORIZED: "consent",
    SovereigntyClass.THIRD_PARTY_SHARED: "third-party-agreement",
    SovereigntyClass.ENTERPRISE_OWNED: "legitimate-interest",
}
LEGAL_BASES = frozenset(
    {
        "consent",
        "contract",
        "legal-obligation",
        "vital-interest",
        "public-task",
        "legitimate-interest",
        "third-party-agreement",
    }
)
AUTOMATED = frozenset({"scenario", "agent"})  # channels whose reads make decisions


PROVENANCE_COLUMNS = (
    "object",
    "record_id",
    "field",
    "source_system",
    "collector",
    "collected_at",
    "valid_until",
    "legal_basis",
    "verified",
)


class ProvenanceService:
    def __init__(self, records: RecordService, validity_days: Mapping[str, float]) -> None:
        self.records = records
        self.validity_days = dict(validity_days)

    # -- written with every value -------------------------------------------------------------

    def on_record_change(self, session: Session, entries: list[dict[str, Any]]) -> None:
        registry = self.records.registry(session)
        now = time.time()
        removed: list[tuple[str, str, str]] = []
        rows: list[tuple[Any, ...]] = []
        classes_of: dict[str, dict[str, Any]] = {}
        for entry in entries:
            object_name, record_id = entry["object"], str(entry["record_id"])
            if entry["action"] == "delete":
                session.execute(
                    sa.delete(FieldProvenance).where(
                        FieldProvenance.object == object_name,
                        FieldProvenance.record_id == record_id,
                    )
                )
                continue
            after = entry.get("after") or {}
            if not after:
                continue
            classes = classes_of.get(object_name)
            if classes is None:
                fields = registry.get(object_name).definition.fields
                classes = classes_of[object_name] = {f.name: f.sovereignty for f in fields}
            for name, value in after.items():
                if name not in classes:
                    continue
                if entry["action"] != "create":
                    removed.append((object_name, record_id, name))
                if value is None:
                    continue
                days = self.validity_days.get(f"{object_name}.{name}")
                basis = entry.get("legal_basis")
                rows.append(
                    (
                        object_name,
                        record_id,
                        name,
                        entry.get("source") or "crm",
                        entry.get("actor_id"),
                        now,
                        now + days * 86_400 if days else None,
                        basis if basis in LEGAL_BASES else DEFAULT_BASIS[classes[name]],
                        False,
                    )
                )
        for start in range(0, len(removed), 300):
            chunk = removed[start : start + 300]
            session.execute(
                sa.delete(FieldProvenance).where(
                    sa.tuple_(
                        FieldProvenance.object, FieldProvenance.record_id, FieldProvenance.field
                    ).in_(chunk)
                )
            )
        if rows:
            # Driver level: a record is a row per field, and SQLAlchemy's per-parameter
            # processing cost more than the inserts (60 µs per contact on an import).
            BulkInserter(session).insert("field_provenance", PROVENANCE_COLUMNS, rows)

    # -- read: flag expired values, keep them out of automated decisions ---------------------

    def flag_expired(
        self,
        session: Session,
        context: RequestContext,
        compiled: Any,
        presented: list[dict[str, Any]],
    ) -> None:
        """Records read hook."""
        if not presented:
            return
        ids = [record["id"] for record in presented]
        now = time.time()
        expired: dict[str, list[str]] = {}
        # A plain DB-API query (driver_rows): this runs on every read, and a compiled
        # SQLAlchemy statement with an expanding IN cost several times the lookup itself.
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = driver_rows(
                session,
                "SELECT record_id, field FROM field_provenance WHERE object = ? AND record_id "
                f"IN ({', '.join('?' * len(chunk))}) AND valid_until < ?",
                (compiled.definition.name, *chunk, now),
            )
            for record_id, name in rows:
                expired.setdefault(record_id, []).append(name)
        if not expired:
            return
        automated = context.channel in AUTOMATED
        for record in presented:
            names = [n for n in expired.get(record["id"], ()) if n in record]
            if not names:
                continue
            meta = record.setdefault("meta", {})
            meta.setdefault("expired", []).extend(names)
            if automated:
                for name in names:
                    del record[name]

    # -- explicit provenance, verification and disputes --------------------------------------

    def of(self, session: Session, object_name: str, record_id: str) -> list[FieldProvenance]:
        return list(
            session.execute(
                sa.select(FieldProvenance)
                .where(
                    FieldProvenance.object == object_name, FieldProvenance.record_id == record_id
                )
                .order_by(FieldProvenance.field)
            ).scalars()
        )

    def _row(
        self, session: Session, object_name: str, record_id: str, name: str
    ) -> FieldProvenance:
        row = session.get(FieldProvenance, (object_name, record_id, name), with_for_update=True)
        if row is None:
            raise NotFound(f"{object_name} {record_id} holds no value of {name}")
        return row

    def update(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        record_id: str,
        name: str,
        changes: Mapping[str, Any],
    ) -> FieldProvenance:
        """Staff correct provenance (who may update the record): source, collector, validity,
        legal basis, verified (which also settles a dispute)."""
        record, _ = self.records.get(session, context, object_name, record_id, fields=[])
        if not context.principal.permission(object_name).can("update"):
            raise PermissionDenied("you may not update these records, nor their provenance")
        row = self._row(session, object_name, record["id"], name)
        allowed = {"source_system", "collector", "valid_until", "legal_basis", "verified"}
        unknown = set(changes) - allowed
        errors = [
            field_error(pointer(k), "unknown", f"one of {sorted(allowed)}") for k in sorted(unknown)
        ]
        if "legal_basis" in changes and changes["legal_basis"] not in LEGAL_BASES:
            errors.append(field_error("/legal_basis", "invalid", f"one of {sorted(LEGAL_BASES)}"))
        if errors:
            raise ValidationFailed("the provenance was not changed", errors=errors)
        for key, value in changes.items():
            setattr(row, key, value)
        if changes.get("verified"):
            row.disputed_at, row.dispute_reason = None, None
        session.flush()
        return row

    def dispute(
        self, session: Session, identity: CustomerIdentity, dimension: str, reason: str
    ) -> FieldProvenance:
        """The customer says a value held about them is wrong: flagged until staff settle it."""
        object_name, _, name = dimension.partition(".")
        if object_name != identity.subject_object or not name:
            raise ValidationFailed(
                f"{dimension!r} is not a dimension of your record",
                errors=[
                    field_error(
                        "/dimension", "unknown-dimension", f"{identity.subject_object}.<field>"
                    )
                ],
            )
        row = self._row(session, object_name, identity.subject_id, name)
        row.disputed_at, row.dispute_reason, row.verified = time.time(), reason[:2000], False
        session.flush()
        return row

    # -- KPIs ---------------------------------------------------------------------------------

    def kpis(self, session: Session) -> dict[str, Any]:
        now = time.time()
        total, verified, disputed, expired = session.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(FieldProvenance.verified.is_(True)),
                sa.func.count().filter(FieldProvenance.disputed_at.is_not(None)),
                sa.func.count().filter(FieldProvenance.valid_until < now),
            )
        ).one()
        allowed, under_basis = authorization_totals(session)
        customers = session.execute(
            sa.select(sa.func.count()).select_from(CustomerIdentity)
        ).scalar()
        consenting = session.execute(
            sa.select(sa.func.count(sa.distinct(Consent.subject_did))).where(
                Consent.state == "active", Consent.valid_from <= now, Consent.valid_until > now
            )
        ).scalar()

        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        return {
            "values": int(total),
            # Tag accuracy: the share of values nobody disputes (verified ones counted apart).
            "tag_accuracy": share(int(total) - int(disputed), int(total)),
            "verified_share": share(int(verified), int(total)),
            "disputed": int(disputed),
            "expired": int(expired),
            # Every allowed read of customer-authorized data under a valid consent (or the
            # customer's own request): 1.0 by construction, measured from the access log.
            "authorization_validity_compliance": share(int(under_basis), int(allowed)),
            "authorized_accesses": int(allowed),
            "consent_rate": share(int(consenting or 0), int(customers or 0)),
            "customers": int(customers or 0),
        }
