"""Identity resolution endpoints: match candidates with explained scores, duplicate pairs for
review, and reversible merges. Records are read through the record service, so field
permissions, visibility and consent checks (X-Purpose) apply to everything shown."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from kindred.api.deps import ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.graph.resolution import MAX_CANDIDATES
from kindred.graph.schemas import (
    Candidates,
    Duplicates,
    MergeList,
    MergeResult,
    MergeView,
    UnmergeResult,
)

router = APIRouter(prefix="/api/v1/resolution", tags=["identity resolution"])


class CandidatesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: str | None = Field(
        default=None, description="id of a record to match (of the object, or a lead)"
    )
    values: dict[str, Any] | None = Field(
        default=None, description="field values not saved yet, e.g. a lead form's company"
    )
    source_object: str | None = Field(
        default=None, description="the object the values are of (default: the matched object)"
    )
    limit: int = Field(default=10, ge=1, le=MAX_CANDIDATES)
    min_score: float = Field(default=0.05, ge=0, le=1)


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str
    survivor: str = Field(description="the record that stays")
    duplicate: str = Field(description="the record merged into it (removed, restorable)")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="explicit values for the survivor's fields"
    )
    take_from_duplicate: list[str] = Field(
        default_factory=list, description="fields that take the duplicate's value"
    )
    survivor_version: int | None = Field(default=None, description="expected version")
    duplicate_version: int | None = Field(default=None, description="expected version")


@router.post(
    "/{object_name}/candidates",
    summary="Records that may be the same entity",
    response_model=None,
    responses={200: {"model": Candidates, "description": "The candidates you may see, best first"}},
)
def candidates(
    kindred: KindredDep, context: ContextDep, object_name: str, body: CandidatesRequest
) -> Json:
    with kindred.database.read() as session:
        return Json(
            kindred.resolution.candidates(
                session,
                context,
                object_name,
                record_id=body.record,
                values=body.values,
                source_object=body.source_object,
                limit=body.limit,
                min_score=body.min_score,
            )
        )


@router.get(
    "/{object_name}/duplicates",
    summary="Likely duplicate pairs, best first",
    response_model=None,
    responses={200: {"model": Duplicates, "description": "A page of duplicate pairs"}},
)
def duplicates(
    kindred: KindredDep,
    context: ContextDep,
    object_name: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
) -> Json:
    with kindred.database.read() as session:
        return Json(
            kindred.resolution.duplicates(
                session, context, object_name, limit=limit, cursor=cursor, min_score=min_score
            )
        )


@router.get(
    "/merges",
    summary="Merges of an object, newest first",
    response_model=None,
    responses={200: {"model": MergeList, "description": "The merges you may see"}},
)
def list_merges(
    kindred: KindredDep,
    context: ContextDep,
    object_name: Annotated[str, Query(alias="object")],
    record: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Json:
    with kindred.database.read() as session:
        return Json(
            {
                "data": kindred.resolution.list_merges(
                    session, context, object_name, record_id=record, limit=limit
                )
            }
        )


@router.post(
    "/merges",
    status_code=201,
    summary="Merge a duplicate into a survivor",
    response_model=None,
    responses={201: {"model": MergeResult, "description": "The merge (its id undoes it)"}},
)
def merge(kindred: KindredDep, context: ContextDep, body: MergeRequest) -> Json:
    with kindred.database.write() as session:
        result = kindred.resolution.merge(
            session,
            context,
            body.object,
            body.survivor,
            body.duplicate,
            overrides=body.overrides,
            take_from_duplicate=body.take_from_duplicate,
            survivor_version=body.survivor_version,
            duplicate_version=body.duplicate_version,
        )
    return Json(result, status_code=201)


@router.get(
    "/merges/{merge_id}",
    summary="A merge: what it changed, and the merged record",
    response_model=None,
    responses={200: {"model": MergeView, "description": "The merge"}},
)
def get_merge(kindred: KindredDep, context: ContextDep, merge_id: str) -> Json:
    with kindred.database.read() as session:
        return Json(kindred.resolution.get_merge(session, context, merge_id))


@router.post(
    "/merges/{merge_id}/undo",
    summary="Undo a merge (refused if unsafe)",
    response_model=None,
    responses={200: {"model": UnmergeResult, "description": "Undone: the duplicate is back"}},
)
def undo_merge(kindred: KindredDep, context: ContextDep, merge_id: str) -> Json:
    with kindred.database.write() as session:
        return Json(kindred.resolution.unmerge(session, context, merge_id))
