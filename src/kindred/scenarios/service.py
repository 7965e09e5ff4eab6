"""Scenario definitions: save (checked, versioned, evidenced), enable/disable, dry run.

Saving never half-works: a definition is checked completely (``check_definition``) and
stored only when it has no problem at all; every save is a new version, written to the
ledger with who saved it, and a run pins the version it started with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.auth.automation import (
    PrincipalLoader,
    Stewardship,
    is_admin,
    is_auditor,
    next_run_as,
    object_scopes,
    stewarded_owners,
    stewards,
)
from kindred.auth.permissions import Principal, uncovered
from kindred.common.durations import parse_duration
from kindred.db import UTCDateTime, utcnow
from kindred.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ValidationFailed,
    field_error,
)
from kindred.events.bus import EventBus
from kindred.events.catalog import EventCatalog
from kindred.events.envelope import CloudEvent, format_time, from_structured, parse_time
from kindred.ledger.service import LedgerService
from kindred.records.metadata import bump_generation
from kindred.records.models import RecordLink, RecordRow
from kindred.records.query import FieldFilter, ListQuery
from kindred.records.redaction import WITHHELD, Redactor
from kindred.records.service import RecordService, RequestContext
from kindred.records.storage import field_expression, object_is
from kindred.scenarios.definition import CompiledScenario, check_definition
from kindred.scenarios.evaluate import Evaluation, evaluate, matches, plan
from kindred.scenarios.models import ScenarioRow, ScenarioRun, ScenarioRunStep, ScenarioVersion
from kindred.scenarios.trend import last_failure, run_buckets
from kindred.scenarios.windows import WindowStore

SCENARIOS_COUNTER = 4  # metadata_state row: bumped on every save and switch


@dataclass
class SavedScenario:
    name: str
    title: str
    version: int
    enabled: bool
    definition: dict[str, Any]
    updated_at: str
    updated_by: str | None
    owner: str | None = None
    run_as: str | None = None
    enabled_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "version": self.version,
            "enabled": self.enabled,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
            "owner": self.owner,
            "run_as": self.run_as,
            "enabled_by": self.enabled_by,
            "definition": self.definition,
        }


class ScenarioService:
    def __init__(
        self,
        catalog: EventCatalog,
        records: RecordService,
        ledger: LedgerService,
        bus: EventBus,
        principals: PrincipalLoader | None = None,
    ) -> None:
        self.catalog = catalog
        self.records = records
        self.ledger = ledger
        self.bus = bus
        # Loads a run-as principal with its current rights (AuthService.acting_principal).
        self.principals = principals
        self.stewardship = Stewardship("scenario", self.load_principal, self._objects)

    # -- checking ------------------------------------------------------------------------

    def check(self, session: Session, raw: Any) -> CompiledScenario:
        """The compiled scenario, or ValidationFailed listing every problem."""
        types = [t.type for t in self.catalog.all(session)]

        def known(pattern: str) -> bool:
            return any(matches([pattern], name) for name in types)

        compiled, errors = check_definition(raw, known_type=known)
        if compiled is None:
            raise ValidationFailed(
                f"the scenario definition has {len(errors)} problem(s); nothing was saved",
                errors=errors,
            )
        return compiled

    # -- who may change it ---------------------------------------------------------------

    def load_principal(self, session: Session, user_id: str) -> Principal:
        if self.principals is None:
            raise NotFound("no principal loader is configured")
        return self.principals(session, user_id)

    def _objects(self, session: Session) -> dict[str, bool]:
        return object_scopes(self.records.registry(session).objects)

    # -- saving --------------------------------------------------------------------------

    def create(
        self,
        session: Session,
        raw: Any,
        actor: Principal | None,
        *,
        run_as: str | None = None,
    ) -> SavedScenario:
        """Save a new scenario (disabled). It runs as ``actor`` (its author) unless
        ``run_as`` names a service principal the author's rights cover."""
        compiled = self.check(session, raw)
        name = compiled.name
        if session.get(ScenarioRow, name) is not None:
            raise Conflict(
                f"scenario {name} exists; PUT /api/v1/scenarios/{name} saves a new version"
            )
        actor_id = actor.user_id if actor is not None else None
        if run_as is not None and actor is not None:
            self.stewardship.check_grant(session, actor, run_as)
        principal_id = run_as or actor_id
        now = utcnow()
        row = ScenarioRow(
            name=name,
            title=compiled.definition.title,
            version=1,
            enabled=False,
            created_at=now,
            created_by=actor_id,
            updated_at=now,
            updated_by=actor_id,
            owner_id=actor_id,
            run_as=principal_id,
        )
        session.add(row)
        self._store_version(session, name, 1, raw, actor_id, principal_id)
        session.flush()
        return self._saved(session, row)

    def update(
        self,
        session: Session,
        name: str,
        raw: Any,
        actor: Principal | None,
        *,
        expected_version: int | None = None,
    ) -> SavedScenario:
        row = self._row(session, name, lock=True)
        self.stewardship.check_change(session, row, actor)
        if expected_version is not None and expected_version != row.version:
            raise PreconditionFailed(
                f"scenario {name} is at version {row.version}, not {expected_version}; "
                "reload it and apply your change again"
            )
        compiled = self.check(session, raw)
        if compiled.name != name:
            raise ValidationFailed(
                "the name in the definition differs from the scenario being saved",
                errors=[field_error("/name", "mismatch", f"expected {name!r}")],
            )
        actor_id = actor.user_id if actor is not None else None
        if actor is not None:
            row.run_as = next_run_as(session, actor, row.run_as)
        row.version += 1
        row.title = compiled.definition.title
        row.updated_at = utcnow()
        row.updated_by = actor_id
        self._store_version(session, name, row.version, raw, actor_id, row.run_as)
        session.flush()
        return self._saved(session, row)

    def set_run_as(
        self, session: Session, name: str, principal_id: str, actor: Principal
    ) -> SavedScenario:
        """Make the scenario run as ``principal_id`` (the actor or a service principal their
        rights cover); takes effect for runs started from now on."""
        row = self._row(session, name, lock=True)
        self.stewardship.check_change(session, row, actor)
        self.stewardship.check_grant(session, actor, principal_id)
        if row.run_as != principal_id:
            row.run_as = principal_id
            version = session.get(ScenarioVersion, (name, row.version))
            assert version is not None
            version.run_as = principal_id
            row.updated_at, row.updated_by = utcnow(), actor.user_id
            bump_generation(session, SCENARIOS_COUNTER)
            self.ledger.append(
                session,
                "scenarios.run_as",
                {"scenario": name, "version": row.version, "run_as": principal_id},
                [actor.user_id, principal_id],
            )
            session.flush()
        return self._saved(session, row)

    def _store_version(
        self,
        session: Session,
        name: str,
        version: int,
        raw: Any,
        actor_id: str | None,
        run_as: str | None,
    ) -> None:
        session.add(
            ScenarioVersion(
                name=name,
                version=version,
                definition=dict(raw),
                created_at=utcnow(),
                created_by=actor_id,
                run_as=run_as,
            )
        )
        bump_generation(session, SCENARIOS_COUNTER)
        self.ledger.append(
            session,
            "scenarios.saved",
            {"scenario": name, "version": version, "definition": dict(raw), "run_as": run_as},
            [s for s in (actor_id, run_as) if s],
        )

    def install_examples(self, session: Session, run_as: str) -> list[str]:
        """Save and enable the example chains that are not installed yet, running as the
        service principal ``run_as``; returns their names."""
        from kindred.scenarios.examples import example_definitions

        installed = []
        for raw in example_definitions():
            if session.get(ScenarioRow, raw["name"]) is None:
                self.create(session, raw, None, run_as=run_as)
                self.set_enabled(session, raw["name"], True, None)
                installed.append(raw["name"])
        return installed

    def set_enabled(
        self, session: Session, name: str, enabled: bool, actor: Principal | None
    ) -> SavedScenario:
        row = self._row(session, name, lock=True)
        self.stewardship.check_change(session, row, actor)
        actor_id = actor.user_id if actor is not None else None
        if enabled and row.run_as is None:
            raise ValidationFailed(
                f"scenario {name} has nobody to run as: save a new version or grant it a "
                "service principal (PUT …/run-as) first",
                errors=[field_error("/run_as", "required", "no run-as principal")],
            )
        if row.enabled != enabled:
            bump_generation(session, SCENARIOS_COUNTER)
            row.enabled = enabled
            row.updated_at = utcnow()
            row.updated_by = actor_id
            if enabled:
                row.enabled_by = actor_id
            self.ledger.append(
                session,
                "scenarios.enabled" if enabled else "scenarios.disabled",
                {"scenario": name, "version": row.version, "run_as": row.run_as},
                [s for s in (actor_id,) if s],
            )
            session.flush()
        return self._saved(session, row)

    def retry(self, session: Session, run_id: str, actor: Principal | None) -> None:
        """Send a failed run through its failed step again: a change to the scenario's
        work, so the same rules as changing the scenario apply."""
        run = session.get(ScenarioRun, run_id)
        row = session.get(ScenarioRow, run.scenario) if run is not None else None
        if actor is not None and (row is None or not stewards(session, actor, row.owner_id)):
            raise NotFound(f"no scenario run {run_id}")
        if row is not None:
            self.stewardship.check_change(session, row, actor)
        retry_run(session, run_id, self.ledger, actor.user_id if actor is not None else None)

    # -- reading -------------------------------------------------------------------------

    def _row(self, session: Session, name: str, *, lock: bool = False) -> ScenarioRow:
        row = session.get(ScenarioRow, name, with_for_update=lock)
        if row is None:
            raise NotFound(f"no scenario {name}")
        return row

    def _saved(self, session: Session, row: ScenarioRow) -> SavedScenario:
        version = session.get(ScenarioVersion, (row.name, row.version))
        assert version is not None
        return SavedScenario(
            row.name,
            row.title,
            row.version,
            row.enabled,
            version.definition,
            row.updated_at.isoformat(),
            row.updated_by,
            row.owner_id,
            row.run_as,
            row.enabled_by,
        )

    def get(self, session: Session, name: str) -> SavedScenario:
        return self._saved(session, self._row(session, name))

    def all(
        self,
        session: Session,
        *,
        enabled: bool | None = None,
        observable_by: Principal | None = None,
    ) -> list[SavedScenario]:
        """Every scenario; with ``observable_by``, only those that reader may observe."""
        query = sa.select(ScenarioRow).order_by(ScenarioRow.name)
        if enabled is not None:
            query = query.where(ScenarioRow.enabled == enabled)
        if observable_by is not None:
            allowed = observed(session, observable_by)
            if allowed is not None:
                query = query.where(allowed)
        return [self._saved(session, row) for row in session.execute(query).scalars()]

    def versions(self, session: Session, name: str) -> list[dict[str, Any]]:
        self._row(session, name)
        rows = session.execute(
            sa.select(ScenarioVersion)
            .where(ScenarioVersion.name == name)
            .order_by(ScenarioVersion.version)
        ).scalars()
        return [
            {
                "version": r.version,
                "created_at": r.created_at.isoformat(),
                "created_by": r.created_by,
                "run_as": r.run_as,
                "definition": r.definition,
            }
            for r in rows
        ]

    def compiled_version(self, session: Session, name: str, version: int) -> CompiledScenario:
        stored = session.get(ScenarioVersion, (name, version))
        if stored is None:
            raise NotFound(f"scenario {name} has no version {version}")
        return self.check(session, stored.definition)

    # -- dry run -------------------------------------------------------------------------

    async def dry_run(
        self,
        session: Session,
        compiled: CompiledScenario,
        version: int,
        raw_event: Any,
        context: RequestContext,
    ) -> Evaluation:
        """What the scenario would do for this event, acting on nothing.

        Lookups read records as the caller (a dry run shows no more than they may see);
        windows are computed from the event log, as the engine would have them.
        """
        event = self._event(raw_event)
        definition = self.catalog.get(session, event.type)
        if definition is not None:  # keyed as ingest would key it
            definition.fill_partition_key(event)
        history = await self._window_history(compiled, event)

        def find(object_name: str, record_id: str | None, match: dict[str, Any] | None) -> Any:
            return self.find_record(session, context, object_name, record_id, match)

        def windows(scenario: CompiledScenario, key: str, now: float) -> dict[str, Any]:
            return history.values(key, now) if history is not None else {}

        evaluation = evaluate(
            compiled,
            version,
            event,
            find=find,
            windows=windows,
            now=parse_time(event.time).timestamp() if event.time else None,
        )
        if evaluation.fires:
            evaluation.plan = plan(evaluation, compiled)
        return evaluation

    def _event(self, raw: Any) -> CloudEvent:
        event, errors = from_structured(raw)
        if event is None:
            raise ValidationFailed(
                "the event is not a valid CloudEvent",
                errors=[{**e.to_dict(), "path": "/event" + e.path} for e in errors],
            )
        return event

    async def _window_history(
        self, compiled: CompiledScenario, event: CloudEvent
    ) -> WindowStore | None:
        """Windows rebuilt from the log for the event's key: the dry run sees what the
        engine would have seen."""
        if not compiled.definition.windows:
            return None
        specs = compiled.window_specs()
        store = WindowStore(specs)
        now = parse_time(event.time).timestamp() if event.time else None
        horizon = max(compiled.window_sizes.values())
        since = datetime.fromtimestamp((now or 0) - horizon, UTC) if now else None
        types = sorted({t for w in compiled.definition.windows for t in w.events})
        cursor: str | None = None
        for _ in range(100):  # at most 100 pages of 1,000: a dry run must answer quickly
            page, cursor = await self.bus.read(
                after=cursor, since=since, types=types, key=event.key, limit=1000
            )
            for stored in page:
                data = stored.event.data if isinstance(stored.event.data, dict) else {}
                at = (
                    parse_time(stored.event.time).timestamp()
                    if stored.event.time
                    else stored.stored_at
                )
                store.observe(stored.event.type, stored.event.key, at, data)
            if cursor is None:
                break
        # The event being tried counts too, as it would once ingested.
        data = event.data if isinstance(event.data, dict) else {}
        store.observe(event.type, event.key, now or 0, data)
        return store

    def find_record(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        record_id: str | None,
        match: Mapping[str, Any] | None,
    ) -> dict[str, Any] | None:
        if record_id is not None:
            try:
                record, _ = self.records.get(session, context, object_name, record_id)
            except NotFound:
                return None
            return record
        filters = [FieldFilter(name, "eq", str(value)) for name, value in (match or {}).items()]
        page = self.records.list_records(
            session, context, object_name, ListQuery(filters=filters, limit=1)
        )
        return page.data[0] if page.data else None


# -- run history and health ---------------------------------------------------------------------


def run_summary(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "scenario": run.scenario,
        "version": run.version,
        "status": run.status,
        "key": run.key,
        "event": {"id": run.event.get("id"), "type": run.event.get("type")},
        "chain_depth": run.chain_depth,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_ms": round(run.duration_ms, 3) if run.duration_ms is not None else None,
        "error": run.error,
    }


def observed(session: Session, reader: Principal) -> sa.ColumnElement[bool] | None:
    """Which scenarios a reader may observe — list their runs, read their health: those they
    steward (owner, the owner's team, admins — see kindred.auth.automation); auditors all of
    them (None). One rule for run history, health and the operations overview."""
    owners = stewarded_owners(session, reader)
    if owners is None or is_auditor(reader):
        return None
    return ScenarioRow.owner_id.in_(sorted(owners))


def stewarded(session: Session, reader: Principal) -> sa.ColumnElement[bool] | None:
    """The runs a reader may list (see ``observed``)."""
    allowed = observed(session, reader)
    if allowed is None:
        return None
    return ScenarioRun.scenario.in_(sa.select(ScenarioRow.name).where(allowed))


def check_observes(session: Session, reader: Principal, row: ScenarioRow) -> None:
    """Refuse a reader who may not observe the scenario (see ``observed``)."""
    owners = stewarded_owners(session, reader)
    if owners is None or is_auditor(reader) or row.owner_id in owners:
        return
    raise PermissionDenied(
        f"scenario {row.name} is not yours to observe: its health and runs are for its "
        "owner, the owner's team, admins and compliance"
    )


def list_runs(
    session: Session,
    reader: Principal,
    *,
    scenario: str | None = None,
    status: str | None = None,
    key: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first; ``key`` is the customer/device key the run is about. Only runs of
    scenarios the reader stewards."""
    query = sa.select(ScenarioRun).order_by(ScenarioRun.started_at.desc(), ScenarioRun.id.desc())
    allowed = stewarded(session, reader)
    if allowed is not None:
        query = query.where(allowed)
    if scenario:
        query = query.where(ScenarioRun.scenario == scenario)
    if status:
        query = query.where(ScenarioRun.status == status)
    if key:
        query = query.where(ScenarioRun.key == key)
    if before:
        anchor = session.get(ScenarioRun, before)
        if anchor is not None:
            query = query.where(
                sa.tuple_(ScenarioRun.started_at, ScenarioRun.id)
                < sa.tuple_(sa.literal(anchor.started_at, UTCDateTime()), sa.literal(anchor.id))
            )
    return [run_summary(r) for r in session.execute(query.limit(limit)).scalars()]


def get_run(
    session: Session,
    run_id: str,
    records: RecordService,
    reader: RequestContext,
    principals: PrincipalLoader | None = None,
) -> dict[str, Any]:
    """One run with its steps, as far as the reader may see it: records it looked up and
    the data of its event pass the reader's own record permissions and consent checks
    (``kindred.records.redaction``); step inputs and outputs are shown only to a reader
    whose rights cover the rights the run acted with."""
    run = session.get(ScenarioRun, run_id)
    scenario = session.get(ScenarioRow, run.scenario) if run is not None else None
    principal = reader.principal
    if (
        run is None
        or scenario is None
        or not (is_auditor(principal) or stewards(session, principal, scenario.owner_id))
    ):
        # Not 403: whether a run exists is itself not for everyone to learn.
        raise NotFound(f"no scenario run {run_id}")
    redact = Redactor(records, session, reader)
    detailed = _covers_run(session, reader.principal, run.run_as, records, principals)
    steps = session.execute(
        sa.select(ScenarioRunStep)
        .where(ScenarioRunStep.run_id == run_id)
        .order_by(ScenarioRunStep.pointer)
    ).scalars()
    withheld = {WITHHELD: "this run acted with rights you do not have"}
    return {
        **run_summary(run),
        "run_as": run.run_as,
        "event": redact.event(run.event),
        "variables": {
            k: redact.event(v) if k == "event" and isinstance(v, dict) else redact.value(v)
            for k, v in run.variables.items()
        },
        "next_attempt_at": run.next_at,
        "steps": [
            {
                "id": s.step,
                "pointer": s.pointer,
                "action": s.action,
                "status": s.status,
                "attempts": s.attempts,
                "input": redact.value(s.input) if detailed or s.input is None else withheld,
                "output": redact.value(s.output) if detailed or s.output is None else withheld,
                "error": s.error,
                "error_code": s.error_code,
                "started_at": s.started_at.isoformat() if s.started_at else None,
                "finished_at": s.finished_at.isoformat() if s.finished_at else None,
            }
            for s in steps
        ],
    }


def _covers_run(
    session: Session,
    reader: Principal,
    run_as: str | None,
    records: RecordService,
    principals: PrincipalLoader | None,
) -> bool:
    if run_as is None or run_as == reader.user_id:
        return True
    if principals is None:
        return False
    try:
        acted_as = principals(session, run_as)
    except Exception:
        return is_admin(reader)
    return not uncovered(reader, acted_as, object_scopes(records.registry(session).objects))


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 3)


def health(
    session: Session, name: str, reader: Principal, *, since: datetime | None = None
) -> dict[str, Any]:
    """Call volume, success rate, latency, failure reasons and business impact value — for
    a reader who may observe the scenario (``check_observes``)."""
    row = session.get(ScenarioRow, name)
    if row is None:
        raise NotFound(f"no scenario {name}")
    check_observes(session, reader, row)
    until = datetime.now(UTC)
    since = since or until - timedelta(days=7)
    rows = session.execute(
        sa.select(
            ScenarioRun.id,
            ScenarioRun.status,
            ScenarioRun.duration_ms,
            ScenarioRun.variables,
            ScenarioRun.key,
            ScenarioRun.started_at,
        )
        .where(ScenarioRun.scenario == name, ScenarioRun.started_at >= since)
        .order_by(ScenarioRun.started_at.desc())
        .limit(100_000)
    ).all()
    finished = [r for r in rows if r.status in ("succeeded", "failed")]
    succeeded = [r for r in finished if r.status == "succeeded"]
    durations = [float(r.duration_ms) for r in finished if r.duration_ms is not None]
    reasons = session.execute(
        sa.select(ScenarioRunStep.error_code, sa.func.count())
        .join(ScenarioRun, ScenarioRun.id == ScenarioRunStep.run_id)
        .where(
            ScenarioRun.scenario == name,
            ScenarioRun.started_at >= since,
            ScenarioRunStep.error_code.is_not(None),
        )
        .group_by(ScenarioRunStep.error_code)
    ).all()
    return {
        "scenario": name,
        "since": since.isoformat(),
        "runs": len(rows),
        "in_progress": len(rows) - len(finished),
        "succeeded": len(succeeded),
        "failed": len(finished) - len(succeeded),
        "success_rate": round(len(succeeded) / len(finished), 4) if finished else None,
        "latency_ms": {"p50": _percentile(durations, 0.5), "p99": _percentile(durations, 0.99)},
        "failure_reasons": {str(code): int(n) for code, n in reasons},
        "business_impact": business_impact(session, name, list(rows)),
        **run_buckets(rows, since, until),
        "last_failure": last_failure(session, name, since),
    }


def business_impact(session: Session, name: str, runs: list[Any]) -> dict[str, Any] | None:
    """The scenario's configured impact measure over its succeeded runs (at most 500).

    ``order_value``: the value of orders the run's customer placed within ``within`` after
    the run; ``ticket_avoided``: runs after which the customer opened no complaint ticket
    within ``within``, times ``value`` (default 1); ``fixed``: ``value`` per succeeded run.
    The customer is the run's ``account`` lookup when it has one, else the run's key.
    """
    row = session.get(ScenarioRow, name)
    stored = session.get(ScenarioVersion, (name, row.version)) if row else None
    impact = (stored.definition or {}).get("impact") if stored else None
    if not impact:
        return None
    measure = impact.get("measure", "order_value")
    within = timedelta(seconds=parse_duration(impact.get("within", "30d")))
    value = float(impact.get("value") or 1.0)
    succeeded = [r for r in runs if r.status == "succeeded"][:500]
    if measure == "fixed":
        return {
            "measure": measure,
            "value": round(value * len(succeeded), 2),
            "runs": len(succeeded),
        }
    dialect = session.get_bind().dialect.name
    records, links = RecordRow.__table__, RecordLink.__table__
    total = 0.0
    for run in succeeded:
        account = (run.variables or {}).get("account")
        account_id = account.get("id") if isinstance(account, dict) else run.key
        start, end = run.started_at, run.started_at + within
        if measure == "order_value":
            amount = field_expression(dialect, "total", "number")
            placed = field_expression(dialect, "ordered_at", "text")
            query = (
                sa.select(sa.func.coalesce(sa.func.sum(amount), 0))
                .select_from(records.join(links, links.c.source_id == records.c.id))
                .where(
                    object_is("order"),
                    links.c.relation == "order.account",
                    links.c.target_id == account_id,
                    placed >= format_time(start),
                    placed < format_time(end),
                )
            )
            total += float(session.execute(query).scalar_one() or 0)
        else:  # ticket_avoided
            kind = field_expression(dialect, "kind", "text")
            opened = field_expression(dialect, "opened_at", "text")
            complaints = session.execute(
                sa.select(sa.func.count())
                .select_from(records.join(links, links.c.source_id == records.c.id))
                .where(
                    object_is("ticket"),
                    links.c.relation == "ticket.account",
                    links.c.target_id == account_id,
                    kind == "complaint",
                    opened >= format_time(start),
                    opened < format_time(end),
                )
            ).scalar_one()
            total += value if not complaints else 0.0
    return {"measure": measure, "value": round(total, 2), "runs": len(succeeded)}


def retry_run(session: Session, run_id: str, ledger: LedgerService, actor_id: str | None) -> None:
    """Send a failed run through its failed step again (e.g. after fixing the connector).

    Finished steps stay finished (their effects happened); only the failed step is reset.
    """
    run = session.get(ScenarioRun, run_id, with_for_update=True)
    if run is None:
        raise NotFound(f"no scenario run {run_id}")
    if run.status != "failed":
        raise Conflict(f"run {run_id} is {run.status}; only failed runs can be retried")
    session.execute(
        sa.update(ScenarioRunStep)
        .where(ScenarioRunStep.run_id == run_id, ScenarioRunStep.status == "failed")
        .values(status="pending", attempts=0)
    )
    run.status, run.error, run.finished_at, run.next_at = "running", None, None, None
    ledger.append(session, "scenarios.run_retried", {"run": run_id}, [s for s in (actor_id,) if s])


def purge_runs(session: Session, older_than: datetime) -> int:
    """Delete finished runs (and their steps) started before ``older_than``."""
    old = sa.select(ScenarioRun.id).where(
        ScenarioRun.status.in_(("succeeded", "failed")), ScenarioRun.started_at < older_than
    )
    session.execute(sa.delete(ScenarioRunStep).where(ScenarioRunStep.run_id.in_(old)))
    result = session.execute(
        sa.delete(ScenarioRun).where(
            ScenarioRun.status.in_(("succeeded", "failed")), ScenarioRun.started_at < older_than
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
