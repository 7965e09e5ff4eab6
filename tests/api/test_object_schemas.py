"""Typed request bodies in the OpenAPI document (issue #18, OpenAPI friction): every object's
records have a create and an update schema built from the runtime metadata, the record
operations' bodies are those schemas, the metadata bodies are the definition models', and
the schemas say what the server accepts. A signed-in caller's document is this deployment's
data model as they may write it — a custom field or object appears at once — while the
anonymous document (and ``kindred openapi``) is the shipped model."""

from __future__ import annotations

import uuid
from typing import Any

import jsonschema
import pytest

from kindred.records.fields import FieldType
from kindred.records.standard import STANDARD_OBJECTS
from tests.api.conftest import World
from tests.api.schema_checks import validator

RECORDS = "/api/v1/objects/{object_name}/records"
RECORD = RECORDS + "/{record_id}"
REF = "#/components/schemas/"
STANDARD = {definition.name: definition for definition in STANDARD_OBJECTS}


def stem(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def body_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation = document["paths"][path][method]
    return dict(operation["requestBody"]["content"]["application/json"]["schema"])


def accepts(document: dict[str, Any], schema: dict[str, Any], body: Any) -> bool:
    return not list(validator(document, schema).iter_errors(body))


def signed_in_document(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/openapi.json", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_every_standard_object_has_typed_create_and_update_bodies(
    served: dict[str, Any],
) -> None:
    schemas = served["components"]["schemas"]
    creates = body_schema(served, RECORDS, "post")
    updates = body_schema(served, RECORD, "patch")
    assert set(creates["x-kindred-by-object"]) == set(STANDARD)
    assert set(updates["x-kindred-by-object"]) == set(STANDARD)
    for name, definition in STANDARD.items():
        create = schemas[f"{stem(name)}RecordCreate"]
        update = schemas[f"{stem(name)}RecordUpdate"]
        for schema in (create, update):
            jsonschema.Draft202012Validator.check_schema(schema)
            assert schema["additionalProperties"] is False
            assert list(schema["properties"]) == ["id", *(f.name for f in definition.fields)]
        required = [
            f.name
            for f in definition.fields
            if f.required and f.default is None and f.name != "owner"
        ]
        assert create.get("required", []) == required, name
        assert "required" not in update
        assert {"$ref": f"{REF}{stem(name)}RecordCreate"} in creates["anyOf"]
        assert creates["x-kindred-by-object"][name] == f"{REF}{stem(name)}RecordCreate"
        assert updates["x-kindred-by-object"][name] == f"{REF}{stem(name)}RecordUpdate"
        for field in definition.fields:
            prop = create["properties"][field.name]
            value = prop if field.name in required else prop["anyOf"][0]
            if field.name not in required:
                assert prop["anyOf"][1] == {"type": "null"}
            if field.type is FieldType.ENUM:
                assert value["enum"] == [o.value for o in field.options], field.name
            elif field.type is FieldType.MULTI_ENUM:
                assert value["items"]["enum"] == [o.value for o in field.options], field.name
            elif field.type is FieldType.RELATION and field.cardinality == "one":
                assert value["type"] == "string" and "pattern" in value
            elif field.type is FieldType.BOOLEAN:
                assert value["type"] == "boolean"
    bulk = schemas["BulkRequest"]["properties"]["records"]["items"]
    assert {"$ref": f"{REF}ContactRecordCreate"} in bulk["anyOf"]
    assert {"$ref": f"{REF}ContactRecordUpdate"} in bulk["anyOf"]
    contact = schemas["ContactRecordCreate"]["properties"]
    assert contact["email"]["anyOf"][0]["pattern"]
    assert contact["birthday"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert contact["birthday"]["title"] == "Birthday"


def test_the_metadata_bodies_are_the_definition_models(served: dict[str, Any]) -> None:
    objects = "/api/v1/metadata/objects"
    expected = {
        (objects, "post"): "ObjectDefinitionCreate",
        (objects + "/{name}", "patch"): "ObjectDefinitionChanges",
        (objects + "/{name}/fields", "post"): "FieldDefinitionCreate",
        (objects + "/{name}/fields/{field_name}", "patch"): "FieldDefinitionChanges",
    }
    for (path, method), name in expected.items():
        assert body_schema(served, path, method) == {"$ref": f"{REF}{name}"}
    schemas = served["components"]["schemas"]
    new_object = schemas["ObjectDefinitionCreate"]
    assert set(new_object["required"]) == {"name", "label", "label_plural"}
    assert "standard" not in new_object["properties"] and "version" not in new_object["properties"]
    changes = schemas["ObjectDefinitionChanges"]
    assert set(changes["properties"]) == {
        "label",
        "label_plural",
        "label_zh",
        "description",
        "title_field",
        "validation_rules",
    }
    field = {"name": "loyalty", "type": "enum", "options": [{"value": "gold"}]}
    assert accepts(served, {"$ref": f"{REF}FieldDefinitionCreate"}, field)
    assert not accepts(served, {"$ref": f"{REF}FieldDefinitionCreate"}, {**field, "type": "x"})
    assert accepts(served, {"$ref": f"{REF}FieldDefinitionChanges"}, {"required": True})


def test_the_schemas_say_what_the_server_accepts(
    client: Any, world: World, served: dict[str, Any]
) -> None:
    """Bodies the schema accepts are saved; bodies it refuses are refused (422) and change
    nothing."""
    create = {"$ref": f"{REF}ContactRecordCreate"}
    update = {"$ref": f"{REF}ContactRecordUpdate"}
    url = "/api/v1/objects/contact/records"
    admin = world.admin.headers
    good = {"last_name": "Schema", "email": "schema@example.com", "birthday": "1990-02-01"}
    assert accepts(served, create, good)
    made = client.post(url, headers=admin, json=good)
    assert made.status_code == 201, made.text
    record = made.json()["id"]
    marker = f"Refused-{uuid.uuid4().hex[:6]}"
    for bad in (
        {"first_name": marker},  # no last_name
        {"last_name": marker, "email": "not an email"},
        {"last_name": marker, "birthday": "01/02/1990"},
        {"last_name": marker, "no_such_field": 1},
        {"last_name": marker, "account": "not-an-id"},
    ):
        assert not accepts(served, create, bad), bad
        refused = client.post(url, headers=admin, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    listed = client.get(url, headers=admin, params={"filter[last_name]": marker}).json()
    assert listed["data"] == []  # nothing was created
    assert accepts(served, update, {"first_name": "Changed", "email": None})
    changed = client.patch(f"{url}/{record}", headers=admin, json={"first_name": "Changed"})
    assert changed.status_code == 200, changed.text
    assert not accepts(served, update, {"last_name": None})  # required: cannot be cleared
    cleared = client.patch(f"{url}/{record}", headers=admin, json={"last_name": None})
    assert cleared.status_code == 422
    after = client.get(f"{url}/{record}", headers=admin).json()
    assert after["last_name"] == "Schema" and after["first_name"] == "Changed"


def test_custom_fields_and_objects_appear_for_signed_in_callers(
    client: Any, world: World, served: dict[str, Any]
) -> None:
    admin = world.admin.headers
    before = signed_in_document(client, admin)
    assert (
        "loyalty_tier" not in before["components"]["schemas"]["ContactRecordCreate"]["properties"]
    )
    added = client.post(
        "/api/v1/metadata/objects/contact/fields",
        headers=admin,
        json={"name": "loyalty_tier", "type": "enum", "options": [{"value": "gold"}]},
    )
    assert added.status_code == 201, added.text
    made = client.post(
        "/api/v1/metadata/objects",
        headers=admin,
        json={
            "name": "claim_case",
            "label": "Claim case",
            "label_plural": "Claim cases",
            "fields": [
                {"name": "title", "type": "text", "required": True, "max_length": 80},
                {"name": "amount", "type": "money", "minimum": 0},
            ],
        },
    )
    assert made.status_code == 201, made.text

    document = signed_in_document(client, admin)
    schemas = document["components"]["schemas"]
    tier = schemas["ContactRecordCreate"]["properties"]["loyalty_tier"]
    assert tier["anyOf"][0]["enum"] == ["gold"]
    claim = schemas["ClaimCaseRecordCreate"]
    assert claim["required"] == ["title"]
    assert claim["properties"]["title"]["maxLength"] == 80
    creates = body_schema(document, RECORDS, "post")["x-kindred-by-object"]
    assert creates["claim_case"] == f"{REF}ClaimCaseRecordCreate"
    body = {"title": "Broken pump", "amount": "12.50"}
    assert accepts(document, {"$ref": f"{REF}ClaimCaseRecordCreate"}, body)
    saved = client.post("/api/v1/objects/claim_case/records", headers=admin, json=body)
    assert saved.status_code == 201, saved.text
    # The anonymous document is the shipped data model: nothing of this deployment's.
    anonymous = client.get("/openapi.json").json()
    assert "ClaimCaseRecordCreate" not in anonymous["components"]["schemas"]
    assert anonymous == served


def test_a_caller_sees_the_bodies_they_may_send(client: Any, world: World) -> None:
    """The objects they may create or update, the fields they may write; an unknown
    credential is refused, not answered the shipped document."""
    compliance = signed_in_document(client, world.compliance.headers)
    schemas = compliance["components"]["schemas"]
    account = schemas["AccountRecordUpdate"]["properties"]
    assert set(account) == {"id", "insurance_qualified", "tax_id", "description"}
    assert "AccountRecordCreate" not in schemas and "ContactRecordUpdate" not in schemas
    assert set(body_schema(compliance, RECORD, "patch")["x-kindred-by-object"]) == {"account"}

    analyst = signed_in_document(client, world.analyst.headers)
    bodies = ("RecordCreate", "RecordUpdate")
    assert not [name for name in analyst["components"]["schemas"] if name.endswith(bodies)]
    assert body_schema(analyst, RECORDS, "post") == {
        "type": "object",
        "additionalProperties": True,
    }

    service = signed_in_document(client, world.service_east.headers)
    contact = service["components"]["schemas"]["ContactRecordUpdate"]["properties"]
    assert "email" in contact and "ContactRecordCreate" not in service["components"]["schemas"]

    refused = client.get("/openapi.json", headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("name", ["order_line", "price_list_entry"])
def test_component_names_follow_the_object_names(served: dict[str, Any], name: str) -> None:
    assert f"{stem(name)}RecordCreate" in served["components"]["schemas"]
