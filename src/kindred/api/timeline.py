"""A record's timeline: change history, events, scenario runs, agent runs and consents,
merged newest first, each source filtered for the reader as its own endpoint filters it
(``kindred.records.timeline``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kindred.api.deps import ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.records.timeline import EVENT_READERS, events_about, record_timeline
from kindred.records.timeline_schemas import RecordTimeline

router = APIRouter(tags=["records"])


@router.get(
    "/api/v1/objects/{object_name}/records/{record_id}/timeline",
    summary="A record's timeline: changes, events, runs and consents (newest first)",
    response_model=None,
    responses={200: {"model": RecordTimeline, "description": "What you may see, newest first"}},
)
async def timeline(
    object_name: str,
    record_id: str,
    kindred: KindredDep,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Json:
    with kindred.database.read() as session:
        # Not found or not allowed: said before anything else is read.
        kindred.records.get(session, context, object_name, record_id, fields=[])
    events = None
    if EVENT_READERS & set(context.principal.roles):
        await kindred.events.start()
        events = await events_about(kindred.events.bus, record_id, keep=limit)
    with kindred.database.read() as session:
        return Json(
            record_timeline(kindred, session, context, object_name, record_id, events, limit=limit)
        )
