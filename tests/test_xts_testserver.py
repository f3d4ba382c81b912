"""The XTS test server, driven over real loopback HTTP with ``requests``."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
import requests

from xts_testserver import GARBAGE_INDEX_ENTRIES, GARBAGE_MASTER_LINES, XTSTestServer, generator
from xts_testserver.server import FIRST_APP_ORDER_ID

REPO = Path(__file__).resolve().parent.parent
SAMPLE_LINES = {"NSECM": 107, "BSECM": 107, "NSEFO": 160, "BSEFO": 83, "MCXFO": 119, "NSECD": 83}
FIELDS_BY_TYPE = {"8": 22, "1": 21, "2": 23, "4": 21, "16": 18}
KEYS = {"appKey": "key", "secretKey": "secret", "source": "WEBAPI"}
BEL_FUT = 58130  # NSEFO sample: BEL26AUGFUT, lot size 1425
TIMEOUT = 10


def master(url: str, *segments: str, token: str | None = None, timeout: float = TIMEOUT):
    headers = {"Authorization": token} if token else {}
    return requests.post(
        f"{url}/instruments/master",
        json={"exchangeSegmentList": list(segments)},
        headers=headers,
        timeout=timeout,
    )


def master_lines(url: str, segment: str) -> list[str]:
    response = master(url, segment)
    assert response.status_code == 200, response.text
    return response.json()["result"].split("\n")


def interactive_token(server: XTSTestServer) -> str:
    response = requests.post(f"{server.interactive_url}/user/session", json=KEYS, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()["result"]["token"]


def an_order(**changes) -> dict:
    order = {
        "exchangeSegment": "NSEFO",
        "exchangeInstrumentID": BEL_FUT,
        "productType": "NRML",
        "orderType": "MARKET",
        "orderSide": "BUY",
        "timeInForce": "DAY",
        "disclosedQuantity": 0,
        "orderQuantity": 1425,
        "limitPrice": 0,
        "stopPrice": 0,
        "orderUniqueIdentifier": "strategy-1",
        "clientID": "DLR01",
    }
    order.update(changes)
    return {key: value for key, value in order.items() if value is not None}


def place(server: XTSTestServer, token: str, order: dict | None = None) -> requests.Response:
    return requests.post(
        f"{server.interactive_url}/orders",
        json=order or an_order(),
        headers={"Authorization": token},
        timeout=TIMEOUT,
    )


def symbol_key(line: str) -> str:
    """A line without its token and InstrumentID: what a token change must not touch."""
    fields = line.split("|")
    del fields[7], fields[1]
    return "|".join(fields)


# --- market data ------------------------------------------------------------------------------


def test_login_returns_a_session_token(xts_server):
    response = requests.post(f"{xts_server.market_url}/auth/login", json=KEYS, timeout=TIMEOUT)

    body = response.json()
    assert response.status_code == 200
    assert body["type"] == "success"
    assert body["code"] == "s-user-0001"
    assert body["result"]["token"]
    assert body["result"]["userID"]


def test_login_with_the_wrong_key_pair_is_refused():
    with XTSTestServer(market_credentials=("key", "secret")) as server:
        wrong = requests.post(
            f"{server.market_url}/auth/login", json={**KEYS, "secretKey": "nope"}, timeout=TIMEOUT
        )
        right = requests.post(f"{server.market_url}/auth/login", json=KEYS, timeout=TIMEOUT)

    assert wrong.status_code == 400
    assert wrong.json() == {
        "type": "error",
        "code": "e-user-0005",
        "description": "Invalid appKey or secretKey",
    }
    assert right.status_code == 200


@pytest.mark.parametrize(("segment", "count"), SAMPLE_LINES.items())
def test_master_serves_the_sample_lines_verbatim(xts_server, data_dir, segment, count):
    response = master(xts_server.market_url, segment)

    body = response.json()
    assert response.status_code == 200
    assert body["type"] == "success"
    assert body["code"] == "s-instrument-0010"
    lines = body["result"].split("\n")
    assert len(lines) == count
    assert lines == (data_dir / f"{segment}.txt").read_text().splitlines()


def test_master_with_several_segments_concatenates_them(xts_server):
    response = master(xts_server.market_url, "NSECM", "NSEFO", "MCXFO")

    lines = response.json()["result"].split("\n")
    assert len(lines) == 107 + 160 + 119
    assert Counter(line.split("|", 1)[0] for line in lines) == {
        "NSECM": 107,
        "NSEFO": 160,
        "MCXFO": 119,
    }


@pytest.mark.parametrize("segments", [["NSEXX"], [], ["NSEFO", "BOGUS"]])
def test_master_of_an_unknown_segment_is_a_400_error(xts_server, segments):
    response = master(xts_server.market_url, *segments)

    assert response.status_code == 400
    assert response.json()["type"] == "error"


def test_master_needs_a_bare_token_when_credentials_are_configured():
    with XTSTestServer(market_credentials=("key", "secret")) as server:
        token = requests.post(f"{server.market_url}/auth/login", json=KEYS, timeout=TIMEOUT).json()[
            "result"
        ]["token"]
        missing = master(server.market_url, "NSEFO")
        bearer = master(server.market_url, "NSEFO", token=f"Bearer {token}")
        bare = master(server.market_url, "NSEFO", token=token)

    for refused in (missing, bearer):
        assert refused.status_code == 401
        assert refused.json() == {
            "type": "error",
            "code": "e-session-0002",
            "description": "Invalid Token",
        }
    assert bare.status_code == 200
    assert len(bare.json()["result"].split("\n")) == 160


def test_master_answers_without_a_token_when_no_credentials_are_configured(xts_server):
    assert master(xts_server.market_url, "NSEFO").status_code == 200


@pytest.mark.parametrize(
    ("code", "count", "first"), [(1, 114, "NIFTY 50_26000"), (11, 63, "SENSEX_26065")]
)
def test_index_list(xts_server, code, count, first):
    response = requests.get(
        f"{xts_server.market_url}/instruments/indexlist",
        params={"exchangeSegment": code},
        timeout=TIMEOUT,
    )

    result = response.json()["result"]
    assert response.status_code == 200
    assert result["exchangeSegment"] == code
    assert len(result["indexList"]) == count
    assert result["indexList"][0] == first


def test_index_list_of_a_segment_without_indices_is_a_400_error(xts_server):
    response = requests.get(
        f"{xts_server.market_url}/instruments/indexlist",
        params={"exchangeSegment": 2},
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert response.json()["type"] == "error"


def test_unknown_path_is_a_404_and_recorded(xts_server):
    response = requests.get(f"{xts_server.market_url}/nope", timeout=TIMEOUT)

    assert response.status_code == 404
    assert xts_server.requests_to("/nope")[0].status == 404


# --- interactive ------------------------------------------------------------------------------


def test_session_then_order_is_accepted_and_recorded(xts_server):
    session = requests.post(f"{xts_server.interactive_url}/user/session", json=KEYS, timeout=10)
    token = session.json()["result"]["token"]

    first = place(xts_server, token)
    second = place(xts_server, token, an_order(orderUniqueIdentifier="strategy-2"))

    assert session.json()["result"]["isInvestorClient"] is False
    assert first.status_code == 200
    assert first.json() == {
        "type": "success",
        "code": "s-orders-0001",
        "description": "Request sent",
        "result": {
            "AppOrderID": FIRST_APP_ORDER_ID,
            "OrderUniqueIdentifier": "strategy-1",
            "ClientID": "DLR01",
        },
    }
    assert second.json()["result"]["AppOrderID"] == FIRST_APP_ORDER_ID + 1
    posts = xts_server.requests_to("/interactive/orders")
    assert [p.body["orderUniqueIdentifier"] for p in posts] == ["strategy-1", "strategy-2"]
    assert posts[0].headers.get("authorization") == token
    assert posts[0].method == "POST"
    assert posts[0].status == 200
    assert posts[0].time <= posts[1].time
    assert [o["AppOrderID"] for o in xts_server.placed_orders] == [
        FIRST_APP_ORDER_ID,
        FIRST_APP_ORDER_ID + 1,
    ]


@pytest.mark.parametrize("token", [None, "unknown-token"])
def test_order_without_a_valid_session_is_401(xts_server, token):
    response = requests.post(
        f"{xts_server.interactive_url}/orders",
        json=an_order(),
        headers={"Authorization": token} if token else {},
        timeout=TIMEOUT,
    )

    assert response.status_code == 401
    assert response.json()["code"] == "e-session-0002"
    assert xts_server.placed_orders == []


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"orderSide": None}, "orderSide"),
        ({"clientID": None}, "clientID"),
        ({"exchangeInstrumentID": "58130"}, "exchangeInstrumentID"),
        ({"exchangeInstrumentID": 1}, "not found"),
        ({"orderQuantity": 100}, "lot size 1425"),
        ({"orderType": "LIMIT", "limitPrice": 0}, "limitPrice"),
        ({"productType": "XYZ"}, "productType"),
        ({"exchangeSegment": "NFO"}, "exchangeSegment"),
    ],
)
def test_invalid_order_is_refused_like_the_broker(xts_server, changes, complaint):
    response = place(xts_server, interactive_token(xts_server), an_order(**changes))

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["code"] == "e-orders-0005"
    assert complaint in body["description"]
    assert xts_server.last_reject_description == body["description"]
    assert xts_server.placed_orders == []


def test_interactive_login_checks_the_key_pair_when_configured():
    with XTSTestServer(interactive_credentials=("ikey", "isecret")) as server:
        wrong = requests.post(f"{server.interactive_url}/user/session", json=KEYS, timeout=10)
        right = requests.post(
            f"{server.interactive_url}/user/session",
            json={**KEYS, "appKey": "ikey", "secretKey": "isecret"},
            timeout=TIMEOUT,
        )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "e-user-0005"
    assert right.status_code == 200


# --- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status"), [("http500", 500), ("http400", 400)])
def test_http_error_fault_answers_once_then_recovers(xts_server, kind, status):
    xts_server.inject_fault(kind, endpoint="master")

    faulty = master(xts_server.market_url, "NSEFO")
    normal = master(xts_server.market_url, "NSEFO")

    assert faulty.status_code == status
    assert faulty.json()["type"] == "error"
    assert normal.status_code == 200
    assert [r.fault for r in xts_server.requests] == [kind, None]


def test_times_counts_the_answers_affected(xts_server):
    xts_server.inject_fault("http500", times=2)

    statuses = [master(xts_server.market_url, "NSECM").status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert xts_server.pending_faults == []


def test_faults_are_consumed_in_order(xts_server):
    xts_server.inject_fault("http500")
    xts_server.inject_fault("http400")

    statuses = [master(xts_server.market_url, "NSECM").status_code for _ in range(3)]

    assert statuses == [500, 400, 200]


def test_segment_fault_only_hits_that_segment(xts_server):
    xts_server.inject_fault("http500", segment="NSEFO")

    assert master(xts_server.market_url, "NSECM").status_code == 200
    assert master(xts_server.market_url, "NSEFO").status_code == 500
    assert master(xts_server.market_url, "NSEFO").status_code == 200


def test_slow_fault_makes_the_client_time_out(xts_server):
    xts_server.inject_fault("slow", delay=3)

    with pytest.raises(requests.Timeout):
        master(xts_server.market_url, "NSEFO", timeout=0.3)
    assert master(xts_server.market_url, "NSEFO").status_code == 200


def test_slow_fault_still_answers_a_patient_client(xts_server):
    xts_server.inject_fault("slow", delay=0.2)

    assert len(master_lines(xts_server.market_url, "NSEFO")) == 160


def test_truncated_fault_gives_an_incomplete_body(xts_server):
    xts_server.inject_fault("truncated")

    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        master(xts_server.market_url, "NSEFO")
    assert master(xts_server.market_url, "NSEFO").status_code == 200


def test_drop_fault_closes_without_an_answer(xts_server):
    xts_server.inject_fault("drop")

    with pytest.raises(requests.ConnectionError):
        master(xts_server.market_url, "NSEFO")
    assert xts_server.requests[0].status is None
    assert master(xts_server.market_url, "NSEFO").status_code == 200


def test_accepted_then_drop_and_garbled_faults_on_the_master(xts_server):
    xts_server.inject_fault("accepted_then_drop", endpoint="master")
    xts_server.inject_fault("garbled", endpoint="master")

    with pytest.raises(requests.ConnectionError):
        master(xts_server.market_url, "NSEFO")
    garbled = master(xts_server.market_url, "NSEFO")

    assert garbled.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        garbled.json()
    assert [(r.fault, r.status) for r in xts_server.requests] == [
        ("accepted_then_drop", None),
        ("garbled", 200),
    ]
    assert master(xts_server.market_url, "NSEFO").status_code == 200


def test_malformed_lines_fault_mixes_garbage_into_the_master(xts_server, data_dir):
    xts_server.inject_fault("malformed_lines", segment="NSEFO")

    lines = master_lines(xts_server.market_url, "NSEFO")

    assert len(lines) == 160 + len(GARBAGE_MASTER_LINES)
    assert set(GARBAGE_MASTER_LINES) <= set(lines)
    assert [line for line in lines if line not in GARBAGE_MASTER_LINES] == (
        data_dir / "NSEFO.txt"
    ).read_text().splitlines()


def test_malformed_lines_fault_on_the_index_list(xts_server):
    xts_server.inject_fault("malformed_lines", endpoint="indexlist")

    entries = requests.get(
        f"{xts_server.market_url}/instruments/indexlist",
        params={"exchangeSegment": 1},
        timeout=TIMEOUT,
    ).json()["result"]["indexList"]

    assert len(entries) == 114 + len(GARBAGE_INDEX_ENTRIES)
    assert set(GARBAGE_INDEX_ENTRIES) <= set(entries)


def test_not_json_fault_answers_html(xts_server):
    xts_server.inject_fault("not_json")

    response = master(xts_server.market_url, "NSEFO")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_error_body_fault_is_a_200_with_an_error(xts_server):
    xts_server.inject_fault("error_body")

    response = master(xts_server.market_url, "NSEFO")

    assert response.status_code == 200
    assert response.json()["type"] == "error"
    assert "result" not in response.json()


def test_auth_expired_fault_revokes_the_session(xts_server):
    token = interactive_token(xts_server)
    xts_server.inject_fault("auth_expired")

    expired = place(xts_server, token)
    again = place(xts_server, token)
    fresh = place(xts_server, interactive_token(xts_server))

    assert expired.status_code == 401
    assert expired.json()["description"] == "Invalid Token"
    assert again.status_code == 401
    assert fresh.status_code == 200
    assert len(xts_server.placed_orders) == 1


def test_reject_order_fault(xts_server):
    token = interactive_token(xts_server)
    xts_server.inject_fault("reject_order")

    rejected = place(xts_server, token)
    accepted = place(xts_server, token)

    assert rejected.status_code == 400
    assert rejected.json() == {
        "type": "error",
        "code": "e-orders-0008",
        "description": "Order rejected by RMS: insufficient margin",
    }
    assert xts_server.last_reject_description == "Order rejected by RMS: insufficient margin"
    assert accepted.status_code == 200
    assert len(xts_server.placed_orders) == 1


def test_slow_order_is_placed_even_if_the_client_gives_up(xts_server):
    token = interactive_token(xts_server)
    xts_server.inject_fault("slow", endpoint="orders", delay=3)

    with pytest.raises(requests.Timeout):
        requests.post(
            f"{xts_server.interactive_url}/orders",
            json=an_order(),
            headers={"Authorization": token},
            timeout=0.3,
        )
    assert len(xts_server.placed_orders) == 1


def test_fault_on_another_endpoint_does_not_fire(xts_server):
    xts_server.inject_fault("http500", endpoint="indexlist")

    assert master(xts_server.market_url, "NSEFO").status_code == 200
    assert len(xts_server.pending_faults) == 1
    xts_server.clear_faults()
    assert xts_server.pending_faults == []


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("explode", {}),
        ("http500", {"endpoint": "nowhere"}),
        ("http500", {"times": 0}),
        ("http500", {"segment": "NFO"}),
        ("malformed_lines", {"endpoint": "orders"}),
        ("reject_order", {"endpoint": "master"}),
    ],
)
def test_invalid_fault_requests_are_refused(xts_server, kind, options):
    with pytest.raises(ValueError, match=r"kind|endpoint|times|segment|applies"):
        xts_server.inject_fault(kind, **options)


# --- datasets, recording, control API ------------------------------------------------------


def test_set_master_serves_custom_text(xts_server):
    xts_server.set_master("NSEFO", "NSEFO|1|1|X")

    assert master_lines(xts_server.market_url, "NSEFO") == ["NSEFO|1|1|X"]
    assert len(master_lines(xts_server.market_url, "NSECM")) == 107


def test_sample_variant_changes_tokens_but_not_symbols(xts_server):
    before = master_lines(xts_server.market_url, "NSEFO")
    xts_server.set_dataset("samples", variant=1)
    after = master_lines(xts_server.market_url, "NSEFO")

    changes = xts_server.token_changes("NSEFO")
    assert len(changes) >= 3
    assert [symbol_key(line) for line in after] == [symbol_key(line) for line in before]
    old_tokens = {int(line.split("|")[1]) for line in before}
    new_tokens = {int(line.split("|")[1]) for line in after}
    assert old_tokens - new_tokens == set(changes)
    assert new_tokens - old_tokens == set(changes.values())


def test_requests_log_is_live_and_clearable(xts_server):
    master(xts_server.market_url, "NSECM")
    recorded = xts_server.requests[0]

    assert recorded.endpoint == "master"
    assert recorded.body == {"exchangeSegmentList": ["NSECM"]}
    assert recorded.header("CONTENT-TYPE") == "application/json"
    xts_server.requests.clear()
    assert xts_server.requests == []
    master(xts_server.market_url, "NSECM")
    assert len(xts_server.requests) == 1


def test_control_api_drives_the_server(xts_server):
    control = xts_server.control_url

    fault = requests.post(f"{control}/fault", json={"kind": "http500", "times": 1}, timeout=10)
    faulty = master(xts_server.market_url, "NSEFO")
    dataset = requests.post(
        f"{control}/dataset", json={"dataset": "samples", "variant": 2}, timeout=TIMEOUT
    )
    changed = master_lines(xts_server.market_url, "NSEFO")
    recorded = requests.get(f"{control}/requests", timeout=TIMEOUT).json()["result"]
    bad = requests.post(f"{control}/fault", json={"kind": "nope"}, timeout=TIMEOUT)
    reset = requests.post(f"{control}/reset", timeout=TIMEOUT)

    assert fault.status_code == 200
    assert faulty.status_code == 500
    assert dataset.json()["result"] == {"dataset": "samples", "variant": 2}
    assert xts_server.token_changes("NSEFO") == {}  # reset restored variant 0
    assert len(changed) == 160
    assert [r["status"] for r in recorded] == [500, 200]
    assert recorded[0]["body"] == {"exchangeSegmentList": ["NSEFO"]}
    assert bad.status_code == 400
    assert reset.status_code == 200
    assert xts_server.requests == []


def test_concurrent_requests_are_all_answered_and_recorded(xts_server):
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda _: master(xts_server.market_url, "NSEFO").status_code, range(40))
        )

    assert statuses == [200] * 40
    assert len(xts_server.requests_to("/instruments/master")) == 40


def test_stop_closes_kept_alive_connections():
    server = XTSTestServer().start()
    session = requests.Session()
    assert session.post(
        f"{server.market_url}/instruments/master",
        json={"exchangeSegmentList": ["NSECM"]},
        timeout=TIMEOUT,
    ).ok

    server.stop()

    with pytest.raises(requests.ConnectionError):
        session.post(
            f"{server.base_url}/apibinarymarketdata/instruments/master",
            json={"exchangeSegmentList": ["NSECM"]},
            timeout=TIMEOUT,
        )


def test_restart_binds_the_same_port():
    server = XTSTestServer().start()
    url = server.market_url
    server.stop()
    with server:
        assert server.market_url == url
        assert master(url, "NSECM").status_code == 200


def test_stop_wakes_a_sleeping_slow_answer():
    server = XTSTestServer().start()
    server.inject_fault("slow", delay=60)
    errors: list[Exception] = []

    def call() -> None:
        try:
            master(server.market_url, "NSECM", timeout=30)
        except requests.RequestException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while not server.requests:
        threading.Event().wait(0.01)
    server.stop()
    caller.join(timeout=20)

    assert not caller.is_alive()
    assert len(errors) == 1


# --- the full dataset -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_masters(xts_full_server) -> dict[str, list[str]]:
    """The full master of every segment, downloaded once over HTTP."""
    return {s: master_lines(xts_full_server.market_url, s) for s in generator.SEGMENTS}


@pytest.mark.slow
def test_full_dataset_is_large_and_every_line_has_its_field_count(full_masters):
    assert sum(len(lines) for lines in full_masters.values()) >= 150_000
    for segment, lines in full_masters.items():
        for line in lines:
            fields = line.split("|")
            assert fields[0] == segment, line
            assert len(fields) == FIELDS_BY_TYPE[fields[2]], line
            assert fields[7].endswith(f"{int(fields[1]):08d}"), line
        tokens = [line.split("|", 2)[1] for line in lines]
        assert len(set(tokens)) == len(tokens), f"{segment}: tokens are not unique"


@pytest.mark.slow
def test_full_dataset_has_the_instrument_types_of_each_segment(full_masters):
    types = {s: Counter(line.split("|")[2] for line in lines) for s, lines in full_masters.items()}

    assert set(types["NSECM"]) == set(types["BSECM"]) == {"8"}
    assert set(types["NSEFO"]) == set(types["BSEFO"]) == {"1", "2"}
    assert set(types["NSECD"]) == {"1", "2", "4"}
    assert set(types["MCXFO"]) == {"1", "2", "16"}
    assert types["NSEFO"]["2"] > 90_000


@pytest.mark.slow
def test_full_dataset_carries_the_real_world_oddities(full_masters):
    def rows(segment: str) -> list[list[str]]:
        return [line.split("|") for line in full_masters[segment]]

    nsefo = rows("NSEFO")
    descriptions = {f[4] for f in nsefo}
    strikes = {f[17] for f in nsefo if f[2] == "2"}
    nifty_expiries = {f[16] for f in nsefo if f[3] == "NIFTY" and f[2] == "2"}
    assert {"92.5", "272.5"} <= strikes
    # broker Descriptions: monthly NIFTY{YY}{MON}{STRIKE}CE, weekly NIFTY{YY}{M}{DD}{STRIKE}CE
    # (M = 1-9, O, N, D), dates relative to today
    assert any(re.fullmatch(r"NIFTY[0-9]{2}[A-Z]{3}26000CE", d) for d in descriptions)
    assert any(re.fullmatch(r"NIFTY[0-9]{2}[1-9OND][0-9]{2}26000CE", d) for d in descriptions)
    assert len(nifty_expiries) >= 15
    today = generator.today_ist()
    assert min(nifty_expiries)[:10] >= today.isoformat()
    monthly = [f for f in nsefo if re.fullmatch(r"NIFTY[0-9]{2}[A-Z]{3}26000CE", f[4])]
    assert all(
        f[19] == f"NIFTY {date.fromisoformat(f[16][:10]):%d}{f[4][7:10]}"
        f"{date.fromisoformat(f[16][:10]).year} CE 26000"
        for f in monthly
    )
    assert {f[3] for f in nsefo if f[5] == "FUTSTK"} >= {"BAJAJ-AUTO", "GVT&D", "M&M"}
    assert len({f[3] for f in nsefo if f[5] == "FUTSTK"}) >= 180
    assert all(f[16].endswith("T14:30:00") for f in nsefo)
    ten_years_out = str(generator.today_ist().year + 10)
    assert {f[3] for f in nsefo if f[16].startswith(ten_years_out)} >= {"041NSETEST"}

    bsefo = rows("BSEFO")
    assert {f[3] for f in bsefo} == {"SENSEX", "BANKEX", "SENSEX50"}
    assert min(int(f[1]) for f in bsefo) > 1_000_000

    nsecd = rows("NSECD")
    assert {"USDINR", "EURINR", "GBPINR", "JPYINR"} <= {f[3] for f in nsecd}
    assert "82.25" in {f[17] for f in nsecd if f[2] == "2"}
    assert all(f[17].endswith(" SPD") for f in nsecd if f[2] == "4")

    mcx = rows("MCXFO")
    assert {"CRUDEOIL", "CRUDEOILM", "GOLD", "GOLDM", "SILVER", "NATURALGAS"} <= {
        f[3] for f in mcx if f[2] == "2"
    }
    assert all(f[16].endswith("T23:59:59") for f in mcx if f[2] in ("1", "2"))
    spot = [f for f in mcx if f[2] == "16"]
    assert {f[5] for f in spot} == {"COMDTY", "INDEX"}
    assert all(f[8] == f[9] == "NaN" for f in spot)

    nsecm = rows("NSECM")
    assert {"EQ", "BE", "SM", "GS", "SG"} <= {f[5] for f in nsecm}
    assert any("&" in f[3] for f in nsecm)
    assert any("-" in f[3] for f in nsecm)
    bsecm = rows("BSECM")
    assert {"A", "B", "T", "X", "SPOT"} <= {f[5] for f in bsecm}


@pytest.mark.slow
def test_full_index_lists(xts_full_server):
    entries = requests.get(
        f"{xts_full_server.market_url}/instruments/indexlist",
        params={"exchangeSegment": 1},
        timeout=TIMEOUT,
    ).json()["result"]["indexList"]
    assert {"NIFTY 50_26000", "NIFTY BANK_26001", "NIFTY NEXT 50_26054"} <= set(entries)


@pytest.mark.slow
def test_full_dataset_is_byte_identical_in_another_process(full_masters):
    digest = hashlib.sha256("\n".join(generator.generate_masters().values()).encode()).hexdigest()
    script = (
        "import hashlib; from xts_testserver import generator; "
        "print(hashlib.sha256('\\n'.join(generator.generate_masters().values()).encode())"
        ".hexdigest())"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert other.stdout.strip() == digest
    assert full_masters["NSEFO"] == generator.generate_master("NSEFO").split("\n")


@pytest.mark.slow
def test_full_variant_changes_some_tokens_but_not_the_symbols(fresh_xts_full_server):
    base = master_lines(fresh_xts_full_server.market_url, "NSEFO")
    fresh_xts_full_server.set_dataset("full", variant=1)
    one = master_lines(fresh_xts_full_server.market_url, "NSEFO")
    changes = fresh_xts_full_server.token_changes("NSEFO")
    fresh_xts_full_server.set_dataset("full", variant=2)
    two = master_lines(fresh_xts_full_server.market_url, "NSEFO")

    assert sorted(map(symbol_key, one)) == sorted(map(symbol_key, base))
    changed = [(a, b) for a, b in zip(base, one, strict=True) if a != b]
    assert len(changed) == len(changes) >= 1000
    assert {int(a.split("|")[1]): int(b.split("|")[1]) for a, b in changed} == changes
    assert one != two


def test_anchor_moves_the_expiries():
    later = date(2027, 6, 1)
    lines = generator.generate_master("BSEFO", anchor=later).split("\n")

    expiries = {line.split("|")[16][:10] for line in lines}
    assert min(expiries) >= later.isoformat()
    assert lines != generator.generate_master("BSEFO").split("\n")


# --- CLI and fixtures -------------------------------------------------------------------------


def test_cli_prints_the_urls_and_serves_until_terminated(tmp_path):
    url_file = tmp_path / "urls.txt"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "xts_testserver", "--dataset", "samples"),
            *("--port", "0", "--url-file", str(url_file)),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        urls = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
        lines = master_lines(urls["market_url"], "NSEFO")
        session = requests.post(f"{urls['interactive_url']}/user/session", json=KEYS, timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=20)

    assert urls["market_url"].endswith("/apibinarymarketdata")
    assert urls["interactive_url"].endswith("/interactive")
    assert len(lines) == 160
    assert session.status_code == 200
    assert process.returncode == 0, process.stderr.read()
    assert url_file.read_text().splitlines()[:2] == [
        f"market_url={urls['market_url']}",
        f"interactive_url={urls['interactive_url']}",
    ]


def test_xts_server_fixture_is_a_running_samples_server(xts_server):
    assert xts_server.running
    assert xts_server.dataset == "samples"
    assert xts_server.market_url.startswith("http://127.0.0.1:")
    assert xts_server.interactive_url == xts_server.market_url.replace(
        "/apibinarymarketdata", "/interactive"
    )
