"""Roles as users are given them: the user object's ``roles`` field offers the roles there
are, so a role saved at run time can be given at once and a removed one no longer.

The ``roles`` table is the truth; the field's options follow it. Saving a role (and giving
it, for a role saved before its option existed) adds the option; removing a role removes
it, and is refused while anyone holds the role — nobody loses rights as a side effect. A
metadata change of the field's options cannot make them disagree with the roles either.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.auth.models import RoleDefinition
from kindred.errors import Conflict, NotFound, ValidationFailed, field_error, pointer
from kindred.records.fields import FieldDefinition
from kindred.records.metadata import MetadataService
from kindred.records.models import RecordRow
from kindred.records.storage import object_is


def _roles_field(session: Session, metadata: MetadataService) -> FieldDefinition | None:
    registry = metadata.registry(session)
    return registry.get("user").definition.field("roles") if "user" in registry else None


def offer_roles(
    session: Session,
    metadata: MetadataService,
    names: Iterable[str],
    *,
    actor_id: str | None,
    request_id: str | None,
) -> None:
    """Make each role of ``names`` an option of the user object's roles field (a data-model
    change, on the ledger like any other). The caller has checked that the roles exist."""
    field = _roles_field(session, metadata)
    if field is None:
        return
    offered = {option.value for option in field.options}
    missing = [name for name in dict.fromkeys(names) if name not in offered]
    if not missing:
        return
    options = [option.model_dump(mode="json") for option in field.options]
    metadata.update_field(
        session,
        "user",
        "roles",
        {"options": [*options, *({"value": name, "label": name} for name in missing)]},
        expected_version=None,
        actor_id=actor_id,
        request_id=request_id,
    )


def holders(session: Session, name: str) -> int:
    """How many users (people and service principals, active or not) hold role ``name``."""
    rows = session.execute(sa.select(RecordRow.data).where(object_is("user"))).scalars()
    return sum(1 for data in rows if name in ((data or {}).get("roles") or []))


def remove_role(
    session: Session,
    metadata: MetadataService,
    name: str,
    *,
    actor_id: str | None,
    request_id: str | None,
) -> None:
    """Remove a role nobody holds: its option goes from the roles field, and saved views
    shared with it become private to their owners. Built-in roles stay (409); a role still
    held is refused (409, with how many hold it)."""
    from kindred.records.views.models import SavedView

    row = session.get(RoleDefinition, name, with_for_update=True)
    if row is None:
        raise NotFound(f"no role '{name}'")
    if row.builtin:
        raise Conflict(f"'{name}' is a built-in role: it cannot be removed")
    count = holders(session, name)
    if count:
        raise Conflict(
            f"role '{name}' is held by {count} user{'s' if count != 1 else ''}: take it from "
            "them first (PATCH /api/v1/users/{id})",
            users=count,
        )
    session.delete(row)
    session.flush()
    field = _roles_field(session, metadata)
    if field is not None and any(option.value == name for option in field.options):
        metadata.update_field(
            session,
            "user",
            "roles",
            {
                "options": [
                    option.model_dump(mode="json")
                    for option in field.options
                    if option.value != name
                ]
            },
            expected_version=None,
            actor_id=actor_id,
            request_id=request_id,
        )
    session.execute(
        sa.update(SavedView).where(SavedView.shared_role == name).values(shared_role=None)
    )


def check_roles_options(session: Session, before: Iterable[str], after: Iterable[str]) -> None:
    """Refuse a change of the roles field's options that would part them from the roles:
    an option added that is no role (422, at ``/options/<i>/value``), or a role's option
    removed (409: remove the role instead). Options that already disagreed are left as
    they are."""
    old, new = list(before), list(after)
    roles = set(session.execute(sa.select(RoleDefinition.name)).scalars())
    added = [(i, v) for i, v in enumerate(new) if v not in old and v not in roles]
    if added:
        raise ValidationFailed(
            "the roles field offers the roles there are: save a role with "
            "PUT /api/v1/roles/{name} to add it",
            errors=[
                field_error(pointer("options", i, "value"), "unknown_role", f"no role '{v}'")
                for i, v in added
            ],
        )
    withdrawn = sorted(v for v in old if v not in new and v in roles)
    if withdrawn:
        raise Conflict(
            f"{', '.join(withdrawn)} {'is a role' if len(withdrawn) == 1 else 'are roles'}: "
            "remove a role with DELETE /api/v1/roles/{name}, which takes its option away"
        )
