"""Fixtures for orders, the JSON API and API keys (registered in conftest's ``pytest_plugins``).

- ``xts_orders_server``: an XTS test server that checks the interactive key pair.
- ``broker_settings``: JAINAM_INTERACTIVE_* and JAINAM_CLIENT_ID pointed at it.
- ``synced_nsefo``: the real NSEFO sample lines, parsed and saved by the sync service.
- ``api_key``: the plain API key of a fresh user.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from jainam_prop.master_parser import parse_master
from jainam_prop.services.api_keys import create_api_key
from jainam_prop.services.sync import save_master_contract_to_db
from xts_testserver import XTSTestServer
from xts_testserver.server import RecordedRequest

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


# From tests/data/NSEFO.txt:
# NSEFO|58130|1|BEL|BEL26AUGFUT|...|0.05|1425|1|...|2026-08-25T14:30:00|...
BEL_FUT = SampleInstrument("BEL25AUG26FUT", 58130, 1425)
# NSEFO|80902|2|ICICIGI|ICICIGI26OCT1360CE|...|0.05|325|1|...|2026-10-27T14:30:00|1360|3|...
ICICIGI_CE = SampleInstrument("ICICIGI27OCT261360CE", 80902, 325)


@dataclass(frozen=True)
class BrokerSettings:
    url: str
    api_key: str
    api_secret: str
    client_id: str


def order_posts(server: XTSTestServer) -> list[RecordedRequest]:
    """Order POSTs the server received (accepted or not)."""
    return [r for r in server.requests_to(ORDERS_PATH) if r.method == "POST"]


def session_logins(server: XTSTestServer) -> list[RecordedRequest]:
    """Interactive logins the server received."""
    return [r for r in server.requests_to(SESSION_PATH) if r.method == "POST"]


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
    text = (DATA_DIR / "NSEFO.txt").read_text()
    rows = parse_master(text, segment="NSEFO").rows
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
