"""Authentication (passwords, JWTs, API keys) and principal loading.

Users are records of the ``user`` object; this service owns their secrets and turns a
credential into a ``Principal`` carrying merged role permissions and territory visibility.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from typing import Any

import jwt
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from kindred.auth.models import ApiKey, RoleDefinition, UserCredential
from kindred.auth.permissions import (
    BUILTIN_ROLES,
    SYSTEM_PRINCIPAL,
    Principal,
    RolePermissions,
)
from kindred.auth.throttle import SignInThrottle
from kindred.config import Settings
from kindred.db import Database, utcnow
from kindred.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
    field_error,
)
from kindred.ids import new_id
from kindred.records.metadata import AUTH_COUNTER, bump_generation, current_generation
from kindred.records.models import RecordRow
from kindred.records.service import RecordService, RequestContext
from kindred.records.storage import object_is

JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "kdr_"
MIN_PASSWORD_LENGTH = 10
# The same words for known and unknown email addresses: a lockout reveals no account.
FAILED_SIGN_INS = "too many failed sign-ins for this email address"
records: sa.Table = RecordRow.__table__  # type: ignore[assignment]


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "the password is too short",
            errors=[
                field_error("/password", "min_length", f"at least {MIN_PASSWORD_LENGTH} characters")
            ],
        )


class AuthService:
    def __init__(self, settings: Settings, record_service: RecordService) -> None:
        self.settings = settings
        self.records = record_service
        self.hasher = PasswordHasher(
            time_cost=settings.password_time_cost, memory_cost=settings.password_memory_kib
        )
        # Verified against when the email is unknown, so response time does not reveal
        # which email addresses have accounts.
        self._dummy_hash = self.hasher.hash("kindred-timing-equalizer")
        # user id → (auth generation, principal). Loading a principal takes three queries;
        # checking the generation takes one, and any change to users, territories, roles or
        # API keys moves it, so a cached principal is never staler than the last commit.
        self._principals: dict[str, tuple[int, Principal]] = {}
        self._keys: dict[str, tuple[int, str]] = {}
        # user id → (auth generation, session generation): what a token must carry. A
        # password change moves both, so no process accepts an earlier token after it.
        self._sessions: dict[str, tuple[int, int]] = {}
        self.throttle = SignInThrottle(settings)

    def on_record_change(self, session: Session, entries: list[dict[str, Any]]) -> None:
        """Change hook: user and territory records shape principals."""
        if any(entry["object"] in ("user", "territory") for entry in entries):
            bump_generation(session, AUTH_COUNTER)

    def hash_password(self, password: str) -> str:
        # Through the gate like every check: Argon2 takes password_memory_kib each time.
        with self.throttle.hashing.slot():
            return self.hasher.hash(password)

    def _verify(self, password_hash: str, password: str) -> bool:
        with self.throttle.hashing.slot():
            try:
                return self.hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

    # -- roles ------------------------------------------------------------------------------

    def install_builtin_roles(self, session: Session) -> int:
        present = set(session.execute(sa.select(RoleDefinition.name)).scalars())
        added = 0
        for name, (description, permissions) in BUILTIN_ROLES.items():
            if name not in present:
                session.add(
                    RoleDefinition(
                        name=name,
                        description=description,
                        permissions=permissions.model_dump(mode="json"),
                        builtin=True,
                    )
                )
                added += 1
        session.flush()
        return added

    def role_permissions(self, session: Session, names: list[str]) -> tuple[RolePermissions, ...]:
        rows = session.execute(
            sa.select(RoleDefinition.permissions).where(RoleDefinition.name.in_(names))
        ).scalars()
        return tuple(RolePermissions.model_validate(row) for row in rows)

    # -- users ------------------------------------------------------------------------------

    def create_user(
        self,
        session: Session,
        *,
        email: str,
        name: str,
        password: str | None,
        roles: list[str],
        territories: list[str] | None = None,
        context: RequestContext | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        known = set(session.execute(sa.select(RoleDefinition.name)).scalars())
        unknown = [r for r in roles if r not in known]
        if unknown:
            raise ValidationFailed(
                "unknown roles",
                errors=[field_error("/roles", "unknown_role", f"no role '{r}'") for r in unknown],
            )
        if password is not None:
            check_password_strength(password)
        payload: dict[str, Any] = {"email": email, "name": name, "roles": roles, **(extra or {})}
        if territories:
            payload["territories"] = territories
        user = self.records.create(
            session, context or RequestContext(SYSTEM_PRINCIPAL), "user", payload
        )
        if password is not None:
            session.add(
                UserCredential(user_id=user["id"], password_hash=self.hash_password(password))
            )
            session.flush()
        return user

    def set_password(self, session: Session, user_id: str, password: str) -> None:
        check_password_strength(password)
        self.store_password_hash(session, user_id, self.hash_password(password))

    def store_password_hash(
        self,
        session: Session,
        user_id: str,
        password_hash: str,
        *,
        expected_generation: int | None = None,
    ) -> None:
        """Give a user a new password (hashed by the caller, outside the write transaction):
        every earlier token of the user is refused from now on, and the account's failed
        sign-ins are forgotten. ``expected_generation``: the session generation the caller
        saw when it checked the current password; a change in between is a Conflict."""
        credential = session.get(UserCredential, user_id, with_for_update=True)
        generation = credential.session_generation if credential is not None else 0
        if expected_generation is not None and generation != expected_generation:
            raise Conflict("the password was changed by another request meanwhile: try again")
        if credential is None:
            credential = UserCredential(user_id=user_id, password_hash=password_hash)
            session.add(credential)
        else:
            credential.password_hash = password_hash
            credential.updated_at = utcnow()
        credential.session_generation = generation + 1
        session.flush()
        bump_generation(session, AUTH_COUNTER)  # every process re-reads what tokens must carry
        email = self._email(session, user_id)
        if email:
            self.throttle.clear(session, self.throttle.account_key("password", email))

    def _email(self, session: Session, user_id: str) -> str | None:
        data = session.execute(
            sa.select(records.c.data).where(records.c.id == user_id, object_is("user"))
        ).scalar()
        email = (data or {}).get("email")
        return str(email) if email else None

    def find_user_id(self, session: Session, email: str) -> str | None:
        from kindred.records.storage import field_expression

        dialect = session.get_bind().dialect.name
        expression = field_expression(dialect, "email", "text")
        return session.execute(
            sa.select(records.c.id).where(object_is("user"), expression == email.strip().lower())
        ).scalar()

    # -- credentials → principal ------------------------------------------------------------

    def sign_in(
        self, database: Database, email: str, password: str, address: str
    ) -> tuple[str, int]:
        """A password sign-in, throttled per account and per client address
        (auth/throttle.py): a bearer token and its lifetime in seconds."""
        principal, generation = self.check_sign_in(database, email, password, address)
        return self.issue_token(principal, generation)

    def check_sign_in(
        self, database: Database, email: str, password: str, address: str
    ) -> tuple[Principal, int]:
        """The principal a password sign-in is for, and their session generation."""
        throttle = self.throttle
        throttle.check_address("password", address)
        key = throttle.account_key("password", email)
        with database.read() as session:
            on_record = throttle.check_account(session, key, FAILED_SIGN_INS)
            user_id = self.find_user_id(session, email)
            stored = self._stored_password(session, user_id) if user_id else None
        # Checked outside any transaction: no pooled connection is held while waiting for a
        # hashing slot. Unknown emails are checked against a dummy hash, so the answer takes
        # as long, and are counted like known ones.
        matches = self._verify(stored[0] if stored else self._dummy_hash, password)
        if not matches or stored is None or user_id is None:
            with database.write() as session:
                throttle.record_failure(session, key)
            throttle.address_failed("password", address)
            raise Unauthenticated("wrong email or password")
        with database.write() if on_record else database.read() as session:
            principal = self.load_principal(session, user_id, via="password")
            if on_record:
                throttle.clear(session, key)
        return principal, stored[1]

    def refreshed_principal(self, session: Session, user_id: str, generation: int) -> Principal:
        """The principal a browser session's refresh cookie stands for, if it still does:
        the password has not changed since (same session generation) and the user is
        active."""
        auth_generation = current_generation(session, AUTH_COUNTER)
        if generation != self._session_generation(session, user_id, auth_generation):
            raise Unauthenticated("this session ended when the password was changed; sign in again")
        return self._principal(session, user_id, "token", auth_generation)

    def verify_current_password(
        self, database: Database, user_id: str, password: str, address: str
    ) -> int:
        """Check a user's current password (to change it), throttled like a sign-in of
        their account; the session generation it was checked at."""
        throttle = self.throttle
        throttle.check_address("password", address)
        with database.read() as session:
            key = throttle.account_key("password", self._email(session, user_id) or user_id)
            throttle.check_account(session, key, FAILED_SIGN_INS)
            stored = self._stored_password(session, user_id)
        if not self._verify(stored[0] if stored else self._dummy_hash, password) or not stored:
            with database.write() as session:
                throttle.record_failure(session, key)
            throttle.address_failed("password", address)
            raise PermissionDenied(
                "the current password is wrong",
                errors=[field_error("/current_password", "wrong", "not your current password")],
            )
        return stored[1]

    @staticmethod
    def _stored_password(session: Session, user_id: str) -> tuple[str, int] | None:
        """(password hash, session generation) of a user, or None (no password)."""
        row = session.execute(
            sa.select(UserCredential.password_hash, UserCredential.session_generation).where(
                UserCredential.user_id == user_id
            )
        ).first()
        return (row.password_hash, row.session_generation) if row else None

    def issue_token(self, principal: Principal, session_generation: int) -> tuple[str, int]:
        """A bearer token for ``principal``, valid until it expires or the user's password
        changes (``session_generation``: the user credential's, read with the password)."""
        now = dt.datetime.now(dt.UTC)
        lifetime = self.settings.access_token_minutes * 60
        claims = {
            "sub": principal.user_id,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + lifetime,
            "iss": "kindred",
            "jti": secrets.token_hex(8),
            "sgen": session_generation,
        }
        return jwt.encode(claims, self.settings.secret_key, algorithm=JWT_ALGORITHM), lifetime

    def principal_from_token(self, session: Session, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.settings.secret_key,
                algorithms=[JWT_ALGORITHM],
                issuer="kindred",
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the access token has expired; sign in again") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"the access token is invalid ({error})") from None
        generation = current_generation(session, AUTH_COUNTER)
        user_id = str(claims["sub"])
        # Tokens from before the session generation existed carry none: generation 0.
        if claims.get("sgen", 0) != self._session_generation(session, user_id, generation):
            raise Unauthenticated("this session ended when the password was changed; sign in again")
        return self._principal(session, user_id, "token", generation)

    def _session_generation(self, session: Session, user_id: str, generation: int) -> int:
        cached = self._sessions.get(user_id)
        if cached is not None and cached[0] == generation:
            return cached[1]
        value = session.execute(
            sa.select(UserCredential.session_generation).where(UserCredential.user_id == user_id)
        ).scalar()
        if len(self._sessions) > 10_000:
            self._sessions.clear()
        self._sessions[user_id] = (generation, int(value or 0))
        return int(value or 0)

    def acting_principal(self, session: Session, user_id: str) -> Principal:
        """The principal automation (a scenario, an agent) acts as, with its current rights:
        a demoted author's automation loses the rights at once, a deactivated one's stops
        (Unauthenticated). Cached like every principal, per auth generation."""
        generation = current_generation(session, AUTH_COUNTER)
        return self._principal(session, user_id, "automation", generation)

    def _principal(self, session: Session, user_id: str, via: str, generation: int) -> Principal:
        cached = self._principals.get(user_id)
        if cached is not None and cached[0] == generation:
            principal = cached[1]
        else:
            principal = self.load_principal(session, user_id)
            if len(self._principals) > 10_000:
                self._principals.clear()
            self._principals[user_id] = (generation, principal)
        if principal.via != via:
            principal = dataclasses.replace(principal, via=via, _cache={})  # type: ignore[arg-type]
        return principal

    def create_api_key(self, session: Session, user_id: str, name: str) -> tuple[ApiKey, str]:
        if not name.strip():
            raise ValidationFailed(
                "an API key needs a name",
                errors=[field_error("/name", "required", "give the key a name")],
            )
        self.load_principal(session, user_id)  # the user must exist and be active
        key_id = new_id()
        secret = secrets.token_urlsafe(32)
        prefix = secret[:8]
        plaintext = f"{API_KEY_PREFIX}{prefix}_{secret}"
        row = ApiKey(
            id=key_id,
            user_id=user_id,
            name=name.strip(),
            prefix=prefix,
            secret_hash=hashlib.sha256(plaintext.encode()).hexdigest(),
        )
        session.add(row)
        session.flush()
        bump_generation(session, AUTH_COUNTER)
        return row, plaintext

    def revoke_api_key(self, session: Session, key_id: str) -> None:
        row = session.get(ApiKey, key_id)
        if row is None:
            raise NotFound(f"no API key with id '{key_id}'")
        if row.revoked_at is not None:
            raise Conflict("the API key is already revoked")
        row.revoked_at = utcnow()
        session.flush()
        bump_generation(session, AUTH_COUNTER)

    def principal_from_api_key(
        self, session: Session, plaintext: str, address: str | None = None
    ) -> Principal:
        """The principal of an API key. With the client's ``address``, failures spend its
        budget and a spent budget is refused (429) before the key is looked at."""
        if address is None:
            return self._principal_from_api_key(session, plaintext)
        self.throttle.check_address("api-key", address)
        try:
            return self._principal_from_api_key(session, plaintext)
        except Unauthenticated:
            self.throttle.address_failed("api-key", address)
            raise

    def _principal_from_api_key(self, session: Session, plaintext: str) -> Principal:
        if not plaintext.startswith(API_KEY_PREFIX):
            raise Unauthenticated("that is not a Kindred API key (they start with 'kdr_')")
        digest = hashlib.sha256(plaintext.encode()).hexdigest()
        generation = current_generation(session, AUTH_COUNTER)
        cached = self._keys.get(digest)
        if cached is not None and cached[0] == generation:
            return self._principal(session, cached[1], "api_key", generation)
        row = session.execute(
            sa.select(ApiKey.user_id, ApiKey.revoked_at).where(ApiKey.secret_hash == digest)
        ).first()
        if row is None:
            raise Unauthenticated("unknown API key")
        if row.revoked_at is not None:
            raise Unauthenticated("this API key has been revoked")
        self._keys[digest] = (generation, row.user_id)
        return self._principal(session, row.user_id, "api_key", generation)

    def load_principal(self, session: Session, user_id: str, via: str = "token") -> Principal:
        row = session.execute(
            sa.select(records.c.data).where(records.c.id == user_id, object_is("user"))
        ).first()
        if row is None:
            raise Unauthenticated("the user no longer exists")
        data = row.data
        if data.get("active") is False:
            raise Unauthenticated("this user is deactivated")
        roles = list(data.get("roles") or [])
        return Principal(
            user_id=user_id,
            name=str(data.get("name") or data.get("email")),
            roles=tuple(roles),
            role_permissions=self.role_permissions(session, roles),
            territory_ids=self.territory_closure(session, list(data.get("territories") or [])),
            via=via,  # type: ignore[arg-type]
        )

    @staticmethod
    def territory_closure(session: Session, roots: list[str]) -> frozenset[str]:
        """The given territories and every territory below them."""
        if not roots:
            return frozenset()
        from kindred.records.storage import field_expression

        dialect = session.get_bind().dialect.name
        parent = field_expression(dialect, "parent", "text")
        children: dict[str, list[str]] = {}
        for territory_id, parent_id in session.execute(
            sa.select(records.c.id, parent).where(object_is("territory"))
        ).all():
            if parent_id:
                children.setdefault(parent_id, []).append(territory_id)
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(children.get(current, []))
        return frozenset(seen)
