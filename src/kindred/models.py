"""Imports every domain's tables so the shared metadata (and Alembic) sees all of them."""

from kindred.agents import models as agents_models
from kindred.auth import models as auth_models
from kindred.events import models as events_models
from kindred.graph import resolution_models, search_models
from kindred.ledger import models as ledger_models
from kindred.records import models as records_models
from kindred.records.import_jobs import models as import_jobs_models
from kindred.records.views import models as saved_views_models
from kindred.scenarios import models as scenarios_models
from kindred.sovereignty import lookup_models
from kindred.sovereignty import models as sovereignty_models

__all__ = [
    "agents_models",
    "auth_models",
    "events_models",
    "import_jobs_models",
    "ledger_models",
    "lookup_models",
    "records_models",
    "resolution_models",
    "saved_views_models",
    "scenarios_models",
    "search_models",
    "sovereignty_models",
]
