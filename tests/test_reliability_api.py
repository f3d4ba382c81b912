"""Hostile input on the OpenAlgo JSON API: always a 4xx with a clear message, nothing sent to
the broker, nothing written.

tests/test_views.py covers the documented statuses one case each; this module throws what an
attacker or a broken client would (injection-looking text, LIKE wildcards, control
characters, unpaired surrogates, huge and deeply nested bodies, wrong types, and random JSON
from hypothesis) at every endpoint, and checks the broker log of the XTS test server and the
row counts after each request.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jainam_prop.models import ApiKey, LookupGeneration, SymbolToken, SyncRun
from jainam_prop.views.api import MAX_BODY_BYTES
from tests.fixtures_lookups import child_database_url
from tests.fixtures_orders import (
    BEL_FUT,
    CLIENT_ID,
    ICICIGI_CE,
    INTERACTIVE_KEY,
    INTERACTIVE_SECRET,
    free_port,
    order_posts,
    session_logins,
)

pytestmark = pytest.mark.django_db

PLACE = "/api/v1/placeorder"
SYMBOL = "/api/v1/symbol"
SEARCH = "/api/v1/search"
SPLIT = "/api/v1/splitorder"
ENDPOINTS = (PLACE, SPLIT, SYMBOL, SEARCH)

# Text an attacker or a broken client sends. None of it names a stored instrument.
HOSTILE_TEXT = [
    "NIFTY'; DROP TABLE jainam_prop_symboltoken;--",
    "BEL25AUG26FUT' OR '1'='1",
    '" OR ""="',
    "%",
    "%%",
    "_",
    "BEL%",
    "BEL_5AUG26FUT",  # '_' as a LIKE wildcard would match BEL25AUG26FUT
    "BEL25AUG26FU_",
    "\\",
    "BEL25AUG26FUT\\",
    "*",
    "निफ्टी",
    "".join(chr(ord(c) + 0xFEE0) for c in "BEL25AUG26FUT"),  # fullwidth look-alike
    "BEL25AUG26FUT\u200b",  # zero-width space
    "\u202eTUF62GUA52LEB",  # right-to-left override
    "🚀" * 30,
    "A" * 64,
    "A" * 65,
    "A" * 128,
]
# Characters no field may hold: refused before any lookup (PostgreSQL cannot even store NUL).
CONTROL_TEXT = [
    "BEL25AUG26FUT\x00",
    "\x00",
    "BEL\x00FUT",
    "BEL25AUG26FUT\n",
    "BEL25AUG26FUT\r\nX-Injected: 1",
    "\t",
    "\x1b[31m",
    "\x7f",
    "\ud800",  # an unpaired surrogate: valid JSON ("\ud800"), not encodable as UTF-8
    "BEL25AUG26FUT\udfff",
]
TOO_LONG = ["A" * 129, "B" * 10_000]
WRONG_TYPES: list[Any] = [0, 1.5, True, False, [], ["BEL25AUG26FUT"], {}, {"$ne": None}]


def post(client, path: str, body: object):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json")


def order(apikey: str | None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apikey": apikey,
        "strategy": "reliability",
        "symbol": BEL_FUT.symbol,
        "exchange": "NFO",
        "action": "BUY",
        "quantity": str(BEL_FUT.lot_size),
        "pricetype": "MARKET",
        "product": "NRML",
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def row_counts() -> dict[str, int]:
    return {
        "instruments": SymbolToken.objects.count(),
        "runs": SyncRun.objects.count(),
        "generations": LookupGeneration.objects.count(),
        "keys": ApiKey.objects.count(),
        "users": User.objects.count(),
    }


@pytest.fixture
def world(client, api_key, synced_nsefo, broker_settings, settings, xts_orders_server):
    """A synced master, a key and a broker; the rate limit off (hostile volume is not the
    subject here: test_views covers 429)."""
    settings.JAINAM_ORDER_RATE_LIMIT = "0"
    return xts_orders_server


@pytest.fixture
def unchanged(world) -> Iterator[None]:
    """After the test: no order and no login reached the broker, no row was added or lost."""
    before = row_counts()
    yield
    assert order_posts(world) == []
    assert session_logins(world) == []
    assert row_counts() == before


def assert_client_error(response, *, statuses: tuple[int, ...] = (400, 401, 404, 413)) -> dict:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    body = response.json()
    assert body["status"] == "error"
    assert isinstance(body["message"], str)
    assert len(body["message"]) >= 10
    return body


# --- injection-looking and odd text ----------------------------------------------------------


# 30 emoji make a lookup cache key over memcached's 250 characters: LocMemCache warns, and
# neither it nor Redis (the supported caches) limits key length.
@pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning")
@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=lambda text: repr(text[:20]))
def test_hostile_symbol_is_an_error_and_sends_nothing(client, api_key, unchanged, text):
    # An order symbol holds at most 64 characters, a looked-up one at most 128.
    for path, longest in ((PLACE, 64), (SYMBOL, 128)):
        body = assert_client_error(post(client, path, order(api_key, symbol=text)))
        if not text.isprintable():  # invisible characters: refused, not looked up
            assert "non-printable character" in body["message"]
        elif len(text) <= longest:
            assert body["message"].startswith("Symbol ")
            assert "not found on NFO" in body["message"]
        else:
            assert body["field"] == "symbol"
            assert f"at most {longest}" in body["message"]


@pytest.mark.parametrize("text", HOSTILE_TEXT, ids=lambda text: repr(text[:20]))
def test_hostile_search_matches_literally(client, api_key, unchanged, text):
    response = post(client, SEARCH, {"apikey": api_key, "query": text})

    if not text.isprintable():  # invisible characters: a clear 400, never a scan
        assert response.status_code == 400
        assert "non-printable character" in response.json()["message"]
        return
    assert response.status_code == 200
    found = [item["symbol"] for item in response.json()["data"]]
    # A literal prefix: no wildcard widened the search (none of these texts starts a symbol).
    assert found == []


def test_like_wildcards_do_not_widen_a_real_prefix(client, api_key, unchanged):
    prefix = BEL_FUT.symbol[:5]  # BEL + the expiry's day, e.g. BEL04
    exact = post(client, SEARCH, {"apikey": api_key, "query": prefix}).json()["data"]
    wild = post(client, SEARCH, {"apikey": api_key, "query": f"BEL_{prefix[4]}"}).json()["data"]
    assert BEL_FUT.symbol in [item["symbol"] for item in exact]
    assert wild == []


@pytest.mark.parametrize("text", [*HOSTILE_TEXT[:8], "निफ्टी", "🚀"])
def test_hostile_strategy_is_logged_not_sent(client, api_key, world, text, caplog):
    """Strategy is free text: logged with the order (repr), never interpreted, and not the
    order's identifier at the broker (each order gets its own short one)."""
    caplog.set_level(logging.INFO, logger="jainam_prop")
    before = row_counts()
    response = post(client, PLACE, order(api_key, strategy=text))

    assert response.status_code == 200, response.content
    [sent] = order_posts(world)
    assert re.fullmatch(r"jp[0-9a-f]{14}", sent.body["orderUniqueIdentifier"])
    assert repr(text) in caplog.text
    assert sent.body["exchangeInstrumentID"] == BEL_FUT.token
    assert row_counts() == before


# --- characters no field may hold -------------------------------------------------------------


@pytest.mark.parametrize("text", CONTROL_TEXT, ids=repr)
@pytest.mark.parametrize(
    ("path", "field"),
    [(PLACE, "symbol"), (PLACE, "strategy"), (PLACE, "exchange"), (SYMBOL, "symbol"),
     (SEARCH, "query"), (PLACE, "apikey")],
)  # fmt: skip
def test_control_characters_are_400_naming_the_field(client, api_key, unchanged, path, field, text):
    body = order(api_key) if path == PLACE else {"apikey": api_key, "exchange": "NFO"}
    body[field] = text if field != "apikey" else api_key + text

    answer = assert_client_error(post(client, path, body), statuses=(400,))

    assert answer["field"] == field
    assert "control characters or unpaired surrogates" in answer["message"]
    assert api_key not in answer["message"]


def test_control_characters_in_a_field_name_or_nested_value(client, api_key, unchanged):
    nested = order(api_key, extra={"deep": ["ok", "bad\x00"]})
    assert assert_client_error(post(client, PLACE, nested), statuses=(400,))["field"] == "extra"
    named = order(api_key, **{"sym\x00bol": "x"})
    assert assert_client_error(post(client, PLACE, named), statuses=(400,))["field"] == "body"


def test_surrogate_escape_in_raw_json(client, api_key, unchanged):
    raw = json.dumps(order(api_key)).replace('"reliability"', '"\\udc80reliability"')
    answer = assert_client_error(post(client, PLACE, raw), statuses=(400,))
    assert answer["field"] == "strategy"
    assert "U+DC80" in answer["message"]


# --- lengths and sizes -----------------------------------------------------------------------


@pytest.mark.parametrize("text", TOO_LONG, ids=lambda text: f"{text[0]}x{len(text)}")
@pytest.mark.parametrize(
    ("path", "field"),
    [(PLACE, "symbol"), (PLACE, "strategy"), (PLACE, "exchange"), (SYMBOL, "symbol"),
     (SYMBOL, "exchange"), (SEARCH, "query")],
)  # fmt: skip
def test_over_long_fields_are_400(client, api_key, unchanged, path, field, text):
    body = order(api_key) if path == PLACE else {"apikey": api_key, "symbol": "X", "query": "X"}
    body[field] = text
    answer = assert_client_error(post(client, path, body), statuses=(400,))
    assert answer["field"] == field
    assert "at most" in answer["message"] or "must be one of" in answer["message"]


def test_over_long_api_key_is_401_without_echo(client, unchanged):
    raw = "k" * 5000
    answer = assert_client_error(post(client, PLACE, order(raw)), statuses=(401,))
    assert raw[:50] not in answer["message"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_body_just_over_the_limit_is_413(client, api_key, unchanged, path):
    body = order(api_key, padding="")
    body["padding"] = "p" * (MAX_BODY_BYTES + 1 - len(json.dumps(body)))
    raw = json.dumps(body)
    assert len(raw) == MAX_BODY_BYTES + 1
    answer = assert_client_error(post(client, path, raw), statuses=(413,))
    assert str(MAX_BODY_BYTES) in answer["message"]


def test_body_at_the_limit_is_read(client, api_key, world):
    body = order(api_key, padding="")
    body["padding"] = "p" * (MAX_BODY_BYTES - len(json.dumps(body)))
    assert len(json.dumps(body)) == MAX_BODY_BYTES
    assert post(client, PLACE, body).status_code == 200


def test_megabytes_are_refused_by_their_declared_length(client, api_key, unchanged):
    raw = b'{"apikey": "' + b"x" * (8 * 1024 * 1024) + b'"}'
    answer = assert_client_error(post(client, PLACE, raw), statuses=(413,))
    assert "too large" in answer["message"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"a":' * 900 + "1" + "}" * 900,  # deep but parseable: walked without recursion
        '{"a":' * 2500 + "1" + "}" * 2500,  # deeper than the parser allows
        "[" * 5000 + "]" * 5000,
        '{"quantity": ' + "9" * 5000 + "}",  # an integer over Python's 4300-digit limit
        '{"quantity": 1e400}',
        '{"apikey": NaN}',
        '{"apikey": "x", "apikey": "y"',
        "\ufeff{}",  # a byte-order mark
        "null",
        "0",
        "{}",
        " " * 100,
    ],
    ids=lambda raw: raw[:20],
)
@pytest.mark.parametrize("path", ENDPOINTS)
def test_malformed_or_empty_bodies(client, unchanged, path, raw):
    assert_client_error(post(client, path, raw), statuses=(400, 401))


# --- wrong types -----------------------------------------------------------------------------


TEXT_FIELDS = ("symbol", "exchange", "action", "pricetype", "product", "strategy")
NUMBER_FIELDS = ("quantity", "price", "trigger_price", "disclosed_quantity")
NOT_NUMBERS: list[Any] = [True, False, [], ["1"], {}, {"$ne": None}]


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field in TEXT_FIELDS for value in WRONG_TYPES]
    + [(field, value) for field in NUMBER_FIELDS for value in NOT_NUMBERS],
    ids=repr,
)
def test_wrong_type_in_any_order_field_is_400(client, api_key, unchanged, field, value):
    response = post(client, PLACE, order(api_key, **{field: value}))
    answer = assert_client_error(response, statuses=(400,))
    assert answer["field"] == field


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", "1e3"), ("quantity", "٣"), ("quantity", "²"), ("quantity", " "),
     ("quantity", "0x10"), ("quantity", "1_000"), ("price", "NaN"), ("price", "Infinity"),
     ("price", "-0.05"), ("price", "1e999999999"), ("trigger_price", "sNaN"),
     ("disclosed_quantity", "-1")],
)  # fmt: skip
def test_number_look_alikes_are_400(client, api_key, unchanged, field, value):
    fields: dict[str, Any] = {field: value}
    if field in ("price", "trigger_price"):
        fields["pricetype"] = "SL"
    answer = assert_client_error(post(client, PLACE, order(api_key, **fields)), statuses=(400,))
    assert answer["field"] in (field, "quantity")


@pytest.mark.parametrize("value", WRONG_TYPES, ids=repr)
@pytest.mark.parametrize(
    ("path", "field"), [(SYMBOL, "symbol"), (SYMBOL, "exchange"), (SEARCH, "query"),
                        (SEARCH, "exchange")]
)  # fmt: skip
def test_wrong_type_in_lookup_fields_is_400(client, api_key, unchanged, path, field, value):
    body = {"apikey": api_key, "symbol": BEL_FUT.symbol, "exchange": "NFO", "query": "BEL"}
    body[field] = value
    answer = assert_client_error(post(client, path, body), statuses=(400,))
    assert answer["field"] == field


@pytest.mark.parametrize("value", WRONG_TYPES, ids=repr)
def test_wrong_type_api_key_is_401(client, unchanged, value):
    assert_client_error(post(client, SYMBOL, {"apikey": value, "symbol": "X", "exchange": "NFO"}),
                        statuses=(401,))  # fmt: skip


# --- property: random JSON never errors and never leaks an order -----------------------------

FIELDS = ["apikey", "symbol", "exchange", "action", "quantity", "pricetype", "product", "price",
          "trigger_price", "disclosed_quantity", "strategy", "query", "splitsize"]  # fmt: skip
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
field_values = (
    json_values
    | st.sampled_from(
        ["NFO", "nfo", "NSE", "BUY", "SELL", "MARKET", "LIMIT", "SL", "SL-M", "MIS", "NRML",
         "CNC", BEL_FUT.symbol, ICICIGI_CE.symbol, str(BEL_FUT.lot_size), "0", "-1", "11.05"]
    )
    | st.sampled_from(HOSTILE_TEXT + CONTROL_TEXT)
)  # fmt: skip
bodies = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=10), field_values, max_size=len(FIELDS)
)


class _Probe:
    """What the property needs between examples (hypothesis cannot take function fixtures)."""

    client: Any = None
    api_key: str = ""
    server: Any = None


@pytest.fixture
def probe(client, api_key, world) -> _Probe:
    _Probe.client, _Probe.api_key, _Probe.server = client, api_key, world
    return _Probe()


def _check_response(path: str, body: dict[str, Any], *, sent_before: int) -> None:
    response = post(_Probe.client, path, body)
    sent_after = len(order_posts(_Probe.server))
    assert response.status_code < 500, (path, body, response.content[:300])
    answer = response.json()
    if response.status_code == 200:
        assert answer["status"] == "success"
        if path == SPLIT:  # every slice placed, at most 100
            assert 1 <= sent_after - sent_before == len(answer["results"]) <= 100
        else:
            assert sent_after == sent_before + (1 if path == PLACE else 0)
    else:
        assert 400 <= response.status_code < 500
        assert answer["status"] == "error"
        assert len(answer["message"]) >= 10
        assert sent_after == sent_before  # a refused request never reaches the broker
    if "field" in answer:
        assert isinstance(answer["field"], str)


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(body=bodies, with_key=st.booleans(), path=st.sampled_from(ENDPOINTS))
def test_random_json_bodies_never_fail_the_server(probe, body, with_key, path):
    if with_key:
        body = {**body, "apikey": _Probe.api_key}
    before = row_counts()
    _check_response(path, body, sent_before=len(order_posts(_Probe.server)))
    assert row_counts() == before


@hypothesis_settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_random_bytes_are_400(probe, raw):
    response = _Probe.client.post(PLACE, data=raw, content_type="application/json")
    if response.status_code != 400:
        # Random text that happens to be a JSON object: authentication decides.
        assert response.status_code == 401, (raw, response.content)
    assert response.json()["status"] == "error"
    assert order_posts(_Probe.server) == []


# --- over real HTTP: chunked bodies, and the API key in no access log ------------------------


@dataclass
class Gunicorn:
    url: str
    host: str
    port: int
    log: Path
    access_log: Path


@pytest.fixture
def gunicorn_server(transactional_db, xts_orders_server, tmp_path) -> Iterator[Gunicorn]:
    """``gunicorn config.wsgi`` (one sync worker) on a free loopback port, with an access log."""
    port = free_port()
    log, access_log = tmp_path / "gunicorn.log", tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "DJANGO_SECRET_KEY": "chunked-test-" + "k" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "JAINAM_INTERACTIVE_URL": xts_orders_server.interactive_url,
        "JAINAM_INTERACTIVE_API_KEY": INTERACTIVE_KEY,
        "JAINAM_INTERACTIVE_API_SECRET": INTERACTIVE_SECRET,
        "JAINAM_CLIENT_ID": CLIENT_ID,
        "JAINAM_ORDER_RATE_LIMIT": "0",
    }
    env.pop("DJANGO_DEBUG", None)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "1", "-b",
             f"127.0.0.1:{port}", "--access-logfile", str(access_log)],
            cwd=Path(__file__).resolve().parent.parent, env=env, stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not start within 60 s"
                time.sleep(0.1)
        yield Gunicorn(f"http://127.0.0.1:{port}", "127.0.0.1", port, log, access_log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def chunked_post(
    server: Gunicorn, path: str, body: bytes, *, pieces: int = 3, headers: dict | None = None
) -> tuple[int, dict[str, Any], str]:
    """POST ``body`` in ``pieces`` chunks (Transfer-Encoding: chunked, no Content-Length)."""
    size = -(-len(body) // pieces)
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=iter(chunks),
            headers={"Content-Type": "application/json", **(headers or {})},
            encode_chunked=True,
        )
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw), response.getheader("Transfer-Encoding") or ""
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_chunked_bodies_are_read_over_real_http(
    gunicorn_server, api_key, synced_nsefo, xts_orders_server
):
    place = json.dumps(order(api_key)).encode()
    status, answer, _ = chunked_post(gunicorn_server, PLACE, place)
    assert (status, answer["status"]) == (200, "success"), answer
    [sent] = order_posts(xts_orders_server)
    assert str(sent.body["exchangeInstrumentID"]) == str(BEL_FUT.token)

    lookup = json.dumps({"symbol": BEL_FUT.symbol, "exchange": "NFO"}).encode()
    status, answer, _ = chunked_post(
        gunicorn_server, SYMBOL, lookup, headers={"X-API-KEY": api_key}
    )
    assert (status, answer["data"]["token"]) == (200, str(BEL_FUT.token))

    too_big = json.dumps(order(api_key, strategy="x" * MAX_BODY_BYTES)).encode()
    status, answer, _ = chunked_post(gunicorn_server, PLACE, too_big, pieces=8)
    assert status == 413
    status, answer, _ = chunked_post(gunicorn_server, PLACE, b'{"apikey": ')
    assert (status, answer["reason"]) == (400, "bad_json")
    assert len(order_posts(xts_orders_server)) == 1


@pytest.mark.django_db(transaction=True)
def test_the_api_key_is_in_no_access_log_line(gunicorn_server, api_key, synced_nsefo):
    url = gunicorn_server.url
    answers = [
        requests.post(f"{url}{PLACE}", json=order(api_key), timeout=30),
        requests.post(f"{url}{SYMBOL}", json={"symbol": BEL_FUT.symbol, "exchange": "NFO"},
                      headers={"X-API-KEY": api_key}, timeout=30),
        requests.post(f"{url}{SEARCH}", json={"apikey": api_key, "query": "BEL"}, timeout=30),
        requests.post(f"{url}{PLACE}", json=order(api_key + "0"), timeout=30),
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200, 200, 401]
    deadline = time.monotonic() + 10  # gunicorn writes each access line after its answer
    while (access := gunicorn_server.access_log.read_text()).count("POST /api/v1/") < 4:
        assert time.monotonic() < deadline, access
        time.sleep(0.05)
    assert api_key not in access
    assert api_key not in gunicorn_server.log.read_text()
