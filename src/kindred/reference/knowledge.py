"""A reference knowledge base: device compatibility reports and maintenance documents.

A separate aiohttp service with its own SQLite storage standing in for a device
distributor's technical knowledge base, so a service agent reads it over real sockets.
Documents are in Chinese (``zh``) and English (``en``). JSON over HTTP:

* ``GET /api/documents/{id}`` → ``{"id", "title", "kind", "language", "models", "version",
  "published_on", "body", "compatibility": [{"model", "with", "verdict", "conditions"}]}``
  (404 ``unknown_document``); ``kind`` is ``compatibility_report``, ``maintenance_manual``
  or ``service_bulletin``;
* ``GET /api/documents?model=…&kind=…&lang=…`` → the documents (without body, with a
  ``summary``) about a device model or SKU, newest first; models match case-insensitively;
* ``GET /api/search?q=…[&lang=zh|en][&kind=…][&model=…][&limit=10][&match=all|any]`` →
  ``{"query", "terms", "results": [{"id", "title", "kind", "language", "models", "version",
  "published_on", "score", "snippet"}]}`` ranked by BM25 (title matches weigh most). Search
  is SQLite FTS5; Chinese is segmented into words with jieba (``rjieba``, the Rust port,
  search mode for documents so a query word finds the compounds it is part of: 兼容 finds
  兼容性), English is stemmed (Porter), so "calibrate" finds "calibration". ``match=all``
  (the default) wants every term, ``any`` at least one. ``snippet`` is a plain-text
  excerpt of the body around the first match, matches wrapped in ``<mark>…</mark>``;
* ``GET /api/compatibility?model=…&with=…[&lang=zh|en]`` → the knowledge base's verdict on
  using the two together (the order does not matter): ``{"model", "with", "verdict":
  "compatible"|"compatible_with_conditions"|"incompatible"|"unknown", "conditions",
  "source": {"id", "title", "kind", "language", "version", "published_on"} | null,
  "other_sources": [{"id", "language", "published_on", "verdict"}]}``. The newest document
  stating it wins (a service bulletin revises an older report); among equally new ones the
  ``lang`` asked for. No statement at all → ``unknown`` with ``source`` null. Without
  ``with``: ``{"model", "statements": […]}``, the current verdict for every model it was
  stated with.

Errors are ``{"error": code, "message": text}``.

Admin endpoints (unauthenticated: bind to loopback): ``POST /_admin/documents [{"id",
"title", "kind", "language", "models", "version", "published_on", "body",
"compatibility"?: [{"model", "with", "verdict", "conditions"?}]}]`` creates or replaces
documents (and their statements, whose two models must both be among the document's
``models``) — all or nothing: one bad item (its index is in the error) and nothing is
stored; ``POST /_admin/fail-next {"status": 503, "count": 1, "delay": 0}`` (see
:mod:`kindred.reference.common`).

Run it::

    python -m kindred.reference.knowledge --db kb.db --host 127.0.0.1 --port 0 --seed-demo

It prints ``listening on http://HOST:PORT`` (flushed) once it accepts connections and stops
cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import rjieba
from aiohttp import web

from kindred.reference import start_app
from kindred.reference.common import (
    ApiError,
    SQLiteStore,
    admin_items,
    bad_request,
    china_today,
    clock,
    create_service_app,
    invalid,
    item_errors,
    json_response,
    optional_string,
    positive_int,
    reject_unknown_fields,
    required_date,
    required_string,
    run_service,
    service_parser,
)
from kindred.reference.knowledge_data import DEMO_DOCUMENTS

KINDS = ("compatibility_report", "maintenance_manual", "service_bulletin")
LANGUAGES = ("zh", "en")
VERDICTS = ("compatible", "compatible_with_conditions", "incompatible")
DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DOCUMENT_FIELDS = frozenset(
    {"id", "title", "kind", "language", "models", "version", "published_on", "body",
     "compatibility"}
)  # fmt: skip
MAX_BODY = 200_000
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
SNIPPET_CHARS = 120
# Words too common to narrow a search; dropped from queries unless nothing else is left.
STOPWORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it", "of",
     "on", "or", "the", "to", "with", "的", "了", "和", "与", "及", "或", "是", "在", "对", "为"}
)  # fmt: skip

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    language TEXT NOT NULL,
    models TEXT NOT NULL,
    version TEXT NOT NULL,
    published_on TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS document_models (
    document TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    model_key TEXT NOT NULL,
    PRIMARY KEY (model_key, document)
);
CREATE TABLE IF NOT EXISTS statements (
    document TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    model TEXT NOT NULL,
    with_model TEXT NOT NULL,
    -- the pair in a fixed order, so (a, b) and (b, a) are one lookup
    pair_first TEXT NOT NULL,
    pair_second TEXT NOT NULL,
    verdict TEXT NOT NULL,
    conditions TEXT,
    PRIMARY KEY (document, position)
);
CREATE INDEX IF NOT EXISTS statements_by_pair ON statements (pair_first, pair_second);
CREATE INDEX IF NOT EXISTS statements_by_first ON statements (pair_first);
CREATE INDEX IF NOT EXISTS statements_by_second ON statements (pair_second);
-- Holds the jieba-segmented text (words joined by spaces), so unicode61 sees Chinese words
-- as tokens and Porter stems the English ones; rowid = documents.seq.
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5 (
    title, body, models, tokenize = 'porter unicode61'
);
"""


def model_key(model: str) -> str:
    """How models are compared: case and runs of spaces do not matter."""
    return " ".join(model.split()).casefold()


@cache
def _segmenter() -> rjieba.Jieba:
    # One dictionary per process (loading it takes a quarter of a second).
    return rjieba.Jieba()


def _words(text: str, *, search_mode: bool) -> list[str]:
    """Words of ``text`` (punctuation and spaces dropped). Search mode adds the shorter
    words inside long ones (兼容性 → 兼容, 容性, 兼容性): used for documents, so a query
    for a part of a compound still matches."""
    segmenter = _segmenter()
    tokens = segmenter.cut_for_search(text) if search_mode else segmenter.cut(text)
    return [token for token in tokens if any(char.isalnum() for char in token)]


def index_text(text: str) -> str:
    return " ".join(_words(text, search_mode=True))


def _is_cjk(word: str) -> bool:
    return any("\u3400" <= char <= "\u9fff" for char in word)


def query_terms(query: str) -> list[str]:
    """The query's words, lower-cased, without duplicates and (unless nothing else is
    left) without stop words."""
    words = list(dict.fromkeys(word.casefold() for word in _words(query, search_mode=False)))
    kept = [word for word in words if word not in STOPWORDS]
    return kept or words


def fts_query(terms: Sequence[str], *, every: bool) -> str:
    """An FTS5 MATCH expression: each term a quoted string (no query syntax from users); a
    single Chinese character also matches the words it starts (球 → 球管)."""
    parts = []
    for term in terms:
        quoted = '"' + term.replace('"', '""') + '"'
        parts.append(quoted + "*" if len(term) == 1 and _is_cjk(term) else quoted)
    return (" AND " if every else " OR ").join(parts)


def _highlight_pattern(terms: Sequence[str]) -> re.Pattern[str]:
    alternatives = []
    for term in sorted(terms, key=len, reverse=True):
        if _is_cjk(term):
            alternatives.append(re.escape(term))
        elif term.isascii() and term.isalpha() and len(term) > 4:
            # Porter matched on the stem; highlight the words that start like the term.
            stem = term[: max(4, len(term) - 3)]
            alternatives.append(r"(?<![0-9a-z])" + re.escape(stem) + r"[0-9a-z]*")
        else:
            alternatives.append(r"(?<![0-9a-z])" + re.escape(term) + r"(?![0-9a-z])")
    return re.compile("|".join(alternatives), re.IGNORECASE)


def snippet(body: str, terms: Sequence[str], width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``body`` around the first match, matches marked."""
    pattern = _highlight_pattern(terms)
    first = pattern.search(body)
    start = 0 if first is None else max(0, first.start() - width // 4)
    if start and not _is_cjk(body[start : start + 1]):
        space = body.find(" ", start)  # do not start in the middle of an English word
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(body), start + width)
    if end < len(body) and not _is_cjk(body[end - 1 : end]):
        space = body.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    excerpt = pattern.sub(lambda match: f"<mark>{match.group(0)}</mark>", body[start:end])
    return ("…" if start else "") + excerpt + ("…" if end < len(body) else "")


def _document_json(row: sqlite3.Row, statements: Sequence[sqlite3.Row] | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": row["id"],
        "title": row["title"],
        "kind": row["kind"],
        "language": row["language"],
        "models": orjson.loads(row["models"]),
        "version": row["version"],
        "published_on": row["published_on"],
    }
    if statements is None:
        body = row["body"]
        document["summary"] = body if len(body) <= 140 else body[:140] + "…"
    else:
        document["body"] = row["body"]
        document["compatibility"] = [
            {
                "model": s["model"],
                "with": s["with_model"],
                "verdict": s["verdict"],
                "conditions": s["conditions"],
            }
            for s in statements
        ]
    return document


class Store(SQLiteStore):
    schema = SCHEMA

    def document(self, document_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
        if row is None:
            return None
        statements = self.db.execute(
            "SELECT * FROM statements WHERE document = ? ORDER BY position", (document_id,)
        ).fetchall()
        return _document_json(row, statements)

    def documents(
        self, model: str | None, kind: str | None, language: str | None
    ) -> list[dict[str, Any]]:
        query = "SELECT d.* FROM documents d WHERE 1 = 1"
        params: list[Any] = []
        if model is not None:
            query += " AND d.id IN (SELECT document FROM document_models WHERE model_key = ?)"
            params.append(model_key(model))
        if kind is not None:
            query += " AND d.kind = ?"
            params.append(kind)
        if language is not None:
            query += " AND d.language = ?"
            params.append(language)
        rows = self.db.execute(query + " ORDER BY d.published_on DESC, d.id", params)
        return [_document_json(row, None) for row in rows]

    def search(
        self,
        terms: Sequence[str],
        *,
        every: bool,
        language: str | None,
        kind: str | None,
        model: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        # bm25() is smaller for better matches; weights: title 4, body 1, models 2.
        query = (
            "SELECT d.*, bm25(documents_fts, 4.0, 1.0, 2.0) AS rank FROM documents_fts "
            "JOIN documents d ON d.seq = documents_fts.rowid WHERE documents_fts MATCH ?"
        )
        params: list[Any] = [fts_query(terms, every=every)]
        if language is not None:
            query += " AND d.language = ?"
            params.append(language)
        if kind is not None:
            query += " AND d.kind = ?"
            params.append(kind)
        if model is not None:
            query += " AND d.id IN (SELECT document FROM document_models WHERE model_key = ?)"
            params.append(model_key(model))
        rows = self.db.execute(query + " ORDER BY rank, d.id LIMIT ?", [*params, limit])
        results = []
        for row in rows:
            result = _document_json(row, None)
            del result["summary"]
            result["score"] = round(-float(row["rank"]), 4)
            result["snippet"] = snippet(row["body"], terms)
            results.append(result)
        return results

    def statements(self, model: str, with_model: str | None) -> list[sqlite3.Row]:
        """Statements about a pair (or every statement about ``model``), newest first."""
        key = model_key(model)
        columns = (
            "s.*, d.title, d.kind, d.language, d.version, d.published_on FROM statements s "
            "JOIN documents d ON d.id = s.document"
        )
        if with_model is None:
            where, params = "s.pair_first = ? OR s.pair_second = ?", [key, key]
        else:
            first, second = sorted((key, model_key(with_model)))
            where, params = "s.pair_first = ? AND s.pair_second = ?", [first, second]
        return self.db.execute(
            f"SELECT {columns} WHERE {where} ORDER BY d.published_on DESC, d.id", params
        ).fetchall()

    def put_documents(self, documents: Sequence[Mapping[str, Any]]) -> None:
        with self.transaction():
            self._put(documents)

    def _put(self, documents: Sequence[Mapping[str, Any]]) -> None:
        for document in documents:
            old = self.db.execute(
                "SELECT seq FROM documents WHERE id = ?", (document["id"],)
            ).fetchone()
            if old is not None:
                self.db.execute("DELETE FROM documents_fts WHERE rowid = ?", (old["seq"],))
                self.db.execute("DELETE FROM documents WHERE seq = ?", (old["seq"],))
            cursor = self.db.execute(
                "INSERT INTO documents (id, title, kind, language, models, version, "
                "published_on, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    document["id"],
                    document["title"],
                    document["kind"],
                    document["language"],
                    orjson.dumps(document["models"]).decode(),
                    document["version"],
                    document["published_on"],
                    document["body"],
                ),
            )
            self.db.execute(
                "INSERT INTO documents_fts (rowid, title, body, models) VALUES (?, ?, ?, ?)",
                (
                    cursor.lastrowid,
                    index_text(document["title"]),
                    index_text(document["body"]),
                    index_text(" ".join(document["models"])),
                ),
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO document_models (document, model_key) VALUES (?, ?)",
                [(document["id"], model_key(model)) for model in document["models"]],
            )
            rows = []
            for position, statement in enumerate(document["compatibility"]):
                first, second = sorted(
                    (model_key(statement["model"]), model_key(statement["with"]))
                )
                rows.append(
                    (
                        document["id"],
                        position,
                        statement["model"],
                        statement["with"],
                        first,
                        second,
                        statement["verdict"],
                        statement["conditions"],
                    )
                )
            self.db.executemany(
                "INSERT INTO statements (document, position, model, with_model, pair_first, "
                "pair_second, verdict, conditions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def seed_demo(self, today: date) -> bool:
        """Load the demo documents once per database; False when they already were."""
        if self.is_seeded():
            return False
        with self.transaction():
            self._put([validate_document(item) for item in demo_documents(today)])
            self.mark_seeded()
        return True


# -- validation -------------------------------------------------------------------------------


def _choice(body: Mapping[str, Any], name: str, choices: Sequence[str]) -> str:
    value = required_string(body, name, 40)
    if value not in choices:
        raise invalid(f"{name!r} must be one of {', '.join(choices)}, not {value!r}", field=name)
    return value


def validate_document(item: Mapping[str, Any]) -> dict[str, Any]:
    reject_unknown_fields(item, DOCUMENT_FIELDS)
    document_id = required_string(item, "id", 64)
    if DOCUMENT_ID.match(document_id) is None:
        raise invalid(
            "'id' is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field="id",
        )
    models = item.get("models")
    if (
        not isinstance(models, list)
        or not models
        or not all(isinstance(m, str) and m.strip() and len(m) <= 100 for m in models)
    ):
        raise bad_request("'models' must be a non-empty list of model names or SKUs")
    models = [" ".join(model.split()) for model in models]
    keys = {model_key(model) for model in models}
    statements = []
    compatibility = item.get("compatibility", [])
    if not isinstance(compatibility, list):
        raise bad_request("'compatibility' must be a list")
    for position, statement in enumerate(compatibility):
        where = f"compatibility[{position}]"
        if not isinstance(statement, dict):
            raise bad_request(f"{where} must be an object")
        reject_unknown_fields(statement, {"model", "with", "verdict", "conditions"})
        model = " ".join(required_string(statement, "model").split())
        with_model = " ".join(required_string(statement, "with").split())
        verdict = required_string(statement, "verdict", 40)
        if verdict not in VERDICTS:
            raise invalid(
                f"{where}.verdict must be one of {', '.join(VERDICTS)} (a document states "
                "what is known)",
                field=f"{where}.verdict",
            )
        if model_key(model) == model_key(with_model):
            raise invalid(f"{where} states a model's compatibility with itself", field=where)
        missing = [m for m in (model, with_model) if model_key(m) not in keys]
        if missing:
            raise invalid(
                f"{where} is about {', '.join(missing)}, which the document's 'models' do not list",
                field=where,
            )
        conditions = optional_string(statement, "conditions", 2000)
        if verdict == "compatible_with_conditions" and conditions is None:
            raise invalid(f"{where}: name the conditions", field=f"{where}.conditions")
        statements.append(
            {"model": model, "with": with_model, "verdict": verdict, "conditions": conditions}
        )
    return {
        "id": document_id,
        "title": required_string(item, "title", 300),
        "kind": _choice(item, "kind", KINDS),
        "language": _choice(item, "language", LANGUAGES),
        "models": list(dict.fromkeys(models)),
        "version": required_string(item, "version", 20),
        "published_on": required_date(item, "published_on").isoformat(),
        "body": required_string(item, "body", MAX_BODY),
        "compatibility": statements,
    }


def _optional_choice(query: Mapping[str, Any], name: str, choices: Sequence[str]) -> str | None:
    value = optional_string(query, name, 40)
    if value is not None and value not in choices:
        raise bad_request(f"{name!r} must be one of {', '.join(choices)}")
    return value


# -- handlers ---------------------------------------------------------------------------------

STORE = web.AppKey("store", Store)


async def get_document(request: web.Request) -> web.Response:
    document = request.app[STORE].document(request.match_info["id"])
    if document is None:
        raise ApiError(404, "unknown_document", f"no document {request.match_info['id']!r}")
    return json_response(document)


async def list_documents(request: web.Request) -> web.Response:
    query = request.query
    reject_unknown_fields(query, {"model", "kind", "lang"})
    documents = request.app[STORE].documents(
        optional_string(query, "model"),
        _optional_choice(query, "kind", KINDS),
        _optional_choice(query, "lang", LANGUAGES),
    )
    return json_response(documents)


async def search(request: web.Request) -> web.Response:
    query = request.query
    reject_unknown_fields(query, {"q", "lang", "kind", "model", "limit", "match"})
    text = required_string(query, "q", 500)
    terms = query_terms(text)
    if not terms:
        raise bad_request(f"the query {text!r} has no words to search for")
    match = _optional_choice(query, "match", ("all", "any")) or "all"
    results = request.app[STORE].search(
        terms,
        every=match == "all",
        language=_optional_choice(query, "lang", LANGUAGES),
        kind=_optional_choice(query, "kind", KINDS),
        model=optional_string(query, "model"),
        limit=positive_int(query.get("limit", str(DEFAULT_LIMIT)), "limit", MAX_LIMIT),
    )
    return json_response({"query": text, "terms": terms, "results": results})


def _source(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["document"],
        "title": row["title"],
        "kind": row["kind"],
        "language": row["language"],
        "version": row["version"],
        "published_on": row["published_on"],
    }


def _oriented(row: sqlite3.Row, key: str) -> tuple[str, str]:
    """A statement's two models as stored, the one asked about (``key``) first."""
    if model_key(row["model"]) == key:
        return row["model"], row["with_model"]
    return row["with_model"], row["model"]


def _verdict(
    model: str, with_model: str, rows: Sequence[sqlite3.Row], language: str | None
) -> dict[str, Any]:
    """The current statement on a pair: the newest document's, the asked language first
    among documents of the same day (translations)."""
    if not rows:
        return {
            "model": model,
            "with": with_model,
            "verdict": "unknown",
            "conditions": None,
            "source": None,
            "other_sources": [],
        }
    newest = max(row["published_on"] for row in rows)
    current = min(
        (row for row in rows if row["published_on"] == newest),
        key=lambda row: (row["language"] != language, row["document"]),
    )
    # Answer with the models as the documents spell them.
    model, with_model = _oriented(current, model_key(model))
    return {
        "model": model,
        "with": with_model,
        "verdict": current["verdict"],
        "conditions": current["conditions"],
        "source": _source(current),
        "other_sources": [
            {
                "id": row["document"],
                "language": row["language"],
                "published_on": row["published_on"],
                "verdict": row["verdict"],
            }
            for row in rows
            if row is not current
        ],
    }


async def compatibility(request: web.Request) -> web.Response:
    query = request.query
    reject_unknown_fields(query, {"model", "with", "lang"})
    model = " ".join(required_string(query, "model").split())
    with_model = optional_string(query, "with")
    language = _optional_choice(query, "lang", LANGUAGES)
    store = request.app[STORE]
    if with_model is not None:
        with_model = " ".join(with_model.split())
        return json_response(
            _verdict(model, with_model, store.statements(model, with_model), language)
        )
    key = model_key(model)
    by_counterpart: dict[str, list[sqlite3.Row]] = {}
    for row in store.statements(model, None):
        by_counterpart.setdefault(model_key(_oriented(row, key)[1]), []).append(row)
    statements = [
        _verdict(model, _oriented(rows[0], key)[1], rows, language)
        for _, rows in sorted(by_counterpart.items())
    ]
    return json_response({"model": model, "statements": statements})


async def admin_documents(request: web.Request) -> web.Response:
    documents = []
    seen: dict[str, int] = {}
    for index, item in enumerate(await admin_items(request)):
        with item_errors(index):
            document = validate_document(item)
        if document["id"] in seen:
            raise ApiError(
                422,
                "duplicate_document",
                f"item {index}: document {document['id']} is also item {seen[document['id']]}",
                index=index,
            )
        seen[document["id"]] = index
        documents.append(document)
    request.app[STORE].put_documents(documents)
    return json_response({"loaded": len(documents)})


def create_app(
    db_path: str | Path, *, seed_demo: bool = False, today: Callable[[], date] = china_today
) -> web.Application:
    store = Store(db_path)
    if seed_demo:
        store.seed_demo(today())
    app = create_service_app(store, today=today)
    app[STORE] = store
    app.router.add_get("/api/documents", list_documents)
    app.router.add_get("/api/documents/{id}", get_document)
    app.router.add_get("/api/search", search)
    app.router.add_get("/api/compatibility", compatibility)
    app.router.add_post("/_admin/documents", admin_documents)
    return app


async def start(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed_demo: bool = False,
    today: Callable[[], date] = china_today,
) -> tuple[web.AppRunner, str]:
    """Start the service in the running loop; returns the runner (``await runner.cleanup()``
    to stop it) and the base URL with the actual port."""
    return await start_app(create_app(db_path, seed_demo=seed_demo, today=today), host, port)


def demo_documents(today: date) -> list[dict[str, Any]]:
    """:data:`~kindred.reference.knowledge_data.DEMO_DOCUMENTS` as admin items, each
    published its number of days before ``today``."""
    documents = []
    for document in DEMO_DOCUMENTS:
        item = {key: value for key, value in document.items() if key != "published"}
        item["published_on"] = (today - timedelta(days=document["published"])).isoformat()
        documents.append(item)
    return documents


def main(argv: Sequence[str] | None = None) -> None:
    args = service_parser(
        "knowledge",
        "Reference knowledge base of device compatibility and maintenance documents "
        "(tests, demos).",
        seed_help="load the demo documents in Chinese and English (once per db)",
    ).parse_args(argv)
    run_service(
        lambda: start(
            args.db, args.host, args.port, seed_demo=args.seed_demo, today=clock(args.today)
        )
    )


if __name__ == "__main__":
    main()
