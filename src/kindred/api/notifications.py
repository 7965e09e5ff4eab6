"""A user's inbox of in-app notifications (sent by scenarios' ``notify``): list, unread count,
mark read or unread, mark all read. Thin: everything else in ``kindred.scenarios.inbox``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kindred.api.deps import ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.scenarios.inbox import inbox, mark, mark_all_read
from kindred.scenarios.inbox_schemas import (
    NotificationPage,
    NotificationPublic,
    NotificationsMarked,
)

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

# Response bodies are documented, not serialized, through the models in
# scenarios/inbox_schemas.py (response_model=None): the routes answer dicts with orjson.


@router.get(
    "",
    summary="Your notifications, newest first, with your unread count",
    description=(
        "Notifications sent to you or to a role you hold. `unread=true` lists only those you "
        "have not read. A notification about a record shows its text only while your own "
        "read of that record shows the fields it quotes (`withheld` says why not)."
    ),
    response_model=None,
    responses={200: {"model": NotificationPage, "description": "A page of your inbox"}},
)
async def list_notifications(
    kindred: KindredDep,
    context: ContextDep,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Json:
    with kindred.database.read() as session:
        return Json(inbox(kindred, session, context, unread=unread, limit=limit, cursor=cursor))


@router.post(
    "/read-all",
    summary="Mark every notification in your inbox read",
    response_model=None,
    responses={200: {"model": NotificationsMarked, "description": "How many were marked"}},
)
def read_all(kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.write() as session:
        return Json(mark_all_read(session, context))


@router.post(
    "/{notification_id}/read",
    summary="Mark one notification read (for you only)",
    response_model=None,
    responses={200: {"model": NotificationPublic, "description": "The notification, read"}},
)
def read_one(notification_id: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.write() as session:
        return Json(mark(kindred, session, context, notification_id, read=True))


@router.delete(
    "/{notification_id}/read",
    summary="Mark one notification unread again (for you only)",
    response_model=None,
    responses={200: {"model": NotificationPublic, "description": "The notification, unread"}},
)
def unread_one(notification_id: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.write() as session:
        return Json(mark(kindred, session, context, notification_id, read=False))
