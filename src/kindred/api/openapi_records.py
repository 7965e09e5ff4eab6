"""Typed request bodies in the OpenAPI document: each object's records, and the metadata API.

The record routes take any object (``/api/v1/objects/{object_name}/records``), so FastAPI can
only document their bodies as "an object". Here every object of the data model gets two
components built from its runtime definition — ``<Object>RecordCreate`` (POST, and bulk
creates) and ``<Object>RecordUpdate`` (PATCH, bulk updates and upserts) — each field typed
as the record service checks it (strings with their length, formats and patterns, enum
options, relation ids, numbers with their bounds; required fields required on create; null
clears a field that is not required). The operations' bodies are ``anyOf`` those components,
and ``x-kindred-by-object`` maps each object name to its component, for generators (and
people) that know the path's object. The metadata bodies are the definition models' schemas.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kindred.records.fields import (
    EMAIL,
    ID_PATTERN,
    MAX_LONG_TEXT,
    MAX_TEXT,
    PHONE,
    URL,
    FieldDefinition,
    FieldType,
    ObjectDefinition,
)

RECORDS = "/api/v1/objects/{object_name}/records"
RECORD = RECORDS + "/{record_id}"
BULK = "BulkRequest"
BY_OBJECT = "x-kindred-by-object"
REF = "#/components/schemas/"
# A decimal amount as spreadsheets and finance systems send money (the service parses it).
DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
# Fields the service fills when a create leaves them out.
FILLED_ON_CREATE = frozenset({"owner"})


@dataclass(frozen=True)
class ObjectView:
    """An object as a caller may write it: the fields they may write, whether they may
    create and update its records."""

    definition: ObjectDefinition
    writable: tuple[str, ...]
    create: bool = True
    update: bool = True

    @classmethod
    def every_field(cls, definition: ObjectDefinition) -> ObjectView:
        return cls(definition, tuple(field.name for field in definition.fields))


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def component_names(objects: Iterable[str]) -> dict[str, str]:
    """Object name → the stem of its components (``order_line`` → ``OrderLine``); stems that
    two names share (``a_b``, ``a__b``) keep the name itself."""
    names = sorted(objects)
    stems = [pascal(name) for name in names]
    return {
        name: stem if stems.count(stem) == 1 else name
        for name, stem in zip(names, stems, strict=True)
    }


def value_schema(field: FieldDefinition) -> dict[str, Any]:
    """JSON Schema of one non-null value of ``field``, as ``fields.build_checker`` accepts."""
    kind = field.type
    schema: dict[str, Any]
    if kind in (FieldType.TEXT, FieldType.LONG_TEXT):
        default = MAX_TEXT if kind is FieldType.TEXT else MAX_LONG_TEXT
        schema = {"type": "string", "maxLength": field.max_length or default}
    elif kind in (FieldType.NUMBER, FieldType.PERCENT, FieldType.MONEY):
        number: dict[str, Any] = {"type": "number"}
        if field.minimum is not None:
            number["minimum"] = field.minimum
        if field.maximum is not None:
            number["maximum"] = field.maximum
        schema = number
        if kind is FieldType.MONEY:
            schema = {"anyOf": [number, {"type": "string", "pattern": DECIMAL}]}
    elif kind is FieldType.DATE:
        schema = {"type": "string", "format": "date"}
    elif kind is FieldType.DATETIME:
        schema = {"type": "string", "format": "date-time"}
    elif kind is FieldType.BOOLEAN:
        schema = {"type": "boolean"}
    elif kind in (FieldType.ENUM, FieldType.MULTI_ENUM):
        one = {"type": "string", "enum": [option.value for option in field.options]}
        schema = one if kind is FieldType.ENUM else {"type": "array", "items": one}
    elif kind in (FieldType.EMAIL, FieldType.PHONE, FieldType.URL):
        pattern = {FieldType.EMAIL: EMAIL, FieldType.PHONE: PHONE, FieldType.URL: URL}[kind]
        schema = {
            "type": "string",
            "maxLength": field.max_length or MAX_TEXT,
            "pattern": _ecma(pattern),
        }
    elif kind is FieldType.RELATION:
        one = {
            "type": "string",
            "pattern": ID_PATTERN.pattern,
            "description": f"The id of a record of '{field.target}'",
        }
        schema = one if field.cardinality == "one" else {"type": "array", "items": one}
    else:  # JSON: any value
        schema = {}
    described = {k: v for k, v in (("title", field.label), ("description", field.description)) if v}
    return {**described, **schema} if schema else described


def _ecma(pattern: re.Pattern[str]) -> str:
    """A Python pattern as JSON Schema (ECMA-262) writes it: it has no flags, so a letter of
    a case-blind pattern becomes both cases (outside classes and escapes: ours have none
    inside classes)."""
    if not pattern.flags & re.IGNORECASE:
        return pattern.pattern
    out: list[str] = []
    escaped = in_class = False
    for char in pattern.pattern:
        if escaped or char == "\\":
            escaped = not escaped and char == "\\"
            out.append(char)
            continue
        in_class = (in_class or char == "[") and char != "]"
        both = char.lower() + char.upper()
        out.append(f"[{both}]" if char.isalpha() and not in_class and len(set(both)) == 2 else char)
    return "".join(out)


def _property(field: FieldDefinition, *, nullable: bool) -> dict[str, Any]:
    schema = value_schema(field)
    if not nullable:
        return schema
    described: dict[str, Any] = {k: schema.pop(k) for k in ("title", "description") if k in schema}
    described["description"] = " ".join(
        filter(None, (described.get("description"), "(null: none)"))
    )
    return {**described, "anyOf": [schema, {"type": "null"}]}


def _id_property(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": ID_PATTERN.pattern, "description": description}


def record_schemas(definition: ObjectDefinition, writable: Iterable[str]) -> dict[str, Any]:
    """The create and update schemas of one object (``writable``: the fields to list)."""
    allowed = set(writable)
    fields = [f for f in definition.fields if f.name in allowed]
    required = [
        f.name
        for f in fields
        if f.required and f.default is None and f.name not in FILLED_ON_CREATE
    ]
    create = {
        "title": f"New {definition.label}",
        "description": f"A new {definition.name} record: its fields (unknown ones are refused)",
        "type": "object",
        "properties": {
            "id": _id_property("Optional: the new record's id (a lowercase UUID)"),
            **{f.name: _property(f, nullable=f.name not in required) for f in fields},
        },
        "additionalProperties": False,
    }
    if required:
        create["required"] = required
    update = {
        "title": f"{definition.label} changes",
        "description": (
            f"The fields of a {definition.name} record to change; null clears one that is "
            "not required"
        ),
        "type": "object",
        "properties": {
            "id": _id_property("The record's own id (bulk: the record to change)"),
            **{f.name: _property(f, nullable=not f.required) for f in fields},
        },
        "additionalProperties": False,
    }
    return {"create": create, "update": update}


def add_record_schemas(document: dict[str, Any], views: list[ObjectView]) -> None:
    """Publish each object's components and type the record operations' bodies with them."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    stems = component_names(view.definition.name for view in views)
    creates: dict[str, str] = {}
    updates: dict[str, str] = {}
    for view in sorted(views, key=lambda view: view.definition.name):
        name, stem = view.definition.name, stems[view.definition.name]
        built = record_schemas(view.definition, view.writable)
        for kind, wanted, refs in (
            ("create", view.create, creates),
            ("update", view.update, updates),
        ):
            if wanted:
                component = f"{stem}Record{kind.title()}"
                schemas[component] = built[kind]
                refs[name] = f"{REF}{component}"
    paths = document.get("paths", {})
    _type_body(paths.get(RECORDS, {}).get("post"), creates)
    _type_body(paths.get(RECORD, {}).get("patch"), updates)
    bulk = schemas.get(BULK, {}).get("properties", {}).get("records")
    if bulk is not None:
        # Creates, updates or upserts: a record of any kind (an upsert's may be either).
        bulk["items"] = _union(creates, updates)


def _union(*kinds: dict[str, str]) -> dict[str, Any]:
    """``anyOf`` the components of each kind (none: any object, which the server refuses);
    ``x-kindred-by-object`` names each object's component (a list where kinds are several)."""
    options = [ref for refs in kinds for ref in refs.values()]
    if not options:
        return {"type": "object", "additionalProperties": True}
    by_object: dict[str, Any] = {}
    for name in sorted({name for refs in kinds for name in refs}):
        found = [refs[name] for refs in kinds if name in refs]
        by_object[name] = found[0] if len(kinds) == 1 else found
    return {"anyOf": [{"$ref": ref} for ref in options], BY_OBJECT: by_object}


def _type_body(operation: dict[str, Any] | None, refs: dict[str, str]) -> None:
    if operation is None:
        return
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None:
        content["schema"] = _union(refs)


# -- the metadata API ------------------------------------------------------------------------

OBJECTS = "/api/v1/metadata/objects"
# What PATCH /metadata/objects/{name} may change (MetadataService.update_object).
OBJECT_CHANGES = (
    "label",
    "label_plural",
    "label_zh",
    "description",
    "title_field",
    "validation_rules",
)
SET_BY_SERVER = ("standard", "version")


def add_metadata_schemas(document: dict[str, Any]) -> None:
    """The definition models' schemas as the metadata operations' bodies."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    definitions = _model_schemas(schemas)
    new_object = _without(definitions["ObjectDefinitionInput"], SET_BY_SERVER)
    new_field = _without(definitions["FieldDefinitionInput"], SET_BY_SERVER)
    schemas["ObjectDefinitionCreate"] = new_object
    schemas["FieldDefinitionCreate"] = new_field
    schemas["ObjectDefinitionChanges"] = {
        **_only(new_object, OBJECT_CHANGES),
        "title": "ObjectDefinitionChanges",
        "description": "The labels, description, title field or validation rules to change",
    }
    schemas["FieldDefinitionChanges"] = {
        **_only(new_field, tuple(new_field["properties"])),
        "title": "FieldDefinitionChanges",
        "description": (
            "The flags, labels, options or bounds to change; name, type, target and "
            "cardinality may be sent but not changed"
        ),
    }
    bodies = {
        (OBJECTS, "post"): "ObjectDefinitionCreate",
        (OBJECTS + "/{name}", "patch"): "ObjectDefinitionChanges",
        (OBJECTS + "/{name}/fields", "post"): "FieldDefinitionCreate",
        (OBJECTS + "/{name}/fields/{field_name}", "patch"): "FieldDefinitionChanges",
    }
    for (path, method), name in bodies.items():
        operation = document.get("paths", {}).get(path, {}).get(method)
        content = (operation or {}).get("requestBody", {}).get("content", {})
        if "application/json" in content:
            content["application/json"]["schema"] = {"$ref": f"{REF}{name}"}


def _model_schemas(schemas: dict[str, Any]) -> dict[str, Any]:
    """ObjectDefinition's validation schema, its parts added to ``schemas`` as ``…Input``
    (the response models already use the plain names)."""
    template = REF + "{model}Input"
    schema = _no_defaults(
        ObjectDefinition.model_json_schema(mode="validation", ref_template=template)
    )
    parts = schema.pop("$defs", {})
    for name, part in parts.items():
        schemas[f"{name}Input"] = part
    return {"ObjectDefinitionInput": schema, **{f"{k}Input": v for k, v in parts.items()}}


def _no_defaults(schema: Any) -> Any:
    """``schema`` without ``default``s: generators (openapi-typescript) make a property with
    a default required, and a body may leave every one of these out."""
    if isinstance(schema, dict):
        return {k: _no_defaults(v) for k, v in schema.items() if k != "default"}
    if isinstance(schema, list):
        return [_no_defaults(item) for item in schema]
    return schema


def _without(schema: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    properties = {k: v for k, v in schema["properties"].items() if k not in names}
    required = [k for k in schema.get("required", []) if k not in names]
    trimmed = {**schema, "properties": properties}
    trimmed.pop("required", None)
    return {**trimmed, "required": required} if required else trimmed


def _only(schema: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The named properties, none required (a change sends what changes)."""
    properties = {k: v for k, v in schema["properties"].items() if k in names}
    trimmed = {k: v for k, v in schema.items() if k not in ("properties", "required")}
    return {**trimmed, "properties": properties}
