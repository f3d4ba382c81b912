"""OpenAlgo's multi-term instrument search (``/api/v1/search``), a bounded read of ``SymbolToken``.

A query is split on spaces into terms; an instrument matches when EVERY term matches one of
its symbol, broker symbol or name (substring, case-insensitive), its token (a whole-number term,
exactly: the token index) or its strike (a number term, exactly), as OpenAlgo's
``enhanced_search_symbols`` does. Dead contracts are never returned. Results are ordered as
OpenAlgo orders them (name equal to the first term, name starting with it, symbol starting with
it, then by symbol), and the count is honest: the real number of matches, counted up to
:data:`COUNT_CAP`.

Work per query is bounded: at most :data:`MAX_TERMS` terms (more is a ``ValueError``), a term
longer than any stored field (:data:`MAX_TERM_LENGTH`) answers "nothing" without SQL, at most
``limit`` rows are fetched, the count stops at :data:`COUNT_CAP` rows, and a search is at most
two SQL queries (one when the matches fit in ``limit``). Terms are never interpolated
into SQL (the ORM escapes ``%`` and ``_``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import reduce
from operator import and_

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from jainam_prop import vocabulary
from jainam_prop.models import DEFAULT_BROKER, SymbolToken

from .db import COLUMNS, live
from .records import Instrument, instrument, record_of_row

#: OpenAlgo's result limit (its search service asks its symbol cache for 500).
SEARCH_LIMIT = 500
MAX_TERMS = 8
#: The longest stored text (symbol, broker symbol, name): a longer term matches nothing.
MAX_TERM_LENGTH = max(
    getattr(SymbolToken._meta.get_field(field), "max_length", 0) or 0
    for field in ("symbol", "brsymbol", "name")
)
#: The count of matches stops here ("more than 10000").
COUNT_CAP = 10_000

_NUMBER = re.compile(r"^\d{1,10}(?:\.\d{1,4})?$")
_WHOLE = re.compile(r"^\d{1,18}$")


@dataclass(frozen=True)
class SearchResult:
    """The first ``limit`` matches, and how many there are (``total``, at most ``COUNT_CAP``)."""

    instruments: list[Instrument]
    total: int
    #: Whether counting stopped at ``COUNT_CAP`` (there may be more).
    capped: bool


def search_symbols(
    query: str,
    *,
    exchange: str | None = None,
    broker: str = DEFAULT_BROKER,
    limit: int = SEARCH_LIMIT,
    today: date | None = None,
) -> SearchResult:
    """Live instruments matching every term of ``query`` (see the module docstring).

    ``ValueError`` for an empty query, too many terms, a non-printable character, an unknown
    exchange or a ``limit`` outside 1..``SEARCH_LIMIT``.
    """
    terms = search_terms(query)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= SEARCH_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {SEARCH_LIMIT}, got {limit!r}")
    rows = live(SymbolToken.objects.filter(broker=broker), today=today or vocabulary.today_ist())
    if exchange is not None:
        on = exchange.strip().upper()
        if on not in vocabulary.EXCHANGES:
            raise ValueError(
                f"Unknown exchange {exchange!r}; valid exchanges: {', '.join(vocabulary.EXCHANGES)}"
            )
        rows = rows.filter(exchange=on)
    if any(len(term) > MAX_TERM_LENGTH for term in terms):
        return SearchResult(instruments=[], total=0, capped=False)
    rows = rows.filter(reduce(and_, (_term_matches(term) for term in terms)))
    first = terms[0]
    ordered = rows.annotate(
        _name_exact=_rank(Q(name__iexact=first)),
        _name_starts=_rank(Q(name__istartswith=first)),
        _symbol_starts=_rank(Q(symbol__startswith=first)),
    ).order_by("_name_exact", "_name_starts", "_symbol_starts", "symbol", "exchange")
    found = list(ordered.values_list(*COLUMNS)[: limit + 1])
    if len(found) <= limit:
        total, capped = len(found), False
    else:
        total = _count(rows)
        capped = total >= COUNT_CAP
    return SearchResult(
        instruments=[instrument(record_of_row(row), broker) for row in found[:limit]],
        total=total,
        capped=capped,
    )


def search_terms(query: str) -> list[str]:
    """The upper-cased terms of ``query``; ``ValueError`` when there are none or too many."""
    if not isinstance(query, str):
        raise ValueError(f"search query must be a string such as 'NIFTY 26000 CE', got {query!r}")
    terms = [term.upper() for term in query.split()]
    if not terms:
        raise ValueError("search query is empty: pass one or more terms such as 'NIFTY 26000 CE'")
    if len(terms) > MAX_TERMS:
        raise ValueError(f"search query has {len(terms)} terms; at most {MAX_TERMS} are allowed")
    if not all(term.isprintable() for term in terms):
        raise ValueError("search query contains a control or non-printable character")
    return terms


def _term_matches(term: str) -> Q:
    match = Q(symbol__icontains=term) | Q(brsymbol__icontains=term) | Q(name__icontains=term)
    if _WHOLE.match(term):
        match |= Q(token=int(term))
    if _NUMBER.match(term):
        match |= Q(strike=Decimal(term))
    return match


def _rank(condition: Q) -> Case:
    return Case(When(condition, then=Value(0)), default=Value(1), output_field=IntegerField())


def _count(rows: QuerySet[SymbolToken]) -> int:
    """The number of ``rows``, counting no further than ``COUNT_CAP``."""
    return rows.values("pk")[:COUNT_CAP].count()
