"""Admin of the instrument master (``SymbolToken``): browse, search and filter 150,000 rows.

A face (see ARCHITECTURE.md): read-only here (only the sync writes instruments), and the live
token on an instrument's page comes from ``services.get_token_from_symbol``.

How it stays fast on the full master (the bench is ``bench/bench_admin.py``):

- No full-table counts (``CheapCountPaginator``).
- Search is one indexed predicate: a number is an exact token; anything else is a prefix of
  the symbol, of ``UPPER(brsymbol)`` or of ``UPPER(name)`` (pattern indexes, migration 0002).
- The default order (broker, exchange, underlying, expiry, strike, type) starts with the
  columns of the (broker, exchange, name, expiry) index, so PostgreSQL reads the first page
  in index order and sorts only within an expiry (incremental sort).
- Filter choices are the values that hold rows, found by index probes (``admin.filters``).
- Dead contracts (expired, kept until the next sync removes them) are hidden unless the
  "contract" filter asks for them.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.db.models import F, OrderBy, Q, QuerySet
from django.db.models.functions import Upper
from django.http import HttpRequest
from django.utils.html import format_html

from jainam_prop.admin.common import MAX_SEARCH_LENGTH, ReadOnlyAdmin, bounded_term, plain_number
from jainam_prop.admin.filters import (
    BrokerFilter,
    ContractFilter,
    ExchangeFilter,
    ExpiryFilter,
    InstrumentTypeFilter,
    expiry_condition,
    stored_brokers,
    stored_choices,
)
from jainam_prop.admin.paginator import CheapCountPaginator
from jainam_prop.errors import SymbolNotFound
from jainam_prop.models import SymbolToken
from jainam_prop.services import get_token_from_symbol
from jainam_prop.vocabulary import is_dead, today_ist

__all__ = [
    "MAX_SEARCH_LENGTH",
    "CheapCountPaginator",
    "SymbolTokenAdmin",
    "expiry_condition",
    "instrument_search",
    "stored_brokers",
    "stored_choices",
]

# Largest ExchangeInstrumentID a BigIntegerField holds.
MAX_TOKEN = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
# --- Instruments -------------------------------------------------------------------------------


def instrument_search(queryset: QuerySet, term: str) -> QuerySet:
    """Rows matching an admin search term (already stripped and length-limited).

    Digits: the exact token. Otherwise, case-insensitively: symbol prefix (symbols are stored
    upper-case), ``UPPER(brsymbol)`` prefix or ``UPPER(name)`` prefix. ``%`` and ``_`` in the
    term are matched literally (the ORM escapes them).
    """
    if _DIGITS.fullmatch(term):
        token = int(term)
        return queryset.filter(token=token) if token <= MAX_TOKEN else queryset.none()
    prefix = term.upper()
    return queryset.alias(brsymbol_upper=Upper("brsymbol"), name_upper=Upper("name")).filter(
        Q(symbol__startswith=prefix)
        | Q(brsymbol_upper__startswith=prefix)
        | Q(name_upper__startswith=prefix)
    )


@admin.register(SymbolToken)
class SymbolTokenAdmin(ReadOnlyAdmin):
    """Read-only browser of the instrument master, built to stay fast on 150,000 rows."""

    list_display = (
        "symbol_shown",
        "exchange",
        "token",
        "brsymbol",
        "expiry_column",
        "strike_shown",
        "instrument_type",
        "lot_size",
        "tick_size_shown",
    )
    list_display_links = ("symbol_shown",)
    list_filter = (ContractFilter, ExchangeFilter, InstrumentTypeFilter, ExpiryFilter, BrokerFilter)
    # Only the presence of search_fields matters (it shows the search box): the search itself
    # is get_search_results below.
    search_fields = ("symbol",)
    search_help_text = (
        "A number finds that exact token. Anything else is a prefix of the symbol "
        "(NIFTY25AUG), of the broker's symbol or of the underlying name, in any case."
    )
    # Exchange, underlying, expiry, strike, type; the (broker, exchange, name, expiry) index
    # serves the first four columns, PostgreSQL sorts the rest within each expiry.
    # Futures (no strike) come before the options of their expiry; no-expiry rows last.
    ordering = (
        "broker",
        "exchange",
        "name",
        F("expiry").asc(nulls_last=True),
        F("strike").asc(nulls_first=True),
        "instrument_type",
        "symbol",
    )
    # With a search term: the same order without the leading broker, an order no index
    # serves, so that PostgreSQL collects the matches through the prefix indexes and sorts
    # them, instead of walking a whole index hoping to meet 100 matches early.
    search_ordering = (
        "exchange",
        "name",
        F("expiry").asc(nulls_last=True),
        F("strike").asc(nulls_first=True),
        "instrument_type",
        "symbol",
        "broker",
    )
    sortable_by = ("token",)
    list_per_page = 100
    list_max_show_all = 500
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CheapCountPaginator
    actions = None
    fields = (
        ("symbol", "exchange"),
        ("token", "brexchange"),
        "live_lookup",
        ("brsymbol", "name"),
        ("instrument_type", "expiry_shown", "strike_shown"),
        ("lot_size", "tick_size_shown", "multiplier"),
        ("freeze_qty_shown", "price_band_shown"),
        ("isin_shown", "underlying_token_shown"),
        "broker",
    )
    readonly_fields = (
        "symbol",
        "exchange",
        "token",
        "live_lookup",
        "brsymbol",
        "brexchange",
        "name",
        "instrument_type",
        "expiry_shown",
        "strike_shown",
        "lot_size",
        "tick_size_shown",
        "multiplier",
        "freeze_qty_shown",
        "price_band_shown",
        "isin_shown",
        "underlying_token_shown",
        "broker",
    )

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        """The broker column only when more than one broker holds rows."""
        if len(stored_brokers(request)) > 1:
            return (*self.list_display, "broker")
        return self.list_display

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        return super().changelist_view(request, {"title": "Instruments", **(extra_context or {})})

    def get_ordering(self, request: HttpRequest) -> tuple[str | OrderBy, ...]:
        if request.GET.get(SEARCH_VAR, "").strip():
            return self.search_ordering
        return self.ordering

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = bounded_term(request, search_term)
        if not term:
            return queryset, False
        return instrument_search(queryset, term), False

    @admin.display(description="symbol", ordering="symbol")
    def symbol_shown(self, obj: SymbolToken) -> str:
        if is_dead(obj.expiry, today=today_ist()):
            return format_html('{} <span class="jp-badge jp-dead">dead</span>', obj.symbol)
        return obj.symbol

    @admin.display(description="expiry")
    def expiry_column(self, obj: SymbolToken) -> str:
        return obj.expiry.isoformat() if obj.expiry else "-"

    @admin.display(description="expiry")
    def expiry_shown(self, obj: SymbolToken) -> str:
        if obj.expiry is None:
            return "-"
        if is_dead(obj.expiry, today=today_ist()):
            return format_html(
                '{} <span class="jp-badge jp-dead">dead: expired, removed by the next sync</span>',
                obj.expiry.isoformat(),
            )
        return obj.expiry.isoformat()

    @admin.display(description="strike")
    def strike_shown(self, obj: SymbolToken) -> str:
        return plain_number(obj.strike)

    @admin.display(description="tick size")
    def tick_size_shown(self, obj: SymbolToken) -> str:
        return plain_number(obj.tick_size)

    @admin.display(description="freeze quantity")
    def freeze_qty_shown(self, obj: SymbolToken) -> str:
        """Largest quantity of one order; none means the exchange sets no limit."""
        return "no limit" if obj.freeze_qty is None else f"{obj.freeze_qty:,}"

    @admin.display(description="price band")
    def price_band_shown(self, obj: SymbolToken) -> str:
        if obj.price_band_low is None and obj.price_band_high is None:
            return "-"
        return f"{plain_number(obj.price_band_low)} to {plain_number(obj.price_band_high)}"

    @admin.display(description="ISIN")
    def isin_shown(self, obj: SymbolToken) -> str:
        return obj.isin or "-"

    @admin.display(description="underlying token")
    def underlying_token_shown(self, obj: SymbolToken) -> str:
        return "-" if obj.underlying_token is None else str(obj.underlying_token)

    @admin.display(description="Live lookup (get_token_from_symbol)")
    def live_lookup(self, obj: SymbolToken) -> str:
        """What the lookup service answers for this row's (symbol, exchange) right now."""
        try:
            token = get_token_from_symbol(obj.symbol, obj.exchange, broker=obj.broker)
        except SymbolNotFound as exc:
            return format_html('<strong class="errornote">not found</strong>: {}', exc)
        if token == obj.token:
            return format_html('<span class="live-token">{}</span> (matches this row)', token)
        return format_html(
            '<span class="live-token">{}</span> <strong>differs from this row ({})</strong>: '
            "a sync probably replaced the instruments since this page was loaded.",
            token,
            obj.token,
        )
