"""C2SP signed notes and checkpoints (https://c2sp.org/signed-note, /tlog-checkpoint).

Standalone (``hashlib`` and ``cryptography`` only), so the offline verifier can use it with
no database. Ed25519 signatures, signature type 0x01, key ID = first four bytes of
SHA-256(key name || 0x0A || 0x01 || public key).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"
DASH = "\u2014"


class NoteError(ValueError):
    """A note or checkpoint is malformed or its signature does not verify."""


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The text form third parties configure: ``name+hex(key id)+base64(0x01 || key)``."""
    encoded = base64.b64encode(ED25519 + public_key).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # the base64 key itself may contain "+"
        if len(parts) != 3:
            raise NoteError("a verifier key looks like name+keyid+base64key")
        name, hex_id, encoded = parts
        try:
            raw = base64.b64decode(encoded, validate=True)
            identifier = bytes.fromhex(hex_id)
        except ValueError:
            raise NoteError("the verifier key is not valid hex/base64") from None
        if len(raw) != 33 or raw[:1] != ED25519:
            raise NoteError("only Ed25519 verifier keys (type 0x01) are supported")
        if len(identifier) != 4 or key_id(name, raw[1:]) != identifier:
            raise NoteError("the verifier key's id does not match its name and key")
        return cls(name, identifier, Ed25519PublicKey.from_public_bytes(raw[1:]))


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    public = public_bytes(private_key.public_key())
    signature = private_key.sign(text.encode())
    encoded = base64.b64encode(key_id(name, public) + signature).decode()
    return f"{text}\n{DASH} {name} {encoded}\n"


def split_note(signed: str) -> tuple[str, str]:
    """The note text (ending in a newline) and its signature lines, unverified."""
    if "\n\n" not in signed:
        raise NoteError("not a signed note: no blank line before the signatures")
    split = signed.rindex("\n\n")
    return signed[: split + 1], signed[split + 2 :]


def open_note(signed: str, verifier: Verifier) -> str:
    """Return the note text if ``verifier``'s key signed it; raise NoteError otherwise."""
    text, signatures = split_note(signed)
    if any(ord(c) < 0x20 and c != "\n" for c in signed):
        raise NoteError("signed notes must not contain control characters")
    found = False
    for line in signatures.splitlines():
        prefix = f"{DASH} "
        if not line.startswith(prefix):
            raise NoteError(f"malformed signature line: {line[:40]!r}")
        try:
            name, encoded = line[len(prefix) :].split(" ")
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise NoteError(f"malformed signature line: {line[:40]!r}") from None
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue  # signatures from unknown keys are ignored, as the spec requires
        try:
            verifier.public_key.verify(raw[4:], text.encode())
        except InvalidSignature:
            raise NoteError("the note's signature does not verify") from None
        found = True
    if not found:
        raise NoteError(f"the note carries no signature by {verifier.name}")
    return text


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint has an origin, a size and a root hash line")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
            raise NoteError("malformed checkpoint origin or size")
        try:
            root = base64.b64decode(root_text, validate=True)
        except ValueError:
            raise NoteError("malformed checkpoint root hash") from None
        if len(root) != 32:
            raise NoteError("the checkpoint root hash must be 32 bytes")
        return cls(origin, int(size_text), root)
