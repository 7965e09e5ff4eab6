"""The IETF Token Status List (1 bit): setting and reading bits, the draft's own encoding
example byte for byte, encode/decode round trips, and the signed Status List Token, which is
refused when expired, issued in the future, of another typ, for another URI or signed by
another key."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kindred.sovereignty.credentials import CredentialError
from kindred.sovereignty.status_list import (
    DEFAULT_SIZE,
    StatusList,
    read_status_list_token,
    status_list_token,
)

ENTERPRISE = "did:web:kindred.example"
KID = f"{ENTERPRISE}#status-1"
URI = "https://kindred.example/status/1"
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
TTL = timedelta(hours=12)

# draft-ietf-oauth-status-list §4.1, the 1-bit example.
DRAFT_EXAMPLE_STATUSES = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
DRAFT_EXAMPLE_LST = "eNrbuRgAAhcBXQ"


def draft_example() -> StatusList:
    status_list = StatusList(size=len(DRAFT_EXAMPLE_STATUSES))
    for index, status in enumerate(DRAFT_EXAMPLE_STATUSES):
        status_list.set(index, bool(status))
    return status_list


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def assert_refused(code: str, token: str, key: Any, **options: Any) -> None:
    with pytest.raises(CredentialError) as raised:
        read_status_list_token(token, key, **{"now": NOW, **options})
    assert raised.value.code == code, raised.value.message


# -- the list ----------------------------------------------------------------------------------


def test_a_new_list_has_the_herd_privacy_size_and_nothing_revoked() -> None:
    status_list = StatusList()
    assert status_list.size == DEFAULT_SIZE == 131_072
    assert not status_list.is_revoked(0)
    assert not status_list.is_revoked(131_071)
    assert status_list.revoked_indexes() == []


def test_set_and_is_revoked() -> None:
    status_list = StatusList(size=64)
    status_list.set(3, True)
    status_list.set(63, True)
    assert status_list.revoked_indexes() == [3, 63]
    status_list.set(3, False)
    status_list.set(5, False)  # already valid: stays valid
    assert status_list.revoked_indexes() == [63]
    assert status_list.is_revoked(63)
    assert not status_list.is_revoked(62)


def test_indexes_outside_the_list_are_refused() -> None:
    status_list = StatusList(size=16)
    for index in (-1, 16, 10**9):
        with pytest.raises(IndexError):
            status_list.is_revoked(index)
        with pytest.raises(IndexError):
            status_list.set(index, True)


def test_the_drafts_example_encodes_exactly() -> None:
    assert draft_example().encode() == DRAFT_EXAMPLE_LST


def test_the_drafts_example_decodes_exactly() -> None:
    decoded = StatusList.decode(DRAFT_EXAMPLE_LST)
    assert decoded.size == 16
    assert [int(decoded.is_revoked(i)) for i in range(16)] == DRAFT_EXAMPLE_STATUSES
    assert decoded == draft_example()


def test_bit_order_is_least_significant_bit_first() -> None:
    status_list = StatusList(size=16)
    status_list.set(0, True)
    status_list.set(9, True)
    assert zlib.decompress(b64decode(status_list.encode())) == bytes([0b0000_0001, 0b0000_0010])


def test_encode_decode_round_trip() -> None:
    status_list = StatusList()
    for index in (0, 1, 7, 8, 4711, 65_536, 131_071):
        status_list.set(index, True)
    decoded = StatusList.decode(status_list.encode(), size=DEFAULT_SIZE)
    assert decoded == status_list
    assert decoded.revoked_indexes() == [0, 1, 7, 8, 4711, 65_536, 131_071]
    # Mostly-zero lists compress well, which is what makes large lists affordable.
    assert len(status_list.encode()) < 200


def test_sizes_that_are_not_a_multiple_of_eight() -> None:
    status_list = StatusList(size=13)
    status_list.set(12, True)
    assert StatusList.decode(status_list.encode(), size=13) == status_list
    # Bit 13 lies in the padding of a 13-entry list.
    padded = b64encode(zlib.compress(bytes([0, 0b0010_0000])))
    with pytest.raises(ValueError, match="beyond"):
        StatusList.decode(padded, size=13)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "base64url"),
        ("eNrbuRgAAhcBXQ==", "base64url"),
        ("eNrbuRgA+hcBXQ", "base64url"),
        (b64encode(b"not compressed"), "ZLIB"),
        (DRAFT_EXAMPLE_LST[:-3], "truncated"),
        (b64encode(zlib.compress(b"\x01") + b"trailing"), "extra bytes"),
        (b64encode(zlib.compress(b"")), "empty"),
    ],
)
def test_invalid_encodings_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StatusList.decode(text)


def test_a_size_that_does_not_fit_the_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="do not hold"):
        StatusList.decode(DRAFT_EXAMPLE_LST, size=32)


def test_a_decompression_bomb_is_refused() -> None:
    bomb = b64encode(zlib.compress(bytes(16 * 1024 * 1024), level=9))
    with pytest.raises(ValueError, match="more than"):
        StatusList.decode(bomb)


# -- the token ---------------------------------------------------------------------------------


def test_token_sign_and_read_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    status_list = StatusList()
    status_list.set(4711, True)

    token = status_list_token(
        status_list, key, kid=KID, uri=URI, issuer=ENTERPRISE, now=NOW, ttl=TTL
    )

    read = read_status_list_token(token, key.public_key(), now=NOW + timedelta(hours=1), uri=URI)
    assert read == status_list
    assert read.is_revoked(4711)
    assert not read.is_revoked(4712)


def test_token_has_the_drafts_header_and_claims() -> None:
    key = Ed25519PrivateKey.generate()
    token = status_list_token(
        draft_example(), key, kid=KID, uri=URI, issuer=ENTERPRISE, now=NOW, ttl=TTL
    )
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "typ": "statuslist+jwt", "kid": KID}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {
        "iss": ENTERPRISE,
        "sub": URI,
        "iat": 1748779200,
        "exp": 1748779200 + 12 * 3600,
        "ttl": 12 * 3600,
        "status_list": {"bits": 1, "lst": DRAFT_EXAMPLE_LST},
    }


def test_expired_token_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    token = status_list_token(
        StatusList(), key, kid=KID, uri=URI, issuer=ENTERPRISE, now=NOW, ttl=TTL
    )
    leeway = timedelta(seconds=30)
    read_status_list_token(token, key.public_key(), now=NOW + TTL + leeway - timedelta(seconds=1))
    assert_refused("expired", token, key.public_key(), now=NOW + TTL + leeway)


def test_token_issued_in_the_future_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    token = status_list_token(
        StatusList(),
        key,
        kid=KID,
        uri=URI,
        issuer=ENTERPRISE,
        now=NOW + timedelta(minutes=5),
        ttl=TTL,
    )
    assert_refused("issued-in-future", token, key.public_key())


def test_token_signed_by_another_key_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    token = status_list_token(
        StatusList(), key, kid=KID, uri=URI, issuer=ENTERPRISE, now=NOW, ttl=TTL
    )
    assert_refused("bad-signature", token, Ed25519PrivateKey.generate().public_key())


def test_token_with_an_edited_list_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    revoked = StatusList(size=16)
    revoked.set(3, True)
    token = status_list_token(revoked, key, kid=KID, uri=URI, issuer=ENTERPRISE, now=NOW, ttl=TTL)
    header, payload, signature = token.split(".")
    claims = json.loads(b64decode(payload))
    claims["status_list"]["lst"] = StatusList(size=16).encode()  # "un-revoke" everything
    forged = ".".join([header, b64encode(json.dumps(claims).encode()), signature])
    assert_refused("bad-signature", forged, key.public_key())


def test_token_of_another_type_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    claims = {
        "sub": URI,
        "iat": 1748779200,
        "exp": 1748779200 + 3600,
        "status_list": {"bits": 1, "lst": DRAFT_EXAMPLE_LST},
    }
    for typ in ("JWT", "vc+sd-jwt"):
        token = jwt.encode(claims, key, algorithm="EdDSA", headers={"typ": typ, "kid": KID})
        assert_refused("wrong-type", token, key.public_key())


def test_token_for_another_uri_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    token = status_list_token(
        StatusList(), key, kid=KID, uri=URI, issuer=ENTERPRISE, now=NOW, ttl=TTL
    )
    assert_refused("invalid-claims", token, key.public_key(), uri="https://kindred.example/s/2")


@pytest.mark.parametrize(
    "change",
    [
        {"status_list": {"bits": 2, "lst": "eNo76fITAAPfAgc"}},
        {"status_list": {"lst": DRAFT_EXAMPLE_LST}},
        {"status_list": "eNrbuRgAAhcBXQ"},
        {"exp": None},
        {"iat": "1748779200"},
        {"ttl": -5},
        {"sub": None},
    ],
)
def test_token_with_bad_claims_is_refused(change: dict[str, Any]) -> None:
    key = Ed25519PrivateKey.generate()
    claims: dict[str, Any] = {
        "sub": URI,
        "iat": 1748779200,
        "exp": 1748779200 + 3600,
        "ttl": 3600,
        "status_list": {"bits": 1, "lst": DRAFT_EXAMPLE_LST},
    }
    claims.update(change)
    claims = {name: value for name, value in claims.items() if value is not None}
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"typ": "statuslist+jwt"})
    assert_refused("invalid-claims", token, key.public_key())


def test_token_with_a_corrupt_list_is_malformed() -> None:
    key = Ed25519PrivateKey.generate()
    claims = {
        "sub": URI,
        "iat": 1748779200,
        "exp": 1748779200 + 3600,
        "status_list": {"bits": 1, "lst": DRAFT_EXAMPLE_LST[:-3]},
    }
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"typ": "statuslist+jwt"})
    assert_refused("malformed", token, key.public_key())


@pytest.mark.parametrize(
    ("garbage", "code"),
    [
        ("", "malformed"),
        ("garbage", "malformed"),
        ("a.b.c", "malformed"),
        ("e30.e30.", "wrong-type"),  # a JWT-shaped nothing: header {} has no typ
        # The signature is checked before the (non-JSON) payload is read.
        (b64encode(b'{"typ":"statuslist+jwt","alg":"EdDSA"}') + ".bm90IGpzb24.AA", "bad-signature"),
    ],
)
def test_garbage_tokens_are_refused(garbage: str, code: str) -> None:
    assert_refused(code, garbage, Ed25519PrivateKey.generate().public_key())
