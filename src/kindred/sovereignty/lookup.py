"""The lawful staff lookup: a service desk finds the customer who calls or writes by their
exact email address or phone number, although those values are customer-authorized (not
filterable, withheld without the customer's consent).

How: every email and phone value of a customer record is kept as a keyed digest in
``lookup_hashes`` (HMAC-SHA256 under a key derived from the deployment secret with HKDF,
of the normalized value: email NFKC and case folded, phone as E.164), maintained by a records
change hook in the write's transaction, re-indexed at start-up for rows written around the
record service, and deleted with the record or by erasure. A lookup normalizes the value the
same way and compares digests: an exact match or nothing — no prefix, no pattern, no value
ever read back.

Who and why: the caller needs read on the object and on the field looked up (a role that
hides phone numbers may not find people by phone), and declares a registered purpose
(``service``, ``sales`` …; the customer's own purposes are refused). The records found are
read through the record service under that purpose — visibility, field permissions and the
consent check decide what is shown, exactly as for a get — and the policy decision point logs
that read with the purpose and the channel ``lookup:<kind>``, so the customer's access log
and data export say who looked them up, how and why. Lookups are limited per user (a token
bucket, like the sign-in throttle's per-address budget): 429 with Retry-After.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from kindred.auth.throttle import AddressBudget, TooManyAttempts
from kindred.db.bulk import BulkInserter
from kindred.errors import PermissionDenied, ValidationFailed, field_error
from kindred.records.fields import FieldType
from kindred.records.metadata import CompiledObject
from kindred.records.models import RecordRow
from kindred.records.query import FieldFilter, ListQuery
from kindred.records.service import RecordService, RequestContext
from kindred.sovereignty.lookup_models import LookupHash
from kindred.sovereignty.purposes import purpose as registered_purpose

Kind = Literal["email", "phone"]
KINDS: dict[FieldType, Kind] = {FieldType.EMAIL: "email", FieldType.PHONE: "phone"}
# The market's country code: numbers written without one are national numbers of it.
DEFAULT_COUNTRY_CODE = "86"
# A value shared by more records than this (a switchboard number) is cut to the first ones.
MAX_MATCHES = 50
# Lookups per user: a burst, then one more every LOOKUP_REFILL_SECONDS (a desk's pace, not
# an enumeration's).
LOOKUP_BURST = 60
LOOKUP_REFILL_SECONDS = 2.0

hashes: sa.Table = LookupHash.__table__  # type: ignore[assignment]
records_table: sa.Table = RecordRow.__table__  # type: ignore[assignment]
_EXTENSION = re.compile(r"(?i)ext|转|分机|x|#|;")


def normalize_email(value: Any) -> str | None:
    """NFKC, trimmed and case folded; None unless it looks like an address."""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).strip().casefold()
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in text):
        return None
    return text


def normalize_phone(value: Any, country: str = DEFAULT_COUNTRY_CODE) -> str | None:
    """The number in E.164 (``+8613812345678``): an extension cut off, a national number
    given the default country code (its trunk 0 dropped), ``00`` read as ``+``; None when
    what is left is not 8 to 15 digits."""
    if not isinstance(value, str):
        return None
    head = _EXTENSION.split(unicodedata.normalize("NFKC", value), maxsplit=1)[0].strip()
    digits = re.sub(r"\D", "", head)
    international = head.startswith("+")
    if not international and digits.startswith("00"):
        digits, international = digits[2:], True
    if not international and digits.startswith(country) and len(digits) >= 12:
        international = True  # 8613812345678: the country code without its plus
    if not international:
        digits = country + digits.lstrip("0")
    elif digits.startswith(country + "0"):
        digits = country + digits[len(country) :].lstrip("0")  # +86 (0)21 …
    return "+" + digits if 8 <= len(digits) <= 15 else None


NORMALIZERS: dict[Kind, Callable[[Any], str | None]] = {
    "email": normalize_email,
    "phone": normalize_phone,
}


def lookup_fields(compiled: CompiledObject) -> dict[str, Kind]:
    """The object's email and phone fields → their kind."""
    return {f.name: KINDS[f.type] for f in compiled.definition.fields if f.type in KINDS}


class StaffLookup:
    def __init__(
        self,
        secret: str,
        records: RecordService,
        customer_objects: Iterable[str],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.records = records
        self.customer_objects = frozenset(customer_objects)
        self._key = HKDF(
            algorithm=SHA256(), length=32, salt=b"kindred-lookup", info=b"staff lookup digests"
        ).derive(secret.encode())
        # Per user id, in this process (as the sign-in throttle's per-address budgets).
        self.budget = AddressBudget(LOOKUP_BURST, LOOKUP_REFILL_SECONDS, clock)

    def digest(self, kind: Kind, normalized: str) -> str:
        message = f"{kind}\x00{normalized}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    # -- the index ---------------------------------------------------------------------------

    def on_record_change(self, session: Session, entries: list[dict[str, Any]]) -> None:
        """Records change hook: the digests of customer records follow their writes."""
        fields: dict[str, frozenset[str]] = {}
        stale: list[str] = []
        fresh: dict[str, list[str]] = defaultdict(list)
        for entry in entries:
            object_name = entry["object"]
            if object_name not in self.customer_objects:
                continue
            if object_name not in fields:
                compiled = self.records.registry(session).get(object_name)
                fields[object_name] = frozenset(lookup_fields(compiled))
            record_id, action = str(entry["record_id"]), entry["action"]
            if action == "delete":
                stale.append(record_id)
            elif action == "create" or fields[object_name] & (entry.get("after") or {}).keys():
                if action != "create":
                    stale.append(record_id)
                fresh[object_name].append(record_id)
        if stale:
            remove_records(session, stale)
        for object_name, ids in fresh.items():
            self._index(session, object_name, ids)

    def _index(self, session: Session, object_name: str, ids: Sequence[str]) -> int:
        fields = lookup_fields(self.records.registry(session).get(object_name))
        rows: set[tuple[str, str, str, str]] = set()
        for start in range(0, len(ids), 500):
            found = session.execute(
                sa.select(records_table.c.id, records_table.c.data).where(
                    records_table.c.id.in_(ids[start : start + 500])
                )
            ).all()
            for record_id, data in found:
                for name, kind in fields.items():
                    normalized = NORMALIZERS[kind]((data or {}).get(name))
                    if normalized is not None:
                        rows.add((object_name, name, self.digest(kind, normalized), record_id))
        if rows:
            BulkInserter(session).insert(
                "lookup_hashes", ("object", "field", "digest", "record_id"), sorted(rows)
            )
        return len(rows)

    def reindex(self, session: Session) -> int:
        """Index the customer records that have no digests (written around the record
        service, e.g. the demo seed, or older than this feature); how many were read.
        Records without an email or phone are read again each time: they have no row."""
        total = 0
        for object_name in sorted(self.customer_objects):
            missing = sa.select(records_table.c.id).where(
                records_table.c.object == object_name,
                ~sa.exists().where(hashes.c.record_id == records_table.c.id),
            )
            ids = list(session.execute(missing).scalars())
            for start in range(0, len(ids), 2000):
                self._index(session, object_name, ids[start : start + 2000])
            total += len(ids)
        return total

    # -- looking up --------------------------------------------------------------------------

    def lookup(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        kind: Kind,
        value: str,
        purpose: str,
    ) -> list[dict[str, Any]]:
        """The records of ``object_name`` whose ``kind`` field holds exactly ``value``, as
        the caller may read them under ``purpose`` (see the module docstring)."""
        compiled = self.records.registry(session).get(object_name)  # unknown → 404
        if object_name not in self.customer_objects:
            raise ValidationFailed(
                f"the lookup finds customers: {object_name!r} is not a customer object",
                errors=[
                    field_error(
                        "/object",
                        "not_customer",
                        f"one of: {', '.join(sorted(self.customer_objects))}",
                    )
                ],
            )
        permission = context.principal.permission(object_name)
        if not permission.can("read"):
            raise PermissionDenied(f"you may not read {object_name} records")
        named = [n for n, k in lookup_fields(compiled).items() if k == kind]
        fields = [n for n in named if permission.can_read_field(n)]
        if not fields:
            raise PermissionDenied(
                f"you may not find {object_name} records by {kind}: your role may not read "
                f"{' or '.join(named) or 'such a field'}"
            )
        declared = registered_purpose(purpose, "/purpose")  # unknown → 422
        if declared.basis != "consent":
            raise ValidationFailed(
                f"{purpose!r} is reserved for the customer's own requests",
                errors=[
                    field_error("/purpose", "not-for-staff", "a purpose such as service or sales")
                ],
            )
        normalized = NORMALIZERS[kind](value)
        if normalized is None:
            expected = "an email address" if kind == "email" else "a phone number (8–15 digits)"
            raise ValidationFailed(
                f"not a valid {kind} to look up",
                errors=[field_error(f"/{kind}", "format", f"expected {expected}")],
            )
        self._spend(context)
        ids = list(
            session.execute(
                sa.select(hashes.c.record_id)
                .where(
                    hashes.c.object == object_name,
                    hashes.c.field.in_(fields),
                    hashes.c.digest == self.digest(kind, normalized),
                )
                .distinct()
                .order_by(hashes.c.record_id)
                .limit(MAX_MATCHES)
            ).scalars()
        )
        if not ids:
            return []
        # Read as a get would be, under the declared purpose: the decision point logs it.
        reading = dataclasses.replace(context, purpose=purpose, channel=f"lookup:{kind}")
        page = self.records.list_records(
            session,
            reading,
            object_name,
            ListQuery(filters=[FieldFilter("id", "in", ",".join(ids))], limit=len(ids)),
        )
        return page.data

    def _spend(self, context: RequestContext) -> None:
        who = context.principal.user_id
        wait = self.budget.wait(who)
        if wait > 0:
            raise TooManyAttempts("too many lookups", wait)
        self.budget.spend(who)


def remove_records(session: Session, record_ids: Sequence[str]) -> int:
    """Delete the digests of these records; how many rows went."""
    removed = 0
    ids = sorted(set(record_ids))
    for start in range(0, len(ids), 500):
        result = session.execute(
            sa.delete(hashes).where(hashes.c.record_id.in_(ids[start : start + 500]))
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed
