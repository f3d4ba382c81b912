"""Django admin of jainam-prop, one small module per page family.

- ``dashboard``: the index page (instruments per exchange, last syncs, health), SVG ``charts``
- ``instruments``: the instrument master, read-only and fast on 150,000 rows (``filters``,
  ``paginator``)
- ``sync_runs``: the sync history and the operator's sync buttons (``run_display``)
- ``api_keys``: create (shown once) and revoke API keys; bounded user and group search

A face (see ARCHITECTURE.md): each page parses input, calls one service and renders.
"""

from django.contrib import admin

from jainam_prop.admin import api_keys, dashboard, instruments, sync_runs
from jainam_prop.admin.common import MAX_SEARCH_LENGTH
from jainam_prop.admin.instruments import (
    CheapCountPaginator,
    SymbolTokenAdmin,
    expiry_condition,
    instrument_search,
    stored_brokers,
)
from jainam_prop.admin.sync_runs import RUN_SYNC_PERMISSION, SyncRunAdmin

admin.site.site_header = "jainam-prop administration"
admin.site.site_title = "jainam-prop admin"
admin.site.index_title = "Dashboard"
# The lists are wide (instruments have ten columns): no sidebar of every model beside them.
admin.site.enable_nav_sidebar = False
dashboard.install(admin.site)

__all__ = [
    "MAX_SEARCH_LENGTH",
    "RUN_SYNC_PERMISSION",
    "CheapCountPaginator",
    "SymbolTokenAdmin",
    "SyncRunAdmin",
    "api_keys",
    "expiry_condition",
    "instrument_search",
    "instruments",
    "stored_brokers",
    "sync_runs",
]
