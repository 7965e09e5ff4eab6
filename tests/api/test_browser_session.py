"""Browser sessions (console): a refresh cookie beside the in-memory bearer token.

Signing in through ``/auth/session`` sets an HttpOnly, SameSite=Strict cookie scoped to
``/api/v1/auth``; ``/auth/refresh`` exchanges it (only with the ``X-Kindred-Session`` header)
for a new token and a rotated cookie; ``/auth/logout`` clears it. The cookie is never an
access token, an access token is never a refresh token, and a password change, a
deactivation or the absolute lifetime ends the session.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from kindred.auth import sessions
from tests.api.conftest import PASSWORD, World

REFRESH = {"X-Kindred-Session": "refresh"}


def browser_sign_in(client: Any, email: str) -> dict[str, Any]:
    answer = client.post("/api/v1/auth/session", data={"username": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return dict(answer.json()) | {"set-cookie": answer.headers["set-cookie"]}


def test_a_browser_sign_in_sets_a_locked_down_refresh_cookie(client: Any, world: World) -> None:
    signed = browser_sign_in(client, world.sales_east.email)
    cookie = signed["set-cookie"].lower()
    assert cookie.startswith(f"{sessions.COOKIE_NAME}=")
    for attribute in ("httponly", "samesite=strict", "path=/api/v1/auth", "max-age="):
        assert attribute in cookie, cookie
    me = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {signed['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["id"] == world.sales_east.id


def test_refresh_gives_a_new_token_for_the_same_user_and_rotates_the_cookie(
    client: Any, world: World
) -> None:
    browser_sign_in(client, world.sales_east.email)
    first = client.cookies.get(sessions.COOKIE_NAME)
    answer = client.post("/api/v1/auth/refresh", headers=REFRESH)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    assert client.cookies.get(sessions.COOKIE_NAME) not in (None, first)
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["id"] == world.sales_east.id


def test_refresh_without_the_header_is_refused_and_keeps_the_cookie(
    client: Any, world: World
) -> None:
    browser_sign_in(client, world.sales_east.email)
    before = client.cookies.get(sessions.COOKIE_NAME)
    answer = client.post("/api/v1/auth/refresh")
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert "X-Kindred-Session" in answer.json()["detail"]
    assert client.cookies.get(sessions.COOKIE_NAME) == before


def test_refresh_without_a_session_is_a_401_problem(client: Any) -> None:
    answer = client.post("/api/v1/auth/refresh", headers=REFRESH)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "no session cookie: sign in"


def test_the_cookie_is_not_an_access_token_nor_a_token_a_cookie(client: Any, world: World) -> None:
    signed = browser_sign_in(client, world.sales_east.email)
    refresh = client.cookies.get(sessions.COOKIE_NAME)
    as_bearer = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {refresh}"})
    assert as_bearer.status_code == 401
    client.cookies.clear()
    as_cookie = client.post(
        "/api/v1/auth/refresh",
        headers=REFRESH | {"Cookie": f"{sessions.COOKIE_NAME}={signed['access_token']}"},
    )
    assert as_cookie.status_code == 401
    assert as_cookie.json()["detail"] == "the session cookie is invalid; sign in again"
    # A refused cookie is cleared, so the browser stops sending it.
    assert "max-age=0" in as_cookie.headers["set-cookie"].lower()


def test_logout_clears_the_cookie_and_refresh_then_fails(client: Any, world: World) -> None:
    browser_sign_in(client, world.sales_east.email)
    answer = client.post("/api/v1/auth/logout")
    assert answer.status_code == 204
    assert "max-age=0" in answer.headers["set-cookie"].lower()
    assert client.cookies.get(sessions.COOKIE_NAME) is None
    assert client.post("/api/v1/auth/refresh", headers=REFRESH).status_code == 401


def test_a_password_change_ends_the_browser_session(client: Any, world: World) -> None:
    signed = browser_sign_in(client, world.sales_east.email)
    changed = client.put(
        f"/api/v1/users/{world.sales_east.id}/password",
        json={"password": "an-entirely-new-passphrase-42", "current_password": PASSWORD},
        headers={"Authorization": f"Bearer {signed['access_token']}"},
    )
    assert changed.status_code == 204, changed.text
    answer = client.post("/api/v1/auth/refresh", headers=REFRESH)
    assert answer.status_code == 401
    assert "password was changed" in answer.json()["detail"]


def test_a_deactivated_user_cannot_refresh(client: Any, world: World) -> None:
    browser_sign_in(client, world.sales_east.email)
    deactivated = client.patch(
        f"/api/v1/objects/user/records/{world.sales_east.id}",
        json={"active": False},
        headers=world.admin.headers,
    )
    assert deactivated.status_code == 200, deactivated.text
    answer = client.post("/api/v1/auth/refresh", headers=REFRESH)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "this user is deactivated"


def test_refreshing_never_extends_a_session_past_its_absolute_lifetime(
    kindred: Any, client: Any, world: World
) -> None:
    settings = kindred.settings
    started = int(
        jwt.decode(
            sessions.issue_refresh(settings, world.sales_east.id, 0)[0],
            options={"verify_signature": False},
        )["sst"]
    )
    # A session that began session_hours ago cannot be renewed, whatever the cookie says.
    with pytest.raises(Exception, match="the session has ended"):
        sessions.issue_refresh(
            settings, world.sales_east.id, 0, started - settings.session_hours * 3600
        )
    token, max_age = sessions.issue_refresh(settings, world.sales_east.id, 0, started - 3600)
    assert max_age <= settings.session_hours * 3600 - 3600
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] == started - 3600 + settings.session_hours * 3600
