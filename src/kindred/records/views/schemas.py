"""Request and response bodies of the saved-view API (``/api/v1/views``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Operator = Literal[
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "nin",
    "contains",
    "starts_with",
    "is_null",
    "has",
]
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
ViewName = Annotated[str, Field(min_length=1, max_length=120)]
SortSpec = Annotated[str, Field(pattern=r"^-?[a-z][a-z0-9_]*$", max_length=65)]
RoleName = Annotated[str, Field(min_length=1, max_length=64)]


class ViewFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: FieldName
    operator: Operator = Field(default="eq", description="As in the list's filter[field][op]")
    value: str = Field(max_length=500, description="As in the list's query string")


class SavedViewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: FieldName
    name: ViewName
    filters: list[ViewFilter] = Field(default_factory=list, max_length=20)
    sort: SortSpec | None = Field(default=None, description="`field` or `-field`")
    columns: list[FieldName] = Field(default_factory=list, max_length=60)
    shared_role: RoleName | None = Field(
        default=None, description="null: private; a role you hold: shared with that role"
    )


class SavedViewUpdate(BaseModel):
    """Only the properties sent change; `shared_role: null` makes the view private."""

    model_config = ConfigDict(extra="forbid")

    name: ViewName | None = None
    filters: list[ViewFilter] | None = Field(default=None, max_length=20)
    sort: SortSpec | None = None
    columns: list[FieldName] | None = Field(default=None, max_length=60)
    shared_role: RoleName | None = None


class SavedViewPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    object: str
    name: str
    filters: list[ViewFilter]
    sort: str | None
    columns: list[str]
    shared_role: str | None = Field(description="null: private to its owner")
    owner_id: str
    mine: bool = Field(description="You own it: you may change and delete it")
    version: int
    created_at: str
    updated_at: str


class SavedViewList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[SavedViewPublic] = Field(description="Yours first, then shared ones; by name")


class PurposePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The value to send as X-Purpose")
    description: str
    outbound: bool = Field(description="Data for it leaves the CRM (training, LLM, exports)")


class PurposeList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[PurposePublic] = Field(description="Purposes staff may declare, by name")
