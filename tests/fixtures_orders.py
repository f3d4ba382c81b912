"""Fixtures for orders, the JSON API and API keys (registered in conftest's ``pytest_plugins``).

- ``xts_orders_server``: an XTS test server that checks the interactive key pair and serves
  today's NSEFO master (below, without the contracts dead since yesterday).
- ``broker_settings``: JAINAM_INTERACTIVE_* and JAINAM_CLIENT_ID pointed at it.
- ``synced_nsefo``: yesterday's NSEFO master, parsed and saved by the sync service.
- ``api_key``: the plain API key of a fresh user.

The NSEFO master is the real sample (tests/data/NSEFO.txt) moved in time so that it never
rots: every expiry is shifted by one constant so that the sample's August expiry falls on
yesterday (Asia/Kolkata). Those contracts are stored but dead, as after a sync made before
their expiry; the sample's September and October expiries are live, a month and two ahead.
Live futures of BEL and NIFTY (copies of their real lines) are added for those months.

``order_posts`` reads the broker's request log over HTTP (``GET /_control/requests``), as
any client of the test server would.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User

from jainam_prop.master_parser import parse_master
from jainam_prop.services.api_keys import create_api_key
from jainam_prop.services.sync import save_master_contract_to_db
from jainam_prop.vocabulary import MONTHS, expiry_code, today_ist
from xts_testserver import XTSTestServer

DATA_DIR = Path(__file__).parent / "data"
ORDERS_PATH = "/interactive/orders"
SESSION_PATH = "/interactive/user/session"
# Fault endpoints of the test server.
ORDERS = "orders"
SESSION = "session"
CLIENT_ID = "JPDEALER07"
INTERACTIVE_KEY = "test-interactive-app-key-5f1c"
INTERACTIVE_SECRET = "test-interactive-secret-9a7e"


@dataclass(frozen=True)
class SampleInstrument:
    symbol: str
    token: int
    lot_size: int
    tick_size: Decimal = Decimal("0.05")
    freeze_qty: int | None = None
    expiry: date | None = None


# The sample's monthly expiries and where they fall now.
SAMPLE_AUG, SAMPLE_SEP, SAMPLE_OCT = date(2026, 8, 25), date(2026, 9, 29), date(2026, 10, 27)
TODAY = today_ist()
DEAD_DAY = TODAY - timedelta(days=1)
SHIFT = DEAD_DAY - SAMPLE_AUG
NEAR, FAR = SAMPLE_SEP + SHIFT, SAMPLE_OCT + SHIFT
# Token offset of the added live futures (real NSEFO tokens stay below 100,000 in the sample).
ADDED = 900_000


def _sample(
    name: str, expiry: date, token: int, lot: int, tick: str, freeze: int
) -> SampleInstrument:
    return SampleInstrument(
        f"{name}{expiry_code(expiry)}FUT", token, lot, Decimal(tick), freeze, expiry
    )


# NSEFO|58130|1|BEL|BEL26AUGFUT|...|57001|0.05|1425|1|...|2026-08-25T14:30:00|...
BEL_DEAD = _sample("BEL", DEAD_DAY, 58130, 1425, "0.05", 57001)
BEL_FUT = _sample("BEL", NEAR, ADDED + 58130, 1425, "0.05", 57001)
BEL_FAR = _sample("BEL", FAR, ADDED + 58131, 1425, "0.05", 57001)
# NSEFO|58072|1|NIFTY|NIFTY26AUGFUT|...|1801|0.1|65|1|...|2026-08-25T14:30:00|...
NIFTY_DEAD = _sample("NIFTY", DEAD_DAY, 58072, 65, "0.1", 1801)
NIFTY_FUT = _sample("NIFTY", NEAR, ADDED + 58072, 65, "0.1", 1801)
NIFTY_FAR = _sample("NIFTY", FAR, ADDED + 58073, 65, "0.1", 1801)
# NSEFO|80902|2|ICICIGI|ICICIGI26OCT1360CE|...|0.05|325|1|...|2026-10-27T14:30:00|1360|3|...
ICICIGI_CE = SampleInstrument(
    f"ICICIGI{expiry_code(FAR)}1360CE", 80902, 325, Decimal("0.05"), None, FAR
)
# Added futures: (real line's token, new token, expiry).
_ADDED_FUTURES = (
    (58130, BEL_FUT.token, NEAR),
    (58130, BEL_FAR.token, FAR),
    (58072, NIFTY_FUT.token, NEAR),
    (58072, NIFTY_FAR.token, FAR),
)
_EXPIRY_FIELD = 16  # ContractExpiration on future (1) and option (2) lines


def _shift_line(fields: list[str], *, to: date | None = None) -> list[str]:
    fields = list(fields)
    if fields[2] in ("1", "2") and len(fields) > _EXPIRY_FIELD:
        stamp = datetime.fromisoformat(fields[_EXPIRY_FIELD])
        moved = stamp.replace(year=to.year, month=to.month, day=to.day) if to else stamp + SHIFT
        fields[_EXPIRY_FIELD] = moved.isoformat()
    return fields


def live_nsefo_text(*, on: date = TODAY) -> str:
    """The NSEFO master XTS would serve ``on`` that day: the sample moved in time plus the
    added live futures, without the contracts already dead then (XTS lists none)."""
    lines = [line.split("|") for line in (DATA_DIR / "NSEFO.txt").read_text().splitlines()]
    out = [_shift_line(fields) for fields in lines if fields and fields[0]]
    by_token = {int(fields[1]): fields for fields in lines if len(fields) > 1}
    for source, token, expiry in _ADDED_FUTURES:
        fields = _shift_line(by_token[source], to=expiry)
        fields[1] = str(token)
        code = f"{expiry.year % 100:02d}{MONTHS[expiry.month - 1]}"
        fields[4] = fields[20] = f"{fields[3]}{code}FUT"
        out.append(fields)
    return "\n".join("|".join(fields) for fields in out if not _dead_on(fields, on))


def _dead_on(fields: list[str], day: date) -> bool:
    if fields[2] not in ("1", "2") or len(fields) <= _EXPIRY_FIELD:
        return False
    return datetime.fromisoformat(fields[_EXPIRY_FIELD]).date() < day


@dataclass(frozen=True)
class BrokerSettings:
    url: str
    api_key: str
    api_secret: str
    client_id: str


@dataclass(frozen=True)
class BrokerRequest:
    """One request in the test server's log (``GET /_control/requests``)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")


def broker_requests(server: XTSTestServer, path_suffix: str) -> list[BrokerRequest]:
    """Requests the broker received on paths ending with ``path_suffix``, oldest first."""
    answer = requests.get(f"{server.control_url}/requests", timeout=10)
    answer.raise_for_status()
    return [
        BrokerRequest(r["method"], r["path"], r["headers"], r["body"])
        for r in answer.json()["result"]
        if r["path"].endswith(path_suffix)
    ]


def order_posts(server: XTSTestServer) -> list[BrokerRequest]:
    """Order POSTs the server received (accepted or not)."""
    return [r for r in broker_requests(server, ORDERS_PATH) if r.method == "POST"]


def session_logins(server: XTSTestServer) -> list[BrokerRequest]:
    """Interactive logins the server received."""
    return [r for r in broker_requests(server, SESSION_PATH) if r.method == "POST"]


def free_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def xts_orders_server() -> Iterator[XTSTestServer]:
    with XTSTestServer(
        dataset="samples", interactive_credentials=(INTERACTIVE_KEY, INTERACTIVE_SECRET)
    ) as server:
        server.set_master("NSEFO", live_nsefo_text())
        yield server


@pytest.fixture
def broker_settings(settings, xts_orders_server: XTSTestServer) -> BrokerSettings:
    settings.JAINAM_INTERACTIVE_URL = xts_orders_server.interactive_url
    settings.JAINAM_INTERACTIVE_API_KEY = INTERACTIVE_KEY
    settings.JAINAM_INTERACTIVE_API_SECRET = INTERACTIVE_SECRET
    settings.JAINAM_CLIENT_ID = CLIENT_ID
    settings.JAINAM_HTTP_RETRIES = 2
    settings.JAINAM_HTTP_BACKOFF = 0.01
    settings.JAINAM_HTTP_READ_TIMEOUT = 5.0
    return BrokerSettings(
        url=xts_orders_server.interactive_url,
        api_key=INTERACTIVE_KEY,
        api_secret=INTERACTIVE_SECRET,
        client_id=CLIENT_ID,
    )


@pytest.fixture
def synced_nsefo(db) -> None:
    # As a sync made yesterday stored it: yesterday's expiries were still live then.
    rows = parse_master(live_nsefo_text(on=DEAD_DAY), segment="NSEFO", today=DEAD_DAY).rows
    save_master_contract_to_db(rows, segments=["NSEFO"])


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def closed_port_url(closed_port: int) -> str:
    return f"http://127.0.0.1:{closed_port}/interactive"


@pytest.fixture
def api_key(db) -> str:
    user = User.objects.create_user("strategy-runner")
    _, raw = create_api_key(user=user, name="tests")
    return raw
