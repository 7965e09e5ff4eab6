"""The actions a scenario step can take, as a frozen registry of parameter specs.

A spec says which parameters an action takes, which are required and what kind of value
each is, so a definition is checked completely at save time: a business user learns about a
misspelt parameter when saving, not at three in the morning when the device fails.

Every parameter value in a definition is one of: a literal (number, boolean, list, object),
a text template (``"Fault {{ event.data.code }}"``, sandboxed Jinja2), or a computed value
``{"cel": "event.data.total * 0.1"}``. ``kind`` only constrains literals; templates and CEL
are checked when they are evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

ParamKind = Literal["text", "number", "boolean", "object", "list", "any", "duration"]


@dataclass(frozen=True)
class Param:
    kind: ParamKind = "any"
    required: bool = False
    description: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionSpec:
    name: str
    description: str
    params: dict[str, Param] = field(default_factory=dict)
    # One of these groups must be given (e.g. a message needs a user or a role).
    one_of: tuple[tuple[str, ...], ...] = ()
    side_effect: bool = True  # false: safe to run in a dry run (e.g. wait computes a time)
    # False: listed so authors see what is coming, refused at save time until it ships.
    available: bool = True

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "params": {
                name: {
                    "kind": p.kind,
                    "required": p.required,
                    "description": p.description,
                    **({"choices": list(p.choices)} if p.choices else {}),
                }
                for name, p in self.params.items()
            },
            "one_of": [list(group) for group in self.one_of],
            "available": self.available,
        }


def _specs(*specs: ActionSpec) -> MappingProxyType[str, ActionSpec]:
    registry: dict[str, ActionSpec] = {}
    for spec in specs:
        if spec.name in registry:  # a frozen registry refuses duplicates
            raise RuntimeError(f"duplicate action {spec.name}")
        registry[spec.name] = spec
    return MappingProxyType(registry)


TEXT_REQUIRED = Param("text", required=True)
PRIORITIES = ("low", "normal", "high", "urgent")

ACTIONS = _specs(
    ActionSpec(
        "create_record",
        "Create a record of any object (validated and permission-checked like the API).",
        {
            "object": Param("text", True, "object name, e.g. opportunity"),
            "values": Param("object", True, "field values"),
        },
    ),
    ActionSpec(
        "update_record",
        "Update fields of a record.",
        {
            "object": Param("text", True),
            "id": Param("text", True, "the record id"),
            "values": Param("object", True),
        },
    ),
    ActionSpec(
        "create_ticket",
        "Open a service ticket (work order) for a customer or device.",
        {
            "subject": TEXT_REQUIRED,
            "account": Param("text", description="account id"),
            "asset": Param("text", description="asset (device) id"),
            "contact": Param("text"),
            "priority": Param("text", choices=PRIORITIES),
            "description": Param("text"),
            "values": Param("object", description="more ticket fields"),
        },
    ),
    ActionSpec(
        "assign",
        "Assign a record to a user: round robin, by territory, or by skill and load.",
        {
            "object": Param("text", True),
            "id": Param("text", True),
            "strategy": Param("text", True, choices=("round_robin", "territory", "skill_load")),
            "role": Param("text", description="candidates: users with this role"),
            "team": Param("text", description="candidates: members of this team"),
            "skill": Param("text", description="for skill_load"),
        },
    ),
    ActionSpec(
        "reserve_inventory",
        "Reserve spare parts or stock through the inventory connector.",
        {
            "sku": TEXT_REQUIRED,
            "quantity": Param("number", True),
            "warehouse": Param("text"),
            "region": Param("text", description="prefer a warehouse in this region"),
            "reference": Param("text", description="ticket or order the reservation is for"),
        },
    ),
    ActionSpec(
        "release_inventory",
        "Release a reservation (compensation when a later step fails).",
        {"reservation": Param("text", True, "the reservation id")},
    ),
    ActionSpec(
        "send_email",
        "Send an email over SMTP.",
        {
            "to": Param("any", True, "an address or a list of addresses"),
            "subject": TEXT_REQUIRED,
            "text": TEXT_REQUIRED,
            "html": Param("text"),
        },
    ),
    ActionSpec(
        "webhook",
        "POST JSON to a URL (HMAC-signed when a secret is configured).",
        {
            "url": TEXT_REQUIRED,
            "payload": Param("object", True),
            "secret": Param("text", description="name of a configured secret"),
        },
    ),
    ActionSpec(
        "wechat_template",
        "Send a WeChat Official Account template message.",
        {
            "openid": TEXT_REQUIRED,
            "template_id": TEXT_REQUIRED,
            "data": Param("object", True, "keyword → text"),
            "url": Param("text"),
        },
    ),
    ActionSpec(
        "notify",
        "In-app notification to a user or to everyone with a role.",
        {
            "user": Param("text", description="the user's id or email"),
            "role": Param("text"),
            "title": TEXT_REQUIRED,
            "message": Param("text"),
            "link": Param("text"),
            "record": Param(
                "text",
                description="id of the record it is about: a reader sees the text only while "
                "their own read of that record shows the fields it quotes",
            ),
            "object": Param("text", description="the record's object (default account)"),
        },
        one_of=(("user", "role"),),
    ),
    ActionSpec(
        "emit_event",
        "Publish a new event on the bus (chaining scenarios; loop-protected).",
        {
            "type": TEXT_REQUIRED,
            "data": Param("object", True),
            "subject": Param("text"),
            "partitionkey": Param("text"),
        },
    ),
    ActionSpec(
        "set_tag",
        "Tag a customer, with provenance (this scenario) and a validity period.",
        {
            "account": Param("text", True),
            "tag": TEXT_REQUIRED,
            "valid_for": Param("duration"),
            "note": Param("text"),
        },
    ),
    ActionSpec(
        "http",
        "Call an HTTP connector (JSON in, JSON out).",
        {
            "method": Param("text", choices=("GET", "POST", "PUT", "PATCH", "DELETE")),
            "url": TEXT_REQUIRED,
            "body": Param("any"),
            "headers": Param("object"),
            "timeout": Param("number", description="seconds, at most 60"),
        },
    ),
    ActionSpec(
        "wait",
        "Pause the run for a while, until a time, or until an event of the same key arrives.",
        {
            "for": Param("duration"),
            "until": Param("text", description="RFC 3339 time"),
            "event": Param("text", description="event type to wait for (same key as the run)"),
            "timeout": Param("duration", description="with event: give up after (default 1d)"),
        },
        one_of=(("for", "until", "event"),),
        side_effect=False,
    ),
    ActionSpec(
        "start_agent",
        "Start an agent workflow with inputs.",
        {"workflow": TEXT_REQUIRED, "inputs": Param("object")},
        # Through kindred.scenarios.ports.AgentLauncher, which the agents domain registers.
    ),
)
