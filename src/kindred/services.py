"""The composition root: builds every service for one settings object.

The API, the CLI and the tests all obtain services from here, so wiring (which hooks are
installed, which adapters are chosen by URL) is decided in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kindred.agents.service import AgentService
from kindred.agents.tools import default_tools
from kindred.agents.triggers import trigger_handler
from kindred.auth.service import AuthService
from kindred.config import Settings, get_settings
from kindred.db import Database
from kindred.db.migrate import upgrade
from kindred.events.bus import BusOptions, GroupSpec, open_bus
from kindred.events.catalog import EventCatalog
from kindred.events.consumers import (
    ConsumerDefinition,
    ConsumerRegistry,
    ConsumerStart,
    RetentionTask,
    timeline_consumer,
)
from kindred.events.service import EventService
from kindred.graph.resolution import ResolutionService
from kindred.graph.search import SearchService
from kindred.graph.service import GraphService
from kindred.ledger.service import LedgerService
from kindred.ledger.witness import DirectoryWitness
from kindred.records.metadata import MetadataService, RegistryCache
from kindred.records.service import RecordService
from kindred.scenarios.engine import ScenarioEngine
from kindred.scenarios.service import ScenarioService, purge_runs
from kindred.sovereignty.consents import ConsentService
from kindred.sovereignty.datakeys import DataKeys
from kindred.sovereignty.erasure import CustomerRights
from kindred.sovereignty.identities import IdentityService
from kindred.sovereignty.lookup import StaffLookup
from kindred.sovereignty.passport import PassportAuth
from kindred.sovereignty.pdp import PolicyDecisionPoint
from kindred.sovereignty.provenance import ProvenanceService

# Fields of a user record that decide what they may do: changes to them are evidenced.
USER_RIGHTS_FIELDS = ("roles", "territories", "team", "active", "kind", "email")


def _evidence_changes(ledger: LedgerService, session: Any, rows: list[dict[str, Any]]) -> None:
    """Change hook: changes to users and territories (who may do what), and every change
    automation makes (which scenario or agent, its version, its run-as principal and the
    triggering event), go on the ledger — one entry per kind and write."""
    items: list[tuple[str, Any, list[str]]] = []
    rights = [
        {
            "object": row["object"],
            "record_id": row["record_id"],
            "action": row["action"],
            "before": _only(row.get("before"), row["object"]),
            "after": _only(row.get("after"), row["object"]),
        }
        for row in rows
        if row["object"] in ("user", "territory")
    ]
    if rights:
        actor = rows[0]["actor_id"]
        subjects = [actor, *(r["record_id"] for r in rights if r["object"] == "user")]
        items.append(("auth.rights.changed", {"changes": rights}, subjects))
    acting = rows[0].get("acting_for") if rows else None
    if acting:
        changes = [
            {"object": r["object"], "record_id": r["record_id"], "action": r["action"]}
            for r in rows
        ]
        items.append(
            (
                "automation.changes",
                {"acting_for": acting, "changes": changes},
                [rows[0]["actor_id"]],
            )
        )
    if items:
        ledger.append_many(session, items)


def _only(values: dict[str, Any] | None, object_name: str) -> dict[str, Any] | None:
    if values is None or object_name != "user":
        return values
    return {k: v for k, v in values.items() if k in USER_RIGHTS_FIELDS}


def register_consumers(kindred: Kindred) -> ConsumerRegistry:
    """The bus's consumers, registered here so the events package imports none of them."""
    registry = ConsumerRegistry()
    registry.register("timeline", timeline_consumer(kindred.database))

    def scenario_engine(member: str) -> ConsumerStart:
        engine = ScenarioEngine(kindred, member)
        return engine.handle, engine.run_forever

    registry.register(
        "scenarios",
        ConsumerDefinition(
            GroupSpec("scenarios", ("*",), ack_wait=30.0),
            scenario_engine,
            "Scenario engine: WHEN/AND/THEN runs for every enabled scenario",
            per_partition=False,
        ),
    )
    registry.register(
        "agents",
        ConsumerDefinition(
            GroupSpec("agents", ("*",), ack_wait=30.0),
            lambda member: (trigger_handler(kindred), None),
            "Agent triggers: runs for every enabled agent whose event trigger matches",
            per_partition=False,
        ),
    )

    def purge_scenario_runs(now: datetime) -> int:
        days = kindred.settings.scenario_run_retention_days
        with kindred.database.write() as session:
            return purge_runs(session, now - timedelta(days=days))

    registry.add_retention(RetentionTask("scenario_runs", purge_scenario_runs))

    def purge_passport_challenges(now: datetime) -> int:
        return kindred.passport.purge_expired(kindred.database, now)

    registry.add_retention(RetentionTask("passport_challenges", purge_passport_challenges))
    return registry


@dataclass
class Kindred:
    settings: Settings
    database: Database
    registry_cache: RegistryCache
    records: RecordService
    metadata: MetadataService
    auth: AuthService
    ledger: LedgerService
    events: EventService
    scenarios: ScenarioService
    identities: IdentityService
    passport: PassportAuth
    consents: ConsentService
    pdp: PolicyDecisionPoint
    datakeys: DataKeys
    rights: CustomerRights
    provenance: ProvenanceService
    graph: GraphService
    search: SearchService
    resolution: ResolutionService
    lookup: StaffLookup
    agents: AgentService = field(init=False)
    consumers: ConsumerRegistry = field(init=False)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.agents = AgentService(self, default_tools())
        self.consumers = register_consumers(self)
        # Scenario steps `start_agent` start agent runs through this port.
        from kindred.agents.runtime import ScenarioLauncher

        self.extras.setdefault("agent_launcher", ScenarioLauncher(self))

    @classmethod
    def create(cls, settings: Settings | None = None, database_url: str | None = None) -> Kindred:
        settings = settings or get_settings()
        database = Database(database_url or settings.database_url)
        cache = RegistryCache()
        ledger = LedgerService(
            settings.secret_key,
            witness=DirectoryWitness(settings.effective_ledger_witness_dir),
        )
        records = RecordService(cache)
        # The search index follows every record write in the same transaction.
        search = SearchService(
            records,
            semantic=settings.search_semantic,
            embedder=settings.search_embedder,
            embedding_threads=settings.search_embedding_threads,
            min_similarity=settings.search_min_similarity,
            embed_inline_max=settings.search_embed_inline_max,
        )
        records.change_hooks.append(search.on_record_change)

        def metadata_evidence(session: Any, change: Any) -> None:
            # Every data-model change is evidenced; the payload (before/after definitions)
            # stays in ledger_payloads, the leaf holds only its commitment.
            ledger.append(
                session,
                f"metadata.{change.action}",
                {
                    "object": change.object,
                    "version": change.version,
                    "summary": change.summary,
                    "before": change.before,
                    "after": change.after,
                    "request_id": change.request_id,
                },
                [s for s in (change.actor_id,) if s],
            )
            # A field that stops being indexable leaves the search index with the change.
            search.on_metadata_change(session, change)

        metadata = MetadataService(cache, on_change=metadata_evidence)
        auth = AuthService(settings, records)
        records.change_hooks.append(auth.on_record_change)
        records.change_hooks.append(lambda session, rows: _evidence_changes(ledger, session, rows))
        bus = open_bus(
            settings.effective_bus_url,
            BusOptions(
                partitions=settings.bus_partitions,
                lease_seconds=settings.bus_lease_seconds,
                retention_days=settings.bus_retention_days,
                dedupe_window_seconds=settings.bus_dedupe_window_seconds,
                extra={
                    "synchronous": settings.bus_sqlite_synchronous,
                    "subject_prefix": settings.bus_nats_subject_prefix,
                    "stream_prefix": settings.bus_nats_stream_prefix,
                },
            ),
        )
        events = EventService(
            database, EventCatalog(), bus, ledger, max_event_bytes=settings.max_event_bytes
        )
        scenarios = ScenarioService(
            events.catalog, records, ledger, bus, principals=auth.acting_principal
        )
        identities = IdentityService(
            settings.secret_key,
            ledger,
            public_host=settings.public_host,
            data_domains=settings.data_domains,
            customer_objects=settings.customer_objects,
        )
        # A customer record created is a customer registered: a DID in the same transaction,
        # issued before the record is written (its `did` field shows it).
        records.write_hooks.append(identities.on_write)
        passport = PassportAuth(settings.secret_key, identities)
        consents = ConsentService(identities, ledger, records)
        # Every read of a customer-authorized value passes the policy decision point.
        pdp = PolicyDecisionPoint(database, ledger, settings.customer_objects)
        records.read_hooks.append(pdp.enforce)
        # Customer-authorized values in the change history are sealed with the customer's key.
        datakeys = DataKeys(settings.secret_key, records, frozenset(settings.customer_objects))
        records.change_log_sealers.append(datakeys.seal_change_log)
        rights = CustomerRights(identities, consents, datakeys, records, ledger)
        provenance = ProvenanceService(records, settings.value_validity_days)
        records.change_hooks.append(provenance.on_record_change)
        records.read_hooks.append(provenance.flag_expired)
        # Identity resolution: blocking keys follow account and contact writes; merge
        # snapshots are sealed like the change history and opened with the same keys.
        resolution = ResolutionService(records, ledger, settings.secret_key, unseal=datakeys.unseal)
        records.change_hooks.append(resolution.on_record_change)
        # The staff lookup's keyed digests of customers' emails and phones follow writes too.
        lookup = StaffLookup(settings.secret_key, records, settings.customer_objects)
        records.change_hooks.append(lookup.on_record_change)
        return cls(
            settings,
            database,
            cache,
            records,
            metadata,
            auth,
            ledger,
            events,
            scenarios,
            identities,
            passport,
            consents,
            pdp,
            datakeys,
            rights,
            provenance,
            GraphService(records),
            search,
            resolution,
            lookup,
        )

    def bootstrap(self) -> None:
        """Bring the database to the current schema and install standard objects and roles.

        Idempotent: safe on every start-up and after every upgrade.
        """
        upgrade(self.database)
        with self.database.write() as session:
            self.metadata.install_standard_objects(session)
            self.auth.install_builtin_roles(session)
            # Records written around the record service (seed, older data) get their keys,
            # and customers their DIDs.
            self.resolution.reindex(session)
            self.lookup.reindex(session)
            self.identities.backfill(session, self.records)
        self.registry_cache.invalidate()

    def close(self) -> None:
        self.pdp.close()  # the last access decisions reach the ledger
        # The embedded bus owns a writer thread; stop it even when no event loop is left.
        close_sync = getattr(self.events.bus, "close_sync", None)
        if close_sync is not None:
            close_sync()
        self.database.dispose()
