"""Automation runs as someone: who may change a scenario or agent, and whose rights it uses.

A scenario or agent definition has an **owner** (who created it; an admin may reassign) and
a **run-as principal**: the user whose rights its actions, lookups and tool calls are
checked against — its latest author, or a *service principal* (a ``user`` record of kind
``service``, without a password) that an admin granted it. Nothing user-authored runs as
the all-powerful system.

Rules, the same for scenarios and agents (``docs/security.md``):

- Changing one (a new version, enabling, disabling, a new run-as principal, retrying a run)
  needs stewardship: its owner, a member of the owner's team, or an admin — *and* the
  changer's rights must cover the rights it runs with (``uncovered`` is empty). So nobody
  borrows rights they do not hold, and nobody silently cuts down automation set up by
  someone with more rights.
- A new version runs as its author; a service principal granted earlier stays, since the
  author's rights cover it.
- At run time the run-as principal is loaded afresh (cached per auth generation): a demoted
  author's automation loses the rights with them, a deactivated one's stops acting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from kindred.auth.permissions import Principal, uncovered
from kindred.errors import PermissionDenied, ValidationFailed, field_error
from kindred.records.models import RecordLink, RecordRow
from kindred.records.storage import object_is

records: sa.Table = RecordRow.__table__  # type: ignore[assignment]
links: sa.Table = RecordLink.__table__  # type: ignore[assignment]
# (session, user id) → that user's current principal (raises Unauthenticated when gone).
PrincipalLoader = Callable[[Session, str], Principal]


# Roles that audit all automation: they read every run history (filtered as their record
# reads are), as they read every agent trace.
AUDITOR_ROLES = frozenset({"admin", "compliance"})


def is_admin(principal: Principal) -> bool:
    return principal.can_manage_metadata


def is_auditor(principal: Principal) -> bool:
    return is_admin(principal) or bool(AUDITOR_ROLES & set(principal.roles))


def _user_data(session: Session, user_id: str) -> dict[str, Any] | None:
    row = session.execute(
        sa.select(records.c.data).where(records.c.id == user_id, object_is("user"))
    ).first()
    return dict(row.data) if row is not None else None


def is_service_principal(session: Session, user_id: str) -> bool:
    data = _user_data(session, user_id)
    return data is not None and data.get("kind") == "service"


def stewarded_owners(session: Session, actor: Principal) -> set[str] | None:
    """The owners whose automation ``actor`` stewards — themselves and their team's members
    (one query); None for an admin, who stewards everyone's."""
    if is_admin(actor):
        return None
    owners = {actor.user_id}
    team = (_user_data(session, actor.user_id) or {}).get("team")
    if team:
        owners.update(
            session.execute(
                sa.select(links.c.source_id).where(
                    links.c.relation == "user.team", links.c.target_id == team
                )
            ).scalars()
        )
    return owners


def stewards(session: Session, actor: Principal, owner_id: str | None) -> bool:
    """Owner, the owner's team, or an admin."""
    owners = stewarded_owners(session, actor)
    return owners is None or owner_id in owners


def object_scopes(registry_objects: Mapping[str, Any]) -> dict[str, bool]:
    """object name → territorial, from a records registry's compiled objects."""
    return {name: bool(compiled.territorial) for name, compiled in registry_objects.items()}


def check_change(
    session: Session,
    actor: Principal,
    *,
    kind: str,
    name: str,
    owner_id: str | None,
    run_as: str | None,
    load: PrincipalLoader,
    objects: Mapping[str, bool],
) -> None:
    """Refuse (PermissionDenied, naming the gaps) unless ``actor`` may change it."""
    if not stewards(session, actor, owner_id):
        raise PermissionDenied(
            f"{kind} {name} belongs to someone else: its owner, their team or an admin may "
            "change it"
        )
    if run_as is None or run_as == actor.user_id:
        return
    try:
        runs_as = load(session, run_as)
    except Exception:  # a deleted or deactivated principal lends no rights
        return
    gaps = uncovered(actor, runs_as, objects)
    if gaps:
        raise PermissionDenied(
            f"{kind} {name} runs with rights you do not have ({'; '.join(gaps[:5])}); "
            "only someone holding them may change it",
            runs_as=run_as,
        )


def check_grant(
    session: Session,
    actor: Principal,
    principal_id: str,
    *,
    load: PrincipalLoader,
    objects: Mapping[str, bool],
) -> Principal:
    """May ``actor`` make automation run as ``principal_id``? Themselves, or a service
    principal whose rights theirs cover (an admin's grant, in practice)."""
    if principal_id == actor.user_id:
        return actor
    if not is_service_principal(session, principal_id):
        raise ValidationFailed(
            "automation runs as its author or as a service principal",
            errors=[
                field_error(
                    "/principal",
                    "not_a_service_principal",
                    "give your own user id or a user of kind 'service'",
                )
            ],
        )
    try:
        principal = load(session, principal_id)
    except Exception:
        raise ValidationFailed(
            "that service principal is deactivated or does not exist",
            errors=[field_error("/principal", "unknown", f"no active user '{principal_id}'")],
        ) from None
    gaps = uncovered(actor, principal, objects)
    if gaps:
        raise PermissionDenied(
            f"that service principal has rights you do not have ({'; '.join(gaps[:5])})"
        )
    return principal


def next_run_as(session: Session, actor: Principal, current: str | None) -> str:
    """Who a new version saved by ``actor`` runs as: a service principal granted earlier
    stays (the author's rights cover it, or the change was refused); otherwise the author."""
    if current is not None and current != actor.user_id and is_service_principal(session, current):
        return current
    return actor.user_id


class Steered(Protocol):
    """A scenario or agent row: its name, owner and run-as principal."""

    name: str
    owner_id: str | None
    run_as: str | None


class Stewardship:
    """The rules above for one kind of automation, bound to how its service loads
    principals and the object registry."""

    def __init__(
        self,
        kind: str,
        load: PrincipalLoader,
        objects: Callable[[Session], Mapping[str, bool]],
    ) -> None:
        self.kind = kind
        self.load = load
        self.objects = objects

    def check_change(self, session: Session, row: Steered, actor: Principal | None) -> None:
        """Refuse unless ``actor`` may change it; ``actor`` None is the operator's own
        tooling (CLI, installers), which acts on the database directly."""
        if actor is None:
            return
        check_change(
            session,
            actor,
            kind=self.kind,
            name=row.name,
            owner_id=row.owner_id,
            run_as=row.run_as,
            load=self.load,
            objects=self.objects(session),
        )

    def check_grant(self, session: Session, actor: Principal, principal_id: str) -> Principal:
        return check_grant(
            session, actor, principal_id, load=self.load, objects=self.objects(session)
        )


class RunAsRequest(BaseModel):
    """``PUT …/run-as``: whose rights a scenario or agent acts with from now on."""

    model_config = ConfigDict(extra="forbid")

    principal: str = Field(
        min_length=1,
        max_length=64,
        description="your own user id, or a service principal whose rights yours cover",
    )
