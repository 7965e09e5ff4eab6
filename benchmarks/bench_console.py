"""Console performance budgets (issue 17, item 10), measured on the built console (`web/dist`)
served by a real ``kindred serve`` over a seeded database, in Debian's Chromium.

    .venv/bin/python benchmarks/bench_console.py                     # 100k customers
    .venv/bin/python benchmarks/bench_console.py --customers 2000 --repeat 5 --skip-lighthouse

Budgets and how each is measured:

1. **Initial JavaScript ≤ 350 KB gzipped**: the scripts `web/dist/index.html` loads before any
   route runs (the entry module and every `modulepreload`), each gzipped at level 6 (what a
   web server sends); route chunks load on first visit and are listed apart.
2. **Lighthouse** (npm `lighthouse` in `benchmarks/console/`, its own lockfile, installed
   with `npm ci` on first run) on the records list and the scenario builder, signed in, desktop
   preset (a staff console on a desktop; the mobile preset's simulated slow-4G/4×-CPU
   throttling is not what the budget is about): performance ≥ 90, accessibility ≥ 95.
3. **Records list first page < 300 ms after navigation** over the seeded database
   (100,000 customers by default ≈ 690,000 records): a fresh page load on another area
   (no cached query), then a click on "Records"; `performance.mark` at the click and when the
   list's first row is in the DOM (a MutationObserver in the page), `performance.measure`
   between them. Repeated ``--repeat`` times; p50, p95 and max reported.
4. **Builder live validation < 100 ms per keystroke burst**: in the scenario builder's CEL
   editor, bursts of typing (a whole condition typed at 20 ms per key); for each
   ``POST /api/v1/scenarios/validate`` the builder sends, the time from the request leaving
   the page to its answer (Chromium's resource timing), i.e. what the user waits for once the
   builder's debounce fires. The debounce itself (the pause the builder waits for before
   asking) is reported apart, not counted.

The database is seeded once per ``--customers`` and kept in ``var/bench-console/``. Prints a
table and ends with one JSON line of every figure. Not part of the test run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIST = Path(os.environ.get("KINDRED_CONSOLE_DIR") or ROOT / "web" / "dist")
LIGHTHOUSE_DIR = Path(__file__).resolve().parent / "console"
KINDRED = str(Path(sys.executable).with_name("kindred"))
BUDGETS = {
    "initial_js_kb_gzip": 350,
    "lighthouse_performance": 90,
    "lighthouse_accessibility": 95,
    "list_first_page_ms": 300,
    "validation_ms": 100,
}
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# -- 1. bundle ---------------------------------------------------------------------------


def gzipped_kb(path: Path) -> float:
    return len(gzip.compress(path.read_bytes(), compresslevel=6)) / 1024


def bundle_sizes() -> dict[str, Any]:
    index = (DIST / "index.html").read_text(encoding="utf-8")
    entry = re.findall(r'<script[^>]+src="/?([^"]+\.js)"', index)
    preloads = re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="/?([^"]+\.js)"', index)
    initial = sorted(set(entry + preloads))
    initial_kb = sum(gzipped_kb(DIST / name) for name in initial)
    chunks = sorted(
        (p for p in (DIST / "assets").glob("*.js") if f"assets/{p.name}" not in initial),
        key=lambda p: -p.stat().st_size,
    )
    return {
        "initial_js_files": initial,
        "initial_js_kb_gzip": round(initial_kb, 1),
        "route_chunks": len(chunks),
        "largest_route_chunks_kb_gzip": {p.name: round(gzipped_kb(p), 1) for p in chunks[:5]},
        "css_kb_gzip": round(sum(gzipped_kb(p) for p in (DIST / "assets").glob("*.css")), 1),
    }


# -- server ------------------------------------------------------------------------------


def seeded_database(customers: int) -> Path:
    folder = ROOT / "var" / "bench-console" / f"{customers}"
    database = folder / "kindred.db"
    if (folder / "ready").exists():
        print(f"[setup] reusing {database}", flush=True)
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sys.path.insert(0, str(ROOT))
    from tests.live_server import prepare_database

    started = time.perf_counter()
    print(f"[setup] seeding {customers:,} customers into {database} …", flush=True)
    prepare_database(f"sqlite:///{database}", customers)
    (folder / "ready").write_text("ok")
    print(f"[setup] seeded in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


@contextmanager
def served(folder: Path) -> Iterator[str]:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import TEST_SECRET, make_test_settings
    from tests.live_server import free_port

    url = f"sqlite:///{folder / 'kindred.db'}"
    settings = make_test_settings(url)
    port = free_port()
    environment = {
        **os.environ,
        "KINDRED_MODE": "test",
        "KINDRED_DATABASE_URL": url,
        "KINDRED_SECRET_KEY": TEST_SECRET,
        "KINDRED_PASSWORD_TIME_COST": str(settings.password_time_cost),
        "KINDRED_PASSWORD_MEMORY_KIB": str(settings.password_memory_kib),
        "KINDRED_RUN_CONSUMERS": "false",
        "KINDRED_SCHEDULER_ENABLED": "false",
        "KINDRED_ACCESS_LOG": "false",
    }
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [KINDRED, "serve", "--port", str(port)], cwd=folder, env=environment, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                if process.poll() is not None:
                    raise SystemExit(f"the server stopped; see {folder / 'server.log'}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# -- 2. Lighthouse -----------------------------------------------------------------------


def lighthouse(base: str, email: str, password: str, paths: list[str]) -> list[dict[str, Any]]:
    if not (LIGHTHOUSE_DIR / "node_modules" / "lighthouse").is_dir():
        print("[lighthouse] npm ci in benchmarks/console …", flush=True)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=LIGHTHOUSE_DIR,
            check=True,
        )
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    answer = subprocess.run(
        ["node", "lighthouse.mjs", base, email, password, *paths],
        cwd=LIGHTHOUSE_DIR,
        env={**os.environ, "CHROMIUM": chromium},
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        raise SystemExit(f"lighthouse failed:\n{answer.stderr[-3000:]}")
    return [json.loads(line) for line in answer.stdout.splitlines() if line.startswith("{")]


# -- 3 and 4. timings in the browser -----------------------------------------------------

FIRST_ROW_OBSERVER = """() => {
  performance.clearMarks(); performance.clearMeasures();
  window.__firstRow = new Promise((resolve) => {
    const seen = () => {
      const row = document.querySelector('main table tbody tr a');
      if (row) { performance.mark('records:first-row'); observer.disconnect(); resolve(); }
    };
    const observer = new MutationObserver(seen);
    observer.observe(document.body, { childList: true, subtree: true });
  });
}"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 1),
        "p95": round(percentile(values, 0.95), 1),
        "max": round(max(values), 1),
    }


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").wait_for()


def list_timings(page: Any, base: str, repeat: int) -> list[float]:
    timings: list[float] = []
    for _ in range(repeat):
        # A fresh document (reload: the session comes back from the cookie, the query cache
        # is empty) on another area, then the click on Records.
        page.goto(f"{base}/tasks")
        nav = page.get_by_role("navigation", name="Main")
        nav.wait_for()
        page.wait_for_load_state("networkidle")
        page.evaluate(FIRST_ROW_OBSERVER)
        page.evaluate("() => performance.mark('records:click')")
        nav.get_by_role("link", name="Records").click()
        page.evaluate("() => window.__firstRow")
        elapsed = page.evaluate(
            "() => performance.measure('records:first-page', 'records:click', "
            "'records:first-row').duration"
        )
        timings.append(float(elapsed))
    return timings


def validation_timings(page: Any, base: str, bursts: int) -> dict[str, Any]:
    """Type CEL bursts into the builder's condition editor; time each validate call."""
    requests: list[Any] = []
    page.on(
        "requestfinished",
        lambda request: requests.append(request) if "/scenarios/validate" in request.url else None,
    )
    page.goto(f"{base}/scenarios/new")
    # A condition, switched to CEL: its editor (CodeMirror, in a shadow root Playwright
    # pierces) is where the builder validates as the user types.
    page.get_by_role("button", name="Add a condition").click()
    page.get_by_role("button", name="Edit as CEL").first.click()
    editor = page.get_by_role("textbox", name="Condition 1 (CEL)")
    editor.wait_for(timeout=15_000)
    condition = 'event.data.severity in ["major", "critical"] && event.data.code != "E0"'
    gaps: list[float] = []
    for _ in range(bursts):
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.press("Delete")
        before = len(requests)
        typed_at = time.perf_counter()
        page.keyboard.type(condition, delay=20)
        finished = time.perf_counter()
        deadline = time.time() + 10
        while len(requests) == before and time.time() < deadline:
            page.wait_for_timeout(20)
        if len(requests) > before:
            gaps.append((time.perf_counter() - finished) * 1000)
        del typed_at
    answers = []
    for request in requests:
        timing = request.timing
        if timing["responseEnd"] > 0:
            answers.append(timing["responseEnd"] - max(timing["requestStart"], 0))
    return {"answers_ms": answers, "requests": len(requests), "after_burst_ms": gaps}


def browser_timings(base: str, email: str, password: str, repeat: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sign_in(page, base, email, password)
        lists = list_timings(page, base, repeat)
        validation = validation_timings(page, base, max(3, repeat // 2))
        browser.close()
    return {"list_first_page_ms": lists, "validation": validation}


# -- report ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--email", default="sales.east@kindred.demo")
    parser.add_argument("--skip-lighthouse", action="store_true")
    arguments = parser.parse_args()
    if not (DIST / "index.html").is_file():
        raise SystemExit("web/dist is not built: run `bash scripts/setup` (or `npm run build`)")
    sys.path.insert(0, str(ROOT))
    from kindred.cli.commands import DEMO_PASSWORD

    result: dict[str, Any] = {"customers": arguments.customers, "budgets": BUDGETS}
    result["bundle"] = bundle_sizes()
    print(f"[bundle] {result['bundle']}", flush=True)
    folder = seeded_database(arguments.customers)
    with served(folder) as base:
        if not arguments.skip_lighthouse:
            result["lighthouse"] = lighthouse(
                base, "admin@kindred.demo", DEMO_PASSWORD, ["/records/account", "/scenarios/new"]
            )
            for row in result["lighthouse"]:
                print(f"[lighthouse] {row}", flush=True)
        timings = browser_timings(base, arguments.email, DEMO_PASSWORD, arguments.repeat)
    lists = spread(timings["list_first_page_ms"])
    validation = timings["validation"]
    answers = spread(validation["answers_ms"])
    result["list_first_page_ms"] = lists
    result["validation_ms"] = answers
    result["validation_requests"] = validation["requests"]
    result["validation_after_burst_ms"] = spread(validation["after_burst_ms"])

    rows = [
        ("initial JS (gzip)", f"{result['bundle']['initial_js_kb_gzip']} KB", "≤ 350 KB"),
        (
            "records list first page p50/p95",
            f"{lists.get('p50')} / {lists.get('p95')} ms",
            "< 300 ms",
        ),
        (
            "live validation answer p50/p95",
            f"{answers.get('p50')} / {answers.get('p95')} ms",
            "< 100 ms",
        ),
    ]
    for row in result.get("lighthouse", []):
        rows.append(
            (
                f"Lighthouse {row['path']}",
                f"perf {row['performance']}, a11y {row['accessibility']}",
                "≥ 90, ≥ 95",
            )
        )
    print()
    print(f"{'budget':<40}{'measured':<30}{'target'}")
    for name, measured, target in rows:
        print(f"{name:<40}{measured:<30}{target}")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
