"""A reference WeChat Official Account API server (the slice Kindred uses).

A separate aiohttp service with its own SQLite storage that speaks WeChat's real HTTP shapes,
so the WeChat adapter is exercised over real sockets exactly as against
``https://api.weixin.qq.com``:

* ``GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`` →
  ``{"access_token": …, "expires_in": 7200}`` or ``{"errcode": 40013|40125|40002, …}``;
* ``POST /cgi-bin/message/template/send?access_token=…`` with
  ``{"touser", "template_id", "url"?, "client_msg_id"?, "data": {"k": {"value": …}}}`` →
  ``{"errcode": 0, "errmsg": "ok", "msgid": n}``, or errcode 41001/40001/42001 (token
  missing/invalid/expired), 40003 (not a follower), 40037 (unknown template), 47001 (body is
  not a JSON object), 47003 (data keys differ from the template's keywords). A repeated
  ``client_msg_id`` for the same follower returns the first message's ``msgid`` and stores
  nothing new.

Like WeChat, every answer is HTTP 200 and errors travel in ``errcode``.

Admin endpoints (unauthenticated: bind to loopback) set the world up and inspect it:
``POST /_admin/apps {"appid", "secret"}``, ``POST /_admin/followers {"openid", "nickname"?}``,
``POST /_admin/templates {"template_id", "content" | "keywords", "title"?}`` (keywords are
read from ``{{name.DATA}}`` placeholders in ``content``), ``GET /_admin/messages?openid=``,
``POST /_admin/expire-tokens`` (every issued token of the app now answers 42001) and
``POST /_admin/fail-next {"errcode": -1, "count": 2, "endpoint": "send"|"token"}`` (the next
``count`` calls fail with that errcode, for retry tests). Admin bodies take an optional
``"appid"``, needed only when more than one app is configured.

Run it::

    python -m kindred.reference.wechat --host 127.0.0.1 --port 0 --db wechat.db --app wx1:s3cret

It prints ``listening on http://HOST:PORT`` (flushed) once it accepts connections and stops
cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import re
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kindred.reference import serve_until_signalled, start_app

DEFAULT_TOKEN_TTL = 7200
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.DATA\s*\}\}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    appid TEXT PRIMARY KEY,
    secret TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    appid TEXT NOT NULL REFERENCES apps (appid),
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS followers (
    appid TEXT NOT NULL REFERENCES apps (appid),
    openid TEXT NOT NULL,
    nickname TEXT,
    subscribed_at REAL NOT NULL,
    PRIMARY KEY (appid, openid)
);
CREATE TABLE IF NOT EXISTS templates (
    appid TEXT NOT NULL REFERENCES apps (appid),
    template_id TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    keywords TEXT NOT NULL,
    PRIMARY KEY (appid, template_id)
);
CREATE TABLE IF NOT EXISTS messages (
    msgid INTEGER PRIMARY KEY AUTOINCREMENT,
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    template_id TEXT NOT NULL,
    url TEXT,
    client_msg_id TEXT,
    data TEXT NOT NULL,
    sent_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_msg_id
    ON messages (appid, openid, client_msg_id) WHERE client_msg_id IS NOT NULL;
"""


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Failure:
    errcode: int
    errmsg: str
    count: int


class Store:
    """The server's SQLite state. Calls are quick and run on the event loop thread."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def put_app(self, appid: str, secret: str) -> None:
        self.db.execute(
            "INSERT INTO apps (appid, secret) VALUES (?, ?) "
            "ON CONFLICT (appid) DO UPDATE SET secret = excluded.secret",
            (appid, secret),
        )

    def app_ids(self) -> list[str]:
        return [row["appid"] for row in self.db.execute("SELECT appid FROM apps ORDER BY appid")]

    def secret(self, appid: str) -> str | None:
        row = self.db.execute("SELECT secret FROM apps WHERE appid = ?", (appid,)).fetchone()
        return None if row is None else str(row["secret"])

    def issue_token(self, appid: str, ttl: int) -> str:
        token = secrets.token_urlsafe(48)
        self.db.execute(
            "INSERT INTO tokens (token, appid, expires_at) VALUES (?, ?, ?)",
            (token, appid, time.time() + ttl),
        )
        return token

    def token(self, token: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT appid, expires_at FROM tokens WHERE token = ?", (token,)
        ).fetchone()
        return row

    def expire_tokens(self, appid: str) -> int:
        cursor = self.db.execute(
            "UPDATE tokens SET expires_at = ? WHERE appid = ? AND expires_at > ?",
            (time.time() - 1, appid, time.time()),
        )
        return cursor.rowcount

    def put_follower(self, appid: str, openid: str, nickname: str | None) -> None:
        self.db.execute(
            "INSERT INTO followers (appid, openid, nickname, subscribed_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (appid, openid) DO UPDATE SET nickname = excluded.nickname",
            (appid, openid, nickname, time.time()),
        )

    def is_follower(self, appid: str, openid: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM followers WHERE appid = ? AND openid = ?", (appid, openid)
        ).fetchone()
        return row is not None

    def put_template(
        self, appid: str, template_id: str, title: str, content: str, keywords: Sequence[str]
    ) -> None:
        self.db.execute(
            "INSERT INTO templates (appid, template_id, title, content, keywords) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (appid, template_id) DO UPDATE SET "
            "title = excluded.title, content = excluded.content, keywords = excluded.keywords",
            (appid, template_id, title, content, orjson.dumps(list(keywords)).decode()),
        )

    def template_keywords(self, appid: str, template_id: str) -> list[str] | None:
        row = self.db.execute(
            "SELECT keywords FROM templates WHERE appid = ? AND template_id = ?",
            (appid, template_id),
        ).fetchone()
        return None if row is None else list(orjson.loads(row["keywords"]))

    def find_message(self, appid: str, openid: str, client_msg_id: str) -> int | None:
        row = self.db.execute(
            "SELECT msgid FROM messages WHERE appid = ? AND openid = ? AND client_msg_id = ?",
            (appid, openid, client_msg_id),
        ).fetchone()
        return None if row is None else int(row["msgid"])

    def add_message(
        self,
        appid: str,
        openid: str,
        template_id: str,
        url: str | None,
        client_msg_id: str | None,
        data: Mapping[str, Any],
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO messages (appid, openid, template_id, url, client_msg_id, data, "
            "sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                appid,
                openid,
                template_id,
                url,
                client_msg_id,
                orjson.dumps(data).decode(),
                time.time(),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def messages(self, appid: str, openid: str | None) -> list[dict[str, Any]]:
        query = "SELECT * FROM messages WHERE appid = ?"
        params: list[Any] = [appid]
        if openid is not None:
            query += " AND openid = ?"
            params.append(openid)
        rows = self.db.execute(query + " ORDER BY msgid", params).fetchall()
        return [
            {
                "msgid": row["msgid"],
                "openid": row["openid"],
                "template_id": row["template_id"],
                "url": row["url"],
                "client_msg_id": row["client_msg_id"],
                "data": orjson.loads(row["data"]),
                "sent_at": row["sent_at"],
            }
            for row in rows
        ]


STORE = web.AppKey("store", Store)
TOKEN_TTL = web.AppKey("token_ttl", int)
FAILURES = web.AppKey("failures", dict)


def _json(payload: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type="application/json", charset="utf-8"
    )


def _wechat_error(errcode: int, errmsg: str) -> web.Response:
    # WeChat appends a request id to every error message.
    return _json({"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(12)}"})


def _forced_failure(app: web.Application, endpoint: str) -> web.Response | None:
    failure: Failure | None = app[FAILURES].get(endpoint)
    if failure is None:
        return None
    failure.count -= 1
    if failure.count <= 0:
        del app[FAILURES][endpoint]
    return _wechat_error(failure.errcode, failure.errmsg)


async def get_token(request: web.Request) -> web.Response:
    forced = _forced_failure(request.app, "token")
    if forced is not None:
        return forced
    store = request.app[STORE]
    query = request.query
    if query.get("grant_type") != "client_credential":
        return _wechat_error(40002, "invalid grant_type")
    appid = query.get("appid", "")
    secret = store.secret(appid) if appid else None
    if secret is None:
        return _wechat_error(40013, "invalid appid")
    if not hmac.compare_digest(secret.encode(), query.get("secret", "").encode()):
        return _wechat_error(40125, "invalid appsecret")
    ttl = request.app[TOKEN_TTL]
    return _json({"access_token": store.issue_token(appid, ttl), "expires_in": ttl})


def _data_problem(data: Any, keywords: list[str]) -> str | None:
    if not isinstance(data, dict):
        return "data must be an object"
    for key, item in data.items():
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            return f"data.{key}.value must be a string"
    missing = [key for key in keywords if key not in data]
    extra = sorted(key for key in data if key not in keywords)
    if missing:
        return "data." + ", data.".join(missing) + " missing"
    if extra:
        return "data." + ", data.".join(extra) + " not in template"
    return None


async def send_template(request: web.Request) -> web.Response:
    store = request.app[STORE]
    token = request.query.get("access_token")
    if not token:
        return _wechat_error(41001, "access_token missing")
    issued = store.token(token)
    if issued is None:
        return _wechat_error(40001, "invalid credential, access_token is invalid or not latest")
    if issued["expires_at"] <= time.time():
        return _wechat_error(42001, "access_token expired")
    appid = str(issued["appid"])
    forced = _forced_failure(request.app, "send")
    if forced is not None:
        return forced

    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return _wechat_error(47001, "data format error")
    openid = body.get("touser")
    template_id = body.get("template_id")
    url = body.get("url")
    client_msg_id = body.get("client_msg_id")
    if not isinstance(openid, str) or not store.is_follower(appid, openid):
        return _wechat_error(40003, "invalid openid")
    keywords = store.template_keywords(appid, template_id) if isinstance(template_id, str) else None
    if keywords is None:
        return _wechat_error(40037, "invalid template_id")
    if url is not None and not isinstance(url, str):
        return _wechat_error(47001, "data format error: url must be a string")
    if client_msg_id is not None and not isinstance(client_msg_id, str):
        return _wechat_error(47001, "data format error: client_msg_id must be a string")
    problem = _data_problem(body.get("data"), keywords)
    if problem is not None:
        return _wechat_error(47003, f"argument invalid! {problem}")

    assert isinstance(template_id, str)
    if client_msg_id:
        existing = store.find_message(appid, openid, client_msg_id)
        if existing is not None:
            return _json({"errcode": 0, "errmsg": "ok", "msgid": existing})
    msgid = store.add_message(appid, openid, template_id, url, client_msg_id or None, body["data"])
    return _json({"errcode": 0, "errmsg": "ok", "msgid": msgid})


# -- admin ------------------------------------------------------------------------------------


async def _admin_body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        raise AdminError(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise AdminError(400, "the body must be a JSON object")
    return body


def _string(body: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise AdminError(400, f"{name!r} must be a non-empty string")
    return value


def _app_of(store: Store, appid: Any) -> str:
    if appid is None:
        apps = store.app_ids()
        if len(apps) != 1:
            raise AdminError(400, f"say which app with 'appid' (configured: {apps})")
        return apps[0]
    if not isinstance(appid, str) or store.secret(appid) is None:
        raise AdminError(404, f"no app {appid!r}; create it with POST /_admin/apps")
    return appid


@web.middleware
async def admin_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except AdminError as error:
        return _json({"error": error.message}, status=error.status)
    return response


async def admin_apps(request: web.Request) -> web.Response:
    body = await _admin_body(request)
    appid = _string(body, "appid")
    secret = _string(body, "secret")
    assert appid is not None and secret is not None
    request.app[STORE].put_app(appid, secret)
    return _json({"appid": appid})


async def admin_followers(request: web.Request) -> web.Response:
    body = await _admin_body(request)
    store = request.app[STORE]
    appid = _app_of(store, body.get("appid"))
    openid = _string(body, "openid")
    assert openid is not None
    store.put_follower(appid, openid, _string(body, "nickname", required=False))
    return _json({"appid": appid, "openid": openid})


async def admin_templates(request: web.Request) -> web.Response:
    body = await _admin_body(request)
    store = request.app[STORE]
    appid = _app_of(store, body.get("appid"))
    template_id = _string(body, "template_id")
    assert template_id is not None
    content = _string(body, "content", required=False)
    keywords = body.get("keywords")
    if content is not None:
        keywords = list(dict.fromkeys(PLACEHOLDER.findall(content)))
    elif isinstance(keywords, list) and keywords and all(isinstance(k, str) for k in keywords):
        content = "\n".join(f"{{{{{k}.DATA}}}}" for k in keywords)
    else:
        raise AdminError(400, "give 'content' with {{name.DATA}} placeholders or 'keywords'")
    if not keywords:
        raise AdminError(400, "the template content has no {{name.DATA}} placeholders")
    title = _string(body, "title", required=False) or template_id
    store.put_template(appid, template_id, title, content, keywords)
    return _json({"appid": appid, "template_id": template_id, "keywords": keywords})


async def admin_messages(request: web.Request) -> web.Response:
    store = request.app[STORE]
    appid = _app_of(store, request.query.get("appid"))
    messages = store.messages(appid, request.query.get("openid"))
    return _json({"appid": appid, "messages": messages})


async def admin_expire_tokens(request: web.Request) -> web.Response:
    body = await _admin_body(request)
    store = request.app[STORE]
    appid = _app_of(store, body.get("appid"))
    return _json({"appid": appid, "expired": store.expire_tokens(appid)})


async def admin_fail_next(request: web.Request) -> web.Response:
    body = await _admin_body(request)
    errcode = body.get("errcode")
    count = body.get("count", 1)
    endpoint = body.get("endpoint", "send")
    if not isinstance(errcode, int) or errcode == 0:
        raise AdminError(400, "'errcode' must be a non-zero integer")
    if not isinstance(count, int) or count < 0:
        raise AdminError(400, "'count' must be a non-negative integer")
    if endpoint not in ("send", "token"):
        raise AdminError(400, "'endpoint' must be 'send' or 'token'")
    errmsg = body.get("errmsg") or ("system error" if errcode == -1 else "forced failure")
    if count == 0:
        request.app[FAILURES].pop(endpoint, None)
    else:
        request.app[FAILURES][endpoint] = Failure(errcode, str(errmsg), count)
    return _json({"endpoint": endpoint, "errcode": errcode, "count": count})


def create_app(
    db_path: str | Path,
    apps: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    *,
    token_ttl: int = DEFAULT_TOKEN_TTL,
) -> web.Application:
    store = Store(db_path)
    for appid, secret in apps.items() if isinstance(apps, Mapping) else apps:
        store.put_app(appid, secret)
    app = web.Application(middlewares=[admin_errors])
    app[STORE] = store
    app[TOKEN_TTL] = token_ttl
    app[FAILURES] = {}

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    app.router.add_get("/cgi-bin/token", get_token)
    app.router.add_post("/cgi-bin/message/template/send", send_template)
    app.router.add_post("/_admin/apps", admin_apps)
    app.router.add_post("/_admin/followers", admin_followers)
    app.router.add_post("/_admin/templates", admin_templates)
    app.router.add_get("/_admin/messages", admin_messages)
    app.router.add_post("/_admin/expire-tokens", admin_expire_tokens)
    app.router.add_post("/_admin/fail-next", admin_fail_next)
    return app


async def start(
    db_path: str | Path,
    apps: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token_ttl: int = DEFAULT_TOKEN_TTL,
) -> tuple[web.AppRunner, str]:
    """Start the server in the running loop; returns the runner (``await runner.cleanup()``
    to stop it) and the base URL with the actual port."""
    return await start_app(create_app(db_path, apps, token_ttl=token_ttl), host, port)


def _app_arg(value: str) -> tuple[str, str]:
    appid, sep, secret = value.partition(":")
    if not sep or not appid or not secret:
        raise argparse.ArgumentTypeError(f"expected APPID:SECRET, got {value!r}")
    return appid, secret


async def _serve(args: argparse.Namespace) -> None:
    runner, url = await start(args.db, args.app, args.host, args.port, token_ttl=args.token_ttl)
    await serve_until_signalled(runner, url)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m kindred.reference.wechat",
        description="Reference WeChat Official Account API server (tests and demos).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--db", required=True, help="SQLite file (':memory:' for none)")
    parser.add_argument(
        "--app",
        type=_app_arg,
        action="append",
        default=[],
        metavar="APPID:SECRET",
        help="an app allowed to fetch tokens (repeatable)",
    )
    parser.add_argument("--token-ttl", type=int, default=DEFAULT_TOKEN_TTL, metavar="SECONDS")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        sys.exit(130)


if __name__ == "__main__":
    main()
