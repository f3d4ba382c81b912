"""Filters of the instrument list: only choices that hold rows, dead contracts on request.

``stored_choices`` finds the brokers, exchanges and instrument types that hold rows by index
probes (never ``SELECT DISTINCT`` over 150,000 rows); ``ContractFilter`` hides dead contracts
(expired, kept until the next sync removes them) unless asked; expiry ranges count from
today in Asia/Kolkata.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from jainam_prop.models import SymbolToken
from jainam_prop.vocabulary import EXCHANGES, FNO_EXCHANGES, INSTRUMENT_TYPES, today_ist

# The exchanges each instrument type can live on: the probes for filter choices read only
# those exchanges' ranges of the unique index.
TYPE_EXCHANGES: dict[str, tuple[str, ...]] = {
    "EQ": ("NSE", "BSE"),
    "FUT": tuple(sorted(FNO_EXCHANGES)),
    "CE": tuple(sorted(FNO_EXCHANGES)),
    "PE": tuple(sorted(FNO_EXCHANGES)),
    "INDEX": ("NSE_INDEX", "BSE_INDEX"),
}

# Where ``stored_choices`` memoises its answer on the request.
_MEMO_ATTRIBUTE = "_jainam_stored_choices"


def stored_choices(request: HttpRequest) -> dict[str, list[str]]:
    """The brokers, exchanges and instrument types that hold rows, in two small queries.

    Brokers: a loose index scan of the unique (broker, exchange, symbol) index (one probe per
    broker; ``SELECT DISTINCT`` would read every row). Exchanges and types are closed sets:
    one probe each for a first row, on a range of an index led by (broker, exchange), so a
    value with no rows is left out of the filter. Memoised on the request: the filters of one page
    share it.
    """
    memo = getattr(request, _MEMO_ATTRIBUTE, None)
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
            # A type probe takes the first row in the order of the (broker, exchange, name,
            # expiry) index: it walks that index and stops at the first match. (A bare EXISTS
            # lets the planner pick a sequential scan for a common type, which may read far.)
            in_index_order = "ORDER BY t.broker, t.exchange, t.name LIMIT 1"
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
                    f"SELECT 'type', %s WHERE (SELECT 1 FROM {table} t "  # noqa: S608
                    f"WHERE {in_brokers} AND t.exchange IN ({marks}) "
                    f"AND t.instrument_type = %s {in_index_order}) IS NOT NULL"
                )
                params += [kind, *found["broker"], *kind_exchanges, kind]
            cursor.execute(" UNION ALL ".join(parts), params)
            for kind, value in cursor.fetchall():
                found[kind].append(value)
    found["exchange"].sort()
    found["type"].sort(key=INSTRUMENT_TYPES.index)
    setattr(request, _MEMO_ATTRIBUTE, found)
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
