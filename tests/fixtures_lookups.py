"""Fixtures for the lookup service: instrument rows, a sync as the contract does it, a clock,
a private Redis server that tests may stop and start, and the test database's URL for child
processes."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection, transaction

from jainam_prop.models import DEFAULT_BROKER, LookupGeneration, SymbolToken
from jainam_prop.services import lookups


def child_database_url() -> str:
    """DATABASE_URL of the test database, for child processes (lookup loops, syncs, gunicorn)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{db['HOST']}{port}/{db['NAME']}"


# Real rows from tests/data (NSEFO, NSECM, BSECM, BSEFO samples, NSECM_INDEX), as the sync
# stores them; the NIFTY strikes around 21300 are synthetic neighbours of the real 21300 CE.
NIFTY_OCT26 = dt.date(2026, 10, 27)
SAMPLE_ROWS: list[dict[str, Any]] = [
    {
        "symbol": "NIFTY27OCT2621300CE",
        "exchange": "NFO",
        "token": 51278,
        "brsymbol": "NIFTY26OCT21300CE",
        "brexchange": "NSEFO",
        "name": "NIFTY",
        "expiry": NIFTY_OCT26,
        "strike": Decimal("21300"),
        "lot_size": 65,
        "tick_size": Decimal("0.05"),
        "instrument_type": "CE",
    },
    *(
        {
            "symbol": f"NIFTY27OCT26{strike}{kind}",
            "exchange": "NFO",
            "token": token,
            "brsymbol": f"NIFTY26OCT{strike}{kind}",
            "brexchange": "NSEFO",
            "name": "NIFTY",
            "expiry": NIFTY_OCT26,
            "strike": Decimal(strike),
            "lot_size": 65,
            "tick_size": Decimal("0.05"),
            "instrument_type": kind,
        }
        for strike, kind, token in [
            (21200, "CE", 51276),
            (21400, "CE", 51280),
            (21500, "CE", 51282),
            (21300, "PE", 51279),
        ]
    ),
    {
        "symbol": "NIFTY25AUG26FUT",
        "exchange": "NFO",
        "token": 58072,
        "brsymbol": "NIFTY26AUGFUT",
        "brexchange": "NSEFO",
        "name": "NIFTY",
        "expiry": dt.date(2026, 8, 25),
        "strike": None,
        "lot_size": 65,
        "tick_size": Decimal("0.1"),
        "instrument_type": "FUT",
    },
    {
        "symbol": "SAH",
        "exchange": "NSE",
        "token": 13690,
        "brsymbol": "SAH-BE",
        "brexchange": "NSECM",
        "name": "SAH",
        "expiry": None,
        "strike": None,
        "lot_size": 1,
        "tick_size": Decimal("0.01"),
        "instrument_type": "EQ",
    },
    {
        "symbol": "TNTELE",
        "exchange": "NSE",
        "token": 9884,
        "brsymbol": "TNTELE-BE",
        "brexchange": "NSECM",
        "name": "TNTELE",
        "expiry": None,
        "strike": None,
        "lot_size": 1,
        "tick_size": Decimal("0.01"),
        "instrument_type": "EQ",
    },
    {
        "symbol": "TTKPRESTIG",
        "exchange": "BSE",
        "token": 517506,
        "brsymbol": "TTKPRESTIG-A",
        "brexchange": "BSECM",
        "name": "TTKPRESTIG",
        "expiry": None,
        "strike": None,
        "lot_size": 1,
        "tick_size": Decimal("0.05"),
        "instrument_type": "EQ",
    },
    {
        "symbol": "SENSEX12JUL2478100PE",
        "exchange": "BFO",
        "token": 1125434,
        "brsymbol": "SENSEX2471278100PE",
        "brexchange": "BSEFO",
        "name": "SENSEX",
        "expiry": dt.date(2024, 7, 12),
        "strike": Decimal("78100"),
        "lot_size": 10,
        "tick_size": Decimal("0.05"),
        "instrument_type": "PE",
    },
    {
        "symbol": "NIFTY",
        "exchange": "NSE_INDEX",
        "token": 26000,
        "brsymbol": "NIFTY 50",
        "brexchange": "NSECM",
        "name": "NIFTY",
        "expiry": None,
        "strike": None,
        "lot_size": 1,
        "tick_size": Decimal("0.05"),
        "instrument_type": "INDEX",
    },
]


def instrument_rows(
    rows: Iterable[dict[str, Any]] = SAMPLE_ROWS, *, broker: str = DEFAULT_BROKER, **changes: Any
) -> list[SymbolToken]:
    """Unsaved SymbolToken rows (``changes`` override every row's fields)."""
    return [SymbolToken(broker=broker, **{**row, **changes}) for row in rows]


def option_chain(count: int, *, first_token: int = 700_000) -> list[dict[str, Any]]:
    """``count`` NFO NIFTY options of the 27 Oct 2026 expiry (CE and PE), realistic fields."""
    rows = []
    for i in range(count):
        strike = 15000 + 50 * (i // 2)
        kind = "CE" if i % 2 == 0 else "PE"
        rows.append(
            {
                **SAMPLE_ROWS[0],
                "symbol": f"NIFTY27OCT26{strike}{kind}",
                "brsymbol": f"NIFTY26OCT{strike}{kind}",
                "token": first_token + i,
                "strike": Decimal(strike),
                "instrument_type": kind,
            }
        )
    return rows


@pytest.fixture
def make_instruments() -> Callable[..., list[SymbolToken]]:
    """Store rows directly (no sync) and start the broker's generation at 1."""

    def make(
        rows: Iterable[dict[str, Any]] = SAMPLE_ROWS,
        *,
        broker: str = DEFAULT_BROKER,
        **changes: Any,
    ) -> list[SymbolToken]:
        created = SymbolToken.objects.bulk_create(instrument_rows(rows, broker=broker, **changes))
        LookupGeneration.objects.get_or_create(broker=broker, defaults={"generation": 1})
        return created

    return make


def simulate_sync(
    rows: Iterable[dict[str, Any]],
    *,
    broker: str = DEFAULT_BROKER,
    on_committed: Callable[[], None] | None = None,
) -> int:
    """Replace a broker's rows exactly as the sync contract does; return the new generation.

    One transaction: lock and bump the LookupGeneration row, delete, insert, and register
    ``publish_generation`` on commit (``on_committed`` runs on commit just before it).
    """
    with transaction.atomic():
        LookupGeneration.objects.get_or_create(broker=broker)
        generation = LookupGeneration.objects.select_for_update().get(broker=broker)
        SymbolToken.objects.filter(broker=broker).delete()
        SymbolToken.objects.bulk_create(instrument_rows(rows, broker=broker))
        generation.generation += 1
        generation.save()
        new_generation = generation.generation
        if on_committed is not None:
            transaction.on_commit(on_committed)
        transaction.on_commit(
            lambda: lookups.publish_generation(broker=broker, generation=new_generation)
        )
    return new_generation


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _fresh_lookups() -> Iterator[None]:
    """Every test starts with empty lookup memory: the database is rolled back between tests,
    so a generation number may repeat with different rows."""
    lookups.reset_process_state()
    yield
    lookups.reset_process_state()


@pytest.fixture
def lookup_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The lookups' monotonic clock, frozen until ``advance``d."""
    fake = FakeClock()
    monkeypatch.setattr(lookups, "clock", fake)
    return fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_cache_settings(url: str) -> dict[str, Any]:
    """CACHES as config/settings.py builds them for REDIS_URL, pointed at ``url``."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "lookups",
            "TIMEOUT": None,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
            },
        }
    }


class PrivateRedis:
    """A redis-server of this test only (never the machine's shared one), on a free port."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server abruptly (as a crash would), and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def dbsize(self) -> int:
        return int(self.client().dbsize())


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
