"""The composition root: builds every service for one settings object.

The API, the CLI and the tests all obtain services from here, so wiring (which hooks are
installed, which adapters are chosen by URL) is decided in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kindred.auth.service import AuthService
from kindred.config import Settings, get_settings
from kindred.db import Database
from kindred.db.migrate import upgrade
from kindred.records.metadata import MetadataService, RegistryCache
from kindred.records.service import RecordService


@dataclass
class Kindred:
    settings: Settings
    database: Database
    registry_cache: RegistryCache
    records: RecordService
    metadata: MetadataService
    auth: AuthService
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings | None = None, database_url: str | None = None) -> Kindred:
        settings = settings or get_settings()
        database = Database(database_url or settings.database_url)
        cache = RegistryCache()
        records = RecordService(cache)
        metadata = MetadataService(cache)
        auth = AuthService(settings, records)
        records.change_hooks.append(auth.on_record_change)
        return cls(settings, database, cache, records, metadata, auth)

    def bootstrap(self) -> None:
        """Bring the database to the current schema and install standard objects and roles.

        Idempotent: safe on every start-up and after every upgrade.
        """
        upgrade(self.database)
        with self.database.write() as session:
            self.metadata.install_standard_objects(session)
            self.auth.install_builtin_roles(session)
        self.registry_cache.invalidate()

    def close(self) -> None:
        self.database.dispose()
