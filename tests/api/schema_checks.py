"""Checks of API responses against the served OpenAPI document, shared by the response
schema tests of every router group (``test_response_schemas*.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from fastapi import APIRouter
from fastapi.routing import APIRoute

FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def router_operations(routers: Iterable[APIRouter]) -> Iterator[tuple[str, str, APIRoute]]:
    """(METHOD, path, route) of every operation of the routers."""
    for router in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods or ()):
                yield method, route.path, route


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A Draft 2020-12 validator of ``schema``, its ``#/components/…`` references resolved
    in ``document`` (OpenAPI 3.1 schemas are JSON Schema 2020-12)."""
    root = {**schema, "components": document["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=FORMATS)


def success_schema(document: dict[str, Any], method: str, path: str) -> tuple[int, Any]:
    responses = document["paths"][path][method.lower()]["responses"]
    (status,) = [int(code) for code in responses if code.startswith("2")]
    content = responses[str(status)].get("content")
    return status, content


def successes(document: dict[str, Any], method: str, path: str) -> dict[int, Any]:
    """Every 2xx status an operation documents → its content."""
    responses = document["paths"][path][method.lower()]["responses"]
    return {int(code): responses[code].get("content") for code in responses if code[0] == "2"}


@dataclass
class Api:
    """Sends requests and holds every response to the document's word for it."""

    client: Any
    document: dict[str, Any]
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    def __call__(
        self,
        method: str,
        path: str,
        expect: int,
        *,
        where: dict[str, str] | None = None,
        **request: Any,
    ) -> Any:
        response = self.client.request(method, path.format(**(where or {})), **request)
        assert response.status_code == expect, (method, path, response.text)
        self.conforms(method, path, response)
        return response.json() if response.content else None

    def conforms(self, method: str, path: str, response: Any) -> None:
        operation = self.document["paths"][path][method.lower()]
        status = response.status_code
        where = f"{method} {path} → {status}"
        documented = operation["responses"].get(str(status))
        assert documented is not None, f"{where}: status not documented"
        content = documented.get("content")
        if not content:
            assert status == 204 and not response.content, where
        else:
            media = response.headers["content-type"].split(";")[0]
            assert media in content, f"{where}: {media} not documented"
            errors = [
                f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator(self.document, content[media]["schema"]).iter_errors(
                    response.json()
                )
            ]
            assert not errors, (where, errors, response.text[:2000])
        self.seen.add((method, path, status))


def refs(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from refs(item)
