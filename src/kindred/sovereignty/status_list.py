"""Revocation of consent credentials: the IETF OAuth Token Status List.

Implements draft-ietf-oauth-status-list (Token Status List) with 1 bit per credential
(``bits: 1``; 0 = VALID, 1 = INVALID, i.e. revoked) in its JSON/JWT form:

- :class:`StatusList` is the list (§4.1): a byte array where the status of index ``i`` is bit
  ``i % 8`` of byte ``i // 8`` counting from the least significant bit, compressed with
  DEFLATE in the ZLIB format (highest level, as the draft recommends) and base64url-encoded
  without padding. The draft's own example (``eNrbuRgAAhcBXQ``) is one of the tests.
- :func:`status_list_token` signs it as a Status List Token (§5.1): a JWT with
  ``typ: "statuslist+jwt"``, ``alg: "EdDSA"``, and claims ``sub`` (the list's URI, which the
  credential's ``status.status_list.uri`` names), ``iat``, ``exp``, ``ttl`` and
  ``status_list: {"bits": 1, "lst": …}``; :func:`read_status_list_token` verifies one (§8.3).

Why this list rather than the W3C Bitstring Status List: the consent credential is a JOSE
token (SD-JWT), and the IETF list is a JWT too, signed and verified with the same tooling,
with ``ttl`` telling relying parties how long to cache it. See
:mod:`kindred.sovereignty.credentials` for how a credential points into the list.

The list defaults to 131,072 entries (16 KiB before compression), the W3C Bitstring Status
List's recommended minimum: a verifier fetching the list learns only that the credential is
one of that many, which is the herd privacy the draft's §12 asks issuers to provide. Indexes
should be allocated randomly across the list, not sequentially, for the same reason.

Errors while reading a token are :class:`~kindred.sovereignty.credentials.CredentialError`
(codes ``malformed``, ``wrong-type``, ``bad-signature``, ``expired``, ``issued-in-future``,
``invalid-claims``) so a caller handling consent failures handles these the same way.
JWTs use PyJWT with ``cryptography`` Ed25519 keys.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kindred.sovereignty.credentials import CredentialError

DEFAULT_SIZE = 131_072
# A compressed list can expand a thousandfold; refuse to inflate more than this (2**26
# entries), so a hostile list cannot exhaust memory.
MAXIMUM_SIZE = 67_108_864
TOKEN_TYPE = "statuslist+jwt"
SIGNING_ALGORITHM = "EdDSA"
BITS_PER_STATUS = 1
DEFAULT_LEEWAY = timedelta(seconds=30)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class StatusList:
    """A 1-bit Token Status List: ``size`` entries, all valid (not revoked) at first."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if type(size) is not int or not 1 <= size <= MAXIMUM_SIZE:
            raise ValueError(f"size must be an integer from 1 to {MAXIMUM_SIZE}, not {size!r}")
        self._size = size
        self._bytes = bytearray((size + 7) // 8)

    @property
    def size(self) -> int:
        return self._size

    def set(self, index: int, revoked: bool) -> None:
        """Mark entry ``index`` revoked (``True``) or valid again (``False``)."""
        byte, mask = self._position(index)
        if revoked:
            self._bytes[byte] |= mask
        else:
            self._bytes[byte] &= ~mask & 0xFF

    def is_revoked(self, index: int) -> bool:
        byte, mask = self._position(index)
        return bool(self._bytes[byte] & mask)

    def revoked_indexes(self) -> list[int]:
        """Every revoked index, ascending."""
        return [index for index in range(self._size) if self.is_revoked(index)]

    def encode(self) -> str:
        """The ``lst`` value: ZLIB-compressed bytes, base64url without padding."""
        compressed = zlib.compress(bytes(self._bytes), level=9)
        return base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str, size: int | None = None) -> StatusList:
        """The list an ``lst`` value encodes. Without ``size`` the list has 8 entries per
        byte; with it, the byte count must fit ``size`` and the padding bits must be zero.
        Raises ``ValueError`` if ``text`` is not a valid encoding."""
        if not isinstance(text, str) or not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
            raise ValueError("the list is not unpadded base64url")
        try:
            compressed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"the list is not base64url: {error}") from error
        maximum_bytes = (MAXIMUM_SIZE + 7) // 8
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(compressed, maximum_bytes + 1)
        except zlib.error as error:
            raise ValueError(f"the list is not ZLIB-compressed: {error}") from error
        if len(raw) > maximum_bytes:
            raise ValueError(f"the list has more than {MAXIMUM_SIZE} entries")
        if not inflater.eof or inflater.unused_data:
            raise ValueError("the compressed list is truncated or followed by extra bytes")
        if not raw:
            raise ValueError("the list is empty")
        if size is None:
            size = len(raw) * 8
        elif len(raw) != (size + 7) // 8:
            raise ValueError(f"{len(raw)} bytes do not hold a list of {size} entries")
        status_list = cls(size)
        status_list._bytes[:] = raw
        if size % 8 and raw[-1] >> (size % 8):
            raise ValueError("bits beyond the list's size are set")
        return status_list

    def _position(self, index: int) -> tuple[int, int]:
        if type(index) is not int or not 0 <= index < self._size:
            raise IndexError(f"index {index!r} is outside the list of {self._size} entries")
        # §4.1: index 0 is the least significant bit of byte 0.
        return index // 8, 1 << (index % 8)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatusList):
            return NotImplemented
        return self._size == other._size and self._bytes == other._bytes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"StatusList(size={self._size}, revoked={len(self.revoked_indexes())})"


def status_list_token(
    status_list: StatusList,
    key: Ed25519PrivateKey,
    *,
    kid: str,
    uri: str,
    issuer: str,
    now: datetime,
    ttl: timedelta,
) -> str:
    """The list as a signed Status List Token (a JWT, ``typ: statuslist+jwt``).

    ``uri`` is where the token is published (its ``sub``, which credentials reference);
    ``ttl`` is both how long relying parties may cache it and its lifetime (``exp``), so a
    stale list stops verifying instead of hiding a revocation for ever.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    ttl_seconds = int(ttl.total_seconds())
    if ttl_seconds < 1:
        raise ValueError("ttl must be at least one second")
    issued_at = int(now.timestamp())
    claims = {
        "iss": issuer,
        "sub": uri,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "ttl": ttl_seconds,
        "status_list": {"bits": BITS_PER_STATUS, "lst": status_list.encode()},
    }
    return jwt.encode(
        claims, key, algorithm=SIGNING_ALGORITHM, headers={"typ": TOKEN_TYPE, "kid": kid}
    )


def read_status_list_token(
    token: str,
    public_key: Ed25519PublicKey,
    *,
    now: datetime,
    uri: str | None = None,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> StatusList:
    """Verify a Status List Token and return its list.

    Checks, in order: the header (``typ``, ``alg``) before the signature, the signature with
    ``public_key``, then ``exp`` (required here although the draft only recommends it: an
    unexpiring list could hide a revocation indefinitely) and ``iat`` against ``now`` ±
    ``leeway``, ``sub`` against ``uri`` when given (§8.3 requires the relying party to check
    it against the credential's ``status.status_list.uri``), and the ``status_list`` shape.
    Raises :class:`~kindred.sovereignty.credentials.CredentialError`.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if not isinstance(token, str):
        raise CredentialError("malformed", "the status list token is not a string")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise CredentialError(
            "malformed", f"the status list token is not a JWT: {error}"
        ) from error
    if header.get("typ") != TOKEN_TYPE:
        raise CredentialError(
            "wrong-type",
            f"the status list token's typ is {header.get('typ')!r}, not {TOKEN_TYPE!r}",
        )
    if header.get("alg") != SIGNING_ALGORITHM:
        raise CredentialError(
            "wrong-type",
            f"the status list token's alg is {header.get('alg')!r}, not {SIGNING_ALGORITHM!r}",
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=[SIGNING_ALGORITHM],
            # Time claims are checked below against the caller's ``now``, not the wall clock.
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_sub": False,
            },
        )
    except jwt.InvalidSignatureError as error:
        raise CredentialError(
            "bad-signature", "the status list token's signature does not verify with the key"
        ) from error
    except jwt.PyJWTError as error:
        raise CredentialError(
            "malformed", f"the status list token is not a JWT: {error}"
        ) from error

    issued_at = _timestamp(claims, "iat")
    expires = _timestamp(claims, "exp")
    if now - leeway >= expires:
        raise CredentialError("expired", f"the status list token expired at {expires.isoformat()}")
    if issued_at > now + leeway:
        raise CredentialError(
            "issued-in-future", f"the status list token claims issuance at {issued_at.isoformat()}"
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise CredentialError("invalid-claims", "the status list token has no sub (its URI)")
    if uri is not None and subject != uri:
        raise CredentialError(
            "invalid-claims", f"the status list token is for {subject}, not for {uri}"
        )
    ttl = claims.get("ttl")
    if ttl is not None and (type(ttl) is not int or ttl < 1):
        raise CredentialError("invalid-claims", "ttl must be a positive integer of seconds")
    status = claims.get("status_list")
    if not isinstance(status, dict) or not isinstance(status.get("lst"), str):
        raise CredentialError("invalid-claims", "status_list must be an object with a string lst")
    if status.get("bits") != BITS_PER_STATUS or type(status.get("bits")) is not int:
        raise CredentialError(
            "invalid-claims",
            f"only 1-bit status lists are supported, not bits={status.get('bits')!r}",
        )
    try:
        return StatusList.decode(status["lst"])
    except ValueError as error:
        raise CredentialError("malformed", f"status_list.lst: {error}") from error


def _timestamp(claims: dict[str, Any], name: str) -> datetime:
    value = claims.get(name)
    if type(value) is not int or not 0 <= value <= 253402300799:
        raise CredentialError("invalid-claims", f"{name} must be an integer NumericDate")
    return datetime.fromtimestamp(value, UTC)
