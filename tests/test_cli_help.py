"""`kindred --help` and `kindred <command> --help` load the command line only: no database
layer, web framework, settings or services (they took seconds to import before help showed).
Checked by what the interpreter has imported, not by a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Modules that cost most of the start-up; none is needed to print help. (pydantic is not
# among them: Typer itself coerces a command's parameters with it.)
HEAVY = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic_settings",
    "jsonschema",
    "httpx",
    "psycopg",
    "nats",
    "cryptography",
    "kindred.config",
    "kindred.services",
    "kindred.app",
    "kindred.records",
    "kindred.events.bus",
)
PROBE = """
import json, os, sys
sys.argv = ["kindred", *sys.argv[1:]]
from kindred.cli import main
try:
    main()
finally:
    with open(os.environ["MODULES_OUT"], "w") as out:
        json.dump(sorted(sys.modules), out)
"""
COMMANDS = [
    [],
    ["--help"],
    ["demo", "--help"],
    ["serve", "--help"],
    ["import", "--help"],
    ["export", "--help"],
    ["seed", "--help"],
    ["users", "create", "--help"],
    ["events", "--help"],
    ["events", "dead-letters", "list", "--help"],
    ["ledger", "verify", "--help"],
    ["worker", "--help"],
]


@pytest.mark.parametrize("arguments", COMMANDS, ids=lambda a: " ".join(a) or "(none)")
def test_help_imports_no_heavy_module(arguments: list[str], tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    environment = {**os.environ, "MODULES_OUT": str(out), "COLUMNS": "100"}
    # Settings that would not validate: help must not even read them.
    environment["KINDRED_DATABASE_URL"] = "nonsense://"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode in (0, 2), result.stderr  # 2: no arguments shows help too
    assert "Usage" in result.stdout + result.stderr
    loaded = set(json.loads(out.read_text()))
    assert "kindred.cli" in loaded  # the probe did run the command line
    heavy = sorted(m for m in HEAVY if m in loaded)
    assert heavy == [], f"`kindred {' '.join(arguments)}` imported {heavy}"
