"""Customer semantic graph endpoints: neighbours, a record's subgraph, shortest paths. Nodes
come through the record service, so permissions and consent checks (X-Purpose) apply."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from kindred.api.deps import ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.graph.schemas import GraphPath, Neighbours, Subgraph

router = APIRouter(prefix="/api/v1/graph", tags=["graph"])
Relations = Annotated[
    list[str] | None, Query(alias="relation", description="edge types: <object>.<field>")
]
Types = Annotated[list[str] | None, Query(alias="type", description="objects to include")]


@router.get(
    "/{record_id}/neighbours",
    summary="Records one edge away",
    response_model=None,
    responses={
        200: {"model": Neighbours, "description": "The record and its neighbours you may see"}
    },
)
def neighbours(
    kindred: KindredDep,
    context: ContextDep,
    record_id: str,
    relations: Relations = None,
    types: Types = None,
    direction: Literal["out", "in", "both"] = "both",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Json:
    with kindred.database.read() as session:
        return Json(
            kindred.graph.neighbours(
                session,
                context,
                record_id,
                relations=relations,
                types=types,
                direction=direction,
                limit=limit,
            )
        )


@router.get(
    "/{record_id}/subgraph",
    summary="Everything within a depth, by type",
    response_model=None,
    responses={
        200: {
            "model": Subgraph,
            "description": "The records within the depth you may see, and their edges",
        }
    },
)
def subgraph(
    kindred: KindredDep,
    context: ContextDep,
    record_id: str,
    relations: Relations = None,
    types: Types = None,
    depth: int = 2,
    max_nodes: int = 500,
) -> Json:
    with kindred.database.read() as session:
        return Json(
            kindred.graph.subgraph(
                session,
                context,
                record_id,
                depth=depth,
                relations=relations,
                types=types,
                max_nodes=max_nodes,
            )
        )


@router.get(
    "/path",
    summary="A shortest path between two records",
    response_model=None,
    responses={200: {"model": GraphPath, "description": "The path, or found: false"}},
)
def path(
    kindred: KindredDep,
    context: ContextDep,
    source: Annotated[str, Query(alias="from")],
    target: Annotated[str, Query(alias="to")],
    relations: Relations = None,
    max_depth: int = 4,
) -> Json:
    with kindred.database.read() as session:
        return Json(
            kindred.graph.path(
                session, context, source, target, max_depth=max_depth, relations=relations
            )
        )
