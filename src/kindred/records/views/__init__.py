"""Saved list views: a user's named filters, sort and columns for one object, private or
shared with one of their roles (the console's records workspace)."""

from kindred.records.views.models import SavedView
from kindred.records.views.service import (
    create_view,
    delete_view,
    get_view,
    list_views,
    update_view,
)

__all__ = ["SavedView", "create_view", "delete_view", "get_view", "list_views", "update_view"]
