"""What each action does when a run reaches it.

Every executor receives the rendered parameters and an idempotency key unique to
(run, step) — the run id is derived from (scenario, event) — and makes its effect
idempotent with it: records carry the key in their change log request id and are found
again by it, emitted events use it as their id (the bus stores an id once), emails use it
as Message-ID, webhooks send it as Idempotency-Key, WeChat as client_msg_id. A step retried
after a crash therefore does not act twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.auth.permissions import EVENT_PUBLISHER_ROLES
from kindred.common.durations import parse_duration
from kindred.common.failures import ActionFailed
from kindred.common.mail import SmtpSettings, send_email
from kindred.db import insert_new
from kindred.errors import KindredError
from kindred.events.envelope import format_time
from kindred.records.models import ChangeLogEntry, RecordLink, RecordRow
from kindred.records.service import RequestContext
from kindred.records.storage import field_expression
from kindred.scenarios.connectors import http_call, release_inventory, reserve_inventory
from kindred.scenarios.inbox import find_user, quoted_fields
from kindred.scenarios.messaging import WechatClient, outbound_policy, post_webhook
from kindred.scenarios.models import CustomerTag, Notification, ScenarioRun, ScenarioRunStep
from kindred.scenarios.ports import AgentLauncher
from kindred.scenarios.steps import StepContext

if TYPE_CHECKING:
    from kindred.services import Kindred

CHAIN_EXTENSION = "kindredchain"


Executor = Callable[["Kindred", dict[str, Any], StepContext], Awaitable[dict[str, Any]]]


def _context(step: StepContext) -> RequestContext:
    """The step acting as the scenario's run-as principal. The request id ties the change
    log entry to the step (it is how a retried step finds the record it created before a
    crash); ``acting_for`` names the scenario, version, run, principal and triggering event
    in the change log and on the ledger."""
    if step.principal is None:
        raise ActionFailed(
            "the scenario has nobody to act as (no run-as principal)",
            retryable=False,
            code="no-principal",
        )
    return RequestContext(
        step.principal,
        request_id=step.idempotency_key[:64],
        purpose=step.purpose,
        agent=f"scenario:{step.scenario}",
        channel="scenario",
        acting_for={
            "scenario": step.scenario,
            "version": step.version,
            "run": step.run_id,
            "step": step.step_id,
            "author": step.author,
            "run_as": step.principal.user_id,
            "event": step.event,
        },
    )


def _require(step: StepContext, allowed: bool, what: str) -> None:
    if not allowed:
        raise ActionFailed(
            f"the scenario's run-as principal may not {what}",
            retryable=False,
            code="permission-denied",
        )


def _refused(error: KindredError) -> ActionFailed:
    details = "; ".join(f"{e.get('path', '')}: {e.get('message', '')}" for e in error.errors[:5])
    return ActionFailed(
        f"{error.detail}{' — ' + details if details else ''}", retryable=False, code=error.problem
    )


def _already_created(session: Any, request_id: str, object_name: str) -> str | None:
    row = session.execute(
        sa.select(ChangeLogEntry.record_id)
        .where(
            ChangeLogEntry.request_id == request_id,
            ChangeLogEntry.object == object_name,
            ChangeLogEntry.action == "create",
        )
        .limit(1)
    ).scalar()
    return str(row) if row else None


# -- local actions: effects in the Kindred database only --------------------------------------
#
# Each takes the session to act in. The engine runs them either in a transaction of their own
# (``EXECUTORS``, below) or, for a run made only of local actions, inside the consumer's
# transaction that also writes the run: then the run and its effects commit together.


def _create(
    kindred: Kindred, session: Session, object_name: str, values: Any, step: StepContext
) -> dict[str, Any]:
    context = _context(step)
    existing = _already_created(session, context.request_id or "", object_name)
    if existing:
        return {"id": existing, "object": object_name, "repeated": True}
    try:
        created = kindred.records.create(session, context, object_name, values)
    except KindredError as error:
        raise _refused(error) from None
    return {"id": created["id"], "object": object_name}


def create_record_in(
    kindred: Kindred, session: Session, params: dict[str, Any], step: StepContext
) -> dict[str, Any]:
    return _create(kindred, session, params["object"], params["values"], step)


def update_record_in(
    kindred: Kindred, session: Session, params: dict[str, Any], step: StepContext
) -> dict[str, Any]:
    try:
        updated = kindred.records.update(
            session,
            _context(step),
            params["object"],
            str(params["id"]),
            params["values"],
            if_match=None,
        )
    except KindredError as error:
        raise _refused(error) from None
    return {"id": updated["id"], "version": updated["version"]}


def create_ticket_in(
    kindred: Kindred, session: Session, params: dict[str, Any], step: StepContext
) -> dict[str, Any]:
    values: dict[str, Any] = dict(params.get("values") or {})
    values["subject"] = params["subject"]
    for name in ("account", "asset", "contact", "priority", "description"):
        if params.get(name) not in (None, ""):
            values[name] = params[name]
    if "account" not in values and values.get("asset"):
        # A device's ticket belongs to the device's customer.
        try:
            asset, _ = kindred.records.get(session, _context(step), "asset", str(values["asset"]))
        except KindredError as error:
            raise _refused(error) from None
        values["account"] = asset.get("account")
    values.setdefault("opened_at", format_time(datetime.now(UTC)))
    return _create(kindred, session, "ticket", values, step)


def set_tag_in(
    kindred: Kindred, session: Session, params: dict[str, Any], step: StepContext
) -> dict[str, Any]:
    # A tag is a change to the customer: the principal must be able to update the account.
    context = _context(step)
    _require(step, context.principal.permission("account").can("update"), "tag accounts")
    try:
        kindred.records.get(session, context, "account", str(params["account"]), fields=["name"])
    except KindredError as error:
        raise _refused(error) from None
    valid_until = None
    if params.get("valid_for"):
        valid_until = datetime.now(UTC) + timedelta(seconds=parse_duration(params["valid_for"]))
    # Keyed by the step: a repeated step finds its tag there and inserts nothing.
    insert_new(
        session,
        CustomerTag,
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, step.idempotency_key)),
            "account_id": str(params["account"]),
            "tag": str(params["tag"]),
            "source": f"scenario:{step.scenario}@v{step.version}",
            "note": params.get("note"),
            "valid_until": valid_until,
            "scenario": step.scenario,
            "version": step.version,
            "run_id": step.run_id,
            "set_by": context.principal.user_id,
        },
    )
    return {"tag": params["tag"], "valid_until": valid_until.isoformat() if valid_until else None}


def _addressee(kindred: Kindred, session: Session, user: Any) -> str | None:
    """The id of the user a notification is for (given by id or email), or a final failure:
    a notification to nobody would be dropped silently."""
    if user in (None, ""):
        return None
    found = find_user(kindred, session, str(user))
    if found is None:
        raise ActionFailed(
            f"there is no user {str(user)[:100]!r} to notify (give a user's id or email)",
            retryable=False,
            code="unknown-user",
        )
    return found


def notify_in(
    kindred: Kindred, session: Session, params: dict[str, Any], step: StepContext
) -> dict[str, Any]:
    context = _context(step)  # acts as someone, or not at all
    notification_id = str(uuid.uuid5(uuid.NAMESPACE_URL, step.idempotency_key))
    title = str(params["title"])[:300]
    about = None
    if params.get("record") not in (None, ""):
        # The record it is about, read as the scenario reads: what its text may quote.
        object_name = str(params.get("object") or "account")
        try:
            about, _ = kindred.records.get(session, context, object_name, str(params["record"]))
        except KindredError as error:
            raise _refused(error) from None
    insert_new(
        session,
        Notification,
        {
            "id": notification_id,
            "user_id": _addressee(kindred, session, params.get("user")),
            "role": params.get("role"),
            "title": title,
            "message": params.get("message"),
            "link": params.get("link"),
            "source": f"scenario:{step.scenario}",
            "object": about["object"] if about else None,
            "record_id": about["id"] if about else None,
            "quoted": quoted_fields(about, (title, params.get("message"), params.get("link")))
            if about
            else None,
            "run_id": step.run_id,
        },
    )
    return {"notification": notification_id}


async def emit_event(kindred: Kindred, params: dict[str, Any], step: StepContext) -> dict[str, Any]:
    # An event can set off other people's automation: only a principal allowed to publish
    # events (as through the API) may have a scenario emit one.
    principal = _context(step).principal
    _require(step, bool(EVENT_PUBLISHER_ROLES & set(principal.roles)), "publish events")
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": step.idempotency_key,
        "source": f"kindred://scenarios/{step.scenario}",
        "type": params["type"],
        "data": params["data"],
        CHAIN_EXTENSION: step.chain_depth + 1,
    }
    for name in ("subject", "partitionkey"):
        if params.get(name):
            event[name] = str(params[name])
    report = await kindred.events.ingest([event], channel="scenario")
    if report.rejected:
        rejection = report.rejected[0]
        raise ActionFailed(
            f"the event was refused: {rejection.detail}", retryable=False, code=rejection.reason
        )
    accepted = report.accepted[0]
    return {"position": accepted["position"], "duplicate": accepted["duplicate"]}


async def email(kindred: Kindred, params: dict[str, Any], step: StepContext) -> dict[str, Any]:
    settings = kindred.settings
    recipients = params["to"] if isinstance(params["to"], list) else [params["to"]]
    return await send_email(
        SmtpSettings.from_settings(settings),
        to=[str(r) for r in recipients],
        subject=str(params["subject"]),
        text=str(params["text"]),
        html=params.get("html"),
        message_id=f"<{step.idempotency_key}@kindred>",
    )


async def webhook(kindred: Kindred, params: dict[str, Any], step: StepContext) -> dict[str, Any]:
    secret = None
    if params.get("secret"):
        secret = kindred.settings.scenario_secrets.get(str(params["secret"]))
        if secret is None:
            raise ActionFailed(
                f"no secret named {params['secret']!r} is configured (KINDRED_SCENARIO_SECRETS)",
                retryable=False,
                code="secret-missing",
            )
    return await post_webhook(
        str(params["url"]),
        params["payload"],
        secret=secret,
        idempotency_key=step.idempotency_key,
        policy=outbound_policy(kindred.settings),
    )


async def wechat_template(
    kindred: Kindred, params: dict[str, Any], step: StepContext
) -> dict[str, Any]:
    settings = kindred.settings
    if not (settings.wechat_api_base and settings.wechat_app_id and settings.wechat_app_secret):
        raise ActionFailed(
            "WeChat sending is not configured: set KINDRED_WECHAT_API_BASE, "
            "KINDRED_WECHAT_APP_ID and KINDRED_WECHAT_APP_SECRET",
            retryable=False,
            code="wechat-unconfigured",
        )
    client = WechatClient(
        settings.wechat_api_base, settings.wechat_app_id, settings.wechat_app_secret
    )
    try:
        return await client.send_template(
            openid=str(params["openid"]),
            template_id=str(params["template_id"]),
            data={str(k): str(v) for k, v in dict(params["data"]).items()},
            url=params.get("url"),
            client_msg_id=step.idempotency_key[:64],
        )
    finally:
        await client.close()


# -- assignment ---------------------------------------------------------------------------------

OPEN_TICKET = ("new", "assigned", "in_progress", "waiting")


def _candidates(session: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Active users with the role / in the team / with the skill the step names."""
    records = RecordRow.__table__
    links = RecordLink.__table__
    rows = session.execute(
        sa.select(records.c.id, records.c.data).where(records.c.object == "user")
    ).all()
    team_of = dict(
        session.execute(
            sa.select(links.c.source_id, links.c.target_id).where(links.c.relation == "user.team")
        ).all()
    )
    territories: dict[str, set[str]] = {}
    for source, target in session.execute(
        sa.select(links.c.source_id, links.c.target_id).where(
            links.c.relation == "user.territories"
        )
    ):
        territories.setdefault(source, set()).add(target)
    found = []
    for user_id, data in rows:
        if data.get("active") is False:
            continue
        if params.get("role") and params["role"] not in (data.get("roles") or []):
            continue
        if params.get("team") and team_of.get(user_id) != params["team"]:
            continue
        if params.get("skill") and params["skill"] not in (data.get("skills") or []):
            continue
        found.append(
            {
                "id": user_id,
                "name": data.get("name"),
                "territories": territories.get(user_id, set()),
            }
        )
    return sorted(found, key=lambda c: c["id"])


def _open_load(session: Any, user_ids: list[str]) -> dict[str, int]:
    """Open tickets owned by each user: the load skill_load balances."""
    records = RecordRow.__table__
    status = field_expression(session.get_bind().dialect.name, "status", "text")
    counts = dict(
        session.execute(
            sa.select(records.c.owner_id, sa.func.count())
            .where(
                records.c.object == "ticket",
                records.c.owner_id.in_(user_ids),
                status.in_(OPEN_TICKET),
            )
            .group_by(records.c.owner_id)
        ).all()
    )
    return {user: int(counts.get(user, 0)) for user in user_ids}


def _territory_chain(session: Any, territory_id: str | None) -> list[str]:
    """The record's territory and its ancestors, nearest first."""
    chain: list[str] = []
    links = RecordLink.__table__
    current = territory_id
    while current and current not in chain and len(chain) < 20:
        chain.append(current)
        current = session.execute(
            sa.select(links.c.target_id).where(
                links.c.source_id == current, links.c.relation == "territory.parent"
            )
        ).scalar()
    return chain


def assign_in(
    kindred: Kindred, session: Session, params: dict[str, Any], step: StepContext
) -> dict[str, Any]:
    object_name, record_id, strategy = params["object"], str(params["id"]), params["strategy"]
    context = _context(step)
    try:
        record, _ = kindred.records.get(session, context, object_name, record_id)
    except KindredError as error:
        raise _refused(error) from None
    _require(step, context.principal.permission("user").can("read"), "read users")
    candidates = _candidates(session, params)
    if strategy == "territory":
        for territory in _territory_chain(session, record.get("territory")):
            near = [c for c in candidates if territory in c["territories"]]
            if near:
                candidates = near
                break
        else:
            candidates = []
    if not candidates:
        raise ActionFailed(
            f"no active user matches {strategy} assignment "
            f"(role={params.get('role')}, team={params.get('team')}, "
            f"skill={params.get('skill')})",
            retryable=False,
            code="no-assignee",
        )
    if strategy == "round_robin":
        # The n-th assignment this scenario made picks the n-th candidate.
        done = session.execute(
            sa.select(sa.func.count())
            .select_from(ScenarioRunStep)
            .join(ScenarioRun, ScenarioRun.id == ScenarioRunStep.run_id)
            .where(
                ScenarioRun.scenario == step.scenario,
                ScenarioRunStep.action == "assign",
                ScenarioRunStep.status == "succeeded",
            )
        ).scalar_one()
        chosen = candidates[int(done) % len(candidates)]
    else:  # territory and skill_load: the least loaded of the matching users
        load = _open_load(session, [c["id"] for c in candidates])
        chosen = min(candidates, key=lambda c: (load[c["id"]], c["id"]))
    try:
        kindred.records.update(
            session, context, object_name, record_id, {"owner": chosen["id"]}, if_match=None
        )
    except KindredError as error:
        raise _refused(error) from None
    return {"user": chosen["id"], "name": chosen["name"], "strategy": strategy}


async def start_agent(
    kindred: Kindred, params: dict[str, Any], step: StepContext
) -> dict[str, Any]:
    launcher: AgentLauncher | None = kindred.extras.get("agent_launcher")
    if launcher is None:
        raise ActionFailed(
            "no agent runtime is registered in this deployment", retryable=False, code="no-agents"
        )
    principal = _context(step).principal
    return await launcher.start(
        str(params["workflow"]),
        dict(params.get("inputs") or {}),
        idempotency_key=step.idempotency_key,
        trigger={"scenario": step.scenario, "version": step.version, "run": step.run_id},
        started_by=principal.user_id,
    )


LocalExecutor = Callable[["Kindred", Session, dict[str, Any], StepContext], dict[str, Any]]
# Actions whose effects live in the Kindred database alone.
LOCAL_EXECUTORS: Mapping[str, LocalExecutor] = {
    "create_record": create_record_in,
    "update_record": update_record_in,
    "create_ticket": create_ticket_in,
    "set_tag": set_tag_in,
    "notify": notify_in,
    "assign": assign_in,
}


def _own_transaction(local: LocalExecutor) -> Executor:
    async def execute(
        kindred: Kindred, params: dict[str, Any], step: StepContext
    ) -> dict[str, Any]:
        def act() -> dict[str, Any]:
            with kindred.database.write() as session:
                return local(kindred, session, params, step)

        return await asyncio.to_thread(act)

    return execute


EXECUTORS: Mapping[str, Executor] = {
    **{name: _own_transaction(local) for name, local in LOCAL_EXECUTORS.items()},
    "emit_event": emit_event,
    "send_email": email,
    "webhook": webhook,
    "wechat_template": wechat_template,
    "reserve_inventory": reserve_inventory,
    "release_inventory": release_inventory,
    "http": http_call,
    "start_agent": start_agent,
}
