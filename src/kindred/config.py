"""One typed settings object for the whole process.

Settings come from ``KINDRED_*`` environment variables (and an optional ``.env`` file). Adapters
are chosen by URL, so the same code runs embedded (SQLite) or at scale (PostgreSQL) without a
code change.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A well-known development secret: fine on a laptop, refused anywhere else (see validator).
DEVELOPMENT_SECRET = "kindred-local-development-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KINDRED_", env_file=".env", extra="ignore")

    mode: Literal["local", "test", "production"] = "local"
    database_url: str = "sqlite:///var/kindred.db"
    secret_key: str = DEVELOPMENT_SECRET
    access_token_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Requests larger than this are refused before parsing (bytes).
    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Idempotency keys are honoured for this long (seconds).
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # Argon2id cost. The defaults are RFC 9106's second recommended option; the test suite
    # lowers them because it creates hundreds of users.
    password_time_cost: int = Field(default=3, ge=1, le=20)
    password_memory_kib: int = Field(default=65536, ge=64, le=4 * 1024 * 1024)
    # Sign a ledger checkpoint this often while serving (0 turns it off).
    ledger_checkpoint_seconds: int = Field(default=300, ge=0)
    page_size_default: int = Field(default=50, ge=1, le=1000)
    page_size_max: int = Field(default=500, ge=1, le=10000)

    @model_validator(mode="after")
    def _refuse_default_secret_outside_local(self) -> Settings:
        # Why: a production deployment signing JWTs with a published secret lets anyone mint
        # admin tokens. Failing at start-up is kinder than failing at the first breach.
        if self.mode == "production" and (
            self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "KINDRED_SECRET_KEY must be set to a random value of at least 32 characters "
                "when KINDRED_MODE=production (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)."
            )
        return self

    @property
    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url[len(prefix) :])
        return None


@lru_cache
def get_settings() -> Settings:
    return Settings()
