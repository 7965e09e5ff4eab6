"""Top-level commands. Each one builds services from settings and calls the domain."""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import datetime as dt
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kindred.cli import app, console, error_console, report_errors
from kindred.cli import events as events_cli
from kindred.cli import ledger as ledger_cli
from kindred.config import get_settings
from kindred.services import Kindred

DEMO_PASSWORD = "kindred-demo-2026"
DEMO_LOGINS = (
    ("admin@kindred.demo", "admin"),
    ("sales.east@kindred.demo", "sales rep, East China"),
    ("service.east@kindred.demo", "service engineer, East China"),
    ("compliance@kindred.demo", "compliance officer"),
    ("analyst@kindred.demo", "analyst (no personal contact data)"),
)

users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
app.add_typer(ledger_cli.app, name="ledger")
app.add_typer(events_cli.app, name="events")
app.command("worker")(report_errors(events_cli.worker))
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="apikeys")


@contextmanager
def _services(bootstrap: bool = True) -> Iterator[Kindred]:
    """Services for one command, closed afterwards (connections are not left to the GC)."""
    kindred = Kindred.create(get_settings())
    try:
        if bootstrap:
            kindred.bootstrap()
        yield kindred
    finally:
        kindred.close()


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@app.command()
@report_errors
def openapi() -> None:
    """Print the API's OpenAPI document (JSON): what the console's typed client is generated
    from (`kindred openapi > web/openapi.json && (cd web && npm run gen:api)`)."""
    print(openapi_document())


def openapi_document() -> str:
    """The OpenAPI document as committed in web/openapi.json (sorted keys, one-space indent)."""
    import json

    from kindred.app import create_app

    with _services(bootstrap=False) as kindred:
        document = create_app(kindred, bootstrap=False).openapi()
    return json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False)


@app.command()
@report_errors
def migrate() -> None:
    """Create or upgrade the database schema and install standard objects and roles."""
    started = time.perf_counter()
    with _services(bootstrap=False) as kindred:
        kindred.bootstrap()
        console.print(
            f"[green]database ready[/] ({kindred.database.dialect}, "
            f"{time.perf_counter() - started:.1f}s)"
        )


def _seed(kindred: Kindred, customers: int, seed: int) -> dict[str, int]:
    from kindred.records.seed import seed_demo_data

    with _progress() as progress:
        tasks: dict[str, Any] = {}

        def report(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)

        counts = seed_demo_data(kindred.database, customers=customers, seed=seed, progress=report)
    # The loader writes rows directly (fast), past the write hooks: index what it wrote for
    # search and identity resolution once, here.
    status = console.status("indexing the demo data for search and identity resolution …")
    with status, kindred.database.write() as session:
        kindred.search.reindex(session)
        kindred.resolution.reindex(session)
    return counts


@app.command()
@report_errors
def seed(
    customers: int = typer.Option(
        1000,
        "--customers",
        "-n",
        min=1,
        max=5_000_000,
        help="How many customer accounts to generate.",
    ),
    seed_value: int = typer.Option(42, "--seed", help="Random seed (same seed, same data)."),
) -> None:
    """Load a deterministic, realistic demo dataset (hospitals, stores, devices, contracts…)."""
    with _services() as kindred:
        started = time.perf_counter()
        counts = _seed(kindred, customers, seed_value)
        elapsed = time.perf_counter() - started
        total = sum(counts.values())
        console.print(
            f"[green]seeded {total:,} records[/] in {elapsed:.1f}s "
            f"({total / max(elapsed, 1e-9):,.0f} rows/s)"
        )


AUTOMATION_EMAIL = "automation@kindred.demo"


def _automation_principal(kindred: Kindred) -> str:
    """The service principal the demo's scenarios and agents run as: the integration role
    (business records, no user administration), no password; made once, through the record
    service (change log and ledger)."""
    with kindred.database.write() as session:
        found = kindred.auth.find_user_id(session, AUTOMATION_EMAIL)
        if found:
            return found
        user = kindred.auth.create_user(
            session,
            email=AUTOMATION_EMAIL,
            name="Demo automation 自动化",
            password=None,
            roles=["integration"],
            extra={"kind": "service"},
        )
        return str(user["id"])


def _ensure_demo_logins(kindred: Kindred) -> None:
    """Give the seeded demo users a known password (the demo prints it)."""
    from kindred.auth.models import UserCredential

    with kindred.database.write() as session:
        for email, _ in DEMO_LOGINS:
            user_id = kindred.auth.find_user_id(session, email)
            if user_id and session.get(UserCredential, user_id) is None:
                kindred.auth.set_password(session, user_id, DEMO_PASSWORD)


@app.command()
@report_errors
def demo(
    customers: int = typer.Option(2000, "--customers", "-n", min=10, max=1_000_000),
    host: str = typer.Option(None, help="Interface to serve on (default from settings)."),
    port: int = typer.Option(None, help="Port to serve on (default 8000)."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep serving after setup."),
) -> None:
    """Set up the embedded demo (SQLite), load demo data and serve the API until Ctrl-C."""
    settings = get_settings()
    kindred = Kindred.create(settings)
    console.rule("[bold]Kindred demo")
    console.print(f"database: [cyan]{settings.database_url}[/]")
    kindred.bootstrap()
    with kindred.database.read() as session:
        accounts = session.execute(
            sa.text("SELECT count(*) FROM records WHERE object = 'account'")
        ).scalar_one()
    if accounts == 0:
        console.print(f"loading demo data: {customers:,} customers …")
        counts = _seed(kindred, customers, 42)
        console.print(f"[green]loaded {sum(counts.values()):,} records[/]")
    else:
        console.print(f"demo data present ({accounts:,} accounts); keeping it")
    _ensure_demo_logins(kindred)
    references = _start_reference_systems(settings)
    # Stopped however the demo ends (an error included), never left running behind it.
    atexit.register(_stop_processes, references)
    _demo_scenarios(kindred)
    consented = _demo_consent(kindred)
    reviewed = _demo_agents(kindred)
    host = host or settings.host
    port = port or settings.port
    base = f"http://{host}:{port}"
    console.print("\n[bold]Where to look[/]")
    login = (
        f"TOKEN=$(curl -s -d 'username=admin@kindred.demo&password={DEMO_PASSWORD}' "
        f"{base}/api/v1/auth/token | python3 -c 'import json,sys; "
        'print(json.load(sys.stdin)["access_token"])\')'
    )
    for label, value in (
        ("Console", f"{base}/   (sign in with a demo login below)"),
        ("API docs", f"{base}/docs"),
        ("OpenAPI", f"{base}/openapi.json"),
        ("Health", f"{base}/healthz"),
        ("Sign in", login),
        (
            "Accounts",
            f'curl -s -H "Authorization: Bearer $TOKEN" '
            f"'{base}/api/v1/objects/account/records?filter[tier]=A"
            "&sort=-annual_revenue&limit=5'",
        ),
        (
            "Event",
            f'curl -s -H "Authorization: Bearer $TOKEN" '
            "-H 'Content-Type: application/cloudevents+json' -d "
            '\'{"specversion":"1.0","id":"demo-1","source":"urn:demo:plant-7",'
            '"type":"iot.device.fault","data":{"device_id":"CT-0042","code":"E42",'
            f'"severity":"major"}}}}\' {base}/api/v1/events',
        ),
        ("Log", f"curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/api/v1/events?limit=5'"),
        (
            "Types",
            f"curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/api/v1/event-types?domain=iot'",
        ),
        ("Metrics", f"{base}/metrics   (from this machine; elsewhere KINDRED_METRICS_TOKEN)"),
        (
            "Runs",
            f"curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/api/v1/scenario-runs?limit=5'"
            f"   (the chains act as {AUTOMATION_EMAIL}, a service principal; docs/security.md)",
        ),
        *(
            [
                (
                    "Agent run",
                    f'curl -s -H "Authorization: Bearer $TOKEN" '
                    f"'{base}/api/v1/agent-runs/{reviewed[0]['id']}'   (its decision trace;"
                    " /otlp as OpenTelemetry spans, /verify proves it against the ledger)",
                ),
                (
                    "Tasks",
                    f"curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/api/v1/tasks'"
                    "   (approvals the agents wait for; POST /api/v1/tasks/<id>/decision)",
                ),
            ]
            if reviewed
            else []
        ),
        *(
            [
                (
                    "Consent",
                    f'curl -s -H "Authorization: Bearer $TOKEN" -H "X-Purpose: marketing" '
                    f"'{base}/api/v1/objects/contact/records/{consented[0]}'"
                    "   (its email and phone: the customer consented to marketing by admins;"
                    " drop the X-Purpose header and they are withheld, with the reason)",
                ),
                ("DID", f"{base}/api/v1/dids/{consented[1]}"),
            ]
            if consented
            else []
        ),
    ):
        console.print(
            f"  {label:<9} {value}", markup=False, highlight=False, emoji=False, soft_wrap=True
        )
    logins = Table(title=f"Demo logins (password: {DEMO_PASSWORD})")
    logins.add_column("email")
    logins.add_column("who")
    for email, who in DEMO_LOGINS:
        logins.add_row(email, who)
    console.print(logins)
    try:
        if serve:
            announce = f"[bold green]serving on {base}[/] — press Ctrl-C to stop"
            _serve(kindred, host, port, workers=1, announce=announce)
    finally:
        if not serve:
            kindred.close()
        _stop_processes(references)


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM ends the block with SystemExit (so the callers' ``finally`` and ``atexit``
    run), not with the default action. Why: uvicorn, once it has shut down, re-raises the
    signal it caught under the handler it found, and SIGTERM's default kills the process on
    the spot, which left the demo's reference systems running."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# The business systems the demo starts (unless their URL is set): module, setting, what for.
REFERENCE_SYSTEMS = (
    ("erp", "inventory_url", "ERP: warehouses, spot stock, reservations"),
    ("insurance", "insurance_url", "medical-insurance qualification registry"),
    ("contracts", "contracts_url", "contract and payment-history system"),
    ("knowledge", "knowledge_url", "knowledge base: compatibility reports, manuals"),
)


def _stop_processes(processes: list[Any]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except Exception:
                process.kill()


def _start_reference_systems(settings: Any) -> list[Any]:
    """The reference business systems, each a separate process with its own database,
    reached over HTTP (the scenario connectors and the agents' tools call them)."""
    import os
    import subprocess
    import sys
    import threading
    from pathlib import Path

    from kindred.reference import PARENT_VARIABLE

    folder = settings.sqlite_path.parent if settings.sqlite_path else Path("var")
    folder.mkdir(parents=True, exist_ok=True)
    started = []
    for module, attribute, label in REFERENCE_SYSTEMS:
        if getattr(settings, attribute):
            continue
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                f"kindred.reference.{module}",
                "--db",
                str(folder / f"reference-{module}.db"),
                "--port",
                "0",
                "--seed-demo",
            ],
            stdout=subprocess.PIPE,
            text=True,
            # It stops by itself if the demo dies without stopping it (SIGKILL).
            env={**os.environ, PARENT_VARIABLE: str(os.getpid())},
        )
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening on "):
            process.terminate()
            error_console.print(f"the reference {module} did not start ({line!r}); skipped")
            continue
        setattr(settings, attribute, line.removeprefix("listening on "))
        # Keep reading its output so a full pipe can never stall the service.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        console.print(f"reference {label}: {getattr(settings, attribute)}")
        started.append(process)
    return started


def _demo_agents(kindred: Kindred) -> list[dict[str, Any]]:
    """The article's case: purchase intents of demo hospitals reviewed by the compliance,
    inventory and service agents in parallel, one joined recommendation each."""
    import time

    from kindred.agents.demo import CASES, golden_cases, seed_case
    from kindred.agents.evaluation import evaluate
    from kindred.agents.runtime import runtime_for
    from kindred.reference.hospitals import BY_CREDIT_CODE

    settings = kindred.settings
    if not all(getattr(settings, attribute) for _, attribute, _ in REFERENCE_SYSTEMS):
        error_console.print("agents demo skipped: the reference systems are not all running")
        return []
    automation = _automation_principal(kindred)
    with kindred.database.write() as session:
        kindred.agents.install_examples(session, run_as=automation)
        acting = kindred.auth.acting_principal(session, automation)
        intents = seed_case(session, kindred.records)
        for case in golden_cases(intents):
            kindred.agents.add_case(
                session,
                "purchase_intent_review",
                case["name"],
                case["inputs"],
                case["expected"],
                None,
            )
    report: dict[str, Any] = {}

    async def review() -> list[dict[str, Any]]:
        runtime = runtime_for(kindred)
        results = []
        try:
            for case in CASES:
                started = time.perf_counter()
                summary = await runtime.start(
                    "purchase_intent_review",
                    {"purchase_intent": intents[case.key]},
                    trigger={"kind": "manual", "by": "kindred demo"},
                )
                summary["ms"] = (time.perf_counter() - started) * 1000
                summary["case"] = case
                results.append(summary)
            # Consistency: every golden case three times (evaluation runs, not live ones).
            report.update(
                await evaluate(
                    runtime,
                    "purchase_intent_review",
                    k=3,
                    versions=None,
                    principal=acting,
                )
            )
        finally:
            kindred.extras.pop("agent_runtime", None)
            await runtime.aclose()
        return results

    results = asyncio.run(review())
    table = Table(
        title="Purchase intents reviewed by three agents (compliance ∥ inventory ∥ service)"
    )
    for column in ("hospital", "product × qty", "recommendation", "why", "ms"):
        table.add_column(column)
    for result in results:
        case = result["case"]
        outputs = result.get("outputs") or {}
        action = outputs.get("action") or result["status"]
        why = outputs.get("reason") or result.get("error") or ""
        if result["status"] == "waiting":
            action, why = "waiting for approval", f"task {result['waiting_for'][0]}"
        table.add_row(
            BY_CREDIT_CODE[case.credit_code].name,
            f"{case.sku} × {case.quantity}",
            action,
            why,
            f"{result['ms']:.0f}",
        )
    console.print(table)
    with kindred.database.read() as session:
        metrics = kindred.agents.metrics(session, None)
    console.print(
        f"golden cases: pass^{report['k']} = {report['pass_k']:.0%} over {report['runs']} runs, "
        f"deviation rate {report['deviation_rate']:.1%} (target < 5%); live runs "
        f"{metrics['runs']}, human intervention rate {metrics['intervention_rate']:.0%} "
        "(one case of eight is designed to need an approval; target over real runs < 8%)"
    )
    return results


def _demo_consent(kindred: Kindred) -> tuple[str, str] | None:
    """One demo customer consents (signed with their custodial key) to admins using their
    email and phone for marketing: the consent-checked read the demo points at."""

    from kindred.errors import NotFound
    from kindred.sovereignty.credentials import Grantee

    with kindred.database.write() as session:
        contact = session.execute(
            sa.text("SELECT id FROM records WHERE object = 'contact' ORDER BY id LIMIT 1")
        ).scalar()
        if contact is None:
            return None
        try:
            identity = kindred.identities.of_subject(session, "contact", contact)
        except NotFound:  # demo data loaded before identities existed
            identity = kindred.identities.register(session, "contact", contact)
        if not any(c.state == "active" for c in kindred.consents.of(session, identity.did)):
            kindred.consents.grant(
                session,
                identity.did,
                dimensions=["contact.email", "contact.phone"],
                purpose="marketing",
                grantee=Grantee("role", "admin"),
                valid_until=dt.datetime.now(dt.UTC) + dt.timedelta(days=365),
            )
        return str(contact), identity.did


def _demo_scenarios(kindred: Kindred) -> None:
    """Install the article's chains, send the events that set them off, run them and show
    what they did (contract expiries come from a scheduler sweep, as in the server)."""
    automation = _automation_principal(kindred)
    with kindred.database.write() as session:
        installed = kindred.scenarios.install_examples(session, run_as=automation)
        asset = session.execute(
            sa.text(
                "SELECT r.id, json_extract(r.data, '$.serial_number') FROM records r "
                "WHERE r.object = 'asset' ORDER BY r.id LIMIT 1"
            )
            if kindred.database.dialect == "sqlite"
            else sa.text(
                "SELECT r.id, r.data->>'serial_number' FROM records r "
                "WHERE r.object = 'asset' ORDER BY r.id LIMIT 1"
            )
        ).first()
        account = session.execute(
            sa.text("SELECT id FROM records WHERE object = 'account' ORDER BY id LIMIT 1")
        ).scalar()
    # New event ids on every demo start: the chains fire each time (the bus drops an event
    # id it has seen).
    stamp = int(time.time())
    events: list[dict[str, Any]] = [
        {
            "specversion": "1.0",
            "id": f"demo-shortage-{stamp}",
            "source": "urn:demo:erp",
            "type": "inventory.stock.shortage",
            "data": {"sku": "CT-TUBE-01", "region": "East China", "available": 3, "threshold": 10},
        }
    ]
    if asset is not None:
        events.append(
            {
                "specversion": "1.0",
                "id": f"demo-fault-{stamp}",
                "source": "urn:demo:plant-7",
                "type": "iot.device.fault",
                "data": {"device_id": asset[1], "code": "E42", "severity": "critical"},
            }
        )
    if account is not None:
        events.append(
            {
                "specversion": "1.0",
                "id": f"demo-mention-{stamp}",
                "source": "urn:demo:weibo",
                "type": "social.mention.created",
                "data": {
                    "platform": "weibo",
                    "mention_id": f"demo-mention-{stamp}",
                    "author": "患者家属",
                    "text": "设备故障两天了还没人来修",
                    "sentiment": -0.8,
                    "account_id": account,
                },
            }
        )

    names = ", ".join(installed) if installed else "already installed"
    console.print(f"scenarios: the article's 4 chains are enabled ({names}); firing them …")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    asyncio.run(_fire_demo_chains(kindred, events))
    _print_scenario_runs(kindred, since)


async def _fire_demo_chains(kindred: Kindred, events: list[dict[str, Any]]) -> None:
    """Send the demo events and run the scenario engine (and one scheduler sweep, which
    finds the expiring contracts) until the runs they start have settled, or 30 s."""
    from kindred.events.runtime import EventRuntime, RuntimeJobs
    from kindred.scenarios.models import ScenarioRun

    runtime = EventRuntime(kindred, RuntimeJobs(consumers=("scenarios",)))
    await runtime.start()
    try:
        await kindred.events.ingest(events, channel="demo")
        await runtime.run_scheduler_once()
        deadline = time.monotonic() + 30
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            with kindred.database.read() as session:
                busy = session.execute(
                    sa.select(sa.func.count())
                    .select_from(ScenarioRun)
                    .where(ScenarioRun.status.in_(("pending", "running")))
                ).scalar_one()
            now = time.monotonic()
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= 1.0:  # chained events have had time to start theirs
                return
            await asyncio.sleep(0.1)
        console.print("[yellow]some scenario runs are still in progress after 30 s[/]")
    finally:
        await runtime.stop()


def _print_scenario_runs(kindred: Kindred, since: dt.datetime) -> None:
    """The runs the demo's events started: what fired, on which event, and what each step
    did (the run history: GET /api/v1/scenario-runs)."""
    from kindred.scenarios.models import ScenarioRun, ScenarioRunStep

    # Runs alike (same scenario, outcome and steps: the contract sweep's many renewals) are
    # one row with their count.
    rows: dict[tuple[str, str, str], int] = {}
    with kindred.database.read() as session:
        runs = session.execute(
            sa.select(ScenarioRun.id, ScenarioRun.scenario, ScenarioRun.status)
            .where(ScenarioRun.started_at >= since)
            .order_by(ScenarioRun.started_at, ScenarioRun.id)
        ).all()
        steps: dict[str, list[str]] = {}
        for start in range(0, len(runs), 500):
            for run_id, name, status, error_code in session.execute(
                sa.select(
                    ScenarioRunStep.run_id,
                    ScenarioRunStep.step,
                    ScenarioRunStep.status,
                    ScenarioRunStep.error_code,
                )
                .where(ScenarioRunStep.run_id.in_([run.id for run in runs[start : start + 500]]))
                .order_by(ScenarioRunStep.started_at, ScenarioRunStep.step)
            ):
                mark = {"succeeded": "✓", "branch": "⤳", "skipped": "–"}.get(status, "✗")
                label = f"{name} {mark}"
                if error_code and mark == "✗":
                    label += f" ({error_code})"
                steps.setdefault(run_id, []).append(label)
    for run_id, scenario, status in runs:
        key = (scenario, status, ", ".join(steps.get(run_id, [])))
        rows[key] = rows.get(key, 0) + 1
    if not rows:
        console.print("no scenario runs were started; their history: GET /api/v1/scenario-runs")
        return
    table = Table(title="The article's chains, fired by the demo events (scenario runs)")
    table.add_column("scenario", no_wrap=True)
    table.add_column("runs", justify="right")
    table.add_column("status")
    table.add_column("steps (⤳ branch taken)")
    for (scenario, status, done), count in rows.items():
        table.add_row(scenario, str(count), status, done)
    console.print(table)
    console.print(f"{len(runs)} scenario runs; their history: GET /api/v1/scenario-runs")


def _serve(kindred: Kindred, host: str, port: int, workers: int, announce: str) -> None:
    """Serve until stopped; ``announce`` is printed once the socket accepts connections (one
    worker), so whoever acts on the line finds the server answering."""
    import threading

    import uvicorn

    from kindred.app import create_app

    if workers > 1:
        console.print(announce)
        uvicorn.run(
            "kindred.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
        return
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(kindred, bootstrap=False), host=host, port=port, log_level="warning"
        )
    )

    def announce_when_up() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.02)
        if server.started:
            console.print(announce)

    # The handler is in place before the line can be printed: whoever waits for it may
    # signal at once. A start-up failure (the port taken, say) is logged by uvicorn, which
    # exits 3.
    with _terminate_as_exit():
        threading.Thread(target=announce_when_up, name="kindred-announce", daemon=True).start()
        server.run()


@app.command()
@report_errors
def serve(
    host: str = typer.Option(None, help="Interface (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8000)."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
) -> None:
    """Serve the HTTP API (migrates first)."""
    settings = get_settings()
    kindred = Kindred.create(settings)
    kindred.bootstrap()
    host = host or settings.host
    port = port or settings.port
    _serve(kindred, host, port, workers, f"serving on http://{host}:{port} (docs at /docs)")


@users_app.command("create")
@report_errors
def users_create(
    email: str = typer.Option(..., help="Sign-in email."),
    name: str = typer.Option(..., help="Display name."),
    role: list[str] = typer.Option(["sales"], "--role", "-r", help="Role (repeatable)."),
    territory: list[str] = typer.Option([], "--territory", "-t", help="Territory id (repeatable)."),
    password: str = typer.Option(
        None,
        help="Password (prompted when omitted).",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
    ),
) -> None:
    """Create a user."""
    with _services() as kindred:
        with kindred.database.write() as session:
            user = kindred.auth.create_user(
                session,
                email=email,
                name=name,
                password=password,
                roles=role,
                territories=territory,
            )
        console.print(f"[green]created user[/] {user['email']} ({user['id']})")


@keys_app.command("create")
@report_errors
def keys_create(
    email: str = typer.Option(..., help="The user the key acts as."),
    name: str = typer.Option(..., help="What the key is for."),
) -> None:
    """Create an API key; it is printed once."""
    with _services() as kindred:
        with kindred.database.write() as session:
            user_id = kindred.auth.find_user_id(session, email)
            if user_id is None:
                error_console.print(f"[bold red]error:[/] no user with email {email}")
                raise typer.Exit(1)
            row, plaintext = kindred.auth.create_api_key(session, user_id, name)
        console.print(f"API key [bold]{row.name}[/] ({row.id}):")
        console.print(plaintext, highlight=False, soft_wrap=True)


def _context_as(kindred: Kindred, email: str | None) -> Any:
    """Act as a user (their permissions apply) or, without --as, as the system."""
    from kindred.auth.permissions import SYSTEM_PRINCIPAL
    from kindred.records.service import RequestContext

    if email is None:
        return RequestContext(SYSTEM_PRINCIPAL, request_id="cli")
    with kindred.database.read() as session:
        user_id = kindred.auth.find_user_id(session, email)
        if user_id is None:
            error_console.print(f"[bold red]error:[/] no user with email {email}")
            raise typer.Exit(1)
        return RequestContext(kindred.auth.load_principal(session, user_id), request_id="cli")


@app.command("import")
@report_errors
def import_csv(
    object_name: str = typer.Argument(..., help="Object to import into, e.g. contact."),
    path: str = typer.Argument(..., help="CSV file (UTF-8, header row)."),
    preset: str = typer.Option(
        None,
        help="Column preset: hubspot-contacts, hubspot-companies, "
        "salesforce-contacts, salesforce-accounts.",
    ),
    map_: list[str] = typer.Option([], "--map", "-m", help="'CSV column=field' (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate everything, write nothing."),
    skip_bad_rows: bool = typer.Option(
        False,
        "--skip-bad-rows",
        help="Import the good rows and report the bad ones (default: all or nothing).",
    ),
    upsert_on: str = typer.Option(None, help="Update records matching this unique field."),
    as_user: str = typer.Option(None, "--as", help="Import with this user's permissions."),
    errors_out: str = typer.Option(None, help="Write the per-row error report to this CSV."),
) -> None:
    """Import records from CSV with column mapping, presets, dry run and an error report."""
    from pathlib import Path

    from kindred.records.transfer import Importer, read_text, write_error_report

    source = Path(path)
    if not source.is_file():
        error_console.print(f"[bold red]error:[/] no such file: {path}")
        raise typer.Exit(2)
    mapping: dict[str, str] = {}
    for item in map_:
        column, separator, target = item.partition("=")
        if not separator or not column or not target:
            error_console.print(f"[bold red]error:[/] --map takes 'CSV column=field', got {item!r}")
            raise typer.Exit(2)
        mapping[column] = target.strip()
    with _services() as kindred:
        context = _context_as(kindred, as_user)
        with source.open("rb") as handle:
            total_rows = max(sum(1 for _ in handle) - 1, 0)
        importer = Importer(kindred.records)
        started = time.perf_counter()
        session_factory = kindred.database.write
        with _progress() as progress, read_text(source) as stream:
            task = progress.add_task(f"import {object_name}", total=total_rows)
            try:
                with session_factory() as session:
                    report = importer.run(
                        session,
                        context,
                        object_name,
                        stream,
                        preset=preset,
                        mapping=mapping,
                        mode="skip_bad_rows" if skip_bad_rows else "all_or_nothing",
                        upsert_on=upsert_on,
                        progress=lambda n: progress.advance(task, n),
                    )
                    if dry_run or not report.committed:
                        raise _Rollback(report)
            except _Rollback as rollback:
                report = rollback.report
                report.committed = False
        report.dry_run = dry_run
        if report.committed and report.created + report.updated >= 10_000:
            kindred.database.checkpoint()
        elapsed = time.perf_counter() - started
        if errors_out:
            write_error_report(report, Path(errors_out))
        for error in report.errors[:20]:
            error_console.print(
                f"  line {error.line} {error.column or error.field}: {error.message}"
            )
        if len(report.errors) > 20:
            error_console.print(f"  … {len(report.errors) - 20} more (use --errors-out FILE)")
        verb = (
            "would import" if dry_run else ("imported" if report.committed else "imported nothing")
        )
        console.print(
            f"{verb}: {report.created:,} created, {report.updated:,} updated, "
            f"{report.skipped:,} skipped of {report.rows:,} rows in {elapsed:.1f}s "
            f"({report.rows / max(elapsed, 1e-9):,.0f} rows/s)"
        )
        if report.errors and not skip_bad_rows:
            error_console.print(
                "[bold red]error:[/] the file has invalid rows; nothing was written "
                "(fix them, or use --skip-bad-rows)"
            )
            raise typer.Exit(2)
        if dry_run and report.errors:
            raise typer.Exit(2)


class _Rollback(Exception):
    def __init__(self, report: Any) -> None:
        super().__init__("rollback")
        self.report = report


@app.command("export")
@report_errors
def export(
    object_name: str = typer.Argument(..., help="Object to export, e.g. account."),
    format_: str = typer.Option("csv", "--format", "-f", help="csv or jsonl."),
    out: str = typer.Option(None, "--out", "-o", help="Output file (default: standard output)."),
    where: str = typer.Option(None, help="CEL filter, e.g. \"record.tier == 'A'\"."),
    as_user: str = typer.Option(None, "--as", help="Export with this user's permissions."),
    purpose: str = typer.Option(
        None,
        "--purpose",
        help="Declared purpose (e.g. bulk-export): customer-authorized values are exported "
        "only under the customer's consent for it, and withheld otherwise.",
    ),
) -> None:
    """Export records as CSV or JSON Lines; field permissions, visibility and consents apply."""
    import sys

    from kindred.records.transfer import export_records

    if format_ not in ("csv", "jsonl"):
        error_console.print(f"[bold red]error:[/] --format must be csv or jsonl, not {format_!r}")
        raise typer.Exit(2)
    with _services() as kindred:
        context = dataclasses.replace(
            _context_as(kindred, as_user), purpose=purpose, channel="export"
        )
        withheld: list[int] = []
        handle = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout  # noqa: SIM115
        try:
            with kindred.database.read() as session:
                count = export_records(
                    kindred.records,
                    session,
                    context,
                    object_name,
                    handle,
                    format=format_,  # type: ignore[arg-type]
                    where=where,
                    on_withheld=withheld.append,
                )
        finally:
            if out:
                handle.close()
        if out:
            console.print(f"exported {count:,} {object_name} records to {out}")
        if withheld:
            # On stderr: stdout may be the export itself.
            error_console.print(
                f"{sum(withheld):,} customer-authorized values were withheld (no valid consent "
                f"for purpose {purpose or '(none declared: use --purpose)'})"
            )
