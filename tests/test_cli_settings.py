"""Bad settings stop every command before it does anything: one readable line per problem,
naming the variable, exit code 2, no traceback, and never the secret's value."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kindred.cli import app
from kindred.cli import commands as _commands  # noqa: F401  (registers the commands)
from kindred.config import get_settings


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()  # the next test reads its own environment


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "KINDRED_OTLP_TRACES_HEADERS",
            "Authorization Bearer topsecret",
            "KINDRED_OTLP_TRACES_HEADERS entry 1 has no '='",
        ),
        ("KINDRED_PORT", "99999", "KINDRED_PORT: Input should be less than or equal to 65535"),
        ("KINDRED_MODE", "production", "KINDRED_SECRET_KEY must be set"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2_and_nothing_happens(
    fresh_settings: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str,
    value: str,
    message: str,
) -> None:
    database = tmp_path / "kindred.db"
    monkeypatch.setenv("KINDRED_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())  # rich wraps long lines
    assert f"error: {message}" in output
    assert "Traceback" not in output and "topsecret" not in output
    assert not database.exists()  # the command never ran


def test_help_is_shown_even_when_a_setting_is_bad(tmp_path: Path) -> None:
    shown = subprocess.run(
        [str(Path(sys.executable).with_name("kindred")), "migrate", "--help"],
        env={**os.environ, "KINDRED_PORT": "99999"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "Usage: kindred migrate" in shown.stdout
