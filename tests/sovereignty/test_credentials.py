"""Consent credentials: an issued SD-JWT round-trips to the same grant, a presentation
discloses only the dimensions asked for, and every realistic forgery (another key, a kid of
another DID, a changed typ or alg, tampered bytes, a smuggled disclosure, stale or premature
times, garbage) is refused as a CredentialError with its exact code."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from kindred.sovereignty.credentials import (
    ConsentGrant,
    CredentialError,
    Grantee,
    StatusReference,
    issue_consent,
    present,
    verify_consent,
)

CUSTOMER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
CUSTOMER_KID = f"{CUSTOMER}#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
MALLORY = "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG"
MALLORY_KID = f"{MALLORY}#z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG"
ISSUED = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
DIMENSIONS = ("contact.email", "contact.phone", "address.city")
LEEWAY = timedelta(seconds=30)


@pytest.fixture
def customer_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def mallory_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def keys(
    customer_key: Ed25519PrivateKey, mallory_key: Ed25519PrivateKey
) -> Callable[[str], Ed25519PublicKey | None]:
    """The resolver a verifier would have: each DID URL to its key (did:key resolves anyone)."""
    known = {CUSTOMER_KID: customer_key.public_key(), MALLORY_KID: mallory_key.public_key()}
    return known.get


def grant(**changes: Any) -> ConsentGrant:
    fields: dict[str, Any] = {
        "id": "urn:uuid:3f1c2a8e-6b7d-4c1e-9a2b-5d4e3f2a1b0c",
        "subject": CUSTOMER,
        "dimensions": DIMENSIONS,
        "purpose": "marketing",
        "grantee": Grantee(kind="agent", id="agent:outreach"),
        "valid_from": ISSUED,
        "valid_until": ISSUED + timedelta(days=30),
        "status": StatusReference(list_uri="https://kindred.example/status/1", index=4711),
        "issued_at": ISSUED,
    }
    fields.update(changes)
    return ConsentGrant(**fields)


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], str, list[str]]:
    """Header, payload, signature segment and disclosures of a compact SD-JWT."""
    issuer_jwt, *disclosures, _ = token.split("~")
    header, payload, signature = issuer_jwt.split(".")
    return json.loads(b64decode(header)), json.loads(b64decode(payload)), signature, disclosures


def resign(
    token: str,
    key: Any,
    *,
    header: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> str:
    """The token with its issuer JWT re-signed by ``key`` (what a forger holding some key
    can do), with optionally changed header/payload and the original disclosures."""
    original_header, original_payload, _, disclosures = split(token)
    signed = JWS(payload=json.dumps(payload if payload is not None else original_payload))
    protected = header if header is not None else original_header
    signed.add_signature(JWK.from_pyca(key), alg=protected["alg"], protected=json.dumps(protected))
    return "~".join([signed.serialize(compact=True), *disclosures, ""])


def assert_refused(code: str, token: str, keys: Callable[[str], Any], now: datetime) -> None:
    with pytest.raises(CredentialError) as raised:
        verify_consent(token, keys, now=now, leeway=LEEWAY)
    assert raised.value.code == code, raised.value.message
    assert raised.value.message


# -- issuing and verifying ---------------------------------------------------------------------


def test_round_trip_returns_the_same_grant(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    original = grant()
    token = issue_consent(original, customer_key, kid=CUSTOMER_KID)

    verified = verify_consent(token, keys, now=ISSUED + timedelta(days=1))

    assert verified == original
    assert verified.dimensions == DIMENSIONS


def test_token_has_the_vc_sd_jwt_header_and_vcdm_payload(customer_key: Ed25519PrivateKey) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    header, payload, _, disclosures = split(token)

    assert header == {"alg": "EdDSA", "typ": "vc+sd-jwt", "kid": CUSTOMER_KID}
    assert payload["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://kindred.example/contexts/consent/v1",
    ]
    assert payload["type"] == ["VerifiableCredential", "ConsentCredential"]
    assert payload["issuer"] == payload["iss"] == payload["credentialSubject"]["id"] == CUSTOMER
    assert payload["validFrom"] == "2025-06-01T12:00:00Z"
    assert payload["validUntil"] == "2025-07-01T12:00:00Z"
    assert (payload["iat"], payload["nbf"], payload["exp"]) == (
        1748779200,
        1748779200,
        1748779200 + 30 * 86400,
    )
    assert payload["credentialStatus"] == {
        "type": "TokenStatusListEntry",
        "statusPurpose": "revocation",
        "uri": "https://kindred.example/status/1",
        "idx": 4711,
    }
    assert payload["status"] == {
        "status_list": {"idx": 4711, "uri": "https://kindred.example/status/1"}
    }
    # No dimension is visible in the signed payload: each is a digest of its disclosure.
    elements = payload["credentialSubject"]["dimensions"]
    assert [list(element) for element in elements] == [["..."]] * 3
    assert not any(dimension in json.dumps(payload) for dimension in DIMENSIONS)
    digests = [b64encode(hashlib.sha256(d.encode("ascii")).digest()) for d in disclosures]
    assert sorted(digests) == sorted(element["..."] for element in elements)
    assert [json.loads(b64decode(d))[1] for d in disclosures] == list(DIMENSIONS)


def test_presentation_discloses_only_the_chosen_dimensions(
    customer_key: Ed25519PrivateKey, keys: Any
) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)

    presentation = present(token, ["address.city", "contact.email"])

    _, _, _, disclosures = split(presentation)
    assert len(disclosures) == 2
    assert "contact.phone" not in "".join(b64decode(d).decode() for d in disclosures)
    verified = verify_consent(presentation, keys, now=ISSUED)
    assert verified.dimensions == ("contact.email", "address.city")
    assert verified == grant(dimensions=("contact.email", "address.city"))


def test_presenting_an_unknown_or_no_dimension_is_refused(
    customer_key: Ed25519PrivateKey,
) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    with pytest.raises(ValueError, match=r"health\.diagnosis"):
        present(token, ["contact.email", "health.diagnosis"])
    with pytest.raises(ValueError, match="at least one"):
        present(token, [])


def test_a_presentation_without_any_dimension_is_refused(
    customer_key: Ed25519PrivateKey, keys: Any
) -> None:
    issuer_jwt = issue_consent(grant(), customer_key, kid=CUSTOMER_KID).split("~")[0]
    assert_refused("invalid-claims", issuer_jwt + "~", keys, ISSUED)


def test_issuing_with_a_kid_of_another_did_is_refused(customer_key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="subject"):
        issue_consent(grant(), customer_key, kid=MALLORY_KID)


def test_grant_rejects_bad_fields() -> None:
    with pytest.raises(ValueError, match="repeat"):
        grant(dimensions=("contact.email", "contact.email"))
    with pytest.raises(ValueError, match="non-empty"):
        grant(dimensions=())
    with pytest.raises(ValueError, match="later"):
        grant(valid_until=ISSUED)
    with pytest.raises(ValueError, match="UTC"):
        grant(valid_from=datetime(2025, 6, 1, 12, 0, 0))
    with pytest.raises(ValueError, match="whole second"):
        grant(issued_at=ISSUED.replace(microsecond=5))
    with pytest.raises(ValueError, match="DID"):
        grant(subject="customer-42")


def test_create_makes_a_fresh_id_and_whole_seconds(
    customer_key: Ed25519PrivateKey, keys: Any
) -> None:
    created = ConsentGrant.create(
        subject=CUSTOMER,
        dimensions=["contact.email"],
        purpose="service",
        grantee=Grantee(kind="role", id="support"),
        valid_from=ISSUED.replace(microsecond=999_999),
        valid_until=ISSUED + timedelta(hours=1),
        status=StatusReference(list_uri="https://kindred.example/status/1", index=0),
        issued_at=ISSUED.replace(microsecond=1),
    )
    assert created.id.startswith("urn:uuid:")
    assert created.valid_from == created.issued_at == ISSUED
    token = issue_consent(created, customer_key, kid=CUSTOMER_KID)
    assert verify_consent(token, keys, now=ISSUED) == created


# -- forgeries ---------------------------------------------------------------------------------


def test_signature_by_another_key_is_bad_signature(
    customer_key: Ed25519PrivateKey, mallory_key: Ed25519PrivateKey, keys: Any
) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    forged = resign(token, mallory_key)  # still claims the customer's kid
    assert_refused("bad-signature", forged, keys, ISSUED)


def test_kid_of_another_did_than_the_subject_is_wrong_key(
    customer_key: Ed25519PrivateKey, mallory_key: Ed25519PrivateKey, keys: Any
) -> None:
    # Mallory signs validly with her own key, but about (and as) the customer.
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    header, _, _, _ = split(token)
    forged = resign(token, mallory_key, header={**header, "kid": MALLORY_KID})
    assert_refused("wrong-key", forged, keys, ISSUED)


def test_unknown_kid_is_wrong_key(customer_key: Ed25519PrivateKey) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    assert_refused("wrong-key", token, lambda kid: None, ISSUED)


def test_kid_that_is_not_a_did_url_is_wrong_key(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    header, _, _, _ = split(token)
    for kid in ("key-1", CUSTOMER, None):
        forged = resign(token, customer_key, header={**header, "kid": kid})
        assert_refused("wrong-key", forged, lambda _kid: customer_key.public_key(), ISSUED)


def test_changed_typ_is_wrong_type(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    header, _, _, _ = split(token)
    for typ in ("JWT", "example+sd-jwt", "dc+sd-jwt", None):
        forged = resign(token, customer_key, header={**header, "typ": typ})
        assert_refused("wrong-type", forged, keys, ISSUED)


def test_other_algorithms_are_wrong_type(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    header, _, _, disclosures = split(token)
    elliptic = resign(token, generate_private_key(SECP256R1()), header={**header, "alg": "ES256"})
    assert_refused("wrong-type", elliptic, keys, ISSUED)
    # The classic "alg: none" downgrade: an unsigned token.
    issuer_jwt = token.split("~")[0]
    unsigned_header = b64encode(json.dumps({**header, "alg": "none"}).encode())
    unsigned = f"{unsigned_header}.{issuer_jwt.split('.')[1]}.AA"
    assert_refused("wrong-type", "~".join([unsigned, *disclosures, ""]), keys, ISSUED)


def test_tampered_payload_is_bad_signature(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    issuer_jwt, *rest = token.split("~")
    header_segment, payload_segment, signature = issuer_jwt.split(".")
    payload = json.loads(b64decode(payload_segment))
    payload["credentialSubject"]["purpose"] = "resale"
    tampered = ".".join([header_segment, b64encode(json.dumps(payload).encode()), signature])
    assert_refused("bad-signature", "~".join([tampered, *rest]), keys, ISSUED)


def test_a_flipped_payload_byte_is_bad_signature(
    customer_key: Ed25519PrivateKey, keys: Any
) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    issuer_jwt, *rest = token.split("~")
    header_segment, payload_segment, signature = issuer_jwt.split(".")
    raw = bytearray(b64decode(payload_segment))
    position = raw.index(b"marketing")
    raw[position] = ord("n")  # "narketing": still JSON, no longer what was signed
    tampered = ".".join([header_segment, b64encode(bytes(raw)), signature])
    assert_refused("bad-signature", "~".join([tampered, *rest]), keys, ISSUED)


def test_a_tampered_signature_is_bad_signature(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    issuer_jwt, *rest = token.split("~")
    header_segment, payload_segment, signature = issuer_jwt.split(".")
    raw = bytearray(b64decode(signature))
    raw[0] ^= 0x01
    tampered = ".".join([header_segment, payload_segment, b64encode(bytes(raw))])
    assert_refused("bad-signature", "~".join([tampered, *rest]), keys, ISSUED)


def test_a_forged_extra_disclosure_is_bad_signature(
    customer_key: Ed25519PrivateKey, keys: Any
) -> None:
    token = issue_consent(grant(dimensions=("contact.email",)), customer_key, kid=CUSTOMER_KID)
    forged_disclosure = b64encode(json.dumps(["c2FsdHNhbHRzYWx0", "health.diagnosis"]).encode())
    forged = token + forged_disclosure + "~"
    assert_refused("bad-signature", forged, keys, ISSUED)


def test_a_modified_disclosure_is_bad_signature(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(dimensions=("contact.email",)), customer_key, kid=CUSTOMER_KID)
    issuer_jwt, disclosure, _ = token.split("~")
    salt, _ = json.loads(b64decode(disclosure))
    modified = b64encode(json.dumps([salt, "health.diagnosis"]).encode())
    assert_refused("bad-signature", f"{issuer_jwt}~{modified}~", keys, ISSUED)


def test_a_repeated_disclosure_is_malformed(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    _, _, _, disclosures = split(token)
    assert_refused("malformed", token + disclosures[0] + "~", keys, ISSUED)


def test_a_key_binding_jwt_is_refused(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    assert_refused("malformed", token + token.split("~")[0], keys, ISSUED)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "~",
        "not a token",
        "eyJhbGciOiJFZERTQSJ9",
        "a.b.c~",
        "a.b~",
        "!!!.???.***~",
        "eyJ.eyJ.sig~",
        "W10.e30.AA~",
    ],
)
def test_garbage_is_malformed(garbage: str, keys: Any) -> None:
    assert_refused("malformed", garbage, keys, ISSUED)


def test_truncated_tokens_are_malformed(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    issuer_jwt = token.split("~")[0]
    assert_refused("malformed", issuer_jwt, keys, ISSUED)  # the '~' and disclosures cut off
    assert_refused("malformed", token[:30], keys, ISSUED)  # inside the header
    assert_refused("malformed", token[:-5] + "~", keys, ISSUED)  # inside the last disclosure


def test_claims_that_disagree_are_invalid(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    _, payload, _, _ = split(token)
    changes: list[dict[str, Any]] = [
        {"issuer": MALLORY},
        {"iss": MALLORY},
        {"validFrom": "2025-06-01T12:00:01Z"},
        {"validUntil": "2025-07-01"},
        {"exp": "1751371200"},
        {"status": {"status_list": {"idx": 1, "uri": "https://kindred.example/status/1"}}},
        {"credentialStatus": {**payload["credentialStatus"], "statusPurpose": "suspension"}},
        {"credentialSubject": {**payload["credentialSubject"], "grantee": {"kind": "robot"}}},
        # A dimension in plain sight, not selectively disclosable.
        {
            "credentialSubject": {
                **payload["credentialSubject"],
                "dimensions": [*payload["credentialSubject"]["dimensions"], "contact.email"],
            }
        },
        {"id": "consent-1"},
    ]
    for change in changes:
        forged = resign(token, customer_key, payload={**payload, **change})
        assert_refused("invalid-claims", forged, keys, ISSUED)


def test_another_credential_type_is_wrong_type(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    _, payload, _, _ = split(token)
    forged = resign(token, customer_key, payload={**payload, "type": ["VerifiableCredential"]})
    assert_refused("wrong-type", forged, keys, ISSUED)


# -- time --------------------------------------------------------------------------------------


def test_expired_consent_is_refused(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    assert_refused("expired", token, keys, ISSUED + timedelta(days=31))


def test_consent_not_yet_valid_is_refused(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    later = grant(valid_from=ISSUED + timedelta(days=7))
    token = issue_consent(later, customer_key, kid=CUSTOMER_KID)
    assert_refused("not-yet-valid", token, keys, ISSUED)


def test_consent_issued_in_the_future_is_refused(
    customer_key: Ed25519PrivateKey, keys: Any
) -> None:
    backdated_window = grant(issued_at=ISSUED + timedelta(hours=1))
    token = issue_consent(backdated_window, customer_key, kid=CUSTOMER_KID)
    assert_refused("issued-in-future", token, keys, ISSUED)


def test_leeway_is_respected_at_each_boundary(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    expires = ISSUED + timedelta(days=30)
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    second = timedelta(seconds=1)

    # exp: valid while now < exp + leeway.
    verify_consent(token, keys, now=expires + LEEWAY - second, leeway=LEEWAY)
    assert_refused("expired", token, keys, expires + LEEWAY)
    # nbf: valid from nbf - leeway on.
    verify_consent(token, keys, now=ISSUED - LEEWAY, leeway=LEEWAY)
    assert_refused("not-yet-valid", token, keys, ISSUED - LEEWAY - second)
    # iat: up to leeway in the future is clock skew, beyond is refused.
    future = grant(valid_from=ISSUED - timedelta(hours=1), issued_at=ISSUED + LEEWAY)
    future_token = issue_consent(future, customer_key, kid=CUSTOMER_KID)
    verify_consent(future_token, keys, now=ISSUED, leeway=LEEWAY)
    assert_refused("issued-in-future", future_token, keys, ISSUED - second)
    # Without leeway the same instants fail.
    with pytest.raises(CredentialError) as raised:
        verify_consent(token, keys, now=expires, leeway=timedelta(0))
    assert raised.value.code == "expired"


def test_now_must_be_aware(customer_key: Ed25519PrivateKey, keys: Any) -> None:
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    with pytest.raises(ValueError, match="timezone"):
        verify_consent(token, keys, now=datetime(2025, 6, 1, 12, 0, 0))


def test_credential_error_is_a_problem_document() -> None:
    error = CredentialError("expired", "the consent expired")
    assert error.to_problem()["code"] == "expired"
    assert str(error) == "expired: the consent expired"


def test_random_mutations_raise_only_credential_errors(customer_key: Ed25519PrivateKey) -> None:
    """Whatever a hostile network does to the bytes, the verifier answers with a
    CredentialError (or, for an untouched or merely shortened presentation, a grant)."""
    token = issue_consent(grant(), customer_key, kid=CUSTOMER_KID)
    randomness = random.Random(9901)
    alphabet = 'AZaz09-_~.=+/ {}[]"\x00é'
    for _ in range(2000):
        characters = list(token)
        position = randomness.randrange(len(characters))
        operation = randomness.randrange(4)
        if operation == 0:
            characters[position] = randomness.choice(alphabet)
        elif operation == 1:
            del characters[position : position + randomness.randrange(1, 20)]
        elif operation == 2:
            characters.insert(position, randomness.choice(alphabet))
        else:
            del characters[position:]
        mutated = "".join(characters)
        try:
            verified = verify_consent(mutated, lambda _kid: customer_key.public_key(), now=ISSUED)
        except CredentialError:
            continue
        assert mutated.split("~")[0] == token.split("~")[0]
        assert set(verified.dimensions) <= set(DIMENSIONS)
