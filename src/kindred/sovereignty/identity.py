"""Decentralized identifiers: ``did:key`` for customers, ``did:web`` for the enterprise and its
data domains, and the DID documents both resolve to.

``did:key`` (W3C CCG did:key method, Ed25519): the identifier *is* the public key —
``did:key:z`` + base58btc(multicodec ``0xed01`` + 32 key bytes) — so a customer's DID resolves
without any registry, and a key the customer holds in a wallet needs nothing from us. The
document has the shape the method's published test vectors use (Ed25519VerificationKey2018
for signing, the X25519KeyAgreementKey2019 derived from it for key agreement), checked
against ``shared/vectors/did-key`` in the tests.

``did:web`` (W3C CCG did:web method): ``did:web:<host>[:<path>…]`` resolves to
``https://<host>/<path…>/did.json`` (``/.well-known/did.json`` without a path). The
enterprise is ``did:web:<host>`` and each data domain ``did:web:<host>:domains:<name>``;
their documents list the domain's Ed25519 keys as JsonWebKey2020.

All key operations use ``cryptography``; the Ed25519 → X25519 conversion (RFC 7748's
birational map) uses libsodium through PyNaCl.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.bindings import crypto_sign_ed25519_pk_to_curve25519

ED25519_CODEC = b"\xed\x01"  # multicodec ed25519-pub, as an unsigned varint
X25519_CODEC = b"\xec\x01"  # multicodec x25519-pub
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
ED25519_2018 = "https://w3id.org/security/suites/ed25519-2018/v1"
X25519_2019 = "https://w3id.org/security/suites/x25519-2019/v1"
JWS_2020 = "https://w3id.org/security/suites/jws-2020/v1"
_DOMAIN_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


class DidError(ValueError):
    """A DID that is malformed, of an unsupported method, or does not name a usable key."""

    def __init__(self, did: str, message: str) -> None:
        super().__init__(f"{did!r}: {message}")
        self.did = did
        self.message = message


# -- did:key ---------------------------------------------------------------------------------


def _multibase(codec: bytes, raw: bytes) -> str:
    return "z" + base58.b58encode(codec + raw).decode("ascii")


def did_key(public_key: Ed25519PublicKey) -> str:
    """The ``did:key`` of an Ed25519 public key."""
    return "did:key:" + _multibase(ED25519_CODEC, public_key.public_bytes_raw())


def did_key_public_key(did: str) -> Ed25519PublicKey:
    """The Ed25519 public key a ``did:key`` (or one of its DID URLs) names."""
    identifier = did.split("#", 1)[0]
    if not identifier.startswith("did:key:z"):
        raise DidError(did, "not a did:key with a base58btc ('z') multibase key")
    try:
        decoded = base58.b58decode(identifier[len("did:key:z") :])
    except ValueError:
        raise DidError(did, "the key is not valid base58btc") from None
    if decoded[:2] != ED25519_CODEC:
        raise DidError(did, "only Ed25519 keys (multicodec 0xed01) are supported")
    if len(decoded) != 2 + 32:
        raise DidError(did, f"an Ed25519 key has 32 bytes, not {len(decoded) - 2}")
    return Ed25519PublicKey.from_public_bytes(decoded[2:])


def key_fragment(did: str) -> str:
    """The verification method id of a did:key's signing key (``did#z6Mk…``)."""
    return f"{did}#{did.split(':', 2)[2]}"


def did_key_document(
    did: str, *, representation: str = "Ed25519VerificationKey2018"
) -> dict[str, Any]:
    """Resolve a ``did:key``: its DID document, derived from the identifier alone.

    ``representation``: ``Ed25519VerificationKey2018`` (base58 keys, the method's default) or
    ``JsonWebKey2020`` (JWKs), the two forms the method's vectors publish.
    """
    public = did_key_public_key(did)
    raw = public.public_bytes_raw()
    fingerprint = did.split(":", 2)[2]
    signing = f"{did}#{fingerprint}"
    agreement_key = crypto_sign_ed25519_pk_to_curve25519(raw)
    agreement = f"{did}#{_multibase(X25519_CODEC, agreement_key)}"
    if representation == "JsonWebKey2020":
        contexts = [DID_CONTEXT, JWS_2020]
        methods: list[dict[str, Any]] = [
            {"publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": base64url(raw)}},
            {"publicKeyJwk": {"kty": "OKP", "crv": "X25519", "x": base64url(agreement_key)}},
        ]
        types = ("JsonWebKey2020", "JsonWebKey2020")
    elif representation == "Ed25519VerificationKey2018":
        contexts = [DID_CONTEXT, ED25519_2018, X25519_2019]
        methods = [
            {"publicKeyBase58": base58.b58encode(raw).decode("ascii")},
            {"publicKeyBase58": base58.b58encode(agreement_key).decode("ascii")},
        ]
        types = ("Ed25519VerificationKey2018", "X25519KeyAgreementKey2019")
    else:
        raise DidError(did, f"unknown key representation {representation!r}")
    return {
        "@context": contexts,
        "id": did,
        "verificationMethod": [
            {"id": method_id, "type": kind, "controller": did, **material}
            for method_id, kind, material in zip((signing, agreement), types, methods, strict=True)
        ],
        "assertionMethod": [signing],
        "authentication": [signing],
        "capabilityInvocation": [signing],
        "capabilityDelegation": [signing],
        "keyAgreement": [agreement],
    }


def base64url(raw: bytes) -> str:
    """Unpadded base64url, as JOSE writes keys."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


# -- did:web ---------------------------------------------------------------------------------


def did_web(host: str, *path: str) -> str:
    """``did:web`` for ``host`` (a port is percent-encoded, as the method requires)."""
    for segment in path:
        if not _DOMAIN_NAME.match(segment):
            raise DidError(":".join(path), f"the path segment {segment!r} is not a plain name")
    return ":".join(["did:web", quote(host, safe=""), *path])


def did_web_url(did: str) -> str:
    """Where a ``did:web`` document lives (https, as the method requires)."""
    if not did.startswith("did:web:"):
        raise DidError(did, "not a did:web")
    host, *path = did[len("did:web:") :].split("#", 1)[0].split(":")
    if not host:
        raise DidError(did, "no host")
    base = f"https://{unquote(host)}"
    return f"{base}/{'/'.join(path)}/did.json" if path else f"{base}/.well-known/did.json"


def domain_did(host: str, domain: str) -> str:
    """The ``did:web`` of a data domain (``did:web:<host>:domains:<name>``)."""
    return did_web(host, "domains", domain)


def _jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": base64url(public_key.public_bytes_raw())}


def did_web_document(
    did: str, keys: Sequence[tuple[str, Ed25519PublicKey]], *, active: str
) -> dict[str, Any]:
    """The document of a ``did:web``: every key (``(key id, public key)``, old ones kept so
    old signatures stay verifiable); only the ``active`` one is used for new assertions."""
    methods = [
        {
            "id": f"{did}#{key_id}",
            "type": "JsonWebKey2020",
            "controller": did,
            "publicKeyJwk": _jwk(public),
        }
        for key_id, public in keys
    ]
    current = f"{did}#{active}"
    return {
        "@context": [DID_CONTEXT, JWS_2020],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [current],
        "authentication": [current],
    }


def verify(did_url: str, document: dict[str, Any], signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` over ``message`` verifies with the method ``did_url`` names in
    ``document`` (which must list it under authentication)."""
    if did_url not in document.get("authentication", []):
        return False
    for method in document.get("verificationMethod", []):
        if method.get("id") != did_url:
            continue
        if method.get("type") == "Ed25519VerificationKey2018":
            raw = base58.b58decode(method["publicKeyBase58"])
        elif method.get("type") == "JsonWebKey2020":
            if method["publicKeyJwk"].get("crv") != "Ed25519":
                return False
            x = method["publicKeyJwk"]["x"]
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        else:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True
    return False
