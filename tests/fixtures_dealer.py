"""Fixtures for the dealer endpoints (registered in conftest's ``pytest_plugins``).

- ``today_master``: NIFTY/BANKNIFTY derivatives and a slice of cash lines generated for today
  (Asia/Kolkata) by the test server's generator, saved by the sync service. Tokens match
  what ``dealer_server`` serves, so orders the server validates are the ones we stored.
- ``dealer_server``: an XTS test server with the full master generated for today and the
  interactive key pair checked.
- ``dealer_settings``: JAINAM_INTERACTIVE_* and JAINAM_CLIENT_ID pointed at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from jainam_prop.master_parser import parse_master
from jainam_prop.services.sync import save_master_contract_to_db
from jainam_prop.vocabulary import today_ist
from tests.fixtures_orders import CLIENT_ID, INTERACTIVE_KEY, INTERACTIVE_SECRET
from xts_testserver import XTSTestServer, generator

KEPT_NAMES = frozenset({"NIFTY", "BANKNIFTY"})
CASH_LINES = 300


def today_lines(segment: str) -> list[str]:
    """The generated master lines of ``segment`` for today that the fixtures store."""
    lines = generator.generate_master(segment, anchor=today_ist()).split("\n")
    if segment == "NSECM":
        return [line for line in lines if line][:CASH_LINES]
    return [line for line in lines if line.split("|")[3:4] and line.split("|")[3] in KEPT_NAMES]


@dataclass(frozen=True)
class Contract:
    symbol: str
    exchange: str
    token: int
    lot_size: int
    freeze_qty: int


def _contract(lines: list[str], *, kind: str) -> Contract:
    """The nearest NIFTY future ("FUT") or an at-the-money-ish NIFTY call ("CE")."""
    from jainam_prop.services.lookups import get_instrument_by_token

    wanted = []
    for line in lines:
        fields = line.split("|")
        if fields[3] != "NIFTY":
            continue
        if kind == "FUT" and fields[2] == "1":
            wanted.append((fields[16], int(fields[1]), int(fields[10])))
        if kind == "CE" and fields[2] == "2" and fields[18] == "3":
            wanted.append((fields[16], int(fields[1]), int(fields[10])))
    wanted.sort()
    _, token, freeze = wanted[len(wanted) // 2 if kind == "CE" else 0]
    instrument = get_instrument_by_token(token, "NFO")
    return Contract(instrument.symbol, "NFO", token, instrument.lot_size, freeze)


@dataclass(frozen=True)
class TodayMaster:
    future: Contract
    call: Contract
    equity: str  # an NSE cash symbol


@pytest.fixture
def today_master(db) -> TodayMaster:
    fo = today_lines("NSEFO")
    cm = today_lines("NSECM")
    derivatives = parse_master("\n".join(fo), segment="NSEFO").rows
    save_master_contract_to_db(derivatives, segments=["NSEFO"])
    cash = parse_master("\n".join(cm), segment="NSECM").rows
    save_master_contract_to_db(cash, segments=["NSECM"])
    equity = str(cash[cash["instrument_type"] == "EQ"].iloc[0]["symbol"])
    return TodayMaster(
        future=_contract(fo, kind="FUT"), call=_contract(fo, kind="CE"), equity=equity
    )


@pytest.fixture
def dealer_server() -> Iterator[XTSTestServer]:
    with XTSTestServer(
        dataset="full",
        anchor=today_ist(),
        interactive_credentials=(INTERACTIVE_KEY, INTERACTIVE_SECRET),
    ) as server:
        server.instrument("NSEFO", 0)  # the server indexes a master on first use: not timed
        yield server


@pytest.fixture
def dealer_settings(settings, dealer_server: XTSTestServer) -> XTSTestServer:
    settings.JAINAM_INTERACTIVE_URL = dealer_server.interactive_url
    settings.JAINAM_INTERACTIVE_API_KEY = INTERACTIVE_KEY
    settings.JAINAM_INTERACTIVE_API_SECRET = INTERACTIVE_SECRET
    settings.JAINAM_CLIENT_ID = CLIENT_ID
    settings.JAINAM_HTTP_RETRIES = 1
    settings.JAINAM_HTTP_BACKOFF = 0.01
    settings.JAINAM_HTTP_READ_TIMEOUT = 2.0
    return dealer_server
