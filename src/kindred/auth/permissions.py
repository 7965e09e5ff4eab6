"""The permission model: roles grant actions per object, field access and a visibility scope.

A role's permissions are a mapping from object name (or ``"*"`` for every object without an
entry of its own) to an ``ObjectGrant``. A user's effective permission on an object is the
union of their roles' grants: any role allowing an action allows it, fields are the union,
and the widest scope wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["read", "create", "update", "delete"]
Scope = Literal["own", "territory", "all"]
ACTIONS: tuple[Action, ...] = ("read", "create", "update", "delete")
SCOPE_RANK: dict[str, int] = {"own": 0, "territory": 1, "all": 2}
ALL: Literal["*"] = "*"


class ObjectGrant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: tuple[Action, ...] = ()
    scope: Scope = "all"
    read_fields: Literal["*"] | tuple[str, ...] = ALL
    write_fields: Literal["*"] | tuple[str, ...] = ALL
    # Subtracted from read_fields and write_fields (e.g. "every field except phone numbers").
    hidden_fields: tuple[str, ...] = ()


class RolePermissions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    objects: dict[str, ObjectGrant] = Field(default_factory=dict)
    # Administration of metadata, users, roles and API keys.
    manage_metadata: bool = False
    manage_users: bool = False


@dataclass(frozen=True)
class EffectivePermission:
    """What a principal may do on one object, after merging all their roles."""

    actions: frozenset[str]
    scope: Scope
    read_all: bool
    read_fields: frozenset[str]
    write_all: bool
    write_fields: frozenset[str]
    hidden_fields: frozenset[str]

    def can(self, action: Action) -> bool:
        return action in self.actions

    def can_read_field(self, name: str) -> bool:
        return (self.read_all or name in self.read_fields) and name not in self.hidden_fields

    def can_write_field(self, name: str) -> bool:
        return (self.write_all or name in self.write_fields) and name not in self.hidden_fields


NO_PERMISSION = EffectivePermission(
    frozenset(), "own", False, frozenset(), False, frozenset(), frozenset()
)


def merge_grants(grants: Iterable[ObjectGrant]) -> EffectivePermission:
    grants = list(grants)
    if not grants:
        return NO_PERMISSION
    actions: set[str] = set()
    read_all = write_all = False
    read_fields: set[str] = set()
    write_fields: set[str] = set()
    scope: Scope = "own"
    hidden: set[str] | None = None
    for grant in grants:
        actions.update(grant.actions)
        if SCOPE_RANK[grant.scope] > SCOPE_RANK[scope]:
            scope = grant.scope
        if grant.read_fields == ALL:
            read_all = True
        else:
            read_fields.update(grant.read_fields)
        if grant.write_fields == ALL:
            write_all = True
        else:
            write_fields.update(grant.write_fields)
        # A field stays hidden only if every role hides it: roles add access, never remove it.
        grant_hidden = set(grant.hidden_fields)
        hidden = grant_hidden if hidden is None else hidden & grant_hidden
    return EffectivePermission(
        frozenset(actions),
        scope,
        read_all,
        frozenset(read_fields),
        write_all,
        frozenset(write_fields),
        frozenset(hidden or ()),
    )


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user (directly, by token, or through an API key) with merged roles."""

    user_id: str
    name: str
    roles: tuple[str, ...]
    role_permissions: tuple[RolePermissions, ...]
    # The user's territories and all their descendants (visibility is hierarchical).
    territory_ids: frozenset[str] = frozenset()
    via: Literal["password", "token", "api_key", "system", "automation"] = "token"
    _cache: dict[str, EffectivePermission] = field(default_factory=dict, compare=False)

    def permission(self, object_name: str) -> EffectivePermission:
        cached = self._cache.get(object_name)
        if cached is None:
            grants = []
            for role in self.role_permissions:
                grant = role.objects.get(object_name) or role.objects.get(ALL)
                if grant is not None:
                    grants.append(grant)
            cached = merge_grants(grants)
            self._cache[object_name] = cached
        return cached

    @property
    def can_manage_metadata(self) -> bool:
        return any(role.manage_metadata for role in self.role_permissions)

    @property
    def can_manage_users(self) -> bool:
        return any(role.manage_users for role in self.role_permissions)


def _grant(
    actions: str,
    scope: Scope = "all",
    hidden: tuple[str, ...] = (),
    write: Literal["*"] | tuple[str, ...] = ALL,
) -> ObjectGrant:
    letters = {"r": "read", "c": "create", "u": "update", "d": "delete"}
    return ObjectGrant(
        actions=tuple(letters[c] for c in actions),  # type: ignore[misc]
        scope=scope,
        hidden_fields=hidden,
        write_fields=write,
    )


CUSTOMER_CONTACT_FIELDS = (
    "email",
    "phone",
    "mobile",
    "address",
    "birthday",
    "wechat_openid",
)

BUILTIN_ROLES: dict[str, tuple[str, RolePermissions]] = {
    "admin": (
        "Full access to every object, field, user and setting.",
        RolePermissions(objects={ALL: _grant("rcud")}, manage_metadata=True, manage_users=True),
    ),
    "sales": (
        "Sales reps: manage accounts, contacts, leads, opportunities, orders and contracts in "
        "their territories; read the catalogue.",
        RolePermissions(
            objects={
                ALL: _grant("rcu", "territory"),
                "account": _grant("rcu", "territory"),
                "contact": _grant("rcu", "territory"),
                "lead": _grant("rcud", "territory"),
                "purchase_intent": _grant("rcu", "territory"),
                "opportunity": _grant("rcu", "territory"),
                "order": _grant("rcu", "territory"),
                "order_line": _grant("rcud"),
                "contract": _grant("rcu", "territory"),
                "activity": _grant("rcud", "territory"),
                "ticket": _grant("r", "territory"),
                "asset": _grant("r", "territory"),
                "product": _grant("r"),
                "price_list": _grant("r"),
                "price_list_entry": _grant("r"),
                "user": _grant("r"),
                "team": _grant("r"),
                "territory": _grant("r"),
            }
        ),
    ),
    "service": (
        "Service engineers: tickets, work orders, assets and activities in their territories.",
        RolePermissions(
            objects={
                ALL: _grant("r", "territory"),
                "ticket": _grant("rcu", "territory"),
                "asset": _grant("rcu", "territory"),
                "activity": _grant("rcud", "territory"),
                "account": _grant("r", "territory"),
                "contact": _grant("ru", "territory"),
                "contract": _grant("r", "territory", hidden=("value",)),
                "order": _grant("r", "territory", hidden=("total",)),
                "product": _grant("r"),
                "user": _grant("r"),
                "team": _grant("r"),
                "territory": _grant("r"),
            }
        ),
    ),
    "compliance": (
        "Compliance officers: read everything; maintain qualification data on accounts.",
        RolePermissions(
            objects={
                ALL: _grant("r"),
                "account": _grant("ru", write=("insurance_qualified", "tax_id", "description")),
            }
        ),
    ),
    "analyst": (
        "Analysts: read every object, without customers' personal contact details.",
        RolePermissions(
            objects={
                ALL: _grant("r"),
                "contact": _grant("r", hidden=CUSTOMER_CONTACT_FIELDS),
                "lead": _grant("r", hidden=("email", "phone")),
                "user": _grant("r", hidden=("email",)),
            }
        ),
    ),
    "integration": (
        "Integrations (ERP, e-commerce, IoT): create and update business records; "
        "no deletes, no user administration.",
        RolePermissions(
            objects={
                ALL: _grant("rcu"),
                "user": _grant("r"),
                "team": _grant("r"),
                "territory": _grant("r"),
            }
        ),
    ),
}


SYSTEM_PRINCIPAL = Principal(
    user_id="00000000-0000-0000-0000-000000000000",
    name="system",
    roles=("admin",),
    role_permissions=(BUILTIN_ROLES["admin"][1],),
    via="system",
)


# Roles whose holders may publish events onto the bus (the API's publishers, and automation
# acting as one of them): an event can set off other people's automation.
EVENT_PUBLISHER_ROLES = frozenset({"admin", "integration"})


def uncovered(holder: Principal, other: Principal, objects: Mapping[str, bool]) -> list[str]:
    """What ``other`` may do that ``holder`` may not; empty when holder's rights cover it.

    ``objects``: every object name → whether it is territorial. Used wherever one principal
    lends its rights to automation another set up (enabling a scenario that runs as someone
    else, changing a scenario or agent that runs with someone's rights): the holder must
    already have every right the automation would use.
    """
    if holder.user_id == other.user_id and holder.roles == other.roles:
        return []
    gaps: list[str] = []
    if other.can_manage_users and not holder.can_manage_users:
        gaps.append("manage users")
    if other.can_manage_metadata and not holder.can_manage_metadata:
        gaps.append("manage metadata")
    for name, territorial in sorted(objects.items()):
        theirs, mine = other.permission(name), holder.permission(name)
        if not theirs.actions:
            continue
        missing = sorted(theirs.actions - mine.actions)
        if missing:
            gaps.append(f"{name}: {', '.join(missing)}")
            continue
        if SCOPE_RANK[theirs.scope] > SCOPE_RANK[mine.scope] or (
            territorial
            and mine.scope != "all"
            and theirs.scope != "all"
            and (holder.user_id != other.user_id or not other.territory_ids <= holder.territory_ids)
        ):
            # Different people see different records (their own, their territories).
            gaps.append(f"{name}: records you cannot see")
            continue
        if not _fields_covered(theirs, mine):
            gaps.append(f"{name}: fields you cannot read or write")
    return gaps


def _fields_covered(theirs: EffectivePermission, mine: EffectivePermission) -> bool:
    if not mine.hidden_fields <= theirs.hidden_fields:
        return False
    if theirs.read_all and not mine.read_all:
        return False
    if not mine.read_all and not theirs.read_fields <= mine.read_fields:
        return False
    if theirs.write_all and not mine.write_all:
        return False
    return mine.write_all or theirs.write_fields <= mine.write_fields
