"""Search endpoints: records found by words (Chinese or English) and, with the semantic extra,
by meaning. Hits are read through the record service, so permissions, territories and
consent checks (the declared purpose: ``X-Purpose``) apply as to any read."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query

from kindred.api.deps import AdminDep, ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.errors import ValidationFailed, field_error
from kindred.graph.schemas import ReindexResult, SearchResults
from kindred.graph.search import MAX_LIMIT
from kindred.sovereignty.purposes import purpose as registered_purpose

router = APIRouter(prefix="/api/v1/search", tags=["search"])


def _listed(values: list[str] | None) -> list[str] | None:
    """``objects=a,b`` and ``objects=a&objects=b`` alike."""
    if not values:
        return None
    found = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return found or None


# Plain ``def``: segmentation and embedding are CPU work, kept off the event loop.
@router.get(
    "",
    summary="Search records",
    description=(
        'Words (all must occur) and "quoted phrases" in Chinese or English, over the text '
        "fields you may read; results ranked by relevance, each with a highlighted snippet. "
        "`mode` says whether meaning (embeddings) took part (`hybrid`) or words only "
        "(`fulltext`)."
    ),
    response_model=None,
    responses={200: {"model": SearchResults, "description": "The matches you may see, best first"}},
)
def search(
    kindred: KindredDep,
    context: ContextDep,
    q: Annotated[str, Query(description="what to look for")] = "",
    objects: Annotated[
        list[str] | None, Query(description="objects to search (comma-separated or repeated)")
    ] = None,
    sources: Annotated[list[str] | None, Query(description="sources searched: records")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    purpose: Annotated[
        str | None, Query(description="declared purpose, as the X-Purpose header")
    ] = None,
) -> Json:
    if purpose is not None:
        registered_purpose(purpose, "/query/purpose")  # an unknown one is refused (422)
        if context.purpose is not None and context.purpose != purpose:
            raise ValidationFailed(
                "two different purposes declared",
                errors=[
                    field_error(
                        "/query/purpose",
                        "conflict",
                        f"purpose={purpose!r} but X-Purpose: {context.purpose!r}",
                    )
                ],
            )
        context = dataclasses.replace(context, purpose=purpose)
    with kindred.database.read() as session:
        return Json(
            kindred.search.search(
                session,
                context,
                q,
                objects=_listed(objects),
                sources=_listed(sources),
                limit=limit,
            )
        )


@router.post(
    "/reindex",
    summary="Rebuild the search index (admins)",
    response_model=None,
    responses={200: {"model": ReindexResult, "description": "What was indexed"}},
)
def reindex(
    kindred: KindredDep,
    context: AdminDep,
    objects: Annotated[
        list[str] | None, Query(description="objects to rebuild; all if absent")
    ] = None,
) -> Json:
    with kindred.database.write() as session:
        counts = kindred.search.reindex(session, _listed(objects))
    return Json({"indexed": counts, "mode": kindred.search.mode})
