"""expiry and instruments (JSON and CSV, streamed) over the stored master of today."""

from __future__ import annotations

import csv
import io
import json

from django.test import override_settings

from jainam_prop.vocabulary import api_expiry, today_ist


def _post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _stored_expiries(kind: str) -> list[str]:
    from jainam_prop.models import SymbolToken

    kinds = ("CE", "PE") if kind == "options" else ("FUT",)
    dates = {
        row.expiry
        for row in SymbolToken.objects.filter(
            name="NIFTY", exchange="NFO", instrument_type__in=kinds
        )
        if row.expiry is not None and row.expiry >= today_ist()
    }
    return [api_expiry(day) for day in sorted(dates)]


def test_expiry_lists_live_dates_nearest_first(client, today_master, api_key):
    for kind in ("options", "futures"):
        body = {"apikey": api_key, "symbol": "nifty", "exchange": "NFO", "instrumenttype": kind}
        response = _post(client, "/api/v1/expiry", body)
        assert response.status_code == 200, response.content
        data = response.json()
        assert data["status"] == "success"
        assert data["data"] == _stored_expiries(kind)
        assert data["data"], "the generated master has live expiries"
        assert data["message"] == f"Found {len(data['data'])} expiry dates for NIFTY {kind} in NFO"


def test_expiry_bad_input(client, today_master, api_key):
    cases = [
        ({"exchange": "NFO", "instrumenttype": "options"}, "symbol"),
        ({"symbol": "NIFTY", "exchange": "NSE", "instrumenttype": "options"}, "exchange"),
        ({"symbol": "NIFTY", "exchange": "NFO", "instrumenttype": "swaps"}, "instrumenttype"),
        ({"symbol": 12, "exchange": "NFO", "instrumenttype": "options"}, "symbol"),
    ]
    for fields, field in cases:
        response = _post(client, "/api/v1/expiry", {"apikey": api_key, **fields})
        assert response.status_code == 400, (fields, response.content)
        assert response.json()["status"] == "error"
        assert response.json()["message"].startswith(f"{field}:")


def test_instruments_json_is_streamed_and_filtered(client, today_master, api_key):
    response = client.get("/api/v1/instruments", {"apikey": api_key, "exchange": "NFO"})
    assert response.status_code == 200
    assert response.streaming
    data = json.loads(b"".join(response.streaming_content))
    assert data["status"] == "success"
    assert {row["exchange"] for row in data["data"]} == {"NFO"}
    assert data["message"] == f"Found {len(data['data'])} instruments"
    future = next(row for row in data["data"] if row["symbol"] == today_master.future.symbol)
    assert future["token"] == str(today_master.future.token)
    assert future["lotsize"] == today_master.future.lot_size
    assert set(future) == {
        "symbol", "brsymbol", "name", "exchange", "brexchange", "token", "expiry", "strike",
        "lotsize", "instrumenttype", "tick_size",
    }  # fmt: skip


def test_instruments_csv_of_every_exchange(client, today_master, api_key):
    response = client.get("/api/v1/instruments", {"apikey": api_key, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="instruments_all.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row["exchange"] for row in rows} == {"NFO", "NSE"}
    assert any(row["symbol"] == today_master.equity for row in rows)


def test_instruments_bad_input(client, today_master, api_key):
    assert client.get("/api/v1/instruments").status_code == 401
    assert client.get("/api/v1/instruments", {"apikey": "nope"}).status_code == 401
    bad_format = client.get("/api/v1/instruments", {"apikey": api_key, "format": "xml"})
    assert bad_format.status_code == 400
    assert bad_format.json()["message"].startswith("format:")
    bad_exchange = client.get("/api/v1/instruments", {"apikey": api_key, "exchange": "NYSE"})
    assert bad_exchange.status_code == 400
    assert bad_exchange.json()["message"].startswith("exchange:")
    assert client.post("/api/v1/instruments", {"apikey": api_key}).status_code == 405


@override_settings(JAINAM_LOOKUP_RATE_LIMIT="2 per hour")
def test_expiry_and_instruments_share_the_lookup_budget(client, today_master, api_key):
    """expiry and instruments count against the lookup budget (not the order budget), and only
    well-formed requests count."""
    body = {"apikey": api_key, "symbol": "NIFTY", "exchange": "NFO", "instrumenttype": "futures"}
    bad = {**body, "instrumenttype": "swaps"}
    assert _post(client, "/api/v1/expiry", bad).status_code == 400  # not counted
    assert _post(client, "/api/v1/expiry", body).status_code == 200
    assert (
        client.get("/api/v1/instruments", {"apikey": api_key, "format": "xml"}).status_code == 400
    )
    assert client.get("/api/v1/instruments", {"apikey": api_key}).status_code == 200

    over = client.get("/api/v1/instruments", {"apikey": api_key})
    assert over.status_code == 429
    assert "JAINAM_LOOKUP_RATE_LIMIT" in over.json()["message"]
    assert int(over["Retry-After"]) > 0
    assert _post(client, "/api/v1/expiry", body).status_code == 429
