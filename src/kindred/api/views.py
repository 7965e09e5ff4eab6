"""Saved list views (the console's records workspace) and the purposes staff may declare.

A saved view is read by its owner and, when shared, by everyone holding its role; anyone
else gets 404. Only its owner may change or delete it (403 for a reader of a shared view).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from kindred.api.deps import ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.records.views import create_view, delete_view, get_view, list_views, update_view
from kindred.records.views.schemas import (
    PurposeList,
    SavedViewCreate,
    SavedViewList,
    SavedViewPublic,
    SavedViewUpdate,
)
from kindred.sovereignty.purposes import PURPOSES

router = APIRouter(tags=["views"])

VIEWS = "/api/v1/views"
ONE = VIEWS + "/{view_id}"


@router.get(
    VIEWS,
    summary="Saved list views you may open (yours, and those shared with your roles)",
    response_model=None,
    responses={200: {"model": SavedViewList, "description": "Yours first, then shared ones"}},
)
def saved_views(
    kindred: KindredDep,
    context: ContextDep,
    object: Annotated[str | None, Query(description="Only views of this object")] = None,
) -> Json:
    with kindred.database.read() as session:
        return Json({"data": list_views(session, context, object)})


@router.post(
    VIEWS,
    status_code=201,
    summary="Save a list view (private, or shared with one of your roles)",
    response_model=None,
    responses={
        201: {
            "model": SavedViewPublic,
            "description": "The view saved",
            "headers": {
                "Location": {"description": "The view's URL", "schema": {"type": "string"}}
            },
        }
    },
)
def save_view(kindred: KindredDep, context: ContextDep, body: SavedViewCreate) -> Json:
    with kindred.database.write() as session:
        view = create_view(kindred.records, session, context, body)
    return Json(view, status_code=201, headers={"Location": f"{VIEWS}/{view['id']}"})


@router.get(
    ONE,
    summary="One saved view",
    response_model=None,
    responses={200: {"model": SavedViewPublic, "description": "The view"}},
)
def saved_view(view_id: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        return Json(get_view(session, context, view_id))


@router.patch(
    ONE,
    summary="Rename or change a saved view (its owner only)",
    response_model=None,
    responses={200: {"model": SavedViewPublic, "description": "The view as saved"}},
)
def change_view(
    view_id: str, kindred: KindredDep, context: ContextDep, body: SavedViewUpdate
) -> Json:
    with kindred.database.write() as session:
        return Json(update_view(kindred.records, session, context, view_id, body))


@router.delete(ONE, status_code=204, summary="Delete a saved view (its owner only)")
def remove_view(view_id: str, kindred: KindredDep, context: ContextDep) -> Response:
    with kindred.database.write() as session:
        delete_view(session, context, view_id)
    return Response(status_code=204)


@router.get(
    "/api/v1/purposes",
    summary="Purposes staff may declare (the X-Purpose header)",
    response_model=None,
    responses={200: {"model": PurposeList, "description": "The purposes, by name"}},
)
def purposes(context: ContextDep) -> Json:
    # Customer-request purposes are the system's, acting on the customer's own request.
    declared = sorted((p for p in PURPOSES.values() if p.basis == "consent"), key=lambda p: p.name)
    return Json(
        {
            "data": [
                {"name": p.name, "description": p.description, "outbound": p.outbound}
                for p in declared
            ]
        }
    )
