"""Private keys and data keys at rest, wrapped with AES-256-GCM under a key derived from the
deployment secret (HKDF-SHA256, one derivation per purpose).

Why one helper: the ledger's signing keys, the enterprise's DID keys, custodial customer keys
and per-customer data keys are all stored the same way — random nonce, AES-GCM, the row's
identity as associated data so a wrapped key copied onto another row does not unwrap.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class KeyWrapper:
    def __init__(self, secret: str, *, salt: bytes, info: bytes) -> None:
        key = HKDF(algorithm=SHA256(), length=32, salt=salt, info=info).derive(secret.encode())
        self._cipher = AESGCM(key)

    def wrap(self, raw: bytes, associated: bytes) -> bytes:
        """nonce ‖ ciphertext ‖ tag."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._cipher.encrypt(nonce, raw, associated)

    def unwrap(self, blob: bytes, associated: bytes) -> bytes:
        """Raises ``cryptography.exceptions.InvalidTag`` for a blob not wrapped for
        ``associated`` under this secret."""
        return self._cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
