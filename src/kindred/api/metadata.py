"""Runtime data-model administration: objects, fields, validation rules, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response

from kindred.api.deps import AdminDep, ContextDep, KindredDep, etag, parse_if_match
from kindred.api.responses import Json
from kindred.auth.roles import check_roles_options
from kindred.records.fields import ObjectDefinition
from kindred.records.metadata import Registry
from kindred.records.schemas import (
    ObjectDefinitionHistory,
    ObjectDefinitionList,
    ObjectDefinitionPublic,
)

router = APIRouter(prefix="/api/v1/metadata/objects", tags=["metadata"])
IfMatchHeader = Annotated[
    str | None, Header(alias="If-Match", description='ETag of the definition, e.g. "v3"')
]
# Response bodies are documented, not serialized, through the models in records/schemas.py
# (response_model=None): the routes answer dicts with orjson.
ETAG_HEADER = {
    "ETag": {"description": 'The definition\'s version, e.g. "v3"', "schema": {"type": "string"}}
}


def _definition(description: str, status: int = 200, **headers: Any) -> dict[int | str, Any]:
    """``responses=`` of an operation answering an object definition."""
    return {
        status: {
            "model": ObjectDefinitionPublic,
            "description": description,
            "headers": {**ETAG_HEADER, **headers},
        }
    }


def _present(definition: ObjectDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json")


@router.get(
    "",
    summary="List object definitions",
    response_model=None,
    responses={200: {"model": ObjectDefinitionList, "description": "The objects you may read"}},
)
def list_objects(kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        registry = kindred.metadata.registry(session)
        readable = [
            _present(o.definition)
            for o in registry.objects.values()
            if context.principal.permission(o.name).can("read")
        ]
    return Json({"data": readable})


@router.get(
    "/{name}",
    summary="Get an object definition",
    response_model=None,
    responses=_definition("The object definition"),
)
def get_object(name: str, kindred: KindredDep, context: ContextDep) -> Json:
    with kindred.database.read() as session:
        definition = kindred.metadata.registry(session).get(name).definition
    return Json(_present(definition), headers={"ETag": etag(definition.version)})


@router.post(
    "",
    status_code=201,
    summary="Create a custom object",
    response_model=None,
    responses=_definition(
        "The object created",
        201,
        Location={"description": "The definition's URL", "schema": {"type": "string"}},
    ),
)
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


@router.patch(
    "/{name}",
    summary="Change labels, title field or validation rules",
    response_model=None,
    responses=_definition("The object as saved"),
)
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


@router.post(
    "/{name}/fields",
    status_code=201,
    summary="Add a custom field",
    response_model=None,
    responses=_definition("The object with the field added", 201),
)
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


@router.patch(
    "/{name}/fields/{field_name}",
    summary="Change a field's flags, labels or options",
    response_model=None,
    responses=_definition("The object with the field changed"),
)
def update_field(
    name: str,
    field_name: str,
    kindred: KindredDep,
    context: AdminDep,
    changes: Annotated[dict[str, Any], Body()],
    if_match: IfMatchHeader = None,
) -> Json:
    with kindred.database.write() as session:
        before = _options(kindred.metadata.registry(session), name, field_name)
        definition = kindred.metadata.update_field(
            session,
            name,
            field_name,
            changes,
            expected_version=parse_if_match(if_match),
            actor_id=context.principal.user_id,
            request_id=context.request_id,
        )
        if (name, field_name) == ("user", "roles"):
            # The roles users can be given are the roles there are (PUT/DELETE /roles).
            check_roles_options(session, before, _options_of(definition, field_name))
    return Json(_present(definition), headers={"ETag": etag(definition.version)})


def _options(registry: Registry, name: str, field_name: str) -> list[str]:
    return _options_of(registry.get(name).definition, field_name) if name in registry else []


def _options_of(definition: ObjectDefinition, field_name: str) -> list[str]:
    field = definition.field(field_name)
    return [option.value for option in field.options] if field is not None else []


@router.delete(
    "/{name}/fields/{field_name}",
    summary="Delete a custom field and its values",
    response_model=None,
    responses=_definition("The object without the field"),
)
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


@router.get(
    "/{name}/history",
    summary="Every version of an object definition",
    response_model=None,
    responses={
        200: {"model": ObjectDefinitionHistory, "description": "Every version, oldest first"}
    },
)
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
