"""Signing customers in to their data passport: by signing a challenge with their DID key, or,
for custodial keys, by a magic link sent to their email.

A challenge is single use and short-lived, and what is signed is bound to this deployment
(``kindred-passport|<host>|<nonce>``) so a signature cannot be replayed here or reused
elsewhere. Every attempt consumes its challenge, successful or not. A passport session is a
JWT signed with a key derived for passports alone: it can never pass as a staff token, nor
a staff token as a passport session.

A magic link is mailed by a courier off the request path (``link_mail``): asking for one
answers the same, at once, whether the address is known and whether the mail server is up.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jwt
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from kindred.auth.permissions import SYSTEM_PRINCIPAL
from kindred.common.mail import SmtpSettings
from kindred.db import Database
from kindred.errors import KindredError, NotFound, ValidationFailed, field_error
from kindred.records.query import FieldFilter, ListQuery
from kindred.records.service import RecordService, RequestContext
from kindred.sovereignty.identities import IdentityService
from kindred.sovereignty.identity import DidError, did_key_public_key
from kindred.sovereignty.link_mail import LinkCourier
from kindred.sovereignty.models import PassportChallenge

CHALLENGE_SECONDS = 300
MAGIC_LINK_SECONDS = 900
SESSION_SECONDS = 900
# Expired challenges and links are kept this long before the retention pass forgets them, so
# a late try is still told 'expired' rather than 'unknown'.
EXPIRED_KEPT_SECONDS = 86_400
AUDIENCE = "kindred-passport"


class PassportRefused(KindredError):
    """A sign-in attempt that grants nothing; ``reason`` says exactly why."""

    status = 401
    problem = "passport-sign-in-refused"
    title = "Passport sign-in refused"

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail, reason=reason)
        self.reason = reason


@dataclass(frozen=True)
class PassportSession:
    did: str
    subject_object: str
    subject_id: str
    via: str  # did-signature | magic-link


Opened = tuple[str, PassportSession]  # (session token, whose session)


def signed_text(host: str, nonce: str) -> bytes:
    """What the customer's wallet signs for a challenge."""
    return f"kindred-passport|{host}|{nonce}".encode()


class PassportAuth:
    def __init__(self, secret: str, identities: IdentityService) -> None:
        self.identities = identities
        self._key = HKDF(
            algorithm=SHA256(), length=32, salt=b"kindred-passport", info=b"passport sessions"
        ).derive(secret.encode())
        self.mail = LinkCourier()

    # -- DID challenges ---------------------------------------------------------------------

    def challenge(self, session: Session, did: str) -> tuple[str, float, str]:
        """(nonce, expires at, the exact text to sign) for a customer DID."""
        identity = self.identities.by_did(session, did)
        nonce = secrets.token_urlsafe(24)
        expires = time.time() + CHALLENGE_SECONDS
        session.add(
            PassportChallenge(
                nonce_hash=_hash(nonce), did=identity.did, kind="challenge", expires_at=expires
            )
        )
        return nonce, expires, signed_text(self.identities.public_host, nonce).decode()

    def sign_in_with_signature(
        self, session: Session, did: str, nonce: str, signature: str
    ) -> Opened:
        """Check the signature over the challenge; a passport session token and its owner."""
        row = self._consume(session, nonce, "challenge")
        if row.did != did.split("#", 1)[0]:
            raise PassportRefused("this challenge was issued to another DID", "wrong-did")
        try:
            raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
            did_key_public_key(row.did).verify(raw, signed_text(self.identities.public_host, nonce))
        except (InvalidSignature, ValueError, DidError):
            raise PassportRefused(
                "the signature does not verify with the DID's key (sign the exact 'sign' text "
                "of the challenge with the key the DID names, base64url-encoded)",
                "bad-signature",
            ) from None
        return self._open(session, row.did, "did-signature")

    def attempt(self, session: Session, step: Callable[[], Opened]) -> Opened | PassportRefused:
        """Run a sign-in step, returning (not raising) its refusal: the caller commits the
        consumed challenge first and raises after, so a failed attempt uses it up too."""
        try:
            return step()
        except PassportRefused as refusal:
            return refusal

    # -- magic links (custodial customers) --------------------------------------------------

    def magic_link(self, session: Session, did: str) -> str:
        """A single-use sign-in token for a custodial customer (sent to them by email)."""
        identity = self.identities.by_did(session, did)
        if identity.custody != "custodial":
            raise ValidationFailed(
                "this customer holds their own key: sign in by signing a challenge",
                errors=[field_error("did", "self-custody", "use POST /api/v1/passport/challenge")],
            )
        token = secrets.token_urlsafe(32)
        session.add(
            PassportChallenge(
                nonce_hash=_hash(token),
                did=identity.did,
                kind="magic-link",
                expires_at=time.time() + MAGIC_LINK_SECONDS,
            )
        )
        return token

    def magic_link_for_email(
        self, session: Session, records: RecordService, email: str
    ) -> tuple[str, str] | None:
        """(magic link token, the address to send it to) for the custodial customer with
        this email, or None (no such customer, or one holding their own key)."""
        system = RequestContext(SYSTEM_PRINCIPAL, purpose="passport-sign-in", channel="passport")
        for object_name in sorted(self.identities.customer_objects):
            page = records.list_records(
                session,
                system,
                object_name,
                ListQuery(filters=[FieldFilter("email", "eq", email)], limit=1),
            )
            if not page.data:
                continue
            record = page.data[0]
            try:
                identity = self.identities.of_subject(session, object_name, record["id"])
            except NotFound:
                continue
            if identity.custody != "custodial":
                return None
            return self.magic_link(session, identity.did), str(record["email"])
        return None

    def mail_link(self, smtp: SmtpSettings, public_url: str, token: str, to: str) -> None:
        """Hand the sign-in link to the courier; returns at once (delivered in the background,
        retried; a failure is logged and counted, never told to whoever asked)."""
        self.mail.post(
            smtp,
            to=to,
            subject="Your Kindred data passport sign-in link",
            text=(
                "Open this link within 15 minutes to see and manage the data held about you:\n"
                f"{public_url}/passport?token={token}\n\n"
                "If you did not ask for it, ignore this message."
            ),
        )

    def sign_in_with_magic_link(self, session: Session, token: str) -> Opened:
        row = self._consume(session, token, "magic-link")
        return self._open(session, row.did, "magic-link")

    # -- sessions ---------------------------------------------------------------------------

    def _consume(self, session: Session, secret: str, kind: str) -> PassportChallenge:
        row = session.get(PassportChallenge, _hash(secret), with_for_update=True)
        if row is None or row.kind != kind:
            # Nothing to consume; nothing is written.
            raise PassportRefused(f"unknown {kind}: ask for a new one", "unknown")
        if row.used_at is not None:
            raise PassportRefused(f"this {kind} was already used (a replay)", "replayed")
        row.used_at = time.time()
        session.flush()
        if row.expires_at < time.time():
            raise PassportRefused(f"this {kind} has expired: ask for a new one", "expired")
        return row

    def _open(self, session: Session, did: str, via: str) -> Opened:
        identity = self.identities.by_did(session, did)
        now = int(time.time())
        claims = {
            "sub": identity.did,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + SESSION_SECONDS,
            "via": via,
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, self._key, algorithm="HS256")
        return token, PassportSession(
            identity.did, identity.subject_object, identity.subject_id, via
        )

    def session_from_token(self, session: Session, token: str) -> PassportSession:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                options={"require": ["exp", "iat", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise PassportRefused("the passport session has expired", "expired") from None
        except jwt.PyJWTError as error:
            raise PassportRefused(f"not a passport session ({error})", "invalid") from None
        try:
            identity = self.identities.by_did(session, str(claims["sub"]))
        except NotFound:
            raise PassportRefused("this customer no longer exists", "unknown") from None
        return PassportSession(
            identity.did, identity.subject_object, identity.subject_id, str(claims.get("via"))
        )

    def purge(
        self,
        session: Session,
        older_than: float = EXPIRED_KEPT_SECONDS,
        *,
        now: float | None = None,
    ) -> int:
        """Forget challenges and links, used or not, that expired more than ``older_than``
        seconds before ``now`` (default: the current time); returns how many."""
        moment = time.time() if now is None else now
        result = session.execute(
            sa.delete(PassportChallenge).where(PassportChallenge.expires_at < moment - older_than)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def purge_expired(self, database: Database, now: datetime) -> int:
        """The retention pass's task (``RetentionTask("passport_challenges", …)``, registered
        by the composition root): :meth:`purge` in its own transaction, at the pass's clock."""
        with database.write() as session:
            return self.purge(session, now=now.timestamp())


def _hash(secret: str) -> str:
    # Only hashes are stored: a leaked table holds no usable challenge or magic link.
    return hashlib.sha256(secret.encode()).hexdigest()
