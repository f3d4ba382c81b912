"""``/api/v1/search`` end to end (Django test client): OpenAlgo's multi-term semantics, its
limit and messages, the honest count, dead contracts left out, bounded work per query."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from jainam_prop.master_parser import parse_master
from jainam_prop.models import SymbolToken
from jainam_prop.services import save_master_contract_to_db, search_symbols
from jainam_prop.services.lookups import search as search_module
from jainam_prop.views import symbols as symbol_views
from jainam_prop.vocabulary import MONTHS, today_ist
from tests.fixtures_orders import BEL_DEAD
from tests.sample_data import live_master

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/search"


def post(client, body: object):
    return client.post(SEARCH, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def synced_live(db) -> None:
    today = today_ist()
    for segment in ("NSEFO", "NSECM"):
        rows = parse_master(live_master(segment, today=today), segment=segment, today=today).rows
        save_master_contract_to_db(rows, segments=[segment])


def an_option(name: str = "NIFTY", kind: str = "CE") -> SymbolToken:
    option = (
        SymbolToken.objects.filter(name=name, instrument_type=kind, exchange="NFO")
        .order_by("symbol")
        .first()
    )
    assert option is not None, f"no {name} {kind} stored"
    return option


def matches(item: dict, term: str) -> bool:
    term = term.upper()
    texts = (item["symbol"], item["brsymbol"], item["name"].upper())
    numeric = term.replace(".", "", 1).isdigit()
    return (
        any(term in text.upper() for text in texts)
        or (term.isdigit() and item["token"] == term)
        or (numeric and item["strike"] == float(term))
    )


def test_every_term_must_match_symbol_brsymbol_name_token_or_strike(client, api_key, synced_live):
    option = an_option()
    terms = [
        option.name,
        str(int(option.strike)),
        MONTHS[option.expiry.month - 1],
        option.instrument_type,
    ]
    response = post(client, {"apikey": api_key, "query": " ".join(terms).lower()})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    symbols = [item["symbol"] for item in body["data"]]
    assert option.symbol in symbols
    assert all(matches(item, term) for item in body["data"] for term in terms)
    assert body["message"] == f"Found {len(symbols)} matching symbols"
    # Each added term narrows the answer: the underlying alone finds more.
    wider = post(client, {"apikey": api_key, "query": option.name}).json()["data"]
    assert len(wider) > len(symbols)
    assert {item["symbol"] for item in body["data"]} <= {item["symbol"] for item in wider}


def test_a_token_finds_its_instrument(client, api_key, synced_live):
    option = an_option()
    body = post(client, {"apikey": api_key, "query": str(option.token)}).json()
    assert (option.symbol, str(option.token)) in {(i["symbol"], i["token"]) for i in body["data"]}


def test_exchange_narrows_and_underlying_ranks_first(client, api_key, synced_live):
    body = post(client, {"apikey": api_key, "query": "NIFTY", "exchange": "NFO"}).json()
    assert body["data"]
    assert {item["exchange"] for item in body["data"]} == {"NFO"}
    # OpenAlgo's order: name equal to the first term before names that only contain it.
    ranks = [item["name"] != "NIFTY" for item in body["data"]]
    assert ranks == sorted(ranks)


def test_nothing_found_is_openalgos_message(client, api_key, synced_live):
    body = post(client, {"apikey": api_key, "query": "NIFTY NOSUCHTERM"}).json()
    assert body == {"status": "success", "message": "No matching symbols found", "data": []}


def test_more_matches_than_the_limit_are_counted_honestly(
    client, api_key, synced_live, monkeypatch
):
    total = SymbolToken.objects.filter(name__icontains="NIFTY").count()
    assert total > 3
    monkeypatch.setattr(symbol_views, "SEARCH_LIMIT", 3)

    body = post(client, {"apikey": api_key, "query": "nifty"}).json()

    assert len(body["data"]) == 3
    assert body["message"] == (
        f"Found {total} matching symbols; showing the first 3: add terms to narrow it"
    )


def test_the_count_stops_at_its_cap(client, api_key, synced_live, monkeypatch):
    monkeypatch.setattr(symbol_views, "SEARCH_LIMIT", 2)
    monkeypatch.setattr(search_module, "COUNT_CAP", 4)
    body = post(client, {"apikey": api_key, "query": "NIFTY"}).json()
    assert body["message"] == (
        "Found more than 4 matching symbols; showing the first 2: add terms to narrow it"
    )


def test_openalgos_limit_is_500(client, api_key, synced_live):
    assert symbol_views.SEARCH_LIMIT == 500
    body = post(client, {"apikey": api_key, "query": "E"}).json()
    found = SymbolToken.objects.filter(
        Q(symbol__icontains="E") | Q(brsymbol__icontains="E") | Q(name__icontains="E")
    ).count()
    assert len(body["data"]) == min(found, 500)


def test_dead_contracts_are_never_returned(client, api_key, synced_nsefo):
    assert SymbolToken.objects.filter(symbol=BEL_DEAD.symbol).exists()
    body = post(client, {"apikey": api_key, "query": "BEL"}).json()
    symbols = {item["symbol"] for item in body["data"]}
    assert symbols
    assert BEL_DEAD.symbol not in symbols


@pytest.mark.parametrize("query", ["", "   "])
def test_an_empty_query_is_openalgos_error(client, api_key, synced_live, query):
    response = post(client, {"apikey": api_key, "query": query})
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error"
    assert body["message"] == "query: is required and cannot be empty"
    assert body["field"] == "query"


def sql_of_a_refused_request(client, api_key) -> int:
    """SQL queries of a request refused before the search (authentication), once the key's
    first-use bookkeeping is done."""
    post(client, {"apikey": api_key, "query": " "})
    with CaptureQueriesContext(connection) as queries:
        assert post(client, {"apikey": api_key, "query": " "}).status_code == 400
    return len(queries)


def test_too_many_terms_are_refused_before_any_search(
    client, api_key, synced_live, django_assert_num_queries
):
    base = sql_of_a_refused_request(client, api_key)
    with django_assert_num_queries(base):
        response = post(client, {"apikey": api_key, "query": " ".join(["A"] * 9)})
    assert response.status_code == 400
    assert response.json()["message"] == "search query has 9 terms; at most 8 are allowed"


def test_a_term_longer_than_any_field_finds_nothing_without_sql(
    client, api_key, synced_live, django_assert_num_queries
):
    # The API refuses a query over 128 characters before the search; other callers may not.
    too_long = "NIFTY " + "X" * (search_module.MAX_TERM_LENGTH + 1)
    with django_assert_num_queries(0):
        found = search_symbols(too_long)
    assert (found.instruments, found.total, found.capped) == ([], 0, False)
    response = post(client, {"apikey": api_key, "query": too_long})
    assert response.status_code == 400
    assert "at most 128 characters" in response.json()["message"]


def test_wildcards_are_literal(client, api_key, synced_live):
    for query in ("%", "_", "NIFTY %", "\\"):
        assert post(client, {"apikey": api_key, "query": query}).json()["data"] == []


def test_a_multi_term_query_costs_one_or_two_sql_queries(
    client, api_key, synced_live, monkeypatch, django_assert_num_queries
):
    base = sql_of_a_refused_request(client, api_key)
    option = an_option()
    query = f"{option.name} {int(option.strike)} {MONTHS[option.expiry.month - 1]} CE 0 E N I"
    with django_assert_num_queries(base + 1):  # the rows: every term in one WHERE
        body = post(client, {"apikey": api_key, "query": query}).json()
    assert option.symbol in [item["symbol"] for item in body["data"]]
    monkeypatch.setattr(symbol_views, "SEARCH_LIMIT", 1)
    with django_assert_num_queries(base + 2):  # more than shown: the capped count too
        body = post(client, {"apikey": api_key, "query": "NIFTY E 0 C N I F T"}).json()
    assert len(body["data"]) == 1
    assert "showing the first 1" in body["message"]
