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
- Filter choices are the values that hold rows, found by index probes in one query
  (``stored_choices``), never by ``SELECT DISTINCT`` over the table.
- Dead contracts (expired, kept until the next sync removes them) are hidden unless the
  "contract" filter asks for them.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import SEARCH_VAR
from django.db import connections
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Upper
from django.http import HttpRequest
from django.utils.html import format_html

from jainam_prop.admin.common import MAX_SEARCH_LENGTH, ReadOnlyAdmin, bounded_term, plain_number
from jainam_prop.admin.paginator import CheapCountPaginator
from jainam_prop.errors import SymbolNotFound
from jainam_prop.models import SymbolToken
from jainam_prop.services import get_token_from_symbol
from jainam_prop.vocabulary import EXCHANGES, FNO_EXCHANGES, INSTRUMENT_TYPES, is_dead, today_ist

__all__ = [
    "MAX_SEARCH_LENGTH",
    "CheapCountPaginator",
    "SymbolTokenAdmin",
    "expiry_condition",
    "instrument_search",
    "stored_choices",
]

# Largest ExchangeInstrumentID a BigIntegerField holds.
MAX_TOKEN = 2**63 - 1
# The exchanges each instrument type can live on: the probes for filter choices read only
# those exchanges' ranges of the unique index.
TYPE_EXCHANGES: dict[str, tuple[str, ...]] = {
    "EQ": ("NSE", "BSE"),
    "FUT": tuple(sorted(FNO_EXCHANGES)),
    "CE": tuple(sorted(FNO_EXCHANGES)),
    "PE": tuple(sorted(FNO_EXCHANGES)),
    "INDEX": ("NSE_INDEX", "BSE_INDEX"),
}
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


# --- Filter choices: only values that hold rows ------------------------------------------------


def stored_choices(request: HttpRequest) -> dict[str, list[str]]:
    """The brokers, exchanges and instrument types that hold rows, in two small queries.

    Brokers: a loose index scan of the unique (broker, exchange, symbol) index (one probe per
    broker; ``SELECT DISTINCT`` would read every row). Exchanges and types are closed sets:
    one ``EXISTS`` probe each, on a range of an index led by (broker, exchange), so a value
    with no rows is left out of the filter. Memoised on the request: the filters of one page
    share it.
    """
    memo = getattr(request, "_jainam_stored_choices", None)
    if memo is not None:
        return memo
    connection = connections[SymbolToken.objects.db]
    table = connection.ops.quote_name(SymbolToken._meta.db_table)
    # The table name is the model's own, quoted; every value is a parameter.
    brokers_sql = (
        f"WITH RECURSIVE brokers(broker) AS (SELECT MIN(broker) FROM {table} "  # noqa: S608
        f"UNION ALL SELECT (SELECT MIN(broker) FROM {table} t WHERE t.broker > brokers.broker) "
        "FROM brokers WHERE brokers.broker IS NOT NULL) "
        "SELECT broker FROM brokers WHERE broker IS NOT NULL"
    )
    found: dict[str, list[str]] = {"broker": [], "exchange": [], "type": []}
    with connection.cursor() as cursor:
        cursor.execute(brokers_sql)
        found["broker"] = [row[0] for row in cursor.fetchall()]
        if found["broker"]:
            # Literal brokers (not a subquery): PostgreSQL then probes the index ranges.
            in_brokers = f"t.broker IN ({', '.join(['%s'] * len(found['broker']))})"
            parts: list[str] = []
            params: list[str] = []
            for exchange in sorted(EXCHANGES):
                parts.append(
                    f"SELECT 'exchange', %s WHERE EXISTS (SELECT 1 FROM {table} t "  # noqa: S608
                    f"WHERE {in_brokers} AND t.exchange = %s)"
                )
                params += [exchange, *found["broker"], exchange]
            for kind, kind_exchanges in TYPE_EXCHANGES.items():
                marks = ", ".join(["%s"] * len(kind_exchanges))
                parts.append(
                    f"SELECT 'type', %s WHERE EXISTS (SELECT 1 FROM {table} t "  # noqa: S608
                    f"WHERE {in_brokers} AND t.exchange IN ({marks}) "
                    "AND t.instrument_type = %s)"
                )
                params += [kind, *found["broker"], *kind_exchanges, kind]
            cursor.execute(" UNION ALL ".join(parts), params)
            for kind, value in cursor.fetchall():
                found[kind].append(value)
    found["exchange"].sort()
    found["type"].sort(key=INSTRUMENT_TYPES.index)
    request._jainam_stored_choices = found
    return found


def stored_brokers(request: HttpRequest) -> list[str]:
    """The brokers that have instruments (see ``stored_choices``)."""
    return stored_choices(request)["broker"]


class BrokerFilter(admin.SimpleListFilter):
    title = "broker"
    parameter_name = "broker"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(broker, broker) for broker in stored_brokers(request)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(broker=self.value()) if self.value() else queryset


class ExchangeFilter(admin.SimpleListFilter):
    """The OpenAlgo exchanges that hold rows.

    The filter also names the stored brokers (``broker IN (...)``, true of every row): with the
    broker fixed, PostgreSQL reads the exchange's rows as a range of an index instead of
    scanning past every other exchange (MCX sits behind 60,000 rows).
    """

    title = "exchange"
    parameter_name = "exchange"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(exchange, exchange) for exchange in stored_choices(request)["exchange"]]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        return queryset.filter(broker__in=stored_brokers(request), exchange=self.value())


class InstrumentTypeFilter(admin.SimpleListFilter):
    title = "instrument type"
    parameter_name = "instrument_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(kind, kind) for kind in stored_choices(request)["type"]]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(instrument_type=self.value()) if self.value() else queryset


class ContractFilter(admin.SimpleListFilter):
    """Live contracts by default; dead ones (expired, not yet removed by a sync) on request."""

    title = "contract"
    parameter_name = "contract"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("dead", "Dead (expired) only"), ("all", "All, dead included")]

    def choices(self, changelist: Any):
        choices = list(super().choices(changelist))
        choices[0]["display"] = "Live (default)"
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        today = today_ist()
        value = self.value()
        if value is None:
            return queryset.filter(Q(expiry__isnull=True) | Q(expiry__gte=today))
        if value == "dead":
            return queryset.filter(expiry__lt=today)
        if value == "all":
            return queryset
        raise IncorrectLookupParameters(f"Unknown contract state {value!r}")


class ExpiryFilter(admin.SimpleListFilter):
    """Expiry as ranges relative to today in Asia/Kolkata.

    "This week" runs from today to Sunday, "this month" from today to the month's last day
    (so it includes this week), "later" is after the month's last day.
    """

    title = "expiry"
    parameter_name = "expiry_range"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [
            ("week", "This week (to Sunday)"),
            ("month", "This month (to month end)"),
            ("later", "After this month"),
            ("none", "No expiry"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        condition = expiry_condition(value, today=today_ist())
        if condition is None:
            raise IncorrectLookupParameters(f"Unknown expiry range {value!r}")
        return queryset.filter(condition)


def expiry_condition(value: str, *, today: date) -> Q | None:
    """The ``Q`` of one expiry range (see ``ExpiryFilter``); None for an unknown range."""
    week_end = today + timedelta(days=6 - today.weekday())
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    return {
        "expired": Q(expiry__lt=today),
        "week": Q(expiry__gte=today, expiry__lte=week_end),
        "month": Q(expiry__gte=today, expiry__lte=month_end),
        "later": Q(expiry__gt=month_end),
        "none": Q(expiry__isnull=True),
    }.get(value)


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

    def get_ordering(self, request: HttpRequest) -> tuple[str, ...]:
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
