"""Django admin: browse and search the instrument master, read the sync history, start a sync.

A face (see ARCHITECTURE.md): instruments are read-only here (only the sync writes them), the
live token on an instrument's page comes from ``services.get_token_from_symbol``, and "Start a
sync now" calls ``services.sync_master_contract``, the same code path as the command.

Speed on the full master (150,000 rows), see README "Admin":

- No full-table counts. ``CheapCountPaginator`` counts at most ``count_cap`` matching rows (a
  ``LIMIT`` subquery), and on PostgreSQL takes the planner's estimate (``pg_class.reltuples``)
  for the unfiltered list; the page then says "about N" or "more than N".
- Search is one indexed predicate: a number is an exact token; anything else is a prefix of
  the symbol, of ``UPPER(brsymbol)`` or of ``UPPER(name)`` (pattern indexes, migration 0002).
- Filter choices cost no scan: exchanges and instrument types are closed sets, brokers come
  from a loose index scan; the exchange filter is served by a range of the unique index.
- Sorting is limited to indexed orders; facet counts are off.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.functions import Upper
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import truncatechars
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from jainam_prop import admin_apikeys  # noqa: F401 - registers the API key admin (its own module)
from jainam_prop.errors import MissingSetting, SymbolNotFound, SyncError, XTSError
from jainam_prop.master_parser import EXCHANGES
from jainam_prop.models import SymbolToken, SyncRun
from jainam_prop.services import get_token_from_symbol, sync_master_contract

logger = logging.getLogger(__name__)

RUN_SYNC_PERMISSION = "jainam_prop.run_sync"
# Longest search term used; longer input is cut (a 64-character prefix is already unique).
MAX_SEARCH_LENGTH = 64
# Largest ExchangeInstrumentID a BigIntegerField holds.
MAX_TOKEN = 2**63 - 1
# The instrument types the sync stores (SymbolToken.instrument_type).
INSTRUMENT_TYPES = ("EQ", "FUT", "CE", "PE", "INDEX")
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


# --- Counting without scanning -----------------------------------------------------------------


class CheapCountPaginator(Paginator):
    """A paginator whose ``count`` never scans the whole table.

    - Filtered or searched lists: ``SELECT COUNT(*) FROM (... LIMIT count_cap + 1)``: exact up
      to ``count_cap``, otherwise ``count_cap`` and ``count_is_exact`` is False (pages past
      the cap are not offered: refine the search).
    - The unfiltered list on PostgreSQL: when more than ``count_cap`` rows exist, the planner's
      row estimate (``pg_class.reltuples``, kept fresh by autovacuum/ANALYZE) and
      ``count_is_estimate``; the estimate and the capped count are one query.
    """

    count_cap = 10_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.count_is_exact = True
        self.count_is_estimate = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        if not queryset.query.where and connections[queryset.db].vendor == "postgresql":
            estimate, capped = self._postgresql_table_count(queryset)
        else:
            estimate, capped = None, queryset.order_by()[: self.count_cap + 1].count()
        if capped <= self.count_cap:
            return capped
        self.count_is_exact = False
        if estimate is not None and estimate > self.count_cap:
            self.count_is_estimate = True
            return estimate
        return self.count_cap

    def _postgresql_table_count(self, queryset: QuerySet) -> tuple[int | None, int]:
        """(planner estimate or None, rows counted up to the cap + 1), in one query."""
        connection = connections[queryset.db]
        table = queryset.model._meta.db_table
        with connection.cursor() as cursor:
            # The table name is the model's own, quoted: no user input reaches the SQL.
            quoted = connection.ops.quote_name(table)
            estimate_sql = "(SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s))"
            capped_sql = f"(SELECT COUNT(*) FROM (SELECT 1 FROM {quoted} LIMIT %s) AS capped)"  # noqa: S608
            sql = f"SELECT {estimate_sql}, {capped_sql}"
            cursor.execute(sql, [table, self.count_cap + 1])
            estimate, capped = cursor.fetchone()
        # reltuples is -1 (never analysed) or 0 until ANALYZE/autovacuum has seen the table.
        return (int(estimate) if estimate and estimate > 0 else None), int(capped)


# --- Filter choices without scanning -----------------------------------------------------------


def stored_brokers(request: HttpRequest) -> list[str]:
    """The brokers that have instruments, by a loose index scan (one query, one probe each).

    ``SELECT DISTINCT broker`` would read all 150,000 rows; this walks the leading column of
    the unique (broker, exchange, symbol) index instead, on PostgreSQL and SQLite alike.
    Memoised on the request: the broker and exchange filters of one page share it.
    """
    memo = getattr(request, "_jainam_stored_brokers", None)
    if memo is not None:
        return memo
    connection = connections[SymbolToken.objects.db]
    table = connection.ops.quote_name(SymbolToken._meta.db_table)
    # The table name is the model's own, quoted: no user input reaches the SQL.
    sql = (
        f"WITH RECURSIVE brokers(broker) AS (SELECT MIN(broker) FROM {table} "  # noqa: S608
        f"UNION ALL SELECT (SELECT MIN(broker) FROM {table} t WHERE t.broker > brokers.broker) "
        "FROM brokers WHERE brokers.broker IS NOT NULL) "
        "SELECT broker FROM brokers WHERE broker IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        brokers = [row[0] for row in cursor.fetchall()]
    request._jainam_stored_brokers = brokers
    return brokers


class BrokerFilter(admin.SimpleListFilter):
    title = "broker"
    parameter_name = "broker"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(broker, broker) for broker in stored_brokers(request)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(broker=self.value()) if self.value() else queryset


class ExchangeFilter(admin.SimpleListFilter):
    """The OpenAlgo exchanges (a closed set, defined by the master parser).

    The filter also names the stored brokers (``broker IN (...)``, true of every row): with the
    broker fixed, PostgreSQL reads the exchange's rows as a range of the unique
    (broker, exchange, symbol) index, already in page order, instead of scanning past every
    other exchange (MCX sits behind 60,000 rows).
    """

    title = "exchange"
    parameter_name = "exchange"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(exchange, exchange) for exchange in sorted(EXCHANGES)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        return queryset.filter(broker__in=stored_brokers(request), exchange=self.value())


class InstrumentTypeFilter(admin.SimpleListFilter):
    title = "instrument type"
    parameter_name = "instrument_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(kind, kind) for kind in INSTRUMENT_TYPES]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(instrument_type=self.value()) if self.value() else queryset


class ExpiryFilter(admin.SimpleListFilter):
    """Expiry as ranges relative to today in ``settings.TIME_ZONE`` (Asia/Kolkata).

    "This week" runs from today to Sunday, "this month" from today to the month's last day
    (so it includes this week), "later" is after the month's last day.
    """

    title = "expiry"
    parameter_name = "expiry_range"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [
            ("expired", "Expired"),
            ("week", "This week (to Sunday)"),
            ("month", "This month (to month end)"),
            ("later", "After this month"),
            ("none", "No expiry"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        condition = expiry_condition(value, today=timezone.localdate())
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


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete for anyone, superusers included: the rows are written only by
    the sync (instruments and the run history), never by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SymbolToken)
class SymbolTokenAdmin(ReadOnlyAdmin):
    """Read-only browser of the instrument master, built to stay fast on 150,000 rows."""

    list_display = (
        "symbol",
        "exchange",
        "token",
        "brsymbol",
        "name",
        "expiry",
        "strike_shown",
        "lot_size",
        "tick_size_shown",
        "instrument_type",
        "broker",
    )
    list_display_links = ("symbol",)
    list_filter = (BrokerFilter, ExchangeFilter, InstrumentTypeFilter, ExpiryFilter)
    # Only the presence of search_fields matters (it shows the search box): the search itself
    # is get_search_results below.
    search_fields = ("symbol",)
    search_help_text = (
        "A number finds that exact token. Anything else is a prefix of the symbol "
        "(NIFTY25AUG), of the broker's symbol or of the underlying name, in any case."
    )
    # The unique (broker, exchange, symbol) index serves this order without sorting.
    ordering = ("broker", "exchange", "symbol")
    # With a search term: the same rows in (nearly) the same order, but an order no index
    # serves, so that PostgreSQL collects the matches through the prefix indexes and sorts
    # them, instead of walking the whole unique index hoping to meet 100 matches early
    # (90 ms for NIFTY on the full master, whose matches sit behind 117,000 other rows).
    search_ordering = ("exchange", "symbol", "broker")
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
        ("instrument_type", "expiry", "strike"),
        ("lot_size", "tick_size"),
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
        "expiry",
        "strike",
        "lot_size",
        "tick_size",
        "broker",
    )

    def get_ordering(self, request: HttpRequest) -> tuple[str, ...]:
        if request.GET.get(SEARCH_VAR, "").strip():
            return self.search_ordering
        return self.ordering

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if len(term) > MAX_SEARCH_LENGTH:
            term = term[:MAX_SEARCH_LENGTH]
            messages.warning(
                request,
                f"The search was cut to its first {MAX_SEARCH_LENGTH} characters: {term}",
            )
        return instrument_search(queryset, term), False

    @admin.display(description="strike")
    def strike_shown(self, obj: SymbolToken) -> str:
        return _plain_number(obj.strike)

    @admin.display(description="tick size")
    def tick_size_shown(self, obj: SymbolToken) -> str:
        return _plain_number(obj.tick_size)

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


# --- Sync runs ---------------------------------------------------------------------------------


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    """History of master-contract syncs; holders of ``run_sync`` can start one."""

    list_display = (
        "started_at",
        "status",
        "duration",
        "stored",
        "segment_counts",
        "skipped_reasons",
        "error_text",
    )
    list_filter = ("status", "broker")
    list_per_page = 50
    show_facets = admin.ShowFacets.NEVER
    actions = None
    fields = (
        ("started_at", "finished_at", "duration"),
        ("status", "broker"),
        "source",
        "segments",
        ("stored", "deleted", "skipped"),
        "segment_counts",
        "skipped_reasons",
        "error",
        ("host", "pid"),
    )
    readonly_fields = (
        "started_at",
        "finished_at",
        "duration",
        "status",
        "broker",
        "source",
        "segments",
        "stored",
        "deleted",
        "skipped",
        "segment_counts",
        "skipped_reasons",
        "error",
        "host",
        "pid",
    )

    @admin.display(description="lines / stored / skipped")
    def segment_counts(self, obj: SyncRun) -> str:
        counts = obj.counts if isinstance(obj.counts, dict) else {}
        if not counts:
            return "-"
        return format_html_join(
            "",
            "<div>{}: {} / {} / {}</div>",
            (
                (source, c.get("lines", "?"), c.get("stored", "?"), c.get("skipped", "?"))
                for source, c in sorted(counts.items())
                if isinstance(c, dict)
            ),
        )

    @admin.display(description="skipped by reason")
    def skipped_reasons(self, obj: SyncRun) -> str:
        totals = _skipped_by_reason(obj.counts.values() if isinstance(obj.counts, dict) else ())
        if not totals:
            return "-"
        return format_html_join(
            "", "<div>{}: {}</div>", sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        )

    @admin.display(description="duration")
    def duration(self, obj: SyncRun) -> str:
        seconds = obj.duration_seconds
        return "-" if seconds is None else f"{seconds:.1f} s"

    @admin.display(description="error")
    def error_text(self, obj: SyncRun) -> str:
        return truncatechars(obj.error, 160) if obj.error else ""

    def get_urls(self) -> list:
        urls = [
            path(
                "start-sync/",
                self.admin_site.admin_view(self.start_sync_view),
                name="jainam_prop_syncrun_start_sync",
            )
        ]
        return urls + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        extra_context = {
            **(extra_context or {}),
            "can_run_sync": request.user.has_perm(RUN_SYNC_PERMISSION),
            "start_sync_url": reverse("admin:jainam_prop_syncrun_start_sync"),
            "market_url": settings.JAINAM_MARKET_URL,
        }
        return super().changelist_view(request, extra_context=extra_context)

    def start_sync_view(self, request: HttpRequest) -> HttpResponse:
        return _start_sync(request)


@require_POST
def _start_sync(request: HttpRequest) -> HttpResponse:
    """Run the sync in this request (an operator tool) and report it as an admin message."""
    if not request.user.has_perm(RUN_SYNC_PERMISSION):
        raise PermissionDenied("Starting a sync needs the permission jainam_prop.run_sync.")
    dry_run = request.POST.get("dry_run") == "1"
    logger.info("Sync started from the admin by %s (dry run: %s)", request.user, dry_run)
    try:
        report = sync_master_contract(broker=settings.JAINAM_BROKER, dry_run=dry_run)
    except (SyncError, XTSError, MissingSetting, ValidationError, ValueError) as exc:
        logger.warning("Sync started from the admin failed: %s", exc)
        messages.error(request, f"Sync failed ({type(exc).__name__}): {exc}")
    else:
        messages.success(request, f"Sync {report.run_id}: {report.summary()}")
    return HttpResponseRedirect(reverse("admin:jainam_prop_syncrun_changelist"))


def _plain_number(value: Decimal | None) -> str:
    """24500.0000 -> 24500, 0.050000 -> 0.05, None -> '-' (as the OpenAlgo symbol writes it)."""
    if value is None:
        return "-"
    return format(value.normalize(), "f")


def _skipped_by_reason(counts: Iterable[Any]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for source_counts in counts:
        if not isinstance(source_counts, dict):
            continue
        for reason, n in (source_counts.get("skipped_by_reason") or {}).items():
            totals[reason] = totals.get(reason, 0) + int(n)
    return totals
