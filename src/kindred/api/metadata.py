"""Runtime data-model administration: objects, fields, validation rules, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response

from kindred.api.deps import AdminDep, ContextDep, KindredDep, etag, parse_if_match
from kindred.api.responses import Json
from kindred.records.fields import ObjectDefinition

router = APIRouter(prefix="/api/v1/metadata/objects", tags=["metadata"])
IfMatchHeader = Annotated[
    str | None, Header(alias="If-Match", description='ETag of the definition, e.g. "v3"')
]


def _present(definition: ObjectDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json")


@router.get("", summary="List object definitions")
def list_objects(kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        registry = kindred.metadata.registry(session)
        readable = [
            _present(o.definition)
            for o in registry.objects.values()
            if context.principal.permission(o.name).can("read")
        ]
    return Json({"data": readable})


@router.get("/{name}", summary="Get an object definition")
def get_object(name: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        definition = kindred.metadata.registry(session).get(name).definition
    return Json(_present(definition), headers={"ETag": etag(definition.version)})


@router.post("", status_code=201, summary="Create a custom object")
def create_object(
    kindred: KindredDep, context: AdminDep, payload: Annotated[dict[str, Any], Body()]
) -> Json:
    with kindred.database.write() as session:
        definition = kindred.metadata.create_object(
            session, payload, actor_id=context.principal.user_id, request_id=context.request_id
        )
    return Json(
        _present(definition),
        status_code=201,
        headers={
            "ETag": etag(definition.version),
            "Location": f"/api/v1/metadata/objects/{definition.name}",
        },
    )


@router.patch("/{name}", summary="Change labels, title field or validation rules")
def update_object(
    name: str,
    kindred: KindredDep,
    context: AdminDep,
    changes: Annotated[dict[str, Any], Body()],
    if_match: IfMatchHeader = None,
) -> Json:
    with kindred.database.write() as session:
        definition = kindred.metadata.update_object(
            session,
            name,
            changes,
            expected_version=parse_if_match(if_match),
            actor_id=context.principal.user_id,
            request_id=context.request_id,
        )
    return Json(_present(definition), headers={"ETag": etag(definition.version)})


@router.delete("/{name}", status_code=204, summary="Delete a custom object without records")
def delete_object(name: str, kindred: KindredDep, context: AdminDep) -> Response:
    with kindred.database.write() as session:
        kindred.metadata.delete_object(
            session, name, actor_id=context.principal.user_id, request_id=context.request_id
        )
    return Response(status_code=204)


@router.post("/{name}/fields", status_code=201, summary="Add a custom field")
def add_field(
    name: str,
    kindred: KindredDep,
    context: AdminDep,
    payload: Annotated[dict[str, Any], Body()],
    if_match: IfMatchHeader = None,
) -> Json:
    with kindred.database.write() as session:
        definition = kindred.metadata.add_field(
            session,
            name,
            payload,
            expected_version=parse_if_match(if_match),
            actor_id=context.principal.user_id,
            request_id=context.request_id,
        )
    return Json(_present(definition), status_code=201, headers={"ETag": etag(definition.version)})


@router.patch("/{name}/fields/{field_name}", summary="Change a field's flags, labels or options")
def update_field(
    name: str,
    field_name: str,
    kindred: KindredDep,
    context: AdminDep,
    changes: Annotated[dict[str, Any], Body()],
    if_match: IfMatchHeader = None,
) -> Json:
    with kindred.database.write() as session:
        definition = kindred.metadata.update_field(
            session,
            name,
            field_name,
            changes,
            expected_version=parse_if_match(if_match),
            actor_id=context.principal.user_id,
            request_id=context.request_id,
        )
    return Json(_present(definition), headers={"ETag": etag(definition.version)})


@router.delete("/{name}/fields/{field_name}", summary="Delete a custom field and its values")
def delete_field(
    name: str,
    field_name: str,
    kindred: KindredDep,
    context: AdminDep,
    if_match: IfMatchHeader = None,
) -> Json:
    with kindred.database.write() as session:
        definition = kindred.metadata.delete_field(
            session,
            name,
            field_name,
            expected_version=parse_if_match(if_match),
            actor_id=context.principal.user_id,
            request_id=context.request_id,
        )
    return Json(_present(definition), headers={"ETag": etag(definition.version)})


@router.get("/{name}/history", summary="Every version of an object definition")
def object_history(name: str, kindred: KindredDep, context: AdminDep) -> Json:
    with kindred.database.read() as session:
        changes = kindred.metadata.history(session, name)
        body = [
            {
                "version": c.version,
                "action": c.action,
                "summary": c.summary,
                "actor_id": c.actor_id,
                "request_id": c.request_id,
                "at": c.created_at.isoformat(),
                "before": c.before,
                "after": c.after,
            }
            for c in changes
        ]
    return Json({"data": body})
