"""Hostile admin searches: LIKE wildcards, quotes, injection-looking text, NUL, invalid UTF-8,
and very long or many-word terms. Always a page (no error), within the query budget, with
bounded SQL and (on PostgreSQL) index plans rather than full scans.

The instrument search rules are tests/test_admin.py's; this module checks they hold under
input an attacker or a careless paste would send, on every admin page with a search box.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jainam_prop.admin import MAX_SEARCH_LENGTH, SymbolTokenAdmin, instrument_search
from jainam_prop.admin.api_keys import MAX_SEARCH_LENGTH as OTHER_MAX_SEARCH_LENGTH
from jainam_prop.models import SymbolToken
from jainam_prop.services.api_keys import create_api_key
from tests.test_admin import make_master

pytestmark = pytest.mark.django_db

INSTRUMENTS = "admin:jainam_prop_symboltoken_changelist"
QUERY_BUDGET = 8  # the admin's budget (tests/test_admin.py)
# Search pages of other models: Django's word search (one LIKE per word and search field).
WORD_SEARCH_PAGES = (
    "admin:jainam_prop_apikey_changelist",
    "admin:auth_user_changelist",
    "admin:auth_group_changelist",
)

HOSTILE_TERMS = [
    "%",
    "%%",
    "_",
    "__",
    "'",
    '"',
    "\\",
    "NIFTY'; DROP TABLE jainam_prop_symboltoken;--",
    "' OR '1'='1",
    "NIFTY25AUG%",
    "NIFTY25AUG_6",
    "SBIN%TEST' --",
    "निफ्टी",
    "🚀",
    "\u202eYTFIN",
    "A\x00B",
    "5\x00",
    "9" * 5000,  # digits: a token far over BIGINT
    "x" * 100_000,
    "a " * 5000,  # 5,000 words
]


@pytest.fixture
def master(db) -> int:
    make_master()
    return SymbolToken.objects.count()


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(user)
    return client


def _string_params(captured: CaptureQueriesContext) -> list[str]:
    """The string literals Django sent (as they appear in the logged SQL)."""
    return [q["sql"] for q in captured.captured_queries]


def _matches(row: SymbolToken, term: str) -> bool:
    prefix = term.strip()[:MAX_SEARCH_LENGTH].upper()
    if prefix.isdigit():
        return str(row.token) == prefix
    return any(value.upper().startswith(prefix) for value in (row.symbol, row.brsymbol, row.name))


@pytest.mark.parametrize("term", HOSTILE_TERMS, ids=lambda t: repr(t[:16]))
def test_hostile_instrument_search_is_a_page_within_budget(superuser_client, master, term):
    with CaptureQueriesContext(connection) as captured:
        response = superuser_client.get(reverse(INSTRUMENTS), {"q": term})

    assert response.status_code == 200
    assert len(captured.captured_queries) <= QUERY_BUDGET
    # Every statement is small: the term reached SQL cut to 64 characters, as a parameter.
    assert max(len(sql) for sql in _string_params(captured)) < 3000
    rows = list(response.context["cl"].result_list)
    searched = response.context["cl"].query
    if searched:  # Django's search form refuses NUL: the page is then the unfiltered list
        assert all(_matches(row, term) for row in rows), [r.symbol for r in rows]
    assert SymbolToken.objects.count() == master


@pytest.mark.parametrize("term", ["%", "_", "'", "NIFTY'; DROP TABLE x;--", "SBIN%TEST"])
def test_wildcards_and_quotes_match_themselves_only(superuser_client, master, term):
    rows = superuser_client.get(reverse(INSTRUMENTS), {"q": term}).context["cl"].result_list
    expected = {"SBIN%TEST": ["SBIN_TEST"]}.get(term, [])  # brsymbol "SBIN%TEST" literally
    assert [row.symbol for row in rows] == expected


def test_invalid_utf8_in_the_query_string_is_a_page(superuser_client, master):
    """A raw query string no client library would send: Django decodes with replacement."""
    response = superuser_client.get(reverse(INSTRUMENTS), QUERY_STRING="q=%ED%A0%80%FF")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_long_instrument_search_is_cut_to_the_documented_length(superuser_client, master):
    term = "NIFTY25AUG26" + "Z" * 100_000
    with CaptureQueriesContext(connection) as captured:
        response = superuser_client.get(reverse(INSTRUMENTS), {"q": term})
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(f"first {MAX_SEARCH_LENGTH} characters" in m for m in shown)
    cut = term[:MAX_SEARCH_LENGTH].upper()
    assert any(cut in sql for sql in _string_params(captured))
    assert not any(cut + "Z" in sql for sql in _string_params(captured))


# --- Django's word search (API keys, users, groups) ------------------------------------------


@pytest.fixture
def accounts(django_user_model) -> None:
    for i in range(5):
        user = django_user_model.objects.create_user(f"trader{i}", f"t{i}@example.com")
        create_api_key(user=user, name=f"desk {i}")
    Group.objects.create(name="operators")


@pytest.mark.parametrize("page", WORD_SEARCH_PAGES)
@pytest.mark.parametrize(
    "term", ["a " * 5000, "x" * 100_000, "%_'\" OR 1=1 --"], ids=lambda t: repr(t[:16])
)
def test_word_searches_are_cut_and_stay_small(superuser_client, accounts, page, term):
    """Before the cut, 5,000 words built 15,000 LIKEs: SQLite refused the query ("Expression
    tree is too large"), PostgreSQL spent seconds on a 3.7 MB statement."""
    with CaptureQueriesContext(connection) as captured:
        response = superuser_client.get(reverse(page), {"q": term})

    assert response.status_code == 200
    assert len(captured.captured_queries) <= QUERY_BUDGET
    assert max(len(sql) for sql in _string_params(captured)) < 20_000
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    if len(term.strip()) > OTHER_MAX_SEARCH_LENGTH:
        assert any(f"first {OTHER_MAX_SEARCH_LENGTH} characters" in m for m in shown)
    else:
        assert shown == []


def test_word_search_still_finds_by_a_short_term(superuser_client, accounts):
    response = superuser_client.get(
        reverse("admin:jainam_prop_apikey_changelist"), {"q": "trader3"}
    )
    assert [key.name for key in response.context["cl"].result_list] == ["desk 3"]
    response = superuser_client.get(reverse("admin:auth_user_changelist"), {"q": "trader4"})
    assert [user.username for user in response.context["cl"].result_list] == ["trader4"]
    assert User.objects.count() == 6


# --- the plan: hostile prefixes still use the indexes ----------------------------------------


def _page_query(term: str):
    return instrument_search(SymbolToken.objects.order_by(*SymbolTokenAdmin.search_ordering), term)


@pytest.mark.parametrize(
    ("term", "param"),
    [("NIFTY25AUG%_", r"NIFTY25AUG\%\_%"), ("SBIN%TEST'", r"SBIN\%TEST'%"), ("x\\y", r"X\\Y%"),
     ("X" * MAX_SEARCH_LENGTH, "X" * MAX_SEARCH_LENGTH + "%")],
)  # fmt: skip
def test_escaped_prefixes_stay_index_ranges(master, term, param):
    """Wildcards and quotes are escaped into a bound prefix (no leading wildcard): on
    PostgreSQL the plan is still a range of each prefix index, not a filter over every row."""
    sql, params = _page_query(term).query.sql_with_params()
    assert [p for p in params if isinstance(p, str)] == [param] * 3
    assert sql.count("LIKE %s") == 3  # placeholders: never spliced into the statement
    if connection.vendor != "postgresql":
        return  # SQLite cannot serve LIKE on UPPER() from an index (README "Admin")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE jainam_prop_symboltoken")
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = _page_query(term).order_by().explain()
    for index in (
        "symboltoken_symbol_prefix",
        "symboltoken_brsymbol_upper_prefix",
        "symboltoken_name_upper_prefix",
    ):
        assert f"Bitmap Index Scan on {index}" in plan, plan
    # The escaped wildcards are part of the fixed prefix: an index range, not a filter.
    assert "~>=~" in plan, plan
