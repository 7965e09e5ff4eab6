"""The customer semantic graph over the records' typed relations: neighbours, shortest paths
and a customer's subgraph with depth and type filters.

Every relation field is an edge type (``<object>.<field>``, e.g. ``contact.account``); the
edges are the ``record_links`` the record service keeps in step with the records. Nodes are
presented by the record service, so permissions, visibility and consent checks (the caller's
declared purpose) apply to every node exactly as to any other read. Traversal only continues
from nodes the caller may see: a path never runs through a record they could not open, and
the graph reveals no record, nor the existence of one, beyond what they may read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.errors import NotFound, PermissionDenied, ValidationFailed, field_error
from kindred.records.models import RecordLink, RecordRow
from kindred.records.query import FieldFilter, ListQuery
from kindred.records.service import RecordService, RequestContext

MAX_DEPTH = 5
MAX_NODES = 2_000
Direction = Literal["out", "in", "both"]


@dataclass(frozen=True)
class Edge:
    relation: str  # <object>.<field> of the source record
    source: str
    target: str

    def to_dict(self) -> dict[str, str]:
        return {"relation": self.relation, "source": self.source, "target": self.target}


class GraphService:
    def __init__(self, records: RecordService) -> None:
        self.records = records

    # -- building blocks ----------------------------------------------------------------------

    def _check(
        self,
        session: Session,
        relations: Collection[str] | None,
        types: Collection[str] | None,
    ) -> None:
        registry = self.records.registry(session)
        errors = []
        for index, name in enumerate(types or ()):
            if name not in registry:
                errors.append(
                    field_error(f"/query/type/{index}", "unknown-object", f"no object {name!r}")
                )
        for index, relation in enumerate(relations or ()):
            object_name, _, field_name = relation.partition(".")
            compiled = registry.objects.get(object_name)
            definition = compiled.fields.get(field_name) if compiled is not None else None
            if definition is None or definition.target is None:
                errors.append(
                    field_error(
                        f"/query/relation/{index}",
                        "unknown-relation",
                        f"{relation!r} is not a relation field (<object>.<field>)",
                    )
                )
        if errors:
            raise ValidationFailed("unknown types or relations in the graph query", errors=errors)

    def _visible(
        self, session: Session, context: RequestContext, ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        """The records among ``ids`` the caller may see, as the record service presents them."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        by_object: dict[str, list[str]] = {}
        for start in range(0, len(wanted), 500):
            for record_id, object_name in session.execute(
                sa.select(RecordRow.id, RecordRow.object).where(
                    RecordRow.id.in_(wanted[start : start + 500])
                )
            ):
                by_object.setdefault(object_name, []).append(record_id)
        found: dict[str, dict[str, Any]] = {}
        for object_name, members in by_object.items():
            for start in range(0, len(members), 200):
                chunk = members[start : start + 200]
                try:
                    page = self.records.list_records(
                        session,
                        context,
                        object_name,
                        ListQuery(filters=[FieldFilter("id", "in", ",".join(chunk))], limit=200),
                    )
                except PermissionDenied:
                    break  # the caller may not read this object at all
                found.update({record["id"]: record for record in page.data})
        return found

    def _edges(
        self,
        session: Session,
        ids: Collection[str],
        relations: Collection[str] | None,
        direction: Direction,
    ) -> list[Edge]:
        edges: list[Edge] = []
        members = sorted(ids)
        for start in range(0, len(members), 500):
            chunk = members[start : start + 500]
            sides = []
            if direction in ("out", "both"):
                sides.append(RecordLink.source_id.in_(chunk))
            if direction in ("in", "both"):
                sides.append(RecordLink.target_id.in_(chunk))
            statement = sa.select(
                RecordLink.relation, RecordLink.source_id, RecordLink.target_id
            ).where(sa.or_(*sides))
            if relations:
                statement = statement.where(RecordLink.relation.in_(sorted(relations)))
            edges += [Edge(*row) for row in session.execute(statement)]
        return edges

    def _root(self, session: Session, context: RequestContext, record_id: str) -> dict[str, Any]:
        root = self._visible(session, context, [record_id]).get(record_id)
        if root is None:
            raise NotFound(f"no record {record_id} you may see")
        return root

    # -- queries ------------------------------------------------------------------------------

    def neighbours(
        self,
        session: Session,
        context: RequestContext,
        record_id: str,
        *,
        relations: Collection[str] | None = None,
        types: Collection[str] | None = None,
        direction: Direction = "both",
        limit: int = 200,
    ) -> dict[str, Any]:
        """The records one edge away, with the edge that links each."""
        self._check(session, relations, types)
        root = self._root(session, context, record_id)
        edges = self._edges(session, [record_id], relations, direction)
        others = {e.target if e.source == record_id else e.source for e in edges}
        visible = self._visible(session, context, others)
        result = []
        for edge in edges:
            other = edge.target if edge.source == record_id else edge.source
            node = visible.get(other)
            if node is None or (types and node["object"] not in types):
                continue
            result.append({"edge": edge.to_dict(), "node": node})
            if len(result) >= limit:
                break
        return {"node": root, "neighbours": result}

    def subgraph(
        self,
        session: Session,
        context: RequestContext,
        record_id: str,
        *,
        depth: int = 2,
        relations: Collection[str] | None = None,
        types: Collection[str] | None = None,
        max_nodes: int = 500,
    ) -> dict[str, Any]:
        """Every record within ``depth`` edges (breadth first, through visible records of
        the wanted types only), and the edges between them."""
        if not 1 <= depth <= MAX_DEPTH or not 1 <= max_nodes <= MAX_NODES:
            raise ValidationFailed(
                "the subgraph is too deep or too large",
                errors=[
                    field_error("/query/depth", "range", f"1 to {MAX_DEPTH}"),
                    field_error("/query/max_nodes", "range", f"1 to {MAX_NODES}"),
                ],
            )
        self._check(session, relations, types)
        root = self._root(session, context, record_id)
        nodes: dict[str, dict[str, Any]] = {record_id: root}
        levels = {record_id: 0}
        edges: set[Edge] = set()
        frontier = [record_id]
        truncated = False
        for level in range(1, depth + 1):
            if not frontier:
                break
            found = self._edges(session, frontier, relations, "both")
            candidates = {
                other for e in found for other in (e.source, e.target) if other not in nodes
            }
            visible = self._visible(session, context, candidates)
            following = []
            for other in sorted(candidates):
                node = visible.get(other)
                if node is None or (types and node["object"] not in types):
                    continue
                if len(nodes) >= max_nodes:
                    truncated = True
                    break
                nodes[other] = node
                levels[other] = level
                following.append(other)
            edges.update(e for e in found if e.source in nodes and e.target in nodes)
            frontier = following
        return {
            "root": record_id,
            "nodes": [{**node, "depth": levels[key]} for key, node in nodes.items()],
            "edges": [
                e.to_dict() for e in sorted(edges, key=lambda e: (e.relation, e.source, e.target))
            ],
            "truncated": truncated,
        }

    def path(
        self,
        session: Session,
        context: RequestContext,
        source_id: str,
        target_id: str,
        *,
        max_depth: int = 4,
        relations: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """A shortest path of visible records from one record to another, or none."""
        if not 1 <= max_depth <= MAX_DEPTH:
            raise ValidationFailed(
                "the path search is too deep",
                errors=[field_error("/query/max_depth", "range", f"1 to {MAX_DEPTH}")],
            )
        self._check(session, relations, None)
        start = self._root(session, context, source_id)
        goal = self._root(session, context, target_id)
        previous: dict[str, tuple[str, Edge] | None] = {source_id: None}
        seen = {source_id: start}
        frontier = [source_id]
        for _ in range(max_depth):
            if target_id in previous or not frontier:
                break
            found = self._edges(session, frontier, relations, "both")
            candidates = {
                other for e in found for other in (e.source, e.target) if other not in previous
            }
            visible = self._visible(session, context, candidates)
            following = []
            for edge in found:
                for here, other in ((edge.source, edge.target), (edge.target, edge.source)):
                    if here in frontier and other not in previous and other in visible:
                        previous[other] = (here, edge)
                        seen[other] = visible[other]
                        following.append(other)
            frontier = following
        if target_id not in previous:
            return {"found": False, "nodes": [], "edges": []}
        chain: list[Edge] = []
        here = target_id
        while previous[here] is not None:
            parent, edge = previous[here]  # type: ignore[misc]
            chain.append(edge)
            here = parent
        chain.reverse()
        order = [source_id]
        for edge in chain:
            order.append(edge.target if edge.source == order[-1] else edge.source)
        seen[target_id] = goal
        return {
            "found": True,
            "length": len(chain),
            "nodes": [seen[key] for key in order],
            "edges": [e.to_dict() for e in chain],
        }
