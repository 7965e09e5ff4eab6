"""Browser sessions: a refresh token in an HttpOnly cookie beside the in-memory bearer token.

The console keeps its short-lived access token in memory only (no script-readable storage).
So that a reload or a second tab does not sign the user out, signing in through
``POST /api/v1/auth/session`` also sets a refresh cookie:

- ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it),
  ``Path=/api/v1/auth`` (no other request carries it), ``Secure`` when served over HTTPS;
- a JWT of its own audience (``kindred-refresh``), so it is never accepted as an access token,
  and an access token is never accepted as a refresh token;
- bound to the user's session generation: a password change ends it like every token;
- rotated on every refresh, with an absolute lifetime counted from the sign-in
  (``session_hours``): refreshing never extends a session past it;
- exchanged only by ``POST /api/v1/auth/refresh`` carrying the header
  ``X-Kindred-Session: refresh`` (a custom header no cross-site form or image can send — a
  second line of defence after SameSite).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

from kindred.config import Settings
from kindred.errors import Unauthenticated

COOKIE_NAME = "kindred_refresh"
COOKIE_PATH = "/api/v1/auth"
AUDIENCE = "kindred-refresh"
CSRF_HEADER = "X-Kindred-Session"
CSRF_VALUE = "refresh"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class RefreshClaims:
    user_id: str
    generation: int
    #: When the user signed in (epoch seconds): the session ends session_hours after it.
    started: int


def issue_refresh(
    settings: Settings, user_id: str, generation: int, started: int | None = None
) -> tuple[str, int]:
    """A refresh token and its remaining lifetime in seconds (for the cookie's Max-Age)."""
    now = int(time.time())
    begun = now if started is None else started
    expires = begun + settings.session_hours * 3600
    if expires <= now:
        raise Unauthenticated("the session has ended; sign in again")
    claims = {
        "sub": user_id,
        "aud": AUDIENCE,
        "iss": "kindred",
        "iat": now,
        "exp": expires,
        "sst": begun,
        "sgen": generation,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM), expires - now


def read_refresh(settings: Settings, token: str | None) -> RefreshClaims:
    if not token:
        raise Unauthenticated("no session cookie: sign in")
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer="kindred",
            options={"require": ["exp", "iat", "sub", "sst"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the session has ended; sign in again") from None
    except jwt.PyJWTError:
        raise Unauthenticated("the session cookie is invalid; sign in again") from None
    return RefreshClaims(str(claims["sub"]), int(claims.get("sgen", 0)), int(claims["sst"]))
