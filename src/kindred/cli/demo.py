"""``kindred demo``: the embedded demo — demo data, the reference business systems, the
article's chains and agents run once, then the API served until Ctrl-C.

Heavy modules (SQLAlchemy, the services) are imported inside the functions: ``kindred
--help`` must not pay for them.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import typer
from rich.table import Table

from kindred.cli import app, console, error_console, report_errors

if TYPE_CHECKING:
    from kindred.services import Kindred

DEMO_PASSWORD = "kindred-demo-2026"
DEMO_LOGINS = (
    ("admin@kindred.demo", "admin"),
    ("sales.east@kindred.demo", "sales rep, East China"),
    ("service.east@kindred.demo", "service engineer, East China"),
    ("compliance@kindred.demo", "compliance officer"),
    ("analyst@kindred.demo", "analyst (no personal contact data)"),
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
    import sqlalchemy as sa

    from kindred.cli.common import seed_demo, serve_app
    from kindred.config import get_settings
    from kindred.services import Kindred

    settings = get_settings()
    # The public host (DIDs, emailed links) follows the address served unless it is set.
    settings = settings.serving_on(host or settings.host, port or settings.port)
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
        counts = seed_demo(kindred, customers, 42)
        console.print(f"[green]loaded {sum(counts.values()):,} records[/]")
    else:
        console.print(f"demo data present ({accounts:,} accounts); keeping it")
    _ensure_demo_logins(kindred)
    references = _start_reference_systems(settings)
    # Stopped however the demo ends (an error included), never left running behind it.
    atexit.register(_stop_processes, references)
    device = _demo_scenarios(kindred)
    consented = _demo_consent(kindred)
    reviewed = _demo_agents(kindred)
    host = host or settings.host
    port = port or settings.port
    base = f"http://{host}:{port}"
    console.print("\n[bold]Where to look[/] (each command works pasted into a shell, in order)")
    for label, value in where_to_look(
        base,
        device=device,
        agent_run=reviewed[0]["id"] if reviewed else None,
        consented=consented,
    ):
        console.print(
            f"  {label:<10}{value}", markup=False, highlight=False, emoji=False, soft_wrap=True
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
            serve_app(kindred, host, port, workers=1, announce=announce)
    finally:
        if not serve:
            kindred.close()
        _stop_processes(references)


AUTHORIZED = 'curl -s -H "Authorization: Bearer $TOKEN"'


def where_to_look(
    base: str,
    *,
    device: str | None,
    agent_run: str | None,
    consented: tuple[str, str] | None,
) -> list[tuple[str, str]]:
    """What the demo points at: (label, line). A line is a URL (with a note in parentheses)
    or a shell command that works pasted as it is, after the sign-in line (it sets $TOKEN);
    a command's note is a shell comment. URLs holding ``[`` or ``]`` are fetched with
    ``curl -g``: without it curl reads them as a glob."""
    login = (
        f"TOKEN=$(curl -s -d 'username=admin@kindred.demo&password={DEMO_PASSWORD}' "
        f"{base}/api/v1/auth/token | python3 -c 'import json,sys; "
        'print(json.load(sys.stdin)["access_token"])\')'
    )
    lines: list[tuple[str, str]] = [
        ("Console", f"{base}/   (sign in with a demo login below)"),
        ("API docs", f"{base}/docs"),
        ("OpenAPI", f"{base}/openapi.json"),
        ("Health", f"{base}/healthz"),
        ("Sign in", login),
        (
            "Accounts",
            f"{AUTHORIZED} -g '{base}/api/v1/objects/account/records?filter[tier]=A"
            "&sort=-annual_revenue&limit=5'   # tier-A accounts, biggest first",
        ),
    ]
    if device is not None:
        # A new event id on every paste: the bus drops an id it has seen. The body is single
        # quoted; the id leaves the quotes for $(date +%s) and goes back in.
        body = (
            '{"specversion":"1.0","id":"paste-\'"$(date +%s)"\'","source":"urn:demo:plant-7",'
            f'"type":"iot.device.fault","data":{{"device_id":{json.dumps(device)},"code":"E42",'
            '"severity":"major"}}'
        )
        lines += [
            (
                "Event",
                f"{AUTHORIZED} -H 'Content-Type: application/cloudevents+json' -d '{body}' "
                f"{base}/api/v1/events   # a fault on the seeded device {device}: the "
                "device-fault chain fires",
            ),
            (
                "Its run",
                f"{AUTHORIZED} '{base}/api/v1/scenario-runs?scenario=device-fault-service-chain"
                f"&key={quote(device)}&limit=1'   # what the event set off: a work order (ticket),"
                " a spare part reserved in the ERP, the service team told (newest run first)",
            ),
        ]
    lines += [
        ("Log", f"{AUTHORIZED} '{base}/api/v1/events?limit=5'   # the event log, newest first"),
        ("Types", f"{AUTHORIZED} '{base}/api/v1/event-types?domain=iot'   # the type catalog"),
        ("Metrics", f"{base}/metrics   (from this machine; elsewhere KINDRED_METRICS_TOKEN)"),
        (
            "Runs",
            f"{AUTHORIZED} '{base}/api/v1/scenario-runs?limit=5'"
            f"   # the chains act as {AUTOMATION_EMAIL}, a service principal; docs/security.md",
        ),
    ]
    if agent_run is not None:
        lines += [
            (
                "Agent run",
                f"{AUTHORIZED} '{base}/api/v1/agent-runs/{agent_run}'   # its decision trace;"
                " /otlp as OpenTelemetry spans, /verify proves it against the ledger",
            ),
            (
                "Tasks",
                f"{AUTHORIZED} '{base}/api/v1/tasks'"
                "   # approvals the agents wait for; POST /api/v1/tasks/<id>/decision",
            ),
        ]
    if consented is not None:
        lines += [
            (
                "Consent",
                f"{AUTHORIZED} -H 'X-Purpose: marketing' "
                f"'{base}/api/v1/objects/contact/records/{consented[0]}'"
                "   # its email and phone: the customer consented to marketing by admins;"
                " drop the X-Purpose header and they are withheld, with the reason",
            ),
            ("DID", f"{base}/api/v1/dids/{consented[1]}"),
        ]
    return lines


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
    from kindred.agents.demo_hospitals import BY_CREDIT_CODE
    from kindred.agents.evaluation import evaluate
    from kindred.agents.runtime import runtime_for

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
                case["systems"],
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
        f"({_waiting_share()} designed to need an approval; target over real runs < 8%)"
    )
    return results


def _demo_consent(kindred: Kindred) -> tuple[str, str] | None:
    """One demo customer consents (signed with their custodial key) to admins using their
    email and phone for marketing: the consent-checked read the demo points at."""
    import sqlalchemy as sa

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


def _demo_scenarios(kindred: Kindred) -> str | None:
    """Install the article's chains, send the events that set them off, run them and show
    what they did (contract expiries come from a scheduler sweep, as in the server).
    Returns the serial number of the device whose fault the demo reported (None without
    devices): the event example the demo prints names it, so that it fires the chain."""
    import sqlalchemy as sa

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
    settled = asyncio.run(_fire_demo_chains(kindred, events, since))
    _print_scenario_runs(kindred, since)
    if not settled:
        console.print(
            f"[yellow]some runs were still in progress after {SETTLE_SECONDS:.0f} s: shown as "
            "they stand; the server carries on with them (GET /api/v1/scenario-runs)[/]"
        )
    return str(asset[1]) if asset is not None and asset[1] else None


SETTLE_SECONDS = 120.0  # the longest the demo waits for its chains before showing them


async def _fire_demo_chains(
    kindred: Kindred, events: list[dict[str, Any]], since: dt.datetime
) -> bool:
    """Send the demo events and run the scenario engine (and one scheduler sweep, which
    finds the expiring contracts) until every run they started has ended; False when some
    were still going after SETTLE_SECONDS.

    "Ended" is read from positive signals, never from a quiet spell: the scenario consumer
    has taken in every event in the log (no lag: the demo's events, the sweep's and those
    its chains emitted all have their runs), and no run started since ``since`` is still
    running. A run the engine is stopped in the middle of is handed back at once (its
    lease released) for the server to resume."""
    from kindred.events.runtime import EventRuntime, RuntimeJobs

    runtime = EventRuntime(kindred, RuntimeJobs(consumers=("scenarios",)))
    await runtime.start()
    try:
        await kindred.events.ingest(events, channel="demo")
        await runtime.run_scheduler_once()
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline:
            if await _settled(kindred, since):
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await runtime.stop()


async def _settled(kindred: Kindred, since: dt.datetime) -> bool:
    """No run is going, the consumer has nothing left to take in, and no run started in
    between (a chained event taken in between would have started one)."""
    before = await asyncio.to_thread(_runs_since, kindred, since)
    lags = [g.lag for g in await kindred.events.bus.groups() if g.name == "scenarios"]
    after = await asyncio.to_thread(_runs_since, kindred, since)
    return lags == [0] and before == after and after[1] == 0


def _runs_since(kindred: Kindred, since: dt.datetime) -> tuple[int, int]:
    """(runs started since ``since``, how many of them are still running)."""
    import sqlalchemy as sa

    from kindred.scenarios.models import ScenarioRun

    with kindred.database.read() as session:
        total, running = session.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(ScenarioRun.status == "running"),
            ).where(ScenarioRun.started_at >= since)
        ).one()
    return int(total), int(running)


def _print_scenario_runs(kindred: Kindred, since: dt.datetime) -> None:
    """The runs the demo's events started: what fired, on which event, and what each step
    did (the run history: GET /api/v1/scenario-runs)."""
    import sqlalchemy as sa

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


def _waiting_share() -> str:
    """How many demo cases wait for an approval by design, in words ("one case of nine")."""
    from kindred.agents.demo import CASES

    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    waiting = sum(case.expected == "waiting" for case in CASES)

    def spell(number: int) -> str:
        return words[number] if number < len(words) else str(number)

    cases = "case" if waiting == 1 else "cases"
    verb = "is" if waiting == 1 else "are"
    return f"{spell(waiting)} {cases} of {spell(len(CASES))} {verb}"
