"""What the auth API takes and answers, as Pydantic models.

Requests are validated by FastAPI through the models below. Responses are not serialized
through them: the routers answer dicts with orjson (``api.responses.Json``); the response
models only describe those bodies in the OpenAPI document (``responses={…: {"model": …}}``)
— see ``records/schemas.py`` for the conventions and ``tests/api/test_response_schemas.py``
for the proof that real responses match.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kindred.auth.permissions import Action, RolePermissions, Scope
from kindred.records.schemas import RecordPublic

# -- requests -----------------------------------------------------------------------------------


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    user_id: str | None = Field(default=None, description="Admins may create keys for others")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    name: str = Field(min_length=1, max_length=255)
    password: str | None = Field(default=None, description="Omit for API-key-only users")
    roles: list[str] = Field(default_factory=lambda: ["sales"])
    territories: list[str] = Field(default_factory=list)
    kind: Literal["person", "service"] = Field(
        default="person",
        description="service: a service principal for automation and API keys (no password)",
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str
    current_password: str | None = Field(
        default=None,
        description="Required to change your own password; omitted by a user administrator "
        "resetting someone else's",
    )


class UserUpdate(BaseModel):
    """What a user administrator changes about a user's access (PATCH /users/{id})."""

    model_config = ConfigDict(extra="forbid")
    roles: list[str] | None = Field(default=None, min_length=1)
    territories: list[str] | None = None
    active: bool | None = Field(default=None, description="false: every credential is refused")


class RoleUpsert(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    permissions: RolePermissions


# -- responses ----------------------------------------------------------------------------------


class TokenPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(description="A JWT: send it as 'Authorization: Bearer <it>'")
    token_type: Literal["bearer"]
    expires_in: int = Field(ge=1, description="Seconds until it expires")


class ObjectPermissionPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actions: list[Action] = Field(min_length=1, description="Sorted")
    scope: Scope = Field(
        description="Which records: own (you own them), territory (in your territories), all"
    )
    hidden_fields: list[str] = Field(description="Fields you may neither read nor write")
    read_fields: Literal["*"] | list[str] = Field(
        description='Fields you may read ("*": every field), before hidden_fields is subtracted'
    )
    write_fields: Literal["*"] | list[str] = Field(
        description='Fields you may write ("*": every field), before hidden_fields is subtracted'
    )


class MePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Your user id")
    name: str
    roles: list[str]
    territories: list[str] = Field(
        description="Your territories and every territory below them (sorted ids)"
    )
    via: Literal["password", "token", "api_key", "system", "automation"] = Field(
        description="How this request authenticated: token (a bearer JWT) or api_key"
    )
    permissions: dict[str, ObjectPermissionPublic] = Field(
        description="Per object name, for the objects you may do anything with"
    )
    manage_metadata: bool = Field(description="You may design objects, fields and event types")
    manage_users: bool = Field(description="You may manage users, roles and others' API keys")


class ApiKeyCreated(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    user_id: str
    prefix: str = Field(description="The key's first characters, to recognise it in lists")
    key: str = Field(description="The secret key, shown this once: send it as X-API-Key")


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    user_id: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = Field(description="null while the key is valid")


class ApiKeyList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ApiKeyPublic] = Field(
        description="Your keys (every user's for user administrators), oldest first"
    )


class UserPublic(RecordPublic):
    """A user: a record of the ``user`` object. Its fields are listed where they are
    standard; a field your role hides is left out, custom fields are additional properties."""

    # Not required (a role may hide any of them), without a default: absent, not empty.
    object: Literal["user"]
    email: str = Field(default_factory=str, description="Present unless your role hides it")
    name: str = Field(default_factory=str, description="Present unless your role hides it")
    roles: list[str] = Field(default_factory=list, description="Present unless hidden")
    territories: list[str] | None = Field(
        default_factory=lambda: None,
        description="Present unless hidden; null when the user has none",
    )


class ObjectGrantPublic(BaseModel):
    """What a role may do with one object; every property present."""

    model_config = ConfigDict(extra="forbid")

    actions: list[Action]
    scope: Scope
    read_fields: Literal["*"] | list[str] = Field(description='"*": every field')
    write_fields: Literal["*"] | list[str] = Field(description='"*": every field')
    hidden_fields: list[str] = Field(description="Subtracted from read_fields and write_fields")


class RolePermissionsPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    objects: dict[str, ObjectGrantPublic] = Field(
        description='Per object name; "*": every object without an entry of its own'
    )
    manage_metadata: bool
    manage_users: bool


class RolePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    builtin: bool = Field(description="Shipped with Kindred")
    permissions: RolePermissionsPublic


class RoleList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[RolePublic] = Field(description="Every role, by name")


class UserSummary(BaseModel):
    """A user as user administrators see them: access, not the whole record."""

    model_config = ConfigDict(extra="forbid")

    id: str
    email: str | None = Field(description="null when your role hides it (listed in withheld)")
    name: str | None = Field(description="null when your role hides it (listed in withheld)")
    roles: list[str]
    territories: list[str]
    kind: Literal["person", "service"] = Field(description="service: a service principal")
    active: bool
    locked_until: dt.datetime | None = Field(
        description="Locked after failed sign-ins until then; null when not locked"
    )
    has_password: bool = Field(description="May sign in with a password")
    version: int = Field(ge=1, description="The user record's version")
    withheld: list[str] = Field(description="Fields of the user record your role hides")


class UserList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[UserSummary] = Field(description="Users by name")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")
