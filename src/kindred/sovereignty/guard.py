"""The governance guard for data leaving the CRM: model training, an LLM step, a bulk export.

``release`` is all or nothing. Where an ordinary read withholds the values a caller has no
consent for and returns the rest, data about to leave must not leave partially redacted
without anyone noticing: if any customer-authorized value asked for lacks the customer's
consent for that purpose and grantee, the whole release is refused (403, listing what is
missing) and nothing is returned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from kindred.errors import ValidationFailed, field_error
from kindred.records.service import RecordService, RequestContext
from kindred.sovereignty.pdp import ConsentRequired
from kindred.sovereignty.purposes import purpose as registered_purpose


def release(
    records: RecordService,
    session: Session,
    context: RequestContext,
    object_name: str,
    record_ids: Sequence[str],
    fields: Sequence[str],
    *,
    purpose: str,
) -> list[dict[str, Any]]:
    """The ``fields`` of the records, for an outbound ``purpose`` — every value, or none."""
    found = registered_purpose(purpose)
    if not found.outbound:
        raise ValidationFailed(
            f"{purpose} does not take data out of the CRM; read the records instead",
            errors=[field_error("/purpose", "not-outbound", "model-training, llm-processing, …")],
        )
    reader = dataclasses.replace(context, purpose=purpose, channel="outbound")
    released, missing = [], []
    for record_id in record_ids:
        record, _ = records.get(session, reader, object_name, record_id, fields=list(fields))
        for withheld in record.get("meta", {}).get("withheld", []):
            missing.append(
                {"record": record_id, "field": withheld["field"], "reason": withheld["reason"]}
            )
        released.append(record)
    if missing:
        raise ConsentRequired(
            f"{len(missing)} customer-authorized value(s) have no consent for {purpose}; "
            "nothing was released",
            missing=missing,
            request_consent="/api/v1/consent-requests",
        )
    return released
