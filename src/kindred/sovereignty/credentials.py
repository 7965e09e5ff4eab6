"""Customer consent as verifiable credentials.

A consent grant says: this customer lets this grantee (a role, a user or an agent) use these
data dimensions for this purpose between these two instants. The customer issues it about
themselves and signs it with their own Ed25519 key, so the consent is evidence the customer
can hold, show and check without trusting us.

Format, and why:

- **Data model**: W3C Verifiable Credentials Data Model 2.0. ``issuer`` and
  ``credentialSubject.id`` are both the customer's DID (self-issued), ``validFrom`` and
  ``validUntil`` bound the grant.
- **Securing mechanism**: SD-JWT (RFC 9901) as profiled by W3C VC-JOSE-COSE, JOSE header
  ``typ: "vc+sd-jwt"``, ``alg: "EdDSA"`` (Ed25519) and ``kid`` = the DID URL of the customer's
  key. Every data dimension is its own selectively disclosable array element, so the customer
  (the holder) can show a grantee only the dimensions a particular use needs
  (:func:`present`) and the grantee still verifies the customer's signature.
- **JWT claims**: ``iss``/``iat``/``nbf``/``exp`` mirror issuer, issuance and validity as
  integer seconds, because the sd-jwt library and JOSE tooling reason in those.
  Timestamps are therefore whole seconds everywhere (:class:`ConsentGrant` refuses
  fractions instead of silently rounding a consent window).
- **Revocation**: the IETF OAuth Token Status List (draft-ietf-oauth-status-list), 1 bit per
  credential, see :mod:`kindred.sovereignty.status_list`. It is chosen over the W3C Bitstring
  Status List because the credential is a JOSE token and the IETF list is itself a JWT
  signed with the same tooling, with a ``ttl`` for caching. The reference appears twice and
  both must agree: as the draft's ``status`` claim (``{"status_list": {"idx", "uri"}}``, where
  status-list-aware JWT verifiers look) and, because VCDM 2.0 puts status in
  ``credentialStatus``, as ``{"type": "TokenStatusListEntry", "statusPurpose": "revocation",
  "idx", "uri"}`` (a type our consent context defines). Checking the bit is the caller's job
  once the credential verified: ``status_list.is_revoked(grant.status.index)``.

Verification (:func:`verify_consent`) checks the header before trusting anything, delegates
the signature and the digest/disclosure matching to the ``sd-jwt`` library and then does
what that library leaves out: the time claims (it ignores ``exp``/``nbf``/``iat``), refusing
disclosures the issuer never signed a digest for (RFC 9901 §7.1 requires it, the library
silently drops them), and the shape and consistency of every claim. Every failure is a
:class:`CredentialError` with a stable ``code``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwcrypto.common import JWException
from jwcrypto.jwk import JWK
from jwcrypto.jws import InvalidJWSSignature
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from kindred.errors import KindredError

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CONSENT_CONTEXT = "https://kindred.example/contexts/consent/v1"
CONTEXTS = (VC_CONTEXT, CONSENT_CONTEXT)
CREDENTIAL_TYPES = ("VerifiableCredential", "ConsentCredential")
TOKEN_TYPE = "vc+sd-jwt"
SIGNING_ALGORITHM = "EdDSA"
STATUS_ENTRY_TYPE = "TokenStatusListEntry"
STATUS_PURPOSE = "revocation"
DEFAULT_LEEWAY = timedelta(seconds=30)

GranteeKind = Literal["role", "user", "agent"]
CredentialErrorCode = Literal[
    "malformed",
    "wrong-type",
    "bad-signature",
    "wrong-key",
    "expired",
    "not-yet-valid",
    "issued-in-future",
    "invalid-claims",
]

# DID Core §3.1 syntax, without the rarely used empty inner segments' corner cases.
_DID = re.compile(r"did:[a-z0-9]+:(?:[A-Za-z0-9._%-]*:)*[A-Za-z0-9._%-]+")
_FRAGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@/?%-]+")
_DIMENSION = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_CONSENT_ID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_ISO_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# JSON numbers beyond year 9999 cannot become datetimes; refuse them as claims, not crash.
_LATEST_TIMESTAMP = 253402300799
_SD_LIST_KEY = "..."
_SD_KEY = "_sd"
_SD_ALGORITHM_KEY = "_sd_alg"


class CredentialError(KindredError):
    """A consent credential (or status list token) that must not be trusted.

    ``code`` is stable and machine-readable; ``message`` is a sentence naming what is wrong.
    A :class:`~kindred.errors.KindredError` so the API layer reports it as a problem
    document (with ``code`` as an extension member) like any other domain error.
    """

    status = 422
    problem = "invalid-credential"
    title = "Invalid credential"

    def __init__(self, code: CredentialErrorCode, message: str) -> None:
        super().__init__(message, code=code)
        self.code: CredentialErrorCode = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Grantee:
    """Who may use the data: a role, a user or an (AI) agent, by its id."""

    kind: GranteeKind
    id: str

    def __post_init__(self) -> None:
        if self.kind not in get_args(GranteeKind):
            raise ValueError(f"grantee kind must be one of {get_args(GranteeKind)}")
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError("grantee id must be a non-empty string")


@dataclass(frozen=True)
class StatusReference:
    """Where the credential's revocation bit lives: a status list and an index into it."""

    list_uri: str
    index: int

    def __post_init__(self) -> None:
        if not isinstance(self.list_uri, str) or not _is_absolute_uri(self.list_uri):
            raise ValueError(f"status list URI must be an absolute URI, not {self.list_uri!r}")
        if type(self.index) is not int or self.index < 0:
            raise ValueError(f"status list index must be a non-negative integer: {self.index!r}")


@dataclass(frozen=True)
class ConsentGrant:
    """One customer's consent: dimensions, purpose, grantee, validity window, status.

    Timestamps are aware UTC datetimes in whole seconds (the credential carries seconds).
    """

    id: str
    subject: str
    dimensions: tuple[str, ...]
    purpose: str
    grantee: Grantee
    valid_from: datetime
    valid_until: datetime
    status: StatusReference
    issued_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _CONSENT_ID.fullmatch(self.id):
            raise ValueError(f"consent id must be 'urn:uuid:' and a lowercase UUID: {self.id!r}")
        if not _is_did(self.subject):
            raise ValueError(f"subject must be a DID: {self.subject!r}")
        if not isinstance(self.dimensions, tuple) or not self.dimensions:
            raise ValueError("dimensions must be a non-empty tuple of strings")
        for dimension in self.dimensions:
            if not isinstance(dimension, str) or not _DIMENSION.fullmatch(dimension):
                raise ValueError(
                    f"dimension {dimension!r} is not a dotted name like 'contact.email'"
                )
        if len(set(self.dimensions)) != len(self.dimensions):
            raise ValueError(f"dimensions must not repeat: {self.dimensions!r}")
        if (
            not isinstance(self.purpose, str)
            or not self.purpose
            or self.purpose != self.purpose.strip()
        ):
            raise ValueError(
                f"purpose must be a non-empty string without surrounding space: {self.purpose!r}"
            )
        if not isinstance(self.grantee, Grantee):
            raise ValueError("grantee must be a Grantee")
        if not isinstance(self.status, StatusReference):
            raise ValueError("status must be a StatusReference")
        for name in ("valid_from", "valid_until", "issued_at"):
            _require_utc_seconds(name, getattr(self, name))
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be later than valid_from")

    @classmethod
    def create(
        cls,
        *,
        subject: str,
        dimensions: Collection[str],
        purpose: str,
        grantee: Grantee,
        valid_from: datetime,
        valid_until: datetime,
        status: StatusReference,
        issued_at: datetime | None = None,
    ) -> ConsentGrant:
        """A new grant with a fresh ``urn:uuid`` id and timestamps truncated to whole seconds
        (``issued_at`` defaults to now)."""
        if isinstance(dimensions, str):
            raise TypeError("dimensions must be a collection of names, not one string")
        return cls(
            id=f"urn:uuid:{uuid.uuid4()}",
            subject=subject,
            dimensions=tuple(dimensions),
            purpose=purpose,
            grantee=grantee,
            valid_from=_whole_seconds(valid_from),
            valid_until=_whole_seconds(valid_until),
            status=status,
            issued_at=_whole_seconds(issued_at or datetime.now(UTC)),
        )


# -- issuing ---------------------------------------------------------------------------------


def issue_consent(grant: ConsentGrant, key: Ed25519PrivateKey, *, kid: str) -> str:
    """The grant as an SD-JWT in compact serialization (``<issuer JWT>~<disclosure>~…~``),
    signed with the customer's ``key``; every dimension is a separate disclosure.

    ``kid`` is the DID URL of ``key`` and its DID must be the grant's subject: the customer
    issues their own consent, and a verifier would refuse anything else.
    """
    did = _did_of_kid(kid)
    if did is None:
        raise ValueError(f"kid must be a DID URL with a fragment ('did:…#…'), not {kid!r}")
    if did != grant.subject:
        raise ValueError(
            f"kid names {did}, but the consent's subject (its issuer) is {grant.subject}"
        )
    issuer = SDJWTIssuer(
        _credential_claims(grant),
        JWK.from_pyca(key),
        sign_alg=SIGNING_ALGORITHM,
        # Explicit: the library's default typ is "example+sd-jwt" (or $SD_JWT_HEADER).
        extra_header_parameters={"typ": TOKEN_TYPE, "kid": kid},
    )
    return cast(str, issuer.sd_jwt_issuance)


def _credential_claims(grant: ConsentGrant) -> dict[str, Any]:
    return {
        "@context": list(CONTEXTS),
        "type": list(CREDENTIAL_TYPES),
        "id": grant.id,
        "issuer": grant.subject,
        "validFrom": _iso(grant.valid_from),
        "validUntil": _iso(grant.valid_until),
        "credentialSubject": {
            "id": grant.subject,
            "purpose": grant.purpose,
            "grantee": {"kind": grant.grantee.kind, "id": grant.grantee.id},
            "dimensions": [SDObj(dimension) for dimension in grant.dimensions],
        },
        "credentialStatus": {
            "type": STATUS_ENTRY_TYPE,
            "statusPurpose": STATUS_PURPOSE,
            "uri": grant.status.list_uri,
            "idx": grant.status.index,
        },
        "status": {"status_list": {"idx": grant.status.index, "uri": grant.status.list_uri}},
        "iss": grant.subject,
        "iat": _seconds(grant.issued_at),
        "nbf": _seconds(grant.valid_from),
        "exp": _seconds(grant.valid_until),
    }


# -- presenting ------------------------------------------------------------------------------


def present(token: str, dimensions: Collection[str]) -> str:
    """A presentation of ``token`` that discloses only the named dimensions.

    Holder side: it does not verify the signature (the verifier does) and adds no key binding
    (the credential binds no holder key; the customer is issuer and subject). Raises
    ``CredentialError('malformed')`` if ``token`` is not an SD-JWT and ``ValueError`` if the
    request is empty or names a dimension the token does not carry.
    """
    if isinstance(dimensions, str):
        raise TypeError("dimensions must be a collection of names, not one string")
    wanted = set(dimensions)
    if not wanted:
        raise ValueError("a presentation must disclose at least one dimension")
    parts = _split(token)
    payload = _decode_json_segment(parts.payload_segment, "the issuer JWT payload")
    values = _disclosures_by_digest(parts.disclosures)
    subject = payload.get("credentialSubject") if isinstance(payload, dict) else None
    elements = subject.get("dimensions") if isinstance(subject, dict) else None
    if not isinstance(elements, list):
        raise CredentialError("malformed", "the token has no credentialSubject.dimensions array")
    # The holder library selects array elements by position, so map each position to the
    # dimension its disclosure carries.
    selection: list[bool] = []
    available: set[str] = set()
    for element in elements:
        disclosure = values.get(_array_digest(element) or "")
        dimension = disclosure[-1] if disclosure is not None else None
        if isinstance(dimension, str):
            available.add(dimension)
        selection.append(isinstance(dimension, str) and dimension in wanted)
    missing = wanted - available
    if missing:
        raise ValueError(f"the credential does not disclose dimension(s) {sorted(missing)}")
    try:
        holder = SDJWTHolder(token)
        holder.create_presentation({"credentialSubject": {"dimensions": selection}})
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as error:
        raise CredentialError(
            "malformed", f"the SD-JWT cannot be parsed: {_brief(error)}"
        ) from error
    return cast(str, holder.sd_jwt_presentation)


# -- verifying -------------------------------------------------------------------------------


def verify_consent(
    token: str,
    public_key_for: Callable[[str], Ed25519PublicKey | None],
    *,
    now: datetime,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> ConsentGrant:
    """Verify a consent SD-JWT (issued or presented) and return its grant, with only the
    dimensions whose disclosures are present.

    ``public_key_for(kid)`` returns the Ed25519 key the header's ``kid`` (a DID URL) names,
    or ``None`` if it names none. ``leeway`` tolerates clock skew on ``exp``, ``nbf`` and
    ``iat``. Raises :class:`CredentialError`; whether the grant is revoked is checked
    separately against its status list.
    """
    _require_aware("now", now)
    if leeway < timedelta(0):
        raise ValueError("leeway must not be negative")
    parts = _split(token)

    # The header decides which key and algorithm get used, so it is checked before the
    # signature and before anything in the payload is looked at.
    header = _decode_json_segment(parts.header_segment, "the JOSE header")
    if not isinstance(header, dict):
        raise CredentialError("malformed", "the JOSE header is not a JSON object")
    if header.get("typ") != TOKEN_TYPE:
        raise CredentialError(
            "wrong-type", f"the JOSE header typ is {header.get('typ')!r}, not {TOKEN_TYPE!r}"
        )
    if header.get("alg") != SIGNING_ALGORITHM:
        raise CredentialError(
            "wrong-type",
            f"the JOSE header alg is {header.get('alg')!r}, not {SIGNING_ALGORITHM!r}",
        )
    if "crit" in header or "b64" in header:
        raise CredentialError(
            "wrong-type", "the JOSE header uses crit/b64 extensions this verifier does not accept"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or _did_of_kid(kid) is None:
        raise CredentialError("wrong-key", f"the JOSE header kid {kid!r} is not a DID URL")
    public_key = public_key_for(kid)
    if public_key is None:
        raise CredentialError("wrong-key", f"no public key is known for kid {kid!r}")

    # Parsed ahead of the library so that broken or repeated disclosures get a precise
    # message (the library's would quote the claims).
    disclosures = _disclosures_by_digest(parts.disclosures)
    verified = _verify_with_library(token, JWK.from_pyca(public_key))

    # From here the issuer JWT's payload bytes are known to be signed by ``kid``.
    signed_payload = _decode_json_segment(parts.payload_segment, "the issuer JWT payload")
    _require_disclosures_signed(signed_payload, disclosures)
    _require_dimensions_selectively_disclosable(signed_payload)
    grant = _grant_from_claims(verified, kid)
    _check_times(grant, now=now, leeway=leeway)
    return grant


def _verify_with_library(token: str, key: JWK) -> dict[str, Any]:
    try:
        verifier = SDJWTVerifier(token, lambda _issuer, _header: key)
        claims = verifier.get_verified_payload()
    except InvalidJWSSignature as error:
        raise CredentialError(
            "bad-signature", "the issuer signature does not verify with the key kid names"
        ) from error
    except JWException as error:
        raise CredentialError(
            "malformed", f"the issuer JWT is not a valid JWS: {_brief(error)}"
        ) from error
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as error:
        # The library reports digest collisions, duplicate disclosures and undecodable parts
        # as plain Python errors.
        raise CredentialError(
            "malformed", f"the SD-JWT is not well-formed: {_brief(error)}"
        ) from error
    if not isinstance(claims, dict):
        raise CredentialError("malformed", "the issuer JWT payload is not a JSON object")
    return claims


def _require_disclosures_signed(signed_payload: Any, by_digest: dict[str, list[Any]]) -> None:
    """RFC 9901 §7.1: every disclosure must be referenced by a digest the issuer signed
    (directly, or inside another referenced disclosure); the library does not check this."""
    referenced: set[str] = set()
    pending: list[Any] = [signed_payload]
    while pending:
        item = pending.pop()
        digests: list[Any] = []
        if isinstance(item, dict):
            array_digest = _array_digest(item)
            if array_digest is not None:
                digests = [array_digest]
            else:
                sd_digests = item.get(_SD_KEY)
                if isinstance(sd_digests, list):
                    digests = sd_digests
                pending.extend(value for key, value in item.items() if key != _SD_KEY)
        elif isinstance(item, list):
            pending.extend(item)
        for digest in digests:
            if isinstance(digest, str) and digest not in referenced:
                referenced.add(digest)
                if digest in by_digest:
                    pending.append(by_digest[digest][-1])
    for position, digest in enumerate(by_digest, start=1):
        if digest not in referenced:
            raise CredentialError(
                "bad-signature",
                f"disclosure {position} is not covered by the issuer's signature "
                "(no signed digest references it)",
            )


def _require_dimensions_selectively_disclosable(signed_payload: Any) -> None:
    subject = signed_payload.get("credentialSubject") if isinstance(signed_payload, dict) else None
    elements = subject.get("dimensions") if isinstance(subject, dict) else None
    if not isinstance(elements, list) or not elements:
        raise _invalid("credentialSubject.dimensions must be a non-empty array")
    if any(_array_digest(element) is None for element in elements):
        raise _invalid("every credentialSubject.dimensions element must be selectively disclosable")
    if signed_payload.get(_SD_ALGORITHM_KEY, "sha-256") != "sha-256":
        raise _invalid("_sd_alg must be sha-256")


def _grant_from_claims(claims: dict[str, Any], kid: str) -> ConsentGrant:
    if claims.get("@context") != list(CONTEXTS):
        raise CredentialError("wrong-type", f"@context must be {list(CONTEXTS)}")
    if claims.get("type") != list(CREDENTIAL_TYPES):
        raise CredentialError("wrong-type", f"type must be {list(CREDENTIAL_TYPES)}")

    credential_id = _string(claims, "id")
    issuer = _string(claims, "issuer")
    jwt_issuer = _string(claims, "iss")
    subject = _object(claims, "credentialSubject")
    subject_id = _string(subject, "id", "credentialSubject")
    if not (issuer == jwt_issuer == subject_id):
        raise _invalid(
            f"iss ({jwt_issuer}), issuer ({issuer}) and credentialSubject.id ({subject_id}) "
            "must be the same DID: consent is issued by the customer it is about"
        )
    if _did_of_kid(kid) != jwt_issuer:
        raise CredentialError(
            "wrong-key", f"the signing key {kid} does not belong to the issuer {jwt_issuer}"
        )

    issued_at = _timestamp(claims, "iat")
    not_before = _timestamp(claims, "nbf")
    expires = _timestamp(claims, "exp")
    if _iso_datetime(claims, "validFrom") != not_before:
        raise _invalid("validFrom does not match nbf")
    if _iso_datetime(claims, "validUntil") != expires:
        raise _invalid("validUntil does not match exp")

    grantee = _object(subject, "grantee", "credentialSubject")
    dimensions = subject.get("dimensions")
    if not isinstance(dimensions, list) or not all(isinstance(d, str) for d in dimensions):
        raise _invalid("the disclosed credentialSubject.dimensions must be strings")
    if not dimensions:
        raise _invalid("the presentation discloses no dimension")

    credential_status = _object(claims, "credentialStatus")
    if credential_status.get("type") != STATUS_ENTRY_TYPE:
        raise _invalid(f"credentialStatus.type must be {STATUS_ENTRY_TYPE!r}")
    if credential_status.get("statusPurpose") != STATUS_PURPOSE:
        raise _invalid(f"credentialStatus.statusPurpose must be {STATUS_PURPOSE!r}")
    status_uri = _string(credential_status, "uri", "credentialStatus")
    status_index = _integer(credential_status, "idx", "credentialStatus")
    status_claim = _object(claims, "status")
    if status_claim.get("status_list") != {"idx": status_index, "uri": status_uri}:
        raise _invalid("status.status_list must name the same idx and uri as credentialStatus")

    try:
        return ConsentGrant(
            id=credential_id,
            subject=subject_id,
            dimensions=tuple(dimensions),
            purpose=_string(subject, "purpose", "credentialSubject"),
            grantee=Grantee(
                kind=cast(GranteeKind, _string(grantee, "kind", "credentialSubject.grantee")),
                id=_string(grantee, "id", "credentialSubject.grantee"),
            ),
            valid_from=not_before,
            valid_until=expires,
            status=StatusReference(list_uri=status_uri, index=status_index),
            issued_at=issued_at,
        )
    except ValueError as error:
        raise _invalid(str(error)) from error


def _check_times(grant: ConsentGrant, *, now: datetime, leeway: timedelta) -> None:
    # RFC 7519 §4.1.4/§4.1.5: valid while now < exp and now >= nbf, each widened by leeway.
    # Written as now ± leeway so a validUntil near year 9999 cannot overflow datetime.
    if now - leeway >= grant.valid_until:
        raise CredentialError(
            "expired", f"the consent expired at {_iso(grant.valid_until)} (validUntil/exp)"
        )
    if now + leeway < grant.valid_from:
        raise CredentialError(
            "not-yet-valid", f"the consent is not valid before {_iso(grant.valid_from)}"
        )
    if grant.issued_at > now + leeway:
        raise CredentialError(
            "issued-in-future", f"the consent claims to be issued at {_iso(grant.issued_at)}"
        )


# -- parsing helpers -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parts:
    header_segment: str
    payload_segment: str
    disclosures: list[str]


def _split(token: object) -> _Parts:
    if not isinstance(token, str):
        raise CredentialError("malformed", "the token is not a string")
    if "~" not in token:
        raise CredentialError(
            "malformed", "not an SD-JWT: the compact form is '<issuer JWT>~<disclosures>~'"
        )
    issuer_jwt, *disclosures, key_binding = token.split("~")
    if key_binding:
        raise CredentialError(
            "malformed", "the token carries a key binding JWT, which consent credentials never do"
        )
    segments = issuer_jwt.split(".")
    if len(segments) != 3 or not all(segments):
        raise CredentialError("malformed", "the issuer JWT does not have three non-empty parts")
    for part in [*segments, *disclosures]:
        if not _BASE64URL.fullmatch(part):
            raise CredentialError("malformed", "a token part is not unpadded base64url")
    return _Parts(segments[0], segments[1], disclosures)


def _decode_base64url(text: str, what: str) -> bytes:
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise CredentialError("malformed", f"{what} is not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise CredentialError("malformed", f"{what} is not base64url: {error}") from error


def _decode_json_segment(text: str, what: str) -> Any:
    raw = _decode_base64url(text, what)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise CredentialError("malformed", f"{what} is not JSON: {error}") from error


def _disclosures_by_digest(disclosures: list[str]) -> dict[str, list[Any]]:
    """Each disclosure by its RFC 9901 §4.2.3 digest: base64url(SHA-256(ASCII(disclosure)))."""
    by_digest: dict[str, list[Any]] = {}
    for position, disclosure in enumerate(disclosures, start=1):
        decoded = _decode_json_segment(disclosure, f"disclosure {position}")
        if (
            not isinstance(decoded, list)
            or len(decoded) not in (2, 3)
            or not isinstance(decoded[0], str)
        ):
            raise CredentialError(
                "malformed", f"disclosure {position} is not a [salt, (name,) value] array"
            )
        digest = _base64url(hashlib.sha256(disclosure.encode("ascii")).digest())
        if digest in by_digest:
            raise CredentialError("malformed", f"disclosure {position} is repeated")
        by_digest[digest] = decoded
    return by_digest


def _array_digest(element: Any) -> str | None:
    """The digest of an RFC 9901 array-element placeholder ``{"...": digest}``, else None."""
    if isinstance(element, dict) and len(element) == 1:
        digest = element.get(_SD_LIST_KEY)
        if isinstance(digest, str):
            return digest
    return None


def _brief(error: Exception) -> str:
    """A library error's text, cut short: some quote whole claim sets, which do not belong
    in logs."""
    text = str(error) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _invalid(message: str) -> CredentialError:
    return CredentialError("invalid-claims", message)


def _where(name: str, parent: str | None) -> str:
    return f"{parent}.{name}" if parent else name


def _string(claims: Mapping[str, Any], name: str, parent: str | None = None) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid(f"{_where(name, parent)} must be a non-empty string")
    return value


def _integer(claims: Mapping[str, Any], name: str, parent: str | None = None) -> int:
    value = claims.get(name)
    if type(value) is not int:
        raise _invalid(f"{_where(name, parent)} must be an integer")
    return value


def _object(claims: Mapping[str, Any], name: str, parent: str | None = None) -> dict[str, Any]:
    value = claims.get(name)
    if not isinstance(value, dict):
        raise _invalid(f"{_where(name, parent)} must be an object")
    return value


def _timestamp(claims: Mapping[str, Any], name: str) -> datetime:
    value = _integer(claims, name)
    if not 0 <= value <= _LATEST_TIMESTAMP:
        raise _invalid(f"{name} is out of range: {value}")
    return datetime.fromtimestamp(value, UTC)


def _iso_datetime(claims: Mapping[str, Any], name: str) -> datetime:
    value = _string(claims, name)
    if not _ISO_SECONDS.fullmatch(value):
        raise _invalid(f"{name} must be an ISO 8601 UTC timestamp like 2025-01-31T12:00:00Z")
    try:
        return datetime.strptime(value, _ISO_FORMAT).replace(tzinfo=UTC)
    except ValueError as error:
        raise _invalid(f"{name} is not a valid date and time: {value}") from error


def _did_of_kid(kid: str) -> str | None:
    """The DID of a DID URL ``did:…#fragment``, or None if ``kid`` is not one."""
    did, separator, fragment = kid.partition("#")
    if separator and _is_did(did) and _FRAGMENT.fullmatch(fragment):
        return did
    return None


def _is_did(value: object) -> bool:
    return isinstance(value, str) and _DID.fullmatch(value) is not None


def _is_absolute_uri(value: str) -> bool:
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _require_utc_seconds(name: str, value: object) -> None:
    if not isinstance(value, datetime) or value.utcoffset() != timedelta(0):
        raise ValueError(f"{name} must be an aware UTC datetime")
    if value.microsecond:
        raise ValueError(f"{name} must be a whole second (the credential carries seconds)")


def _whole_seconds(value: datetime) -> datetime:
    _require_aware("timestamp", value)
    return value.astimezone(UTC).replace(microsecond=0)


def _seconds(value: datetime) -> int:
    return int(value.timestamp())


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_ISO_FORMAT)


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
