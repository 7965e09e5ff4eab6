"""Full-text search over records: text analysis (Chinese and English), the query language, and
the full-text index port with its SQLite FTS5 and PostgreSQL tsvector adapters.

Why the analysis happens here, in Python, for both dialects: neither engine segments Chinese
(no spaces between words), and their own English handling differs (FTS5's porter tokenizer
vs PostgreSQL's snowball dictionaries). Text is analysed once — Chinese segmented with
jieba (``rjieba``: the Rust port, which ships its dictionary and logs nothing), other
words folded (NFKC, no diacritics, casefolded) and English words stemmed (Snowball) — and
stored as space-separated tokens. The engines then only split on spaces (FTS5
``unicode61``; a tsvector literal with explicit positions on PostgreSQL), so both dialects
find exactly the same records for the same query.

A query is plain words (all must occur, in any of the fields the caller may read) and
"quoted phrases" (words next to each other, in order). Every token is quoted when the
engine's query is built and tokens hold letters and digits only, so no user input can
reach FTS5's or tsquery's operators.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from kindred.errors import ValidationFailed, field_error
from kindred.graph.resolution_text import romanize, transliterate
from kindred.graph.search_models import FTS_TABLE, SearchEntry, SearchVector
from kindred.records.models import RecordRow

entries: sa.Table = SearchEntry.__table__  # type: ignore[assignment]
vectors: sa.Table = SearchVector.__table__  # type: ignore[assignment]
records: sa.Table = RecordRow.__table__  # type: ignore[assignment]

MAX_QUERY_CHARS = 200
MAX_TERMS = 12
MAX_TOKEN_CHARS = 64  # longer tokens (hashes, base64) are cut, the same way on both sides
# PostgreSQL keeps positions 1..16383 and up to 256 positions per lexeme in a tsvector.
PG_MAX_POSITION = 16383
PG_MAX_POSITIONS_PER_LEXEME = 256

# Han ideographs: the unified blocks, extension A, compatibility ideographs, extensions B+.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_SPANS = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<word>(?:(?![{_HAN}])[^\W_])+)")
_ALNUM = re.compile(r"[^\W_]+")
# 上海市, 广东省 …: a place name is also found without its administrative suffix.
ADMIN_SUFFIXES = frozenset("市省县区")
# Quoted phrases: ASCII quotes and the Chinese ones; an unclosed quote runs to the end.
_QUOTED = re.compile(r'"([^"]*)(?:"|$)|“([^”]*)(?:”|$)|「([^」]*)(?:」|$)')

# Function words dropped from free (unquoted) query words: requiring them would refuse good
# matches ("the tube error" vs a subject "Tube error"). They stay inside phrases and are
# kept when a query has nothing else. Stemmed forms, as the analyser produces them.
STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it",
        "of", "on", "or", "the", "to", "was", "with", "的", "了", "和", "与", "及", "是",
        "在", "对", "把", "被", "也", "都", "就", "呢", "吗", "啊", "吧",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Token:
    """One analysed word: its index form and where it stands in the original text."""

    term: str
    start: int
    end: int
    # A shorter word inside a longer Chinese word (jieba's search mode), not a word in the
    # running text: indexed apart so phrases never run through it.
    inner: bool = False


class Analyzer:
    """Turns text into tokens. One per process (``ANALYZER``): jieba's dictionary is loaded
    once, on first use, so importing this module (and the default install's start-up)
    costs nothing."""

    def __init__(self) -> None:
        self._segmenter: Any = None
        self._lock = threading.Lock()
        self._stemmer: Any = None

    def _jieba(self) -> Any:
        if self._segmenter is None:
            with self._lock:
                if self._segmenter is None:
                    import rjieba

                    self._segmenter = rjieba.Jieba()
        return self._segmenter

    @functools.lru_cache(maxsize=100_000)  # noqa: B019  (one analyser per process)
    def _fold(self, word: str) -> tuple[str, ...]:
        decomposed = unicodedata.normalize("NFKD", word)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
        folded = unicodedata.normalize("NFKC", plain).casefold()
        return tuple(self._stem(piece[:MAX_TOKEN_CHARS]) for piece in _ALNUM.findall(folded))

    def _stem(self, piece: str) -> str:
        if not (piece.isascii() and piece.isalpha() and len(piece) > 2):
            return piece
        with self._lock:  # Snowball stemmers keep state between calls
            if self._stemmer is None:
                import snowballstemmer

                self._stemmer = snowballstemmer.stemmer("english")
            return str(self._stemmer.stemWord(piece))

    def tokens(self, text: str, *, inner: bool = False, latin: bool = False) -> list[Token]:
        """The tokens of ``text`` in order. ``inner``: also the shorter words inside long
        Chinese words (for indexing; queries use whole words). ``latin`` (with ``inner``):
        also the Chinese words as English and pinyin (北京安和医院 → beijing, anhe, hospital,
        yiyuan), so an English query finds a Chinese name."""
        found: list[Token] = []
        for match in _SPANS.finditer(text):
            start = match.start()
            if match.lastgroup == "word":
                found.extend(Token(term, start, match.end()) for term in self._fold(match[0]))
                continue
            segmenter = self._jieba()
            run = match[0]
            words = segmenter.tokenize(run, mode="default")
            spans = {(s, e) for _, s, e in words}
            if inner:
                for word, s, e in segmenter.tokenize(run, mode="search"):
                    if (s, e) not in spans:
                        term = unicodedata.normalize("NFKC", word)[:MAX_TOKEN_CHARS]
                        found.append(Token(term, start + s, start + e, inner=True))
            for word, s, e in words:
                term = unicodedata.normalize("NFKC", word)[:MAX_TOKEN_CHARS]
                found.append(Token(term, start + s, start + e))
            if inner and latin:
                found.extend(self._latin(run, start))
        found.sort(key=lambda t: (t.start, t.inner, t.end))
        return found

    def _latin(self, run: str, start: int) -> list[Token]:
        """A Chinese run's English and pinyin words, as inner tokens over their characters:
        each glossary word also in pinyin (医院: hospital and yiyuan)."""
        found: list[Token] = []
        for word in transliterate(run):
            chinese = run[word.start : word.end]
            forms = {word.text}
            if not word.name:  # a glossary word: its English; also as spelled in pinyin
                forms.add(romanize(chinese))
            elif len(chinese) > 2 and chinese[-1] in ADMIN_SUFFIXES:
                forms.add(romanize(chinese[:-1]))  # 上海市: shanghaishi and shanghai
            for form in sorted(forms):
                found.extend(
                    Token(term, start + word.start, start + word.end, inner=True)
                    for term in self._fold(form)
                )
        return found


ANALYZER = Analyzer()


def analyse(text: str, *, latin: bool = False) -> tuple[str, str]:
    """``text`` as stored in the index: (the words in order, the inner words). ``latin``:
    Chinese words also as English and pinyin inner words (names: see ``Analyzer.tokens``)."""
    tokens = ANALYZER.tokens(text, inner=True, latin=latin)
    return (
        " ".join(t.term for t in tokens if not t.inner),
        " ".join(t.term for t in tokens if t.inner),
    )


# -- the query language --------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One condition of a query: a word, or a phrase (words adjacent, in order)."""

    tokens: tuple[str, ...]

    @property
    def phrase(self) -> bool:
        return len(self.tokens) > 1


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    terms: tuple[Term, ...]

    def matches(self, text: str) -> list[tuple[int, int]]:
        """Where the query's terms occur in ``text`` (merged character ranges): highlights."""
        latin = any(token.isascii() for term in self.terms for token in term.tokens)
        tokens = ANALYZER.tokens(text, inner=True, latin=latin)
        words = [t for t in tokens if not t.inner]
        ranges: list[tuple[int, int]] = []
        for term in self.terms:
            if not term.phrase:
                ranges += [(t.start, t.end) for t in tokens if t.term == term.tokens[0]]
                continue
            size = len(term.tokens)
            for i in range(len(words) - size + 1):
                if tuple(w.term for w in words[i : i + size]) == term.tokens:
                    ranges.append((words[i].start, words[i + size - 1].end))
        merged: list[tuple[int, int]] = []
        for start, end in sorted(ranges):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged


def parse_query(text: str, *, path: str = "/query/q") -> ParsedQuery:
    """Parse what a user typed; a clear 422 for an empty, over-long or wordless query."""
    stripped = text.strip()
    problem = None
    if not stripped:
        problem = ("required", "type some words to search for")
    elif len(stripped) > MAX_QUERY_CHARS:
        problem = (
            "too_long",
            f"a search is at most {MAX_QUERY_CHARS} characters (got {len(stripped)})",
        )
    if problem:
        raise ValidationFailed("invalid search query", errors=[field_error(path, *problem)])
    free: list[Term] = []
    phrases: list[Term] = []
    position = 0
    for match in _QUOTED.finditer(stripped):
        free += _words(stripped[position : match.start()])
        inside = next(g for g in match.groups() if g is not None)
        words = tuple(t.term for t in ANALYZER.tokens(inside))
        if words:
            phrases.append(Term(words))
        position = match.end()
    free += _words(stripped[position:])
    content = [t for t in free if t.tokens[0] not in STOP_WORDS]
    terms = list(dict.fromkeys(phrases + (content or ([] if phrases else free))))
    if not terms:
        raise ValidationFailed(
            "invalid search query",
            errors=[field_error(path, "no_words", "the query holds no searchable words")],
        )
    if len(terms) > MAX_TERMS:
        raise ValidationFailed(
            "invalid search query",
            errors=[
                field_error(path, "too_many_terms", f"at most {MAX_TERMS} words (got {len(terms)})")
            ],
        )
    return ParsedQuery(stripped, tuple(terms))


def _words(text: str) -> list[Term]:
    return [Term((t.term,)) for t in ANALYZER.tokens(text)]


# -- the index port and its adapters -------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    record_id: str
    object: str
    field: str
    content: str
    extra: str


@dataclass
class Candidate:
    record_id: str
    object: str
    score: float


class FullTextIndex(Protocol):
    """What search needs from a dialect's full-text engine. ``scope`` is a predicate over
    ``search_entries`` joined to ``records``: which objects, fields and records the caller
    may see, so ranking and limits apply to visible matches only."""

    def write(self, session: Session, rows: Sequence[Entry]) -> None: ...

    def candidates(
        self, session: Session, terms: Sequence[Term], scope: Any, limit: int
    ) -> list[Candidate]: ...

    def field_scores(
        self, session: Session, terms: Sequence[Term], scope: Any, record_ids: Sequence[str]
    ) -> dict[str, dict[str, float]]: ...

    def compact(self, session: Session) -> None: ...


class _SqlFullText:
    """The query shape both engines share: one select per term (its matching entries with a
    relevance score), a record matches when every term matched one of its fields."""

    def _term(self, term: Term) -> tuple[Any, Any, Any]:
        """(FROM clause joining entries, match predicate, score expression)."""
        raise NotImplementedError

    def _selects(self, terms: Sequence[Term], scope: Any) -> Any:
        selects: list[Any] = []
        for position, term in enumerate(terms):
            source, predicate, score = self._term(term)
            selects.append(
                sa.select(
                    entries.c.record_id,
                    entries.c.object,
                    entries.c.field,
                    sa.literal(position).label("term"),
                    score.label("score"),
                )
                .select_from(source.join(records, records.c.id == entries.c.record_id))
                .where(predicate, scope)
            )
        if len(selects) == 1:
            return self._fenced(selects[0]).subquery("hits")
        # Called through Any: mypy 2.4 crashes inferring union_all's variadic overloads.
        union_all: Any = sa.union_all
        return union_all(*selects).subquery("hits")

    def _fenced(self, select: Any) -> Any:
        return select

    def candidates(
        self, session: Session, terms: Sequence[Term], scope: Any, limit: int
    ) -> list[Candidate]:
        hits = self._selects(terms, scope)
        score = sa.func.sum(hits.c.score).label("score")
        statement = (
            sa.select(hits.c.record_id, hits.c.object, score)
            .group_by(hits.c.record_id, hits.c.object)
            .order_by(score.desc(), hits.c.record_id)
            .limit(limit)
        )
        if len(terms) > 1:
            statement = statement.having(sa.func.count(sa.distinct(hits.c.term)) == len(terms))
        return [Candidate(r, o, float(s)) for r, o, s in session.execute(statement)]

    def field_scores(
        self, session: Session, terms: Sequence[Term], scope: Any, record_ids: Sequence[str]
    ) -> dict[str, dict[str, float]]:
        if not record_ids:
            return {}
        hits = self._selects(terms, sa.and_(scope, entries.c.record_id.in_(list(record_ids))))
        statement = sa.select(hits.c.record_id, hits.c.field, sa.func.sum(hits.c.score)).group_by(
            hits.c.record_id, hits.c.field
        )
        found: dict[str, dict[str, float]] = {}
        for record_id, field, score in session.execute(statement):
            found.setdefault(record_id, {})[field] = float(score)
        return found


def _cursor(session: Session) -> Any:
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]


class SqliteFullText(_SqlFullText):
    """FTS5 over ``search_entries`` (external content, triggers keep it in step); bm25."""

    _fts = sa.table(FTS_TABLE, sa.column("rowid"))

    def _term(self, term: Term) -> tuple[Any, Any, Any]:
        # A double-quoted FTS5 string is a phrase of literal tokens: nothing in it is syntax.
        expression = '"' + " ".join(term.tokens).replace('"', '""') + '"'
        match = sa.literal_column(FTS_TABLE).op("MATCH")(sa.literal(expression, sa.Text))
        source = self._fts.join(entries, entries.c.id == self._fts.c.rowid)
        # bm25() is lower for better matches.
        return source, match, -sa.func.bm25(sa.literal_column(FTS_TABLE))

    def _fenced(self, select: Any) -> Any:
        # A subquery with an OFFSET is never flattened into the aggregating query around it,
        # where bm25() could not run ("unable to use function bm25 in the requested context").
        return select.offset(0)

    def write(self, session: Session, rows: Sequence[Entry]) -> None:
        if not rows:
            return
        cursor = _cursor(session)
        cursor.execute("SELECT coalesce(max(id), 0) FROM search_entries")
        (before,) = cursor.fetchone()
        cursor.executemany(
            "INSERT INTO search_entries (record_id, object, field, content, extra) "
            "VALUES (?, ?, ?, ?, ?)",
            [(r.record_id, r.object, r.field, r.content, r.extra) for r in rows],
        )
        # FTS5 takes the new rows in one statement (migration 0011 dropped the insert
        # trigger, which fed it a row per statement at four times the cost). Writers are
        # serialized on SQLite, so the new rows are exactly those past the old maximum.
        cursor.execute(
            f"INSERT INTO {FTS_TABLE}(rowid, content, extra) "
            "SELECT id, content, extra FROM search_entries WHERE id > ?",
            (before,),
        )

    def compact(self, session: Session) -> None:
        # FTS5 deletes add tombstones; merging all segments drops the deleted tokens for good
        # (erasure: nothing of an erased record may stay readable in the index's pages).
        session.execute(sa.text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')"))


def tsvector_literal(content: str, extra: str) -> str:
    """The words at positions 1…n, the inner words after a gap (a phrase never spans both),
    as tsvector input: lexemes are quoted, so nothing is parsed again."""
    positions: dict[str, list[int]] = {}
    words = content.split()
    for position, word in enumerate(words, start=1):
        positions.setdefault(word, []).append(min(position, PG_MAX_POSITION))
    for position, word in enumerate(extra.split(), start=len(words) + 2):
        positions.setdefault(word, []).append(min(position, PG_MAX_POSITION))
    return " ".join(
        f"{_quote(word)}:{','.join(map(str, sorted(set(spots))[:PG_MAX_POSITIONS_PER_LEXEME]))}"
        for word, spots in positions.items()
    )


def _quote(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


class PostgresFullText(_SqlFullText):
    """A tsvector per entry (GIN index); ts_rank."""

    def _term(self, term: Term) -> tuple[Any, Any, Any]:
        query = sa.cast(sa.literal(" <-> ".join(_quote(t) for t in term.tokens)), TSQUERY)
        return (
            entries,
            entries.c.document.op("@@")(query),
            sa.func.ts_rank(entries.c.document, query),
        )

    def write(self, session: Session, rows: Sequence[Entry]) -> None:
        if rows:
            _cursor(session).executemany(
                "INSERT INTO search_entries (record_id, object, field, content, extra, document)"
                " VALUES (%s, %s, %s, %s, %s, %s::tsvector)",
                [
                    (
                        r.record_id,
                        r.object,
                        r.field,
                        r.content,
                        r.extra,
                        tsvector_literal(r.content, r.extra),
                    )
                    for r in rows
                ],
            )

    def compact(self, session: Session) -> None:
        # Deleted rows are reclaimed by (auto)vacuum, which cannot run inside a transaction.
        return None


def full_text_index(dialect: str) -> FullTextIndex:
    if dialect == "sqlite":
        return SqliteFullText()
    if dialect == "postgresql":
        return PostgresFullText()
    raise ValueError(f"no full-text index for the {dialect} dialect")


def remove_records(session: Session, record_ids: Sequence[str]) -> int:
    """Delete the index entries and vectors of these records; the number of rows removed."""
    removed = 0
    ids = sorted(set(record_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for table in (entries, vectors):
            result = session.execute(sa.delete(table).where(table.c.record_id.in_(chunk)))
            removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


def purge_records(session: Session, record_ids: Sequence[str]) -> int:
    """Erasure: remove the records' entries and vectors and compact the index, so none of
    their words stays behind in the engine's own pages."""
    removed = remove_records(session, record_ids)
    full_text_index(session.get_bind().dialect.name).compact(session)
    return removed
