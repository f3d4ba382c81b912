"""The Django admin: staff-only, read-only instruments, fast search and filters, sync history.

Query counts are part of the contract (at most 8 per page, the issue's budget); wall time is
measured by bench/bench_admin.py, never here.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import cast

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jainam_prop.admin import (
    MAX_SEARCH_LENGTH,
    CheapCountPaginator,
    SymbolTokenAdmin,
    expiry_condition,
)
from jainam_prop.models import SymbolToken, SyncRun

pytestmark = pytest.mark.django_db

QUERY_BUDGET = 8
CHANGELIST = "admin:jainam_prop_symboltoken_changelist"
SYNC_CHANGELIST = "admin:jainam_prop_syncrun_changelist"
START_SYNC = "admin:jainam_prop_syncrun_start_sync"
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _openalgo_date(day: date) -> str:
    return f"{day.day:02d}{MONTHS[day.month - 1]}{day.year % 100:02d}"


def _option(name: str, exchange: str, expiry: date, strike: int, kind: str, token: int, **kw):
    return SymbolToken(
        symbol=f"{name}{_openalgo_date(expiry)}{strike}{kind}",
        exchange=exchange,
        token=token,
        brsymbol=f"{name}{expiry:%y%b}{strike}{kind}".upper(),
        brexchange={"NFO": "NSEFO", "BFO": "BSEFO"}[exchange],
        name=name,
        expiry=expiry,
        strike=Decimal(strike),
        lot_size=kw.get("lot_size", 75),
        tick_size=Decimal("0.05"),
        instrument_type=kind,
        broker=kw.get("broker", "jainam_prop"),
    )


def _equity(symbol: str, exchange: str, token: int, *, brsymbol: str = "", name: str = "", **kw):
    return SymbolToken(
        symbol=symbol,
        exchange=exchange,
        token=token,
        brsymbol=brsymbol or f"{symbol}-EQ",
        brexchange={"NSE": "NSECM", "BSE": "BSECM", "NSE_INDEX": "NSECM"}[exchange],
        name=name or symbol,
        expiry=None,
        strike=None,
        lot_size=1,
        tick_size=Decimal("0.05"),
        instrument_type=kw.get("instrument_type", "EQ"),
        broker=kw.get("broker", "jainam_prop"),
    )


def _next_tuesday(day: date) -> date:
    return day + timedelta(days=(1 - day.weekday()) % 7)


# Two live monthly expiries, relative to today in Asia/Kolkata (never in the past).
AUG = _next_tuesday(timezone.localdate() + timedelta(days=20))
SEP = AUG + timedelta(days=35)
AUG_CODE = _openalgo_date(AUG)  # e.g. 29DEC26
NEAR = AUG_CODE[:5]  # e.g. 29DEC: a symbol prefix narrowing NIFTY to that expiry


def make_master() -> list[SymbolToken]:
    """A realistic slice of the master: ~300 rows over six exchanges and two brokers."""
    rows: list[SymbolToken] = []
    token = 35000
    for name in ("NIFTY", "BANKNIFTY", "FINNIFTY"):
        for expiry in (AUG, SEP):
            for strike in range(24000, 24000 + 20 * 50, 50):
                for kind in ("CE", "PE"):
                    token += 1
                    rows.append(_option(name, "NFO", expiry, strike, kind, token))
            token += 1
            rows.append(
                SymbolToken(
                    symbol=f"{name}{_openalgo_date(expiry)}FUT",
                    exchange="NFO",
                    token=token,
                    brsymbol=f"{name}{expiry:%y%b}FUT".upper(),
                    brexchange="NSEFO",
                    name=name,
                    expiry=expiry,
                    strike=None,
                    lot_size=75,
                    tick_size=Decimal("0.05"),
                    instrument_type="FUT",
                )
            )
    for strike in range(80000, 80000 + 10 * 100, 100):
        token += 1
        rows.append(_option("SENSEX", "BFO", AUG, strike, "CE", 1_100_000 + token, lot_size=20))
    for i, symbol in enumerate(["INFY", "SBIN", "TCS", "RELIANCE", "BAJAJ-AUTO", "M&M", "GVT&D"]):
        rows.append(_equity(symbol, "NSE", 1000 + i))
    rows.append(_equity("RELIANCE", "BSE", 500325, brsymbol="Reliance Inds", name="Reliance"))
    rows.append(_equity("NIFTY", "NSE_INDEX", 26000, brsymbol="Nifty 50", instrument_type="INDEX"))
    rows.append(_equity("INFY", "NSE", 1594, broker="other_xts"))
    rows.append(_equity("SBIN_TEST", "NSE", 99999, brsymbol="SBIN%TEST"))
    SymbolToken.objects.bulk_create(rows)
    return rows


@pytest.fixture
def master(db) -> list[SymbolToken]:
    return make_master()


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")


def _staff(django_user_model, username: str, *codenames: str):
    user = django_user_model.objects.create_user(username, password="pw-staff-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def viewer(django_user_model):
    """Staff who may view instruments and sync runs but not start a sync."""
    return _staff(django_user_model, "viewer", "view_symboltoken", "view_syncrun")


@pytest.fixture
def operator(django_user_model):
    """Staff who may also start a sync."""
    return _staff(django_user_model, "operator", "view_symboltoken", "view_syncrun", "run_sync")


def _symbols(response) -> list[str]:
    return [row.symbol for row in response.context["cl"].result_list]


@pytest.fixture
def get_page(client, django_assert_max_num_queries):
    """GET an admin page within the query budget; return the 200 response."""

    def get(
        url_name: str = CHANGELIST,
        params: dict | None = None,
        *,
        budget: int = QUERY_BUDGET,
        args: list | None = None,
    ):
        with django_assert_max_num_queries(budget):
            response = client.get(reverse(url_name, args=args), params or {})
        assert response.status_code == 200, response.content[:500]
        return response

    return get


# --- Who reaches the admin ---------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, master):
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_non_staff_user_is_sent_to_login(client, django_user_model, master):
    user = django_user_model.objects.create_user("trader", password="pw-trader-123")
    user.user_permissions.add(*Permission.objects.filter(codename="view_symboltoken"))
    client.force_login(user)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_view_permission_is_forbidden(client, django_user_model, master):
    client.force_login(_staff(django_user_model, "nobody"))
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse(SYNC_CHANGELIST)).status_code == 403


def test_login_form_lets_staff_in(client, viewer, master):
    response = client.post(
        reverse("admin:login"),
        {"username": "viewer", "password": "pw-staff-123", "next": reverse(CHANGELIST)},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(CHANGELIST)
    assert client.get(reverse(CHANGELIST)).status_code == 200


# --- Instruments are read-only for everyone ----------------------------------------------------


@pytest.mark.parametrize("who", ["superuser", "viewer"])
def test_instrument_admin_grants_no_write(rf, who, request, master):
    from django.contrib.admin.sites import site

    http_request = rf.get("/")
    http_request.user = request.getfixturevalue(who)
    model_admin = site._registry[SymbolToken]
    assert isinstance(model_admin, SymbolTokenAdmin)
    row = SymbolToken.objects.first()
    assert model_admin.has_view_permission(http_request, row)
    assert not model_admin.has_add_permission(http_request)
    assert not model_admin.has_change_permission(http_request, row)
    assert not model_admin.has_delete_permission(http_request, row)


def test_instrument_pages_offer_no_write_and_refuse_posts(client, superuser, master):
    client.force_login(superuser)
    row = SymbolToken.objects.get(exchange="NSE", symbol="INFY", broker="jainam_prop")
    change_url = reverse("admin:jainam_prop_symboltoken_change", args=[row.pk])

    changelist = client.get(reverse(CHANGELIST)).content.decode()
    assert reverse("admin:jainam_prop_symboltoken_add") not in changelist
    assert 'name="action"' not in changelist  # no bulk actions (no delete selected)
    page = client.get(change_url).content.decode()
    assert 'name="_save"' not in page
    assert "deletelink" not in page

    response = client.post(change_url, {"symbol": "HACKED", "token": "1", "_save": "Save"})
    assert response.status_code == 403
    assert client.post(reverse("admin:jainam_prop_symboltoken_add"), {}).status_code == 403
    delete_url = reverse("admin:jainam_prop_symboltoken_delete", args=[row.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert (row.symbol, row.token) == ("INFY", 1000)


def test_sync_history_is_read_only(client, superuser):
    run = SyncRun.objects.create(started_at=timezone.now(), status=SyncRun.Status.SUCCESS)
    client.force_login(superuser)
    change_url = reverse("admin:jainam_prop_syncrun_change", args=[run.pk])
    assert client.post(change_url, {"status": "failed", "_save": "Save"}).status_code == 403
    assert client.post(reverse("admin:jainam_prop_syncrun_add"), {}).status_code == 403
    delete_url = reverse("admin:jainam_prop_syncrun_delete", args=[run.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCESS


# --- List, search and filters within the query budget ------------------------------------------


@pytest.mark.parametrize("who", ["superuser", "viewer"])
def test_list_page_within_query_budget(client, who, request, master, get_page):
    client.force_login(request.getfixturevalue(who))
    response = get_page(CHANGELIST)
    page = response.content.decode()
    for column in ("Symbol", "Exchange", "Token", "Brsymbol", "Expiry", "Strike"):
        assert column in page
    for column in ("Lot size", "Tick size", "Instrument type", "Broker"):
        assert column in page
    assert "<h1>Instruments</h1>" in page
    cl = response.context["cl"]
    assert cl.result_count == len(master)
    assert len(cl.result_list) == SymbolTokenAdmin.list_per_page
    # Ordered by broker, exchange, underlying, expiry, strike (the future first), type.
    first = list(cl.result_list)[:3]
    assert [(r.broker, r.exchange, r.name) for r in first] == [("jainam_prop", "BFO", "SENSEX")] * 3
    assert [r.strike for r in first] == [80000, 80100, 80200]


def test_list_page_never_scans_for_counts_or_filter_choices(client, viewer, master):
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse(CHANGELIST)).status_code == 200
    sqls = [q["sql"].upper() for q in captured.captured_queries]
    assert not [sql for sql in sqls if "DISTINCT" in sql]
    counts = [sql for sql in sqls if "COUNT(" in sql]
    assert counts
    assert all("LIMIT" in sql for sql in counts), counts


@pytest.mark.parametrize(
    "term", [f"NIFTY{NEAR}", f"nifty{NEAR.lower()}", f"  Nifty{NEAR.capitalize()}  "]
)
def test_symbol_prefix_search_narrows_to_that_expiry(client, viewer, master, term, get_page):
    client.force_login(viewer)
    response = get_page(CHANGELIST, {"q": term})
    symbols = _symbols(response)
    assert len(symbols) == 41  # 20 strikes x CE/PE + the future
    assert all(s.startswith(f"NIFTY{AUG_CODE}") for s in symbols)
    # The future first, then the strikes upwards, CE before PE at each strike.
    assert symbols[0] == f"NIFTY{AUG_CODE}FUT"
    assert symbols[1:5] == [
        f"NIFTY{AUG_CODE}{k}" for k in ("24000CE", "24000PE", "24050CE", "24050PE")
    ]
    assert response.context["cl"].result_count == 41


def test_search_results_are_ordered_by_exchange_underlying_expiry_strike_type(
    client, viewer, master
):
    """Expiries in date order (the symbol's text order would put 29SEP before 30AUG)."""
    client.force_login(viewer)
    rows = client.get(reverse(CHANGELIST), {"q": "nifty"}).context["cl"].result_list
    keys = [
        (r.exchange, r.name, r.expiry or date.max, r.strike or -1, r.instrument_type) for r in rows
    ]
    assert keys == sorted(keys)
    assert [(r.exchange, r.symbol) for r in rows][:2] == [
        ("NFO", f"NIFTY{AUG_CODE}FUT"),
        ("NFO", f"NIFTY{AUG_CODE}24000CE"),
    ]
    nfo = [r.expiry for r in rows if r.exchange == "NFO"]
    assert nfo == sorted(nfo)


def test_prefix_search_on_underlying_name(client, viewer, master, get_page):
    client.force_login(viewer)
    response = get_page(CHANGELIST, {"q": "banknifty"})
    assert response.context["cl"].result_count == 82
    assert {row.name for row in response.context["cl"].result_list} == {"BANKNIFTY"}


def test_prefix_search_on_brsymbol_is_case_insensitive(client, viewer, master, get_page):
    client.force_login(viewer)
    response = get_page(CHANGELIST, {"q": "reliance i"})
    assert [(r.exchange, r.brsymbol) for r in response.context["cl"].result_list] == [
        ("BSE", "Reliance Inds")
    ]


def test_search_is_a_prefix_not_a_substring(client, viewer, master):
    client.force_login(viewer)
    response = client.get(reverse(CHANGELIST), {"q": "25AUG"})
    assert _symbols(response) == []


def test_number_searches_the_exact_token(client, viewer, master, get_page):
    client.force_login(viewer)
    response = get_page(CHANGELIST, {"q": "500325"})
    assert [(r.exchange, r.symbol) for r in response.context["cl"].result_list] == [
        ("BSE", "RELIANCE")
    ]
    # A token is matched exactly, never as a prefix.
    assert _symbols(client.get(reverse(CHANGELIST), {"q": "50032"})) == []
    # Larger than any token: no rows, no database error.
    assert _symbols(client.get(reverse(CHANGELIST), {"q": "9" * 30})) == []


def test_like_wildcards_are_matched_literally(client, viewer, master):
    client.force_login(viewer)
    assert _symbols(client.get(reverse(CHANGELIST), {"q": "%"})) == []
    assert _symbols(client.get(reverse(CHANGELIST), {"q": "_"})) == []
    assert _symbols(client.get(reverse(CHANGELIST), {"q": "SBIN%"})) == ["SBIN_TEST"]
    assert _symbols(client.get(reverse(CHANGELIST), {"q": "SBIN_"})) == ["SBIN_TEST"]


def test_over_long_search_is_cut_and_said(client, viewer, master):
    client.force_login(viewer)
    term = "NIFTY25AUG26" + "X" * 200
    response = client.get(reverse(CHANGELIST), {"q": term})
    assert response.status_code == 200
    assert _symbols(response) == []
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(f"first {MAX_SEARCH_LENGTH} characters" in m for m in shown)


def test_exchange_filter(client, viewer, master, get_page):
    client.force_login(viewer)
    response = get_page(CHANGELIST, {"exchange": "BFO"})
    assert response.context["cl"].result_count == 10
    assert {r.exchange for r in response.context["cl"].result_list} == {"BFO"}
    page = response.content.decode()
    for exchange in ("NFO", "NSE", "BSE", "NSE_INDEX", "BFO"):
        assert f"?exchange={exchange}" in page
    # NFO: 246 rows, more than a page.
    response = get_page(CHANGELIST, {"exchange": "NFO"})
    assert response.context["cl"].result_count == 246
    assert {r.exchange for r in response.context["cl"].result_list} == {"NFO"}


def test_search_and_filters_combine(client, viewer, master, get_page):
    client.force_login(viewer)
    params = {"q": "INFY", "exchange": "NSE", "broker": "other_xts"}
    response = get_page(CHANGELIST, params)
    assert [(r.broker, r.token) for r in response.context["cl"].result_list] == [
        ("other_xts", 1594)
    ]
    response = get_page(CHANGELIST, {"instrument_type": "CE", "q": "SENSEX"})
    assert response.context["cl"].result_count == 10


def test_filter_choices(client, viewer, master):
    client.force_login(viewer)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert re.findall(r"\?broker=([\w]+)", page) == ["jainam_prop", "other_xts"]
    for exchange in ("NSE", "BSE", "NFO", "BFO", "NSE_INDEX"):
        assert f'?exchange={exchange}"' in page
    # Exchanges that hold no rows are not offered.
    for exchange in ("CDS", "MCX", "BSE_INDEX"):
        assert f'?exchange={exchange}"' not in page
    for kind in ("EQ", "FUT", "CE", "PE", "INDEX"):
        assert f'?instrument_type={kind}"' in page


def test_filter_choices_leave_out_types_without_rows(client, viewer, db):
    SymbolToken.objects.bulk_create([_equity("SBIN", "NSE", 3045)])
    client.force_login(viewer)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert re.findall(r"\?instrument_type=(\w+)", page) == ["EQ"]
    assert re.findall(r"\?exchange=(\w+)", page) == ["NSE"]


def test_stored_brokers_walks_every_broker(rf, master):
    from jainam_prop.admin import stored_brokers

    SymbolToken.objects.bulk_create(
        [_equity("SBIN", "NSE", 5, broker=b) for b in ("aaa", "zzz", "mmm", "jainam_prop2")]
    )
    assert stored_brokers(rf.get("/")) == [
        "aaa",
        "jainam_prop",
        "jainam_prop2",
        "mmm",
        "other_xts",
        "zzz",
    ]
    SymbolToken.objects.all().delete()
    assert stored_brokers(rf.get("/")) == []


def test_expiry_filter_ranges(client, viewer, get_page):
    today = timezone.localdate()
    week_end = today + timedelta(days=6 - today.weekday())
    days = {
        "expired": today - timedelta(days=1),
        "today": today,
        "sunday": week_end,
        "far": today + timedelta(days=400),
    }
    rows = [
        _option("TEST", "NFO", day, 100, "CE", 70000 + i) for i, day in enumerate(days.values())
    ]
    rows.append(_equity("NOEXP", "NSE", 71000))
    SymbolToken.objects.bulk_create(rows)
    by_token = {70000 + i: key for i, key in enumerate(days)} | {71000: "none"}
    client.force_login(viewer)

    def keys(range_name: str, **params: str) -> set[str]:
        response = get_page(CHANGELIST, {"expiry_range": range_name, **params})
        return {by_token[r.token] for r in response.context["cl"].result_list}

    # Dead (expired) contracts are hidden unless the contract filter asks for them.
    assert keys("", contract="dead") == {"expired"}
    assert keys("", contract="all") == set(by_token.values())
    assert "expired" not in keys("")
    assert keys("week") == {"today", "sunday"}
    assert "today" in keys("month")
    assert keys("later") == {"far"} | ({"sunday"} if week_end.month != today.month else set())
    assert keys("none") == {"none"}
    assert client.get(reverse(CHANGELIST), {"expiry_range": "bogus"}).status_code == 302


def test_expiry_condition_bounds():
    wednesday = date(2026, 4, 29)  # week ends Sunday 3 May, month ends Thursday 30 April

    def matches(range_name: str, day: date) -> bool:
        condition = expiry_condition(range_name, today=wednesday)
        assert condition is not None  # every range asked about here is known
        # A range's Q holds (lookup, date) pairs.
        children = dict(cast("list[tuple[str, date]]", condition.children))
        low, high = children.get("expiry__gte"), children.get("expiry__lte")
        if "expiry__lt" in children:
            return day < children["expiry__lt"]
        if "expiry__gt" in children:
            return day > children["expiry__gt"]
        # The rest are bounded on both sides.
        assert low is not None
        assert high is not None
        return low <= day <= high

    assert matches("expired", date(2026, 4, 28))
    assert not matches("expired", wednesday)
    assert matches("week", wednesday)
    assert matches("week", date(2026, 5, 3))
    assert not matches("week", date(2026, 5, 4))
    assert matches("month", date(2026, 4, 30))
    assert not matches("month", date(2026, 5, 1))
    assert matches("later", date(2026, 5, 1))
    assert not matches("later", date(2026, 4, 30))
    assert dict(expiry_condition("none", today=wednesday).children) == {"expiry__isnull": True}
    assert expiry_condition("yesterday", today=wednesday) is None


# --- Counting without full scans ---------------------------------------------------------------


def test_counts_are_capped(master):
    class SmallCap(CheapCountPaginator):
        count_cap = 50

    filtered = SmallCap(SymbolToken.objects.filter(exchange="NFO").order_by("pk"), 10)
    assert filtered.count == 50
    assert not filtered.count_is_exact
    assert not filtered.count_is_estimate
    few = SmallCap(SymbolToken.objects.filter(exchange="BFO").order_by("pk"), 10)
    assert (few.count, few.count_is_exact) == (10, True)


def test_capped_count_is_shown_as_more_than(client, viewer, master, monkeypatch):
    monkeypatch.setattr(CheapCountPaginator, "count_cap", 50)
    client.force_login(viewer)
    page = client.get(reverse(CHANGELIST), {"exchange": "NFO"}).content.decode()
    assert re.search(r"more than\s*<?[^>]*>?\s*50\b", page) or "more than 50" in page


def test_unfiltered_count_never_counts_the_whole_table(master):
    """PostgreSQL: the planner's estimate; SQLite (no estimate): a count capped by LIMIT."""

    class SmallCap(CheapCountPaginator):
        count_cap = 50

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE jainam_prop_symboltoken")
    paginator = SmallCap(SymbolToken.objects.order_by("pk"), 10)
    with CaptureQueriesContext(connection) as captured:
        count = paginator.count
    # One query: never a full count, at most the cap + 1 rows counted.
    [sql] = [q["sql"] for q in captured.captured_queries]
    assert "LIMIT 51" in sql
    if connection.vendor == "postgresql":
        assert count == len(master)  # ANALYZE of a small table counts every row
        assert paginator.count_is_estimate
        assert "reltuples" in sql
    else:
        assert count == 50
        assert not paginator.count_is_exact
        assert not paginator.count_is_estimate


# --- The indexes serve the search (EXPLAIN) ----------------------------------------------------


def _page_query(term: str):
    """The queryset the changelist runs for a search (ordering as the admin's)."""
    from jainam_prop.admin import instrument_search

    return instrument_search(SymbolToken.objects.order_by(*SymbolTokenAdmin.search_ordering), term)


def _postgresql_plan(queryset) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE jainam_prop_symboltoken")
        # Small test table: forbid the sequential scan to see which indexes CAN serve it.
        cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


def test_prefix_search_is_served_by_indexes(master):
    """PostgreSQL: three prefix index ranges. SQLite cannot index LIKE on an expression, so
    there the test pins the query shape: prefixes only, upper-cased, wildcards escaped."""
    if connection.vendor == "postgresql":
        plan = _postgresql_plan(_page_query("nifty25aug").order_by())
        for index in (
            "symboltoken_symbol_prefix",
            "symboltoken_brsymbol_upper_prefix",
            "symboltoken_name_upper_prefix",
        ):
            assert f"Bitmap Index Scan on {index}" in plan, plan
        # Prefix conditions as index ranges (pattern operators), not a filter over every row.
        assert "~>=~ 'NIFTY25AUG'" in plan, plan
        assert "~<~ 'NIFTY25AUH'" in plan, plan
        return
    sql, params = _page_query("nifty25aug").query.sql_with_params()
    assert sql.count("LIKE") == 3, sql
    assert sql.count("UPPER(") == 2, sql
    assert [p for p in params if isinstance(p, str)] == ["NIFTY25AUG%"] * 3
    _, params = _page_query("a_b").query.sql_with_params()
    assert [p for p in params if isinstance(p, str)] == [r"A\_B%"] * 3


def test_token_search_is_served_by_an_index(master):
    if connection.vendor == "postgresql":
        plan = _postgresql_plan(_page_query("500325"))
        assert re.search(r"Index Cond: \(token = '?500325'?(::bigint)?\)", plan), plan
    else:
        plan = _page_query("500325").explain()
        assert "symboltoken_token" in plan, plan


# --- The detail page -------------------------------------------------------------------------


def test_detail_page_shows_the_live_lookup_token(client, viewer, master):
    row = SymbolToken.objects.get(symbol=f"NIFTY{AUG_CODE}24500CE", exchange="NFO")
    client.force_login(viewer)
    response = client.get(reverse("admin:jainam_prop_symboltoken_change", args=[row.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Live lookup (get_token_from_symbol)" in page
    assert f'<span class="live-token">{row.token}</span> (matches this row)' in page
    assert row.brsymbol in page


def test_live_lookup_reports_a_symbol_the_service_does_not_know(master):
    from django.contrib.admin.sites import site

    ghost = SymbolToken(symbol="NIFTY01JAN2099999CE", exchange="NFO", token=1, broker="jainam_prop")
    html = site._registry[SymbolToken].live_lookup(ghost)
    assert "not found" in html
    assert "NIFTY01JAN2099999CE" in html


# --- Sync history ------------------------------------------------------------------------------


def _run(**fields) -> SyncRun:
    started = timezone.now() - timedelta(minutes=5)
    defaults = {
        "started_at": started,
        "finished_at": started + timedelta(seconds=12.5),
        "status": SyncRun.Status.SUCCESS,
        "source": "http://127.0.0.1:1/apibinarymarketdata",
    }
    return SyncRun.objects.create(**(defaults | fields))


def test_sync_history_shows_counts_reasons_duration_and_error(client, viewer, get_page):
    _run(
        counts={
            "NSEFO": {
                "lines": 160,
                "stored": 150,
                "skipped": 10,
                "skipped_by_reason": {"spread": 7, "duplicate_symbol": 3},
            },
            "NSECD": {"lines": 83, "stored": 0, "skipped": 83, "skipped_by_reason": {"spread": 83}},
        },
        stored=150,
        skipped=93,
    )
    _run(status=SyncRun.Status.FAILED, error="XTSUnavailable: could not reach 127.0.0.1:1")
    client.force_login(viewer)
    response = get_page(SYNC_CHANGELIST)
    page = response.content.decode()
    assert "<h1>Sync runs</h1>" in page
    assert "12.5 s" in page
    assert "XTSUnavailable: could not reach 127.0.0.1:1" in page
    assert '<span class="jp-badge jp-bad" data-status="failed">Failed</span>' in page
    assert '<span class="jp-badge jp-ok" data-status="success">Success</span>' in page
    # Per-source counts and reasons on the run's own page.
    run = SyncRun.objects.get(status=SyncRun.Status.SUCCESS)
    page = get_page("admin:jainam_prop_syncrun_change", args=[run.pk]).content.decode()
    assert "lines / stored / skipped" in page.lower()
    assert "NSEFO: 160 / 150 / 10" in page
    assert "NSECD: 83 / 0 / 83" in page
    assert "spread: 90" in page
    assert "duplicate_symbol: 3" in page
    assert "12.5 s" in page


def test_sync_button_only_for_holders_of_run_sync(client, viewer, operator, superuser):
    button = 'value="Start a sync now"'
    client.force_login(viewer)
    assert button not in client.get(reverse(SYNC_CHANGELIST)).content.decode()
    client.force_login(operator)
    assert button in client.get(reverse(SYNC_CHANGELIST)).content.decode()
    client.force_login(superuser)
    assert button in client.get(reverse(SYNC_CHANGELIST)).content.decode()


def test_sync_start_is_forbidden_without_run_sync(client, viewer, django_user_model):
    client.force_login(viewer)
    assert client.post(reverse(START_SYNC)).status_code == 403
    assert not SyncRun.objects.exists()
    client.logout()
    response = client.post(reverse(START_SYNC))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not SyncRun.objects.exists()


def test_sync_start_needs_post(client, operator):
    client.force_login(operator)
    assert client.get(reverse(START_SYNC)).status_code == 405
    assert not SyncRun.objects.exists()


@override_settings(JAINAM_MARKET_URL="")
def test_sync_without_market_url_shows_the_error(client, operator):
    client.force_login(operator)
    response = client.post(reverse(START_SYNC), follow=True)
    assert response.redirect_chain == [(reverse(SYNC_CHANGELIST), 302)]
    page = response.content.decode()
    assert re.search(r'<li class="error">Sync failed \(MissingSetting\): JAINAM_MARKET_URL', page)
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert "JAINAM_MARKET_URL" in run.error


def _messages(response) -> list[tuple[str, str]]:
    """The (level, text) admin messages shown on a followed redirect's page."""
    block = re.search(r'<ul class="messagelist">(.*?)</ul>', response.content.decode(), re.S)
    return re.findall(r'<li class="(\w+)">(.*?)</li>', block.group(1), re.S) if block else []


def test_sync_from_the_admin_stores_the_master_and_says_so(client, operator, xts_server, settings):
    settings.JAINAM_MARKET_URL = xts_server.market_url
    xts_server.set_dataset("samples-live")
    client.force_login(operator)
    response = client.post(reverse(START_SYNC), follow=True)
    run = SyncRun.objects.get()
    # To the run's own page, with the outcome as a message.
    assert response.redirect_chain == [
        (reverse("admin:jainam_prop_syncrun_change", args=[run.pk]), 302)
    ]
    assert run.status == SyncRun.Status.SUCCESS
    stored = SymbolToken.objects.count()
    assert stored > 500
    assert run.stored == stored
    [(level, text)] = _messages(response)
    assert level == "success"
    assert text.startswith(f"Sync {run.pk}: sync success: stored {stored} instruments")
    # The run's page shows its per-segment counts.
    page = client.get(reverse("admin:jainam_prop_syncrun_change", args=[run.pk])).content.decode()
    nsefo = run.counts["NSEFO"]
    assert f"NSEFO: {nsefo['lines']} / {nsefo['stored']} / {nsefo['skipped']}" in page
    assert len(xts_server.requests_to("/instruments/master")) == 6


def test_failed_sync_shows_the_broker_error(client, operator, xts_server, settings):
    settings.JAINAM_MARKET_URL = xts_server.market_url
    SymbolToken.objects.bulk_create([_equity("SBIN", "NSE", 3045)])
    xts_server.inject_fault("http400", endpoint="master", times=1)
    client.force_login(operator)
    response = client.post(reverse(START_SYNC), follow=True)
    [(level, text)] = _messages(response)
    assert level == "error"
    assert text.startswith("Sync failed (XTSRejected)")
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert "XTSRejected" in run.error
    # Nothing was replaced.
    assert list(SymbolToken.objects.values_list("symbol", flat=True)) == ["SBIN"]


# --- Dry run, refusal and force from the admin -------------------------------------------------


def _nfo_rows_the_broker_dropped() -> None:
    """Live NFO contracts stored but missing from the test server's master: a sync would make
    them vanish, which the guard refuses."""
    rows = [
        _option("GONE", "NFO", AUG, strike, kind, 80_000 + i * 2 + (kind == "PE"))
        for i, strike in enumerate(range(1000, 1000 + 150 * 10, 10))
        for kind in ("CE", "PE")
    ]
    SymbolToken.objects.bulk_create(rows)


def test_dry_run_shows_the_verdict_and_writes_nothing(client, operator, xts_server, settings):
    settings.JAINAM_MARKET_URL = xts_server.market_url
    client.force_login(operator)
    response = client.post(reverse(START_SYNC), {"dry_run": "1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-verdict="ok"' in page
    assert '<tr data-exchange="NFO">' in page
    assert SyncRun.objects.get().status == SyncRun.Status.DRY_RUN
    assert not SymbolToken.objects.exists()


def test_refused_sync_is_red_and_offers_the_dry_run_never_a_flag(
    client, operator, xts_server, settings
):
    settings.JAINAM_MARKET_URL = xts_server.market_url
    _nfo_rows_the_broker_dropped()
    client.force_login(operator)
    response = client.post(reverse(START_SYNC), follow=True)
    [(level, text)] = _messages(response)
    assert level == "error"
    assert "Check first (dry run)" in text
    assert "--force" not in text
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.REFUSED
    assert SymbolToken.objects.filter(name="GONE").count() == 300
    page = client.get(reverse("admin:jainam_prop_syncrun_change", args=[run.pk])).content.decode()
    assert '<span class="jp-badge jp-bad" data-status="refused">' in page
    assert 'id="jp-full-error"' in page
    assert "Force this sync" in page  # the remedy, worded as the button
    assert 'id="dry-run"' in page
    assert "--force" not in page


def test_force_needs_the_confirmation_that_shows_what_vanishes(
    client, operator, xts_server, settings
):
    settings.JAINAM_MARKET_URL = xts_server.market_url
    _nfo_rows_the_broker_dropped()
    client.force_login(operator)
    # The dry run: red verdict, the vanishing instruments, the force form.
    page = client.post(reverse(START_SYNC), {"dry_run": "1"}).content.decode()
    assert 'data-verdict="refused"' in page
    assert '<li data-exchange="NFO"><strong>NFO</strong>: 300 instruments, e.g. GONE' in page
    assert 'id="force-sync"' in page
    assert "remove 300 instruments (NFO 300)" in page
    assert SymbolToken.objects.filter(name="GONE").count() == 300
    # Force without ticking the box: the verdict again, nothing written.
    response = client.post(reverse(START_SYNC), {"force": "1"})
    assert response.status_code == 200
    assert 'id="force-sync"' in response.content.decode()
    assert SymbolToken.objects.filter(name="GONE").count() == 300
    # Ticked: the forced sync replaces the instruments and is flagged.
    response = client.post(reverse(START_SYNC), {"force": "1", "confirm": "1"}, follow=True)
    [(level, text)] = _messages(response)
    assert level == "success"
    assert text.startswith("Forced sync")
    assert not SymbolToken.objects.filter(name="GONE").exists()
    run = SyncRun.objects.filter(status=SyncRun.Status.SUCCESS).get()
    assert run.forced
    page = client.get(reverse(SYNC_CHANGELIST)).content.decode()
    assert 'jp-forced" title="The safety guard was overridden by hand' in page
    removed = sum(c["removed"] for c in run.changes.values())
    assert removed >= 300
    assert f'/ <span class="jp-removed">{removed:,}</span> /' in page


def test_force_is_forbidden_without_run_sync(client, viewer, db):
    client.force_login(viewer)
    response = client.post(reverse(START_SYNC), {"force": "1", "confirm": "1"})
    assert response.status_code == 403
