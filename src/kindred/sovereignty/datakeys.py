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
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from kindred.keywrap import KeyWrapper
from kindred.records.service import SEALED, RecordService
from kindred.sovereignty.models import CustomerDataKey

NONCE_BYTES = 12


class Shredded(Exception):
    """The value's data key is gone (the customer was erased) or it was not sealed for here."""


class DataKeys:
    def __init__(self, secret: str, records: RecordService, customer_objects: frozenset[str]):
        self._wrapper = KeyWrapper(secret, salt=b"kindred-data-keys", info=b"customer data keys")
        self.records = records
        self.customer_objects = customer_objects

    def _key(self, session: Session, subject_object: str, subject_id: str, create: bool) -> bytes:
        associated = f"{subject_object}/{subject_id}".encode()
        row = session.get(CustomerDataKey, (subject_object, subject_id))
        if row is None:
            if not create:
                raise Shredded(f"{subject_object} {subject_id} has no data key")
            raw = AESGCM.generate_key(bit_length=256)
            session.add(
                CustomerDataKey(
                    subject_object=subject_object,
                    subject_id=subject_id,
                    wrapped_key=self._wrapper.wrap(raw, associated),
                )
            )
            session.flush()
            return raw
        return self._wrapper.unwrap(bytes(row.wrapped_key), associated)

    def seal_change_log(self, session: Session, entries: list[dict[str, Any]]) -> None:
        """Records change-log sealer: customer-authorized values of customer records."""
        keys: dict[tuple[str, str], AESGCM] = {}
        registry = self.records.registry(session)
        for entry in entries:
            object_name = entry["object"]
            if object_name not in self.customer_objects:
                continue
            names = set(registry.get(object_name).customer_authorized)
            for side in ("before", "after"):
                values = entry.get(side)
                if not values or not names & values.keys():
                    continue
                subject = (object_name, str(entry["record_id"]))
                cipher = keys.get(subject)
                if cipher is None:
                    cipher = keys[subject] = AESGCM(self._key(session, *subject, create=True))
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
                    cipher = AESGCM(self._key(session, subject_object, subject_id, create=False))
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
