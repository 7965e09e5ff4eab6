"""Tags on a record (set by scenarios' ``set_tag``) with their provenance and validity. Thin:
everything else in ``kindred.scenarios.tags``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kindred.api.deps import ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.scenarios.inbox_schemas import TagPage
from kindred.scenarios.tags import record_tags

router = APIRouter(tags=["records"])


@router.get(
    "/api/v1/objects/{object_name}/records/{record_id}/tags",
    summary="A record's tags: who or what set each, when, and until when (newest first)",
    description=(
        "Each tag setting with the scenario version, run and principal that set it. Expired "
        "tags are left out unless `include_expired=true`. Needs read access to the record."
    ),
    response_model=None,
    responses={200: {"model": TagPage, "description": "The record's tags"}},
)
async def list_tags(
    object_name: str,
    record_id: str,
    kindred: KindredDep,
    context: ContextDep,
    include_expired: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Json:
    with kindred.database.read() as session:
        return Json(
            record_tags(
                kindred,
                session,
                context,
                object_name,
                record_id,
                include_expired=include_expired,
                limit=limit,
                cursor=cursor,
            )
        )
