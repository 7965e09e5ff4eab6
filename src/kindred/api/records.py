"""Generic record API: one set of endpoints for every object, standard or custom."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response

from kindred.api.deps import ContextDep, KindredDep, etag, parse_if_match
from kindred.api.idempotency import fingerprint, run_idempotent
from kindred.api.responses import Json
from kindred.records.query import parse_list_params
from kindred.records.schemas import (
    BulkRequest,
    BulkResult,
    RecordHistory,
    RecordPage,
    RecordPublic,
    RecordWithIncluded,
)
from kindred.sovereignty.pdp import ConsentRequired

router = APIRouter(prefix="/api/v1/objects/{object_name}/records", tags=["records"])

# Reads run on the event loop (``async def`` with blocking calls inside), on purpose: they are
# short, CPU-bound and never wait on a lock (SQLite WAL readers do not block), so running
# them inline avoids a thread-pool hop and GIL contention between 40 threads, which is
# what dominated tail latency. Writes stay in the thread pool: a SQLite writer may wait
# for the write lock, and that must never stall the loop.

IdempotencyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe key: a repeat replays the result"),
]
IfMatchHeader = Annotated[
    str | None, Header(alias="If-Match", description='ETag of the version you edited, e.g. "v3"')
]

# Response bodies are documented, not serialized, through the models in records/schemas.py
# (response_model=None): the routes answer the services' dicts with orjson.
ETAG_HEADER = {
    "ETag": {"description": 'The record\'s version, e.g. "v3"', "schema": {"type": "string"}}
}


@router.get(
    "",
    summary="List records",
    description=(
        "Cursor-paginated list. Filters: `filter[field]=v` or `filter[field][op]=v` with op in "
        "eq, ne, lt, lte, gt, gte, in, nin (comma-separated), contains, starts_with, is_null, "
        "has (list fields); `where=<CEL>` (e.g. `record.amount > 1000 && "
        "record.stage == 'proposal'`); `sort=-amount,name`; `fields=name,tier`; "
        "`include=account` (with `fields`, the included relations' ids are kept, so each "
        "included record can be matched); `limit` and `cursor`."
    ),
    response_model=None,
    responses={200: {"model": RecordPage, "description": "A page of records"}},
)
async def list_records(
    object_name: str,
    request: Request,
    kindred: KindredDep,
    context: ContextDep,
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: str | None = None,
    sort: str | None = None,
    fields: str | None = None,
    include: str | None = None,
    where: str | None = None,
) -> Json:
    query = parse_list_params(
        list(request.query_params.multi_items()),
        default_limit=kindred.settings.page_size_default,
        max_limit=kindred.settings.page_size_max,
    )
    with kindred.database.read() as session:
        page = kindred.records.list_records(session, context, object_name, query)
    body: dict[str, Any] = {"data": page.data, "next_cursor": page.next_cursor}
    if query.include:
        body["included"] = page.included
    return Json(body)


@router.post(
    "",
    status_code=201,
    summary="Create a record",
    response_model=None,
    responses={
        201: {
            "model": RecordPublic,
            "description": "The record created (a repeated Idempotency-Key replays it)",
            "headers": {
                **ETAG_HEADER,
                "Location": {"description": "The record's URL", "schema": {"type": "string"}},
            },
        }
    },
)
def create_record(
    object_name: str,
    request: Request,
    kindred: KindredDep,
    context: ContextDep,
    payload: Annotated[dict[str, Any], Body()],
    idempotency_key: IdempotencyHeader = None,
) -> Json:
    def action(session: Any) -> tuple[int, Any, dict[str, str]]:
        record = kindred.records.create(session, context, object_name, payload)
        location = f"/api/v1/objects/{object_name}/records/{record['id']}"
        return 201, record, {"ETag": etag(record["version"]), "Location": location}

    return run_idempotent(
        kindred,
        context,
        idempotency_key,
        fingerprint("POST", request.url.path, payload),
        action,
    )


@router.post(
    "/bulk",
    summary="Create, update or upsert many records (all or nothing)",
    response_model=None,
    responses={200: {"model": BulkResult, "description": "Every record written"}},
)
def bulk_records(
    object_name: str,
    request: Request,
    kindred: KindredDep,
    context: ContextDep,
    payload: BulkRequest,
    idempotency_key: IdempotencyHeader = None,
) -> Json:
    def action(session: Any) -> tuple[int, Any, dict[str, str]]:
        written = kindred.records.bulk(
            session,
            context,
            object_name,
            payload.operation,
            payload.records,
            match_on=payload.match_on,
        )
        return 200, {"data": written, "count": len(written)}, {}

    return run_idempotent(
        kindred,
        context,
        idempotency_key,
        fingerprint("POST", request.url.path, payload.model_dump()),
        action,
    )


@router.get(
    "/{record_id}",
    summary="Get one record",
    response_model=None,
    responses={
        200: {
            "model": RecordWithIncluded,
            "description": "The record (with `included` when include= was given)",
            "headers": ETAG_HEADER,
        }
    },
)
async def get_record(
    object_name: str,
    record_id: str,
    kindred: KindredDep,
    context: ContextDep,
    fields: str | None = None,
    include: str | None = None,
) -> Json:
    field_list = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    include_list = [f.strip() for f in include.split(",") if f.strip()] if include else []
    with kindred.database.read() as session:
        record, included = kindred.records.get(
            session, context, object_name, record_id, fields=field_list, include=include_list
        )
    withheld = record.get("meta", {}).get("withheld", [])
    if field_list and withheld and {w["field"] for w in withheld} >= set(field_list):
        # Everything asked for needs a consent the caller lacks: say so as a whole.
        raise ConsentRequired(
            f"every field requested needs the customer's consent for "
            f"{context.purpose or 'a declared purpose'}",
            withheld=withheld,
            request_consent=withheld[0]["request_consent"],
        )
    body: dict[str, Any] = record
    if include_list:
        body = {**record, "included": included}
    return Json(body, headers={"ETag": etag(record["version"])})


@router.patch(
    "/{record_id}",
    summary="Update fields of a record (null clears a field)",
    description=(
        "Only the fields sent change. Read-only members (`version`, `created_at`, "
        "`updated_at`, `created_by`, `updated_by`, `object`, `meta`, another `id`) are "
        "refused with a 422 naming each, and nothing is saved; state the version you edited "
        'with `If-Match: "v3"`.'
    ),
    response_model=None,
    responses={
        200: {"model": RecordPublic, "description": "The record as saved", "headers": ETAG_HEADER}
    },
)
def update_record(
    object_name: str,
    record_id: str,
    kindred: KindredDep,
    context: ContextDep,
    patch: Annotated[dict[str, Any], Body()],
    if_match: IfMatchHeader = None,
) -> Json:
    expected = parse_if_match(if_match)
    with kindred.database.write() as session:
        record = kindred.records.update(
            session, context, object_name, record_id, patch, if_match=expected
        )
    return Json(record, headers={"ETag": etag(record["version"])})


@router.delete("/{record_id}", status_code=204, summary="Delete a record")
def delete_record(
    object_name: str,
    record_id: str,
    kindred: KindredDep,
    context: ContextDep,
    if_match: IfMatchHeader = None,
) -> Response:
    expected = parse_if_match(if_match)
    with kindred.database.write() as session:
        kindred.records.delete(session, context, object_name, record_id, if_match=expected)
    return Response(status_code=204)


@router.get(
    "/{record_id}/history",
    summary="Change log of a record (newest first)",
    description=(
        "Also after the record is deleted: the deletion is the newest entry (who, when, the "
        "values it had). A deleted record's history is shown to whoever would have seen the "
        "record when it was deleted (readers of every record of the object, e.g. admins and "
        "compliance; its owner; its territory's readers); to anyone else it is a 404, like "
        "a record that never was. Fields you may not read are left out of every entry."
    ),
    response_model=None,
    responses={200: {"model": RecordHistory, "description": "The record's changes you may see"}},
)
def record_history(
    object_name: str,
    record_id: str,
    kindred: KindredDep,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Json:
    with kindred.database.read() as session:
        entries = kindred.records.history(session, context, object_name, record_id, limit=limit)
    return Json({"data": entries})
