"""The lawful staff lookup: find a customer record by an exact email address or phone number
(``kindred.sovereignty.lookup``), under a declared purpose, logged by the policy decision
point."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kindred.api.deps import ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.errors import ValidationFailed, field_error
from kindred.records.schemas import RecordPublic
from kindred.sovereignty.lookup import Kind

router = APIRouter(prefix="/api/v1/objects/{object_name}", tags=["records"])


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(
        default=None,
        max_length=320,
        description="An email address (any case)",
        examples=["wang.li@example.com"],
    )
    phone: str | None = Field(
        default=None,
        max_length=64,
        description="A phone number in any format; without a country code it is a national "
        "number of the default country (+86)",
        examples=["138 1234 5678"],
    )
    purpose: str = Field(
        description="Why you look the customer up: a registered purpose (GET /api/v1/purposes), "
        "e.g. service",
        examples=["service"],
    )


class LookupMatches(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[RecordPublic] = Field(
        description="The records holding exactly that value that you may see, as a get shows "
        "them under the purpose (values withheld without the customer's consent); empty when "
        "none"
    )
    next_cursor: None = Field(description="Always null: every match is on this page")


@router.post(
    "/lookup",
    summary="Find a customer by exact email or phone",
    description=(
        "Service desks find the caller although email and phone are customer-authorized (not "
        "filterable): the value is compared as a keyed digest, exactly (email case and phone "
        "format do not matter). Needs read on the object and on the field; the read is "
        "logged by the policy decision point with the purpose. Limited per user (429)."
    ),
    response_model=None,
    responses={200: {"model": LookupMatches, "description": "The matching records you may see"}},
)
def lookup(object_name: str, kindred: KindredDep, context: ContextDep, body: LookupRequest) -> Json:
    kinds: tuple[Kind, ...] = ("email", "phone")
    given = [(kind, getattr(body, kind)) for kind in kinds if getattr(body, kind) is not None]
    if len(given) != 1:
        raise ValidationFailed(
            "send either an email or a phone number to look up",
            errors=[field_error("", "one_of", "exactly one of 'email' and 'phone'")],
        )
    ((kind, value),) = given
    with kindred.database.read() as session:
        found: list[dict[str, Any]] = kindred.lookup.lookup(
            session, context, object_name, kind, value, body.purpose
        )
    return Json({"data": found, "next_cursor": None})
