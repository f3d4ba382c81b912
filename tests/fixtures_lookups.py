"""Fixtures for the lookup service: instruments saved through the real write path (real XTS
sample lines from ``tests/data``, parsed by the master parser and saved by
``save_master_contract_to_db``, expiries moved relative to today), a clock, a private Redis
server that tests may stop and start, and the test database's URL for child processes."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
import redis

from jainam_prop import cache_outage, vocabulary
from jainam_prop.master_parser import merge_parsed, parse_index_list, parse_master
from jainam_prop.models import DEFAULT_BROKER, SymbolToken
from jainam_prop.services import lookups, save_master_contract_to_db
from jainam_prop.services.lookups import memory
from tests import sample_data

# Re-exported for the test modules that import them from here (one definition: tests.helpers).
from tests.helpers import child_database_url as child_database_url
from tests.helpers import free_port as free_port
from tests.helpers import redis_cache_settings as redis_cache_settings

DATA_DIR = Path(__file__).parent / "data"
EXPIRY_FIELD = 16  # ContractExpiration of future (1), option (2) and spread (4) lines


# --- sample masters, moved to today ------------------------------------------------------------


def _expiry_of(line: str) -> dt.date | None:
    fields = line.split("|")
    if fields[2] in ("1", "2", "4") and len(fields) > EXPIRY_FIELD:
        return dt.date.fromisoformat(fields[EXPIRY_FIELD][:10])
    return None


def live_lines(segment: str, *, today: dt.date) -> list[str]:
    """The segment's sample lines with every contract live on ``today`` (``tests.sample_data``
    moves each segment's expiries by whole weeks)."""
    return [line for line in sample_data.live_lines(segment, today=today) if line.strip()]


def moved(line: str, *, days: int) -> str:
    """One master line with its ContractExpiration moved by ``days`` (others unchanged)."""
    expiry = _expiry_of(line)
    if expiry is None:
        return line
    fields = line.split("|")
    fields[EXPIRY_FIELD] = (expiry + dt.timedelta(days=days)).isoformat() + fields[EXPIRY_FIELD][
        10:
    ]
    return "|".join(fields)


def option_line(base: str, *, strike: int, kind: str, token: int) -> str:
    """A sibling of a real option line: same underlying and expiry, another strike, kind and
    token (Description, InstrumentID and display fields follow)."""
    fields = base.split("|")
    old = f"{fields[17]}{'CE' if fields[18] == '3' else 'PE'}"
    fields[1] = str(token)
    fields[4] = fields[4].replace(old, f"{strike}{kind}")
    fields[7] = fields[7][:-8] + f"{token:08d}"
    fields[17] = str(strike)
    fields[18] = "3" if kind == "CE" else "4"
    fields[-1] = fields[-1].replace(old, f"{strike}{kind}")
    return "|".join(fields)


NIFTY_CE_TOKEN = 51278  # the real NIFTY 21300 CE line of the NSEFO sample
#: Synthetic neighbours of the real NIFTY 21300 CE: (strike, kind, token).
NIFTY_NEIGHBOURS = [
    (21200, "CE", 51276),
    (21400, "CE", 51280),
    (21500, "CE", 51282),
    (21300, "PE", 51279),
]


def nifty_options(strikes: Iterable[tuple[int, str, int]], *, today: dt.date) -> list[str]:
    """NSEFO lines of NIFTY options at the expiry of the real 21300 CE, moved like the rest."""
    base = next(
        line
        for line in live_lines("NSEFO", today=today)
        if line.split("|")[1] == str(NIFTY_CE_TOKEN)
    )
    return [option_line(base, strike=s, kind=k, token=t) for s, k, t in strikes]


def option_chain_lines(count: int, *, today: dt.date, first_token: int = 700_000) -> list[str]:
    """``count`` NIFTY options (CE and PE alternately, strikes from 40000 by 50:
    no sample line has them)."""
    return nifty_options(
        (
            (40000 + 50 * (i // 2), "CE" if i % 2 == 0 else "PE", first_token + i)
            for i in range(count)
        ),
        today=today,
    )


def _index_entries(segment: str) -> list[str]:
    with (DATA_DIR / f"{segment}_INDEX.txt").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return [f"{name.strip()}_{token.strip()}" for name, token in rows[1:] if name]


def sample_master(
    *,
    today: dt.date,
    extra: dict[str, Sequence[str]] | None = None,
    segments: Sequence[str] = vocabulary.MASTER_SEGMENTS,
    replace: dict[str, Callable[[str], str]] | None = None,
):
    """The parser's rows for the sample masters (and index lists) moved to ``today``.

    ``extra`` adds lines per segment; ``replace`` rewrites each line of a segment.
    """
    parts = []
    for segment in segments:
        lines = live_lines(segment, today=today) + list((extra or {}).get(segment, ()))
        if replace and segment in replace:
            lines = [replace[segment](line) for line in lines]
        parts.append(parse_master("\n".join(lines), segment=segment))
        if segment in vocabulary.INDEX_SEGMENTS:
            parts.append(parse_index_list(_index_entries(segment), segment=segment))
    return merge_parsed(parts).rows


def save_samples(*, broker: str = DEFAULT_BROKER, today: dt.date | None = None, **options: Any):
    """Save the sample master through ``save_master_contract_to_db`` (replacing every row of
    ``broker``); returns the save result. Options as :func:`sample_master`."""
    rows = sample_master(today=today or vocabulary.today_ist(), **options)
    return save_master_contract_to_db(rows, broker=broker, force=True)


def stored(
    symbol_or_token: str | int, exchange: str, *, broker: str = DEFAULT_BROKER
) -> SymbolToken:
    """The stored row of a symbol or token (to know what the sample lines became)."""
    rows = SymbolToken.objects.filter(broker=broker, exchange=exchange)
    if isinstance(symbol_or_token, int):
        return rows.get(token=symbol_or_token)
    return rows.get(symbol=symbol_or_token)


@pytest.fixture
def make_instruments() -> Callable[..., Any]:
    """Save the sample master (plus the NIFTY neighbours) through the real write path."""

    def make(*, broker: str = DEFAULT_BROKER, extra_nfo: Sequence[str] = (), **options: Any):
        today = options.pop("today", None) or vocabulary.today_ist()
        lines = [*nifty_options(NIFTY_NEIGHBOURS, today=today), *extra_nfo]
        extra = {**options.pop("extra", {})}
        extra["NSEFO"] = [*lines, *extra.get("NSEFO", ())]
        return save_samples(broker=broker, today=today, extra=extra, **options)

    return make


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
    monkeypatch.setattr(memory, "clock", fake)
    monkeypatch.setattr(cache_outage, "clock", fake)
    return fake


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
        return int(cast(int, self.client().dbsize()))


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
