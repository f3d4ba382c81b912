"""Tier 3: every read of ``SymbolToken`` and ``LookupGeneration`` the lookups make, via the ORM.

Each function is one indexed query (or one per ``BATCH_SQL_CHUNK`` keys): answers by
``(broker, exchange, symbol)`` (the unique index) or ``(broker, exchange, token)``;
suggestions by ``(broker, exchange, name, expiry)`` and by symbol order; searches by the
symbol prefix index. Live means "no expiry, or expiring today or later (IST)".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.db import connections, router
from django.db.models import Case, DecimalField, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Abs
from django.db.models.sql.compiler import SQLCompiler

from jainam_prop import vocabulary
from jainam_prop.models import LookupGeneration, SymbolToken

from .memory import BY_SYMBOL, BY_TOKEN
from .records import Record, record_of_row

COLUMNS = vocabulary.INSTRUMENT_COLUMNS
_ROWS = SymbolToken.objects.values_list(*COLUMNS)
#: Keys per SQL query in batches (below every backend's parameter limit).
BATCH_SQL_CHUNK = 900


def committed_generation(broker: str) -> int:
    """The broker's generation as committed in the database (0 before the first sync)."""
    found = LookupGeneration.objects.filter(broker=broker).values_list("generation", flat=True)
    return next(iter(found), 0)


def records(broker: str, direction: str, keys: Sequence[Any]) -> dict[Any, Record]:
    """Records of ``(symbol, exchange)`` or ``(exchange, token)`` keys; missing keys absent.

    By token, a token listed twice on one exchange answers the row with the first symbol.
    """
    found: dict[Any, Record] = {}
    if len(keys) == 1:  # a single lookup: the ORM's query, compiled once
        first, second = keys[0]
        for row in _single(direction).rows(broker, first, second):
            found[keys[0]] = record_of_row(row)
        return found
    for start in range(0, len(keys), BATCH_SQL_CHUNK):
        chunk = keys[start : start + BATCH_SQL_CHUNK]
        grouped: dict[str, list[Any]] = defaultdict(list)
        if direction == BY_SYMBOL:
            for symbol, exchange in chunk:
                grouped[exchange].append(symbol)
            field = "symbol"
        else:
            for exchange, token in chunk:
                grouped[exchange].append(token)
            field = "token"
        condition = reduce(
            or_,
            (
                Q(
                    exchange=exchange,
                    **({field: values[0]} if len(values) == 1 else {f"{field}__in": values}),
                )
                for exchange, values in grouped.items()
            ),
        )
        rows = _ROWS.filter(condition, broker=broker)
        for row in rows:
            if direction == BY_SYMBOL:
                found[(row[0], row[1])] = record_of_row(row)
            else:
                key = (row[1], row[2])
                if key not in found or row[0] < found[key][0]:
                    found[key] = record_of_row(row)
    return found


class _Compiled:
    """One single-key query as the ORM writes it, compiled once per database alias.

    ``rows`` runs the ORM's own SQL through a fresh Django cursor (``connection.cursor()``:
    query logging and query counts see it) and converts the rows with the ORM's converters,
    so a lookup pays the database round trip, not the query building each time.
    """

    def __init__(self, build: Callable[[Any, Any, Any], QuerySet[Any, Any]]) -> None:
        self.build = build
        self.compiled: dict[
            str, tuple[str, Callable[..., list[Any]], SQLCompiler, dict[Any, Any]]
        ] = {}

    def rows(self, broker: str, first: Any, second: Any) -> Iterable[Sequence[Any]]:
        alias = router.db_for_read(SymbolToken)
        compiled = self.compiled.get(alias)
        if compiled is None:
            compiled = self.compiled[alias] = self._compile(alias)
        sql, order, compiler, converters = compiled
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, order(broker, first, second))
            rows = cursor.fetchall()
        if converters and rows:
            return list(compiler.apply_converters(rows, converters))
        return rows

    def _compile(
        self, alias: str
    ) -> tuple[str, Callable[..., list[Any]], SQLCompiler, dict[Any, Any]]:
        # Distinct stand-ins show where each argument lands among the compiled parameters.
        marks = ("\x00broker", "\x00first", -7_654_321) if self.build is _by_token else (
            "\x00broker", "\x00first", "\x00second")  # fmt: skip
        queryset = self.build(*marks)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = [marks.index(param) if param in marks else None for param in params]
        fixed = list(params)

        def order(*values: Any) -> list[Any]:
            return [fixed[i] if slot is None else values[slot] for i, slot in enumerate(slots)]

        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        return sql, order, compiler, converters

    def forget(self) -> None:
        self.compiled.clear()


def _by_symbol(broker: Any, symbol: Any, exchange: Any) -> QuerySet[Any, Any]:
    return _ROWS.filter(broker=broker, symbol=symbol, exchange=exchange)


def _by_token(broker: Any, exchange: Any, token: Any) -> QuerySet[Any, Any]:
    return _ROWS.filter(broker=broker, exchange=exchange, token=token).order_by("symbol")[:1]


_SINGLE = {BY_SYMBOL: _Compiled(_by_symbol), BY_TOKEN: _Compiled(_by_token)}


def _single(direction: str) -> _Compiled:
    return _SINGLE[direction]


def live(rows: QuerySet[SymbolToken], *, today: date) -> QuerySet[SymbolToken]:
    """Only the rows that are not dead on ``today``."""
    return rows.filter(Q(expiry__isnull=True) | Q(expiry__gte=today))


def search(
    broker: str, prefix: str, *, exchange: str | None, today: date, limit: int
) -> list[Record]:
    """Live instruments whose symbol starts with ``prefix``, by symbol then exchange."""
    rows = live(SymbolToken.objects.filter(broker=broker, symbol__startswith=prefix), today=today)
    if exchange is not None:
        rows = rows.filter(exchange=exchange)
    return [
        record_of_row(row)
        for row in rows.order_by("symbol", "exchange").values_list(*COLUMNS)[:limit]
    ]


def live_elsewhere(
    broker: str, symbol: str, *, exchange: str, today: date, limit: int
) -> list[str]:
    """The other exchanges where ``symbol`` is live (unique index, one probe per exchange)."""
    others = [e for e in vocabulary.EXCHANGES if e != exchange]
    rows = live(
        SymbolToken.objects.filter(broker=broker, exchange__in=others, symbol=symbol), today=today
    )
    return list(rows.order_by("exchange").values_list("exchange", flat=True)[:limit])


def neighbours(broker: str, symbol: str, *, exchange: str, today: date, count: int) -> list[str]:
    """Up to ``count`` live symbols on each side of ``symbol`` in symbol order (two probes of
    the unique index): the symbols sharing the longest prefixes with it."""
    rows = live(SymbolToken.objects.filter(broker=broker, exchange=exchange), today=today)
    before = rows.filter(symbol__lt=symbol).order_by("-symbol").values_list("symbol", flat=True)
    after = rows.filter(symbol__gt=symbol).order_by("symbol").values_list("symbol", flat=True)
    return [*before[:count], *after[:count]]


def nearest_expiries(
    broker: str,
    *,
    name: str,
    exchange: str,
    kinds: Sequence[str] | None,
    reference: date,
    today: date,
    count: int,
) -> list[date]:
    """Up to ``count`` live expiries of ``name`` on each side of ``reference`` that have
    contracts of ``kinds`` (None: any), from the underlying index read in expiry order.

    Futures are few among thousands of options of the same underlying: their expiries are
    found by probing the unique index for every future symbol the grammar allows in the
    months around ``reference`` instead (a few hundred index probes, no row scan).
    """
    if kinds is not None and tuple(kinds) == ("FUT",):  # never a scan, even when none is near
        return _future_expiries(
            broker, name=name, exchange=exchange, reference=reference, today=today
        )
    rows = SymbolToken.objects.filter(broker=broker, exchange=exchange, name=name)
    if kinds is not None:
        rows = rows.filter(instrument_type__in=kinds)
    after = rows.filter(expiry__gte=max(reference, today)).order_by("expiry")
    found = [e for e in after.values_list("expiry", flat=True).distinct()[:count] if e]
    if count == 1 and found and found[0] == reference:  # the expiry asked: none is nearer
        return found
    if reference > today:
        before = rows.filter(expiry__gte=today, expiry__lt=reference).order_by("-expiry")
        found += [e for e in before.values_list("expiry", flat=True).distinct()[:count] if e]
    return found


_FUTURE_MONTHS_AROUND = 3  # months probed on each side of the reference month


def _future_expiries(
    broker: str, *, name: str, exchange: str, reference: date, today: date
) -> list[date]:
    first = max(today, _add_months(reference, -_FUTURE_MONTHS_AROUND).replace(day=1))
    last = _add_months(reference, _FUTURE_MONTHS_AROUND + 1).replace(day=1)
    days = (last - first).days
    candidates = [
        vocabulary.derivative_symbol(
            name=name, expiry=date.fromordinal(first.toordinal() + i), strike=None, kind="FUT"
        )
        for i in range(days)
    ]
    rows = SymbolToken.objects.filter(
        broker=broker, exchange=exchange, symbol__in=candidates, instrument_type="FUT"
    )
    return sorted(expiry for expiry in rows.values_list("expiry", flat=True) if expiry)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def contracts_at(
    broker: str,
    *,
    name: str,
    exchange: str,
    expiries: Sequence[date],
    kinds: Sequence[str] | None,
    kind: str,
    strike: Decimal | None,
    limit: int,
) -> list[Record]:
    """Contracts of ``name`` expiring on ``expiries``: ``kind`` first, then the strikes
    nearest ``strike``, then by expiry and symbol."""
    rows = SymbolToken.objects.filter(
        broker=broker, exchange=exchange, name=name, expiry__in=list(expiries)
    )
    if kinds is not None:
        rows = rows.filter(instrument_type__in=kinds)
    rows = rows.annotate(
        other_kind=Case(
            When(instrument_type=kind, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    )
    order = ["other_kind"]
    if strike is not None:
        decimal = DecimalField(max_digits=20, decimal_places=4)
        rows = rows.annotate(
            gap=Abs(F("strike") - Value(strike, output_field=decimal), output_field=decimal)
        )
        order.append("gap")
    return [
        record_of_row(row)
        for row in rows.order_by(*order, "expiry", "symbol").values_list(*COLUMNS)[:limit]
    ]
