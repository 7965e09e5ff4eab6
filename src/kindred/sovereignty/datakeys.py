"""Per-customer data keys (envelope encryption): the customer-authorized values in the change
history are sealed with AES-256-GCM under a key of that customer, itself wrapped under the
deployment secret. Erasure deletes the live values and shreds the key; every sealed copy is
then unreadable, without rewriting the history.

Associated data binds each sealed value to its customer and field
(``<object>/<id>/<field>``): a sealed value copied elsewhere does not open there.
"""

from __future__ import annotations

import base64
import os
from typing import Any, cast

import orjson
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from kindred.db.base import utcnow
from kindred.keywrap import KeyWrapper
from kindred.records.service import SEALED, RecordService
from kindred.sovereignty.models import CustomerDataKey, subject_chunks

NONCE_BYTES = 12


class Shredded(Exception):
    """The value's data key is gone (the customer was erased) or it was not sealed for here."""


class DataKeys:
    def __init__(self, secret: str, records: RecordService, customer_objects: frozenset[str]):
        self._wrapper = KeyWrapper(secret, salt=b"kindred-data-keys", info=b"customer data keys")
        self.records = records
        self.customer_objects = customer_objects

    def _key(self, session: Session, subject_object: str, subject_id: str) -> bytes:
        """The subject's data key; raises Shredded when it has none (erased)."""
        row = session.get(CustomerDataKey, (subject_object, subject_id))
        if row is None:
            raise Shredded(f"{subject_object} {subject_id} has no data key")
        return self._wrapper.unwrap(
            bytes(row.wrapped_key), f"{subject_object}/{subject_id}".encode()
        )

    def _keys(
        self, session: Session, subjects: list[tuple[str, str]]
    ) -> dict[tuple[str, str], bytes]:
        """The data key of each subject, made for those that have none: one query for the
        existing keys and one insert for the new ones, however many subjects (an import of
        50,000 contacts made a query and a flush per contact)."""
        table = cast(sa.Table, CustomerDataKey.__table__)
        found: dict[tuple[str, str], bytes] = {}
        for subject_object, ids in subject_chunks(subjects):
            rows = session.execute(
                sa.select(table.c.subject_id, table.c.wrapped_key).where(
                    table.c.subject_object == subject_object, table.c.subject_id.in_(ids)
                )
            )
            for subject_id, wrapped in rows:
                associated = f"{subject_object}/{subject_id}".encode()
                found[(subject_object, subject_id)] = self._wrapper.unwrap(
                    bytes(wrapped), associated
                )
        made = []
        now = utcnow()
        for subject in subjects:
            if subject not in found:
                raw = found[subject] = AESGCM.generate_key(bit_length=256)
                associated = f"{subject[0]}/{subject[1]}".encode()
                made.append(
                    {
                        "subject_object": subject[0],
                        "subject_id": subject[1],
                        "wrapped_key": self._wrapper.wrap(raw, associated),
                        "created_at": now,
                    }
                )
        if made:
            session.execute(sa.insert(table), made)
        return found

    def seal_change_log(self, session: Session, entries: list[dict[str, Any]]) -> None:
        """Records change-log sealer: customer-authorized values of customer records."""
        registry = self.records.registry(session)
        guarded: dict[str, set[str]] = {}
        sealing: list[tuple[dict[str, Any], tuple[str, str], set[str]]] = []
        for entry in entries:
            object_name = entry["object"]
            if object_name not in self.customer_objects:
                continue
            names = guarded.get(object_name)
            if names is None:
                names = guarded[object_name] = set(registry.get(object_name).customer_authorized)
            if any(
                values and names & values.keys()
                for values in (entry.get("before"), entry.get("after"))
            ):
                sealing.append((entry, (object_name, str(entry["record_id"])), names))
        if not sealing:
            return
        keys = self._keys(session, list(dict.fromkeys(subject for _, subject, _ in sealing)))
        ciphers: dict[tuple[str, str], AESGCM] = {}
        for entry, subject, names in sealing:
            cipher = ciphers.get(subject)
            if cipher is None:
                cipher = ciphers[subject] = AESGCM(keys[subject])
            for side in ("before", "after"):
                values = entry.get(side)
                if not values or not names & values.keys():
                    continue
                sealed = dict(values)
                for name in names & values.keys():
                    if values[name] is None or (
                        isinstance(values[name], dict) and SEALED in values[name]
                    ):
                        continue
                    nonce = os.urandom(NONCE_BYTES)
                    associated = f"{subject[0]}/{subject[1]}/{name}".encode()
                    blob = nonce + cipher.encrypt(nonce, orjson.dumps(values[name]), associated)
                    sealed[name] = {SEALED: base64.b64encode(blob).decode()}
                entry[side] = sealed

    def unseal(self, session: Session, subject_object: str, subject_id: str, values: Any) -> Any:
        """``values`` (a change-log side) with its sealed values opened; raises Shredded."""
        if not isinstance(values, dict):
            return values
        cipher: AESGCM | None = None
        opened = {}
        for name, value in values.items():
            if isinstance(value, dict) and SEALED in value:
                if cipher is None:
                    cipher = AESGCM(self._key(session, subject_object, subject_id))
                blob = base64.b64decode(value[SEALED])
                associated = f"{subject_object}/{subject_id}/{name}".encode()
                try:
                    value = orjson.loads(
                        cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
                    )
                except InvalidTag:
                    raise Shredded(f"a sealed {name} does not open for this customer") from None
            opened[name] = value
        return opened

    def shred(self, session: Session, subject_object: str, subject_id: str) -> int:
        result = session.execute(
            sa.delete(CustomerDataKey).where(
                CustomerDataKey.subject_object == subject_object,
                CustomerDataKey.subject_id == subject_id,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
