"""DIDs: did:key from Ed25519 keys matches the method's published vectors exactly (identifier,
document, derived X25519 key agreement key); did:web names and URLs follow the method; bad
identifiers are refused with a specific reason."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign_ed25519_sk_to_curve25519

from kindred.sovereignty.identity import (
    DidError,
    did_key,
    did_key_document,
    did_key_public_key,
    did_web,
    did_web_document,
    did_web_url,
    domain_did,
    key_fragment,
    verify,
)


def ed25519_vectors(shared_dir: Path) -> dict[str, Any]:
    path = shared_dir / "vectors" / "did-key" / "test-vectors" / "ed25519-x25519.json"
    vectors: dict[str, Any] = json.loads(path.read_text())
    assert len(vectors) >= 5
    return vectors


def test_did_key_vectors_identifier_and_document(shared_dir: Path) -> None:
    for expected_did, vector in ed25519_vectors(shared_dir).items():
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector["seed"]))
        did = did_key(private.public_key())
        assert did == expected_did
        representation = vector["verificationKeyPair"]["type"]
        assert did_key_document(did, representation=representation) == vector["didDocument"]
        assert did_key_public_key(did).public_bytes_raw() == private.public_key().public_bytes_raw()


def test_did_key_vectors_key_agreement_private_key(shared_dir: Path) -> None:
    # The X25519 private key the vectors publish is the libsodium conversion of the seed.
    for vector in ed25519_vectors(shared_dir).values():
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector["seed"]))
        secret = bytes.fromhex(vector["seed"]) + private.public_key().public_bytes_raw()
        agreement = crypto_sign_ed25519_sk_to_curve25519(secret)
        published = vector["keyAgreementKeyPair"]
        if "privateKeyBase58" in published:
            assert base58.b58encode(agreement).decode() == published["privateKeyBase58"]
        else:
            d = published["privateKeyJwk"]["d"]
            assert base64.urlsafe_b64decode(d + "=" * (-len(d) % 4)) == agreement


def test_a_signature_verifies_against_the_resolved_document() -> None:
    private = Ed25519PrivateKey.generate()
    did = did_key(private.public_key())
    document = did_key_document(did)
    signature = private.sign(b"challenge-123")
    assert verify(key_fragment(did), document, signature, b"challenge-123")
    assert not verify(key_fragment(did), document, signature, b"challenge-124")
    other = Ed25519PrivateKey.generate().sign(b"challenge-123")
    assert not verify(key_fragment(did), document, other, b"challenge-123")
    # The key-agreement key may not authenticate.
    assert not verify(document["keyAgreement"][0], document, signature, b"challenge-123")


@pytest.mark.parametrize(
    ("did", "reason"),
    [
        ("did:web:example.com", "not a did:key"),
        ("did:key:6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "base58btc ('z')"),
        ("did:key:z0OIl", "not valid base58btc"),
        ("did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169", "only Ed25519"),
        ("did:key:z" + base58.b58encode(b"\xed\x01" + b"\x01" * 31).decode(), "32 bytes"),
    ],
)
def test_bad_did_keys_are_refused_with_the_reason(did: str, reason: str) -> None:
    with pytest.raises(DidError) as caught:
        did_key_public_key(did)
    assert reason in caught.value.message


def test_did_web_names_and_urls() -> None:
    assert did_web("crm.example.com") == "did:web:crm.example.com"
    assert did_web_url("did:web:crm.example.com") == "https://crm.example.com/.well-known/did.json"
    assert did_web("localhost:8000") == "did:web:localhost%3A8000"
    erp = domain_did("localhost:8000", "erp")
    assert erp == "did:web:localhost%3A8000:domains:erp"
    assert did_web_url(erp) == "https://localhost:8000/domains/erp/did.json"
    with pytest.raises(DidError):
        did_web("example.com", "../etc")
    with pytest.raises(DidError):
        did_web_url("did:key:z6Mk")


def test_did_web_documents_list_every_key_and_assert_with_the_active_one() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    did = domain_did("crm.example.com", "service")
    document = did_web_document(
        did, [("k1", old.public_key()), ("k2", new.public_key())], active="k2"
    )
    assert [m["id"] for m in document["verificationMethod"]] == [f"{did}#k1", f"{did}#k2"]
    assert document["assertionMethod"] == [f"{did}#k2"]
    assert verify(f"{did}#k2", document, new.sign(b"m"), b"m")
    assert not verify(f"{did}#k1", document, old.sign(b"m"), b"m")  # not for authentication
