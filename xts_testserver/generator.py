"""A deterministic, full-size XTS instrument master in the real wire format, relative to today.

``generate_master(segment)`` returns the ``result`` string the broker would send for one segment:
lines joined by ``\\n``, fields by ``|``, no header. Every segment is built from a fixed seed and
an ``anchor`` date (the "trading day" the master describes; default: today in Asia/Kolkata,
computed here with zoneinfo since the test server never imports the product), so the output
is byte-identical across runs and machines for one anchor, and never lists a contract that
expired before it. Expiries are computed from the anchor, as the exchanges list them:

- NSE (NSEFO): every contract expires on a Tuesday at 14:30. Index options: weekly expiries for
  NIFTY, BANKNIFTY, FINNIFTY and MIDCPNIFTY (broker Description ``NIFTY26D0126000CE``), the next
  three monthly expiries (last Tuesday, Description ``NIFTY26DEC26000CE``) for all five indices,
  and NIFTY/BANKNIFTY quarterly and NIFTY half-yearly contracts years out. Stock futures and
  options for ~180 underlyings, three monthly expiries only; strikes may be fractional (92.5,
  272.5). Four exchange test contracts (``041NSETEST``...) expire ten years out.
- BSE (BSEFO): SENSEX weekly (Thursday) and monthly, BANKEX and SENSEX50 monthly, T00:00:00,
  tokens above 1,000,000.
- NSECD: USDINR/EURINR/GBPINR/JPYINR futures (12 months) and options (weekly Friday + monthly,
  0.25 strike steps), EURUSD/GBPUSD/USDJPY futures, interest-rate futures and type-4 spreads.
- MCXFO: commodity futures (monthly) and options on futures (T23:59:59) plus the real type-16
  COMDTY/INDEX spot rows with NaN price bands.
- NSECM / BSECM: cash rows of many series (EQ, BE, SM, GS, SG, bonds... / A, B, T, X, F, G...)
  including names with ``&`` and ``-`` and one BSE ``SPOT`` row.

``variant`` > 0 gives the same symbols with about 1% of the tokens (and their InstrumentIDs)
changed to fresh values; ``token_changes`` says which. ``expired_lines=N`` appends N contracts
(of a F&O segment) that expired before the anchor, with fresh tokens, so that a sync can be
seen skipping dead lines. Prices are synthetic.

Size: one thing, the full master, written as one builder per segment and instrument kind
that share the expiry calendar and the line layouts above; splitting them would spread one
calendar over several files.
"""

from __future__ import annotations

import calendar
import functools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from xts_testserver.reference import (
    BSE_INDICES,
    FNO_STOCKS,
    KNOWN_NSE_TOKENS,
    MCX_SPOT_ROWS,
    NSE_INDICES,
    ODD_NSE_NAMES,
    SYNTHETIC_TRADES,
    SYNTHETIC_WORDS,
)

#: The default anchor: None means today in Asia/Kolkata, resolved at each call.
ANCHOR: date | None = None
IST = ZoneInfo("Asia/Kolkata")
SEGMENTS: tuple[str, ...] = ("NSECM", "NSEFO", "NSECD", "BSECM", "BSEFO", "MCXFO")
SEGMENT_CODES: dict[str, int] = {
    "NSECM": 1,
    "NSEFO": 2,
    "NSECD": 3,
    "BSECM": 11,
    "BSEFO": 12,
    "MCXFO": 51,
}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKLY_MONTH_CODES = "123456789OND"
TUESDAY, THURSDAY, FRIDAY = 1, 3, 4
TOKEN_WIDTH = 8  # the last 8 digits of InstrumentID are the zero-padded token


# --------------------------------------------------------------------------- anchor


def today_ist() -> date:
    """Today's date in India, whatever the machine's time zone."""
    return datetime.now(IST).date()


def resolve_anchor(anchor: date | None) -> date:
    """``anchor``, or today in Asia/Kolkata when it is None."""
    return today_ist() if anchor is None else anchor


# --------------------------------------------------------------------------- formatting helpers


def _num(value: float, places: int = 2) -> str:
    """A price or strike the way XTS writes it: no trailing zeros (92.5, 19550, 0.05)."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _display_date(day: date) -> str:
    return f"{day.day:02d}{MONTHS[day.month - 1]}{day.year}"


def _monthly_code(day: date) -> str:
    return f"{day.year % 100:02d}{MONTHS[day.month - 1]}"


def _weekly_code(day: date) -> str:
    return f"{day.year % 100:02d}{WEEKLY_MONTH_CODES[day.month - 1]}{day.day:02d}"


def _iid_prefix(code: int, expiry: date | None) -> str:
    """InstrumentID = segment code + (1001 | last year digit + day of year) + 8-digit token."""
    if expiry is None:
        return f"{code}1001"
    return f"{code}{expiry.year % 10}{expiry.timetuple().tm_yday:03d}"


def _cash_line(
    segment: str,
    token: int,
    name: str,
    series: str,
    *,
    high: str,
    low: str,
    freeze: int,
    tick: str,
    lot: int,
    isin: str,
    detailed: str,
    ext: int = 0,
) -> str:
    nws = f"{name}-{series}"
    iid = f"{_iid_prefix(SEGMENT_CODES[segment], None)}{token:08d}"
    return (
        f"{segment}|{token}|8|{name}|{nws}|{series}|{nws}|{iid}|{high}|{low}|{freeze}|{tick}|"
        f"{lot}|1|{name}|{isin}|1|1|{detailed}|{ext}|-1|-1"
    )


@dataclass(frozen=True)
class _Contract:
    """What futures and options of one underlying share."""

    segment: str
    name: str
    series: str
    underlying_id: str
    underlying_name: str
    freeze: int
    tick: str
    lot: int
    multiplier: int


def _future_line(
    c: _Contract,
    token: int,
    expiry: date,
    *,
    iso: str,
    description: str,
    display: str,
    high: str,
    low: str,
    instrument_type: int = 1,
    iid_prefix: str | None = None,
) -> str:
    nws = f"{c.name}-{c.series}"
    prefix = iid_prefix or _iid_prefix(SEGMENT_CODES[c.segment], expiry)
    return (
        f"{c.segment}|{token}|{instrument_type}|{c.name}|{description}|{c.series}|{nws}|"
        f"{prefix}{token:08d}|{high}|{low}|{c.freeze}|{c.tick}|{c.lot}|{c.multiplier}|"
        f"{c.underlying_id}|{c.underlying_name}|{iso}|{display}|1|1|{description}"
    )


def _monthly_future(
    fut: _Contract,
    token: int,
    expiry: date,
    *,
    time_of_day: str,
    price: float,
    band: float,
    places: int = 2,
) -> str:
    """A monthly future line of ``fut``: description ``NAME{YY}{MON}FUT``, display
    ``NAME DDMONYYYY``, price bounds ``price`` +- ``band`` (a fraction)."""
    return _future_line(
        fut,
        token,
        expiry,
        iso=f"{expiry.isoformat()}{time_of_day}",
        description=f"{fut.name}{_monthly_code(expiry)}FUT",
        display=f"{fut.name} {_display_date(expiry)}",
        high=_num(price * (1 + band), places),
        low=_num(price * (1 - band), places),
    )


def _option_lines(
    c: _Contract,
    tokens: Iterator[int],
    expiry: date,
    *,
    iso: str,
    code: str,
    strikes: list[float],
    spot: float,
    places: int = 2,
) -> list[str]:
    """CE and PE lines for every strike of one expiry (OptionType 3 = CE, 4 = PE)."""
    prefix = _iid_prefix(SEGMENT_CODES[c.segment], expiry)
    shown = _display_date(expiry)
    nws = f"{c.name}-{c.series}"
    head = f"{c.segment}|"
    mid = f"|2|{c.name}|"
    common = (
        f"|{c.freeze}|{c.tick}|{c.lot}|{c.multiplier}|{c.underlying_id}|{c.underlying_name}|{iso}|"
    )
    spread = spot * 0.08 + 0.05
    lines: list[str] = []
    for strike in strikes:
        k = _num(strike, 4)
        for opt, kind, moneyness in ((3, "CE", spot - strike), (4, "PE", strike - spot)):
            token = next(tokens)
            intrinsic = max(moneyness, 0.0)
            high = f"{intrinsic + spread:.{places}f}".rstrip("0").rstrip(".")
            low = f"{max(0.05, intrinsic - spread / 2):.{places}f}".rstrip("0").rstrip(".")
            desc = f"{c.name}{code}{k}{kind}"
            lines.append(
                f"{head}{token}{mid}{desc}|{c.series}|{nws}|{prefix}{token:08d}|{high}|{low}"
                f"{common}{k}|{opt}|{c.name} {shown} {kind} {k}|1|1|{desc}"
            )
    return lines


def _strikes(*, spot: float, step: float, below: int, above: int) -> list[float]:
    atm = round(spot / step) * step
    return [atm + i * step for i in range(-below, above + 1) if atm + i * step > 0]


def _scramble(lines: list[str]) -> list[str]:
    """A fixed pseudo-random order (the real master is not sorted), cheaper than shuffle."""
    count = len(lines)
    stride = next(p for p in (7919, 104729, 1299709) if count % p)
    return [lines[(i * stride) % count] for i in range(count)]


class _TokenPool:
    """Unique pseudo-shuffled tokens from [low, high): i -> low + (start + i*stride) % span."""

    def __init__(self, low: int, high: int, *, seed: int, reserved: set[int] | None = None):
        self.low, self.span = low, high - low
        self.stride = next(p for p in (7919, 104729, 1299709) if self.span % p)
        self.position = seed % self.span
        self.reserved = reserved or set()
        self.issued = 0

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        while True:
            if self.issued >= self.span:
                raise RuntimeError("token pool exhausted")
            token = self.low + self.position
            self.position = (self.position + self.stride) % self.span
            self.issued += 1
            if token not in self.reserved:
                return token


# --------------------------------------------------------------------------- calendars


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _months_from(anchor: date, count: int) -> Iterator[tuple[int, int]]:
    year, month = anchor.year, anchor.month
    for _ in range(count):
        yield year, month
        month += 1
        if month > 12:
            year, month = year + 1, 1


def _monthly_expiries(anchor: date, weekday: int, count: int) -> list[date]:
    found = [
        d
        for y, m in _months_from(anchor, count + 2)
        if (d := _last_weekday(y, m, weekday)) >= anchor
    ]
    return found[:count]


def _weekdays_from(anchor: date, weekday: int, count: int) -> list[date]:
    first = anchor + timedelta(days=(weekday - anchor.weekday()) % 7)
    return [first + timedelta(weeks=i) for i in range(count)]


def _previous_business_day(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _business_days_before(day: date, count: int) -> date:
    for _ in range(count):
        day = _previous_business_day(day - timedelta(days=1))
    return day


# --------------------------------------------------------------------------- names


@functools.lru_cache(maxsize=1)
def _company_names() -> tuple[tuple[str, str], ...]:
    """(symbol, company) pairs: the real F&O names first, then deterministic synthetic ones."""
    seen: set[str] = set()
    names: list[tuple[str, str]] = []

    def add(symbol: str, company: str) -> None:
        if symbol not in seen:
            seen.add(symbol)
            names.append((symbol, company))

    for symbol, company in ODD_NSE_NAMES:
        add(symbol, company)
    for symbol in FNO_STOCKS:
        add(symbol, f"{symbol.replace('-', ' ').replace('&', ' & ')} LIMITED")
    for symbol in sorted(KNOWN_NSE_TOKENS):
        add(symbol, f"{symbol} LIMITED")
    rng = random.Random(20261124)
    pairs = [(w, t) for w in SYNTHETIC_WORDS for t in SYNTHETIC_TRADES]
    rng.shuffle(pairs)
    for i, (word, (short, trade)) in enumerate(pairs):
        if i % 37 == 5:
            symbol, company = f"{word[:3]}&{short}", f"{word} & {word[:3]} {trade} LTD"
        elif i % 41 == 7:
            symbol, company = f"{word[:5]}-{short}", f"{word}-{short} {trade} LTD"
        else:
            symbol, company = f"{word}{short}", f"{word} {trade} LIMITED"
        add(symbol[:10], company)
    return tuple(names)


def _isin(rng: random.Random, prefix: str = "INE") -> str:
    """A 12-character ISIN-shaped code (not check-digit valid)."""
    alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    body = "".join(rng.choice(alnum) for _ in range(9 - len(prefix)))
    return f"{prefix}{body}0{rng.randint(1, 9)}{rng.randint(0, 9)}"


def _price(rng: random.Random, low: float, high: float) -> float:
    return round(math.exp(rng.uniform(math.log(low), math.log(high))), 1)


@functools.lru_cache(maxsize=1)
def _stock_prices() -> dict[str, float]:
    rng = random.Random(7)
    prices = {name: _price(rng, 60, 9000) for name, _ in _company_names()}
    prices.update(
        {
            "RELIANCE": 1510.0,
            "SBIN": 860.0,
            "INFY": 1620.0,
            "TCS": 3120.0,
            "HDFCBANK": 990.0,
            "ICICIBANK": 1410.0,
            "NHPC": 90.0,
            "VEDL": 280.0,
            "IDEA": 9.5,
            "YESBANK": 22.0,
            "SUZLON": 61.0,
            "MRF": 150000.0,
            "PAGEIND": 45000.0,
            "BOSCHLTD": 38000.0,
        }
    )
    return prices


def _tick(price: float) -> str:
    return "0.01" if price < 250 else "0.05"


# --------------------------------------------------------------------------- cash segments


def _nse_cash(anchor: date) -> list[str]:
    rng = random.Random(101)
    companies = _company_names()
    prices = _stock_prices()
    reserved = set(KNOWN_NSE_TOKENS.values())
    pool = _TokenPool(1, 30000, seed=11, reserved=reserved)
    lines: list[str] = []

    def equity(name: str, company: str, series: str, *, lot: int = 1, band: float = 0.2) -> None:
        token = KNOWN_NSE_TOKENS.get(name) if series == "EQ" else None
        token = token or next(pool)
        p = prices.get(name) or _price(rng, 5, 3000)
        detailed = f"{company[:25]}-{series}"
        lines.append(
            _cash_line(
                "NSECM",
                token,
                name,
                series,
                high=_num(p * (1 + band)),
                low=_num(p * (1 - band)),
                freeze=rng.randint(10000, 2500000),
                tick=_tick(p),
                lot=lot,
                isin=_isin(rng),
                detailed=detailed,
                ext=rng.choice((0, 0, 0, 0, 0, 13, 34, 99)),
            )
        )

    # equities: F&O names and known tokens are always EQ
    eq_count = 2500
    for name, company in companies[:eq_count]:
        equity(name, company, "EQ")
    rest = companies[eq_count:]
    for name, company in rest[:450]:
        equity(name, company, "BE", band=0.05)
    for name, company in rest[450:1150]:
        equity(name, company, "SM", lot=rng.choice((400, 600, 800, 1000, 1200, 1600, 2000, 3000)))
    for name, company in rest[1150:1250]:
        equity(name, company, "ST", lot=rng.choice((1000, 2000, 3000)))
    for name, company in rest[1250:1320]:
        equity(name, company, "BZ", band=0.05)
    # government securities (GS), state development loans (SG), treasury bills (TB), bonds
    seen: set[str] = set()

    def debt(name: str, series: str, detailed: str, *, lot: int = 1, price: float = 100) -> None:
        if name in seen:
            return
        seen.add(name)
        lines.append(
            _cash_line(
                "NSECM",
                next(pool),
                name,
                series,
                high=_num(price * 1.05),
                low=_num(price * 0.95),
                freeze=rng.randint(1000, 1000000),
                tick="0.01",
                lot=lot,
                isin=_isin(rng, "IN00"),
                detailed=detailed[:25] + f"-{series}",
            )
        )

    year = anchor.year
    for _ in range(130):
        rate = rng.randint(575, 850)
        matures = rng.randint(year, year + 38)
        debt(f"{rate}GS{matures}", "GS", f"GOI LOAN {rate / 100:.2f}% {matures}")
    states = [
        "AP",
        "AS",
        "BR",
        "CG",
        "GA",
        "GJ",
        "HP",
        "HR",
        "JH",
        "JK",
        "KA",
        "KL",
        "MH",
        "MP",
        "MZ",
        "NL",
        "PB",
        "RJ",
        "SK",
        "TN",
        "TS",
        "UP",
        "UK",
        "WB",
    ]
    for _ in range(1500):
        rate = rng.randint(650, 820)
        state = rng.choice(states)
        matures = rng.randint(year, year + 20)
        rate_text = f"{rate / 100:.2f}".rstrip("0").rstrip(".")
        debt(
            f"{rate}{state}{matures % 100:02d}",
            "SG",
            f"SDL {state} {rate_text}% {matures}",
            lot=100,
        )
    for days in (91, 182, 364):
        for i in range(45):
            expiry = anchor + timedelta(days=7 * i + 2)
            debt(
                f"{days}D{expiry.day:02d}{expiry.strftime('%b').upper()}{expiry.year % 100:02d}",
                "TB",
                f"GOI TBILL {days}D-{expiry.day:02d}/{expiry.month:02d}/{expiry.year % 100:02d}",
                price=98.5,
            )
    issuers = [
        "IIFL",
        "NHAI",
        "IRFC",
        "PFC",
        "REC",
        "HUDCO",
        "NTPC",
        "MMFSL",
        "SCL",
        "EFSL",
        "KFL",
        "MFL",
        "IHFL",
        "SHRI",
    ]
    bond_series = [
        "NB",
        "ND",
        "N1",
        "N2",
        "N3",
        "N4",
        "N5",
        "N6",
        "N7",
        "N8",
        "N9",
        "NN",
        "NC",
        "NO",
        "NP",
        "NQ",
        "NR",
        "NS",
    ]
    for i in range(2100):
        issuer = rng.choice(issuers)
        rate = rng.randint(700, 1100)
        matures = rng.randint(year % 100, year % 100 + 12)
        suffix = "" if i % 3 else rng.choice("ABCDEFGH")
        debt(
            f"{rate}{issuer}{matures:02d}{suffix}"[:10],
            rng.choice(bond_series),
            f"SEC RED NCD {rate / 100:.2f}% SR.{i % 20}",
            price=1000,
        )
    amcs = ["HDFCAMC", "NIPPON", "SBIAMC", "ICICIPRU", "KOTAK", "AXISAMC"]
    for i in range(260):
        amc = rng.choice(amcs)
        debt(f"{amc[:4]}FMP{i:03d}", "MF", f"{amc} - FMP SERIES {i}", price=11)
    for i in range(60):
        debt(f"SGBJUN{(year - 8 + i // 6) % 100:02d}{'ABCDEF'[i % 6]}", "GB", f"2.50% GOLDBONDS{i}")
    for i in range(40):
        debt(f"INVIT{i:02d}", "IV", f"INFRA INVESTMENT TRUST {i}", price=120)
    for i in range(30):
        debt(f"REIT{i:02d}", "RR", f"REAL ESTATE INV TRUST {i}", price=330)
    return lines


def _bse_cash(anchor: date) -> list[str]:
    rng = random.Random(202)
    companies = _company_names()
    prices = _stock_prices()
    equity_pool = _TokenPool(500001, 545000, seed=23)
    debt_pool = _TokenPool(700001, 999999, seed=29)
    lines: list[str] = [
        # the real BSE SPOT row: NaN price bands, empty ISIN
        "BSECM|26108|8|BSEIPO|BSEIPO-SPOT|SPOT|BSEIPO-SPOT|11100100026108|NaN|NaN|0|1|1|1|"
        "BSEIPO||1|1|BSEIPO-SPOT|-1|-1|-1"
    ]
    groups: tuple[tuple[str, int], ...] = (
        ("A", 750),
        ("B", 2550),
        ("T", 420),
        ("X", 1150),
        ("XT", 700),
        ("M", 300),
    )
    groups += (("MT", 200), ("Z", 420))
    start = 0
    for series, count in groups:
        for name, company in companies[start : start + count]:
            p = prices.get(name) or _price(rng, 2, 3000)
            band = 0.2 if series in ("A", "B") else 0.05
            lines.append(
                _cash_line(
                    "BSECM",
                    next(equity_pool),
                    name,
                    series,
                    high=_num(p * (1 + band)),
                    low=_num(p * (1 - band)),
                    freeze=0,
                    tick=_tick(p),
                    lot=1,
                    isin=_isin(rng) if rng.random() > 0.001 else "0",
                    detailed=company[:30].replace(" LIMITED", " LTD."),
                    ext=100,
                )
            )
        start += count
    seen: set[str] = set()
    issuers = [
        "HLFL",
        "KIIFB",
        "NFL",
        "SAT",
        "SCCL",
        "EEL",
        "MFL",
        "SFL",
        "IRFC",
        "MOFS",
        "MMF",
        "AFIL",
        "CIFCL",
        "IHFL",
        "OPL",
        "PFC",
    ]
    year = anchor.year
    for kind, series, count in (("PVT", "F", 5200), ("SDL", "G", 620), ("GS", "GC", 60)):
        made = 0
        while made < count:
            issuer = rng.choice(issuers)
            rate = rng.randint(650, 1100)
            day, month = rng.randint(1, 28), rng.randint(1, 12)
            matures = rng.randint(year % 100, year % 100 + 15)
            if kind == "PVT":
                name = f"{rate}{issuer}{matures:02d}{rng.choice(('', 'A', 'B', 'C', 'D'))}"[:10]
                detailed = f"{issuer}-{rate / 100:.2f}%-{day}-{month}-{matures}-PVT"
            elif kind == "SDL":
                name = f"{rate}{rng.choice(('KA', 'MH', 'TN', 'UP', 'GJ'))}{matures:02d}"
                detailed = f"{name}SDL"
            else:
                name = f"{rate}CG{matures:02d}-ML"
                detailed = f"{rate}CG20{matures:02d}"
            if name in seen:
                continue
            seen.add(name)
            made += 1
            face = rng.choice((100, 1000, 100000, 1000000))
            lines.append(
                _cash_line(
                    "BSECM",
                    next(debt_pool),
                    name,
                    series,
                    high=_num(face * 1.2),
                    low=_num(face * 0.8),
                    freeze=0,
                    tick="0.01",
                    lot=rng.choice((1, 1, 1, 100, 100000)),
                    isin=_isin(rng),
                    detailed=detailed,
                    ext=100,
                )
            )
    for series, count in (("P", 40), ("Y", 30)):
        for i in range(count):
            lines.append(
                _cash_line(
                    "BSECM",
                    next(debt_pool),
                    f"{series}BOND{i:03d}",
                    series,
                    high="120",
                    low="80",
                    freeze=0,
                    tick="0.01",
                    lot=1,
                    isin=_isin(rng),
                    detailed=f"{series} BOND {i}",
                    ext=100,
                )
            )
    return lines


# --------------------------------------------------------------------------- NSE F&O


@dataclass(frozen=True)
class _Index:
    name: str
    underlying_name: str
    spot: float
    step: float
    lot: int
    freeze: int
    future_tick: str


_NSE_INDEX_DERIVATIVES = (
    _Index("NIFTY", "Nifty 50", 26050.0, 50, 75, 1801, "0.1"),
    _Index("BANKNIFTY", "Nifty Bank", 58420.0, 100, 30, 601, "0.2"),
    _Index("FINNIFTY", "Nifty Fin Service", 27610.0, 50, 65, 1801, "0.1"),
    _Index("MIDCPNIFTY", "NIFTY MID SELECT", 13480.0, 25, 120, 2801, "0.05"),
    _Index("NIFTYNXT50", "NIFTY NEXT 50", 70120.0, 100, 25, 601, "0.2"),
)
_NSE_WEEKLY = {"NIFTY": 8, "BANKNIFTY": 4, "FINNIFTY": 4, "MIDCPNIFTY": 4}
_NSE_STRIKES_PER_SIDE = {"NIFTY": 110, "BANKNIFTY": 90, "FINNIFTY": 70, "MIDCPNIFTY": 70}


def _stock_step(price: float) -> float:
    for step in (0.5, 1, 2.5, 5, 10, 20, 50, 100, 250, 500, 1000):
        if price / step <= 100:
            return step
    return 2500


_STEP_OVERRIDES = {"NHPC": 2.5, "VEDL": 2.5}


def _nse_fo(anchor: date) -> list[str]:
    tokens = _TokenPool(35000, 420000, seed=31)
    time_of_day = "T14:30:00"
    monthly = _monthly_expiries(anchor, TUESDAY, 3)
    lines: list[str] = []
    for index in _NSE_INDEX_DERIVATIVES:
        fut = _Contract(
            "NSEFO", index.name, "FUTIDX", "-1", index.underlying_name, index.freeze,
            index.future_tick, index.lot, 1,
        )  # fmt: skip
        for expiry in monthly:
            spot = index.spot * (1 + 0.004 * (expiry - anchor).days / 30)
            lines.append(
                _monthly_future(
                    fut,
                    next(tokens),
                    expiry,
                    time_of_day=time_of_day,
                    price=spot,
                    band=0.1,
                    places=1,
                )
            )
        opt = _Contract(
            "NSEFO", index.name, "OPTIDX", "-1", index.underlying_name, index.freeze, "0.05",
            index.lot, 1,
        )  # fmt: skip
        per_side = _NSE_STRIKES_PER_SIDE.get(index.name, 60)
        expiries: list[tuple[date, str, float, int]] = [
            (d, _monthly_code(d), index.step, per_side) for d in monthly
        ]
        weeklies = _weekdays_from(anchor, TUESDAY, _NSE_WEEKLY.get(index.name, 0))
        expiries += [
            (d, _weekly_code(d), index.step, per_side) for d in weeklies if d not in monthly
        ]
        if index.name in ("NIFTY", "BANKNIFTY"):
            quarterly = [
                d
                for d in _monthly_expiries(anchor, TUESDAY, 14)
                if d.month in (3, 6, 9, 12) and d > monthly[-1]
            ][:3]
            expiries += [(d, _monthly_code(d), index.step * 2, 40) for d in quarterly]
        if index.name == "NIFTY":
            far = [
                d
                for d in _monthly_expiries(anchor, TUESDAY, 66)
                if d.month in (6, 12) and d > expiries[-1][0]
            ][:8]
            expiries += [(d, _monthly_code(d), 500, 20) for d in far]
        for expiry, code, step, side in sorted(expiries):
            lines += _option_lines(
                opt,
                tokens,
                expiry,
                iso=f"{expiry.isoformat()}{time_of_day}",
                code=code,
                strikes=_strikes(spot=index.spot, step=step, below=side, above=side),
                spot=index.spot,
            )
    prices = _stock_prices()
    for name in FNO_STOCKS:
        price = prices[name]
        raw_lot = 600000 / price
        lot = round(raw_lot / 25) * 25 if raw_lot >= 25 else max(1, round(raw_lot))
        underlying = f"{_iid_prefix(1, None)}{KNOWN_NSE_TOKENS.get(name, 0):08d}"
        if name not in KNOWN_NSE_TOKENS:
            underlying = "-1"
        fut = _Contract("NSEFO", name, "FUTSTK", underlying, name, lot * 40 + 1, "0.1", lot, 1)
        opt = _Contract("NSEFO", name, "OPTSTK", underlying, name, lot * 40 + 1, "0.05", lot, 1)
        step = _STEP_OVERRIDES.get(name) or _stock_step(price)
        for n, expiry in enumerate(monthly):
            iso = f"{expiry.isoformat()}{time_of_day}"
            lines.append(
                _monthly_future(
                    fut,
                    next(tokens),
                    expiry,
                    time_of_day=time_of_day,
                    price=price,
                    band=0.1,
                )
            )
            side = 55 if n == 0 else 40
            lines += _option_lines(
                opt,
                tokens,
                expiry,
                iso=iso,
                code=_monthly_code(expiry),
                strikes=_strikes(spot=price, step=step, below=side, above=side),
                spot=price,
            )
    # exchange test contracts, ten years out (real names and underlying ids)
    test_expiry = _last_weekday(anchor.year + 10, 11, TUESDAY)
    for name in ("041NSETEST", "111NSETEST", "141NSETEST", "171NSETEST"):
        underlying = f"{_iid_prefix(1, None)}{KNOWN_NSE_TOKENS[name]:08d}"
        fut = _Contract("NSEFO", name, "FUTSTK", underlying, name, 100001, "0.05", 50, 1)
        lines.append(
            _future_line(
                fut,
                next(tokens),
                test_expiry,
                iso=f"{test_expiry.isoformat()}{time_of_day}",
                description=f"{name}{_monthly_code(test_expiry)}FUT",
                display=f"{name} {_display_date(test_expiry)}",
                high="220",
                low="180",
            )
        )
    return _scramble(lines)


# --------------------------------------------------------------------------- BSE F&O


_BSE_INDEX_DERIVATIVES = (
    # name, underlying index name, spot, step, lot, freeze, weekly count, strikes per side
    ("SENSEX", "SENSEX", 85210.0, 100, 20, 1000, 6, 220),
    ("BANKEX", "BANKEX", 63450.0, 100, 30, 900, 0, 110),
    ("SENSEX50", "SNSX50", 27140.0, 50, 60, 1800, 0, 90),
)


def _bse_fo(anchor: date) -> list[str]:
    tokens = _TokenPool(1100000, 1400000, seed=41)
    time_of_day = "T00:00:00"
    monthly = _monthly_expiries(anchor, THURSDAY, 3)
    lines: list[str] = []
    for name, underlying_name, spot, step, lot, freeze, weeklies, side in _BSE_INDEX_DERIVATIVES:
        fut = _Contract("BSEFO", name, "IF", "-1", underlying_name, freeze, "0.05", lot, 1)
        opt = _Contract("BSEFO", name, "IO", "-1", underlying_name, freeze, "0.05", lot, 1)
        for expiry in monthly:
            lines.append(
                _monthly_future(
                    fut,
                    next(tokens),
                    expiry,
                    time_of_day=time_of_day,
                    price=spot,
                    band=0.1,
                )
            )
        expiries = [(d, _monthly_code(d), step, side) for d in monthly]
        expiries += [
            (d, _weekly_code(d), step, side)
            for d in _weekdays_from(anchor, THURSDAY, weeklies)
            if d not in monthly
        ]
        if name == "SENSEX":
            quarterly = [
                d
                for d in _monthly_expiries(anchor, THURSDAY, 12)
                if d.month in (3, 6, 9, 12) and d > monthly[-1]
            ][:2]
            expiries += [(d, _monthly_code(d), step * 5, 50) for d in quarterly]
        for expiry, code, strike_step, per_side in sorted(expiries):
            lines += _option_lines(
                opt,
                tokens,
                expiry,
                iso=f"{expiry.isoformat()}{time_of_day}",
                code=code,
                strikes=_strikes(spot=spot, step=strike_step, below=per_side, above=per_side),
                spot=spot,
            )
    return _scramble(lines)


# --------------------------------------------------------------------------- NSE currency


_CURRENCY_PAIRS = (
    # name, spot, strike step, options?, multiplier, tick
    ("USDINR", 88.42, 0.25, True, 1000, "0.0025"),
    ("EURINR", 102.37, 0.25, True, 1000, "0.0025"),
    ("GBPINR", 117.86, 0.25, True, 1000, "0.0025"),
    ("JPYINR", 58.71, 0.25, True, 100000, "0.0025"),
    ("EURUSD", 1.1624, 0.005, False, 1000, "0.0001"),
    ("GBPUSD", 1.3318, 0.005, False, 1000, "0.0001"),
    ("USDJPY", 151.83, 0.25, False, 1000, "0.01"),
)
_IRF = (("726GS2033", 101.2), ("718GS2037", 100.4), ("723GS2039", 101.9), ("679GS2034", 99.1))


def _currency_expiry(year: int, month: int) -> date:
    """Two business days before the month's last business day."""
    last = _previous_business_day(date(year, month, calendar.monthrange(year, month)[1]))
    return _business_days_before(last, 2)


def _nse_cd(anchor: date) -> list[str]:
    tokens = _TokenPool(1000, 3999999, seed=53)
    time_of_day = "T14:30:00"
    months = [e for y, m in _months_from(anchor, 15) if (e := _currency_expiry(y, m)) >= anchor]
    lines: list[str] = []
    for name, spot, step, has_options, multiplier, tick in _CURRENCY_PAIRS:
        fut = _Contract("NSECD", name, "FUTCUR", "-1", "", 10001, tick, 1, multiplier)
        count = 12 if has_options else 3
        places = 4
        for expiry in months[:count]:
            lines.append(
                _monthly_future(
                    fut,
                    next(tokens),
                    expiry,
                    time_of_day=time_of_day,
                    price=spot,
                    band=0.03,
                    places=places,
                )
            )
        # calendar spreads (type 4): near leg vs the next two months
        for near, far in ((0, 1), (0, 2), (1, 2)):
            a, b = months[near], months[far]
            band = _num(spot * 0.025, places)
            lines.append(
                _future_line(
                    fut,
                    next(tokens),
                    a,
                    iso=f"{a.isoformat()}{time_of_day}",
                    description=f"{name}{_monthly_code(a)}{_monthly_code(b)}FUT",
                    display=(
                        f"{name} {a.day:02d}{MONTHS[a.month - 1]}"
                        f"{b.day:02d}{MONTHS[b.month - 1]} SPD"
                    ),
                    high=band,
                    low=f"-{band}",
                    instrument_type=4,
                    iid_prefix=_iid_prefix(SEGMENT_CODES["NSECD"], None),
                )
            )
        if not has_options:
            continue
        opt = _Contract("NSECD", name, "OPTCUR", "-1", "", 10001, tick, 1, multiplier)
        expiries = [(d, _monthly_code(d)) for d in months[:4]]
        expiries += [
            (d, _weekly_code(d))
            for d in _weekdays_from(anchor, FRIDAY, 6)
            if d not in months and d < months[3]
        ]
        for expiry, code in sorted(expiries):
            lines += _option_lines(
                opt,
                tokens,
                expiry,
                iso=f"{expiry.isoformat()}{time_of_day}",
                code=code,
                strikes=_strikes(spot=spot, step=step, below=64, above=64),
                spot=spot,
                places=4,
            )
    for name, price in _IRF:
        fut = _Contract("NSECD", name, "FUTIRC", "-1", "", 1251, "0.0025", 1, 2000)
        for expiry in months[:3]:
            lines.append(
                _monthly_future(
                    fut,
                    next(tokens),
                    expiry,
                    time_of_day=time_of_day,
                    price=price,
                    band=0.03,
                    places=4,
                )
            )
    return _scramble(lines)


# --------------------------------------------------------------------------- MCX


@dataclass(frozen=True)
class _Commodity:
    name: str
    spot: float
    lot: int
    tick: str
    step: float
    expiry_day: int
    months: tuple[int, ...]
    options: bool
    series: str = "FUTCOM"


_ALL_MONTHS = tuple(range(1, 13))
_COMMODITIES = (
    _Commodity("CRUDEOIL", 5820.0, 100, "1", 50, 19, _ALL_MONTHS, True),
    _Commodity("CRUDEOILM", 5820.0, 10, "1", 50, 19, _ALL_MONTHS, True),
    _Commodity("NATURALGAS", 352.4, 1250, "0.1", 5, 26, _ALL_MONTHS, True),
    _Commodity("NATGASMINI", 352.4, 250, "0.1", 5, 26, _ALL_MONTHS, True),
    _Commodity("GOLD", 126450.0, 1, "1", 500, 5, (2, 4, 6, 8, 10, 12), True),
    _Commodity("GOLDM", 126450.0, 1, "1", 500, 3, _ALL_MONTHS, True),
    _Commodity("GOLDPETAL", 12650.0, 1, "1", 50, 30, _ALL_MONTHS, False),
    _Commodity("GOLDGUINEA", 101200.0, 1, "1", 500, 30, _ALL_MONTHS, False),
    _Commodity("SILVER", 151200.0, 1, "1", 1000, 5, (3, 5, 7, 9, 12), True),
    _Commodity("SILVERM", 151200.0, 1, "1", 1000, 28, (2, 4, 6, 8, 11), True),
    _Commodity("SILVERMIC", 151200.0, 1, "1", 1000, 28, (2, 4, 6, 8, 11), False),
    _Commodity("COPPER", 912.3, 2500, "0.05", 5, 28, _ALL_MONTHS, True),
    _Commodity("ZINC", 281.6, 5000, "0.05", 2.5, 28, _ALL_MONTHS, True),
    _Commodity("ALUMINIUM", 252.8, 5000, "0.05", 2.5, 28, _ALL_MONTHS, True),
    _Commodity("LEAD", 184.9, 5000, "0.05", 2.5, 28, _ALL_MONTHS, False),
    _Commodity("NICKEL", 1398.0, 1500, "0.1", 10, 28, _ALL_MONTHS, False),
    _Commodity("MENTHAOIL", 942.0, 360, "0.1", 10, 28, _ALL_MONTHS, False),
    _Commodity("COTTONCNDY", 55120.0, 48, "10", 200, 28, _ALL_MONTHS, False),
    _Commodity("MCXBULLDEX", 24150.0, 1, "1", 100, 24, _ALL_MONTHS, False, "FUTIDX"),
    _Commodity("MCXMETLDEX", 21320.0, 1, "1", 100, 24, _ALL_MONTHS, False, "FUTIDX"),
)


def _mcx(anchor: date) -> list[str]:
    spot_ids: dict[str, str] = {}
    lines: list[str] = []
    for name, series, token, tick in MCX_SPOT_ROWS:
        nws = f"{name}-{series}"
        detailed = f"{name}COM" if series == "COMDTY" else name
        iid = f"{_iid_prefix(51, None)}{token:08d}"
        spot_ids[name] = iid
        lines.append(
            f"MCXFO|{token}|16|{name}|{nws}|{series}|{nws}|{iid}|NaN|NaN|0|{tick}|1|1|{name}|1|1|"
            f"{detailed}"
        )
    # type-16 spot rows for the traded commodities that the real sample does not list
    spot_tokens = _TokenPool(600, 999, seed=61, reserved={t for _, _, t, _ in MCX_SPOT_ROWS})
    for commodity in _COMMODITIES:
        if commodity.name in spot_ids:
            continue
        token = next(spot_tokens)
        series = "INDEX" if commodity.series == "FUTIDX" else "COMDTY"
        nws = f"{commodity.name}-{series}"
        iid = f"{_iid_prefix(51, None)}{token:08d}"
        spot_ids[commodity.name] = iid
        detailed = f"{commodity.name}COM" if series == "COMDTY" else commodity.name
        lines.append(
            f"MCXFO|{token}|16|{commodity.name}|{nws}|{series}|{nws}|{iid}|NaN|NaN|0|"
            f"{commodity.tick}|1|1|{commodity.name}|1|1|{detailed}"
        )
    tokens = _TokenPool(400000, 520000, seed=67)
    time_of_day = "T23:59:59"
    for c in _COMMODITIES:
        expiries = [
            e
            for y, m in _months_from(anchor, 14)
            if m in c.months
            and (e := _previous_business_day(date(y, m, min(c.expiry_day, 28)))) >= anchor
        ][:6]
        fut = _Contract("MCXFO", c.name, c.series, spot_ids[c.name], c.name, 0, c.tick, c.lot, 1)
        future_ids: list[str] = []
        for expiry in expiries:
            token = next(tokens)
            future_ids.append(f"{_iid_prefix(51, expiry)}{token:08d}")
            lines.append(
                _monthly_future(
                    fut,
                    token,
                    expiry,
                    time_of_day=time_of_day,
                    price=c.spot,
                    band=0.06,
                )
            )
        if not c.options:
            continue
        for expiry, future_id in list(zip(expiries, future_ids, strict=True))[:3]:
            option_expiry = _business_days_before(expiry, 3)
            if option_expiry < anchor:
                continue
            opt = _Contract("MCXFO", c.name, "OPTFUT", future_id, c.name, 0, "0.5", c.lot, 1)
            lines += _option_lines(
                opt,
                tokens,
                option_expiry,
                iso=f"{option_expiry.isoformat()}{time_of_day}",
                code=_monthly_code(option_expiry),
                strikes=_strikes(spot=c.spot, step=c.step, below=82, above=82),
                spot=c.spot,
            )
    return _scramble(lines)


# --------------------------------------------------------------------------- public API


_BUILDERS: dict[str, Callable[[date], list[str]]] = {
    "NSECM": _nse_cash,
    "BSECM": _bse_cash,
    "NSEFO": _nse_fo,
    "BSEFO": _bse_fo,
    "NSECD": _nse_cd,
    "MCXFO": _mcx,
}


def _check_segment(segment: str) -> None:
    if segment not in _BUILDERS:
        raise ValueError(f"Unknown XTS segment {segment!r}; valid: {', '.join(SEGMENTS)}")


@functools.lru_cache(maxsize=12)
def _live_master(segment: str, anchor: date) -> str:
    return "\n".join(_BUILDERS[segment](anchor))


_FNO_SEGMENTS = ("NSEFO", "BSEFO", "NSECD", "MCXFO")
_EXPIRED_LOOKBACK = timedelta(weeks=8)


def expired_lines(segment: str, *, anchor: date, count: int) -> list[str]:
    """``count`` contracts of ``segment`` that expired before ``anchor`` (none for cash).

    They are what the master of a day eight weeks earlier listed with an expiry before the
    anchor, in that master's order, re-tokened above every token of the live master so that
    tokens stay unique (the InstrumentID follows). Symbols cannot clash with live ones: their
    expiry dates differ.
    """
    if count <= 0 or segment not in _FNO_SEGMENTS:
        return []
    cutoff = anchor.isoformat()
    past = _BUILDERS[segment](anchor - _EXPIRED_LOOKBACK)
    dead = [line for line in past if _expiry_text(line) < cutoff][:count]
    highest = max(int(line.split("|", 2)[1]) for line in _live_master(segment, anchor).split("\n"))
    lines = []
    for offset, line in enumerate(dead, start=1):
        fields = line.split("|")
        token = highest + offset
        fields[1] = str(token)
        fields[7] = f"{fields[7][:-TOKEN_WIDTH]}{token:0{TOKEN_WIDTH}d}"
        lines.append("|".join(fields))
    return lines


def _expiry_text(line: str) -> str:
    """The date of a dated line's ContractExpiration ("9999" for lines without one)."""
    fields = line.split("|")
    return fields[16][:10] if fields[2] in ("1", "2", "4") else "9999"


@functools.lru_cache(maxsize=12)
def _base_master(segment: str, anchor: date, expired: int = 0) -> str:
    live = _live_master(segment, anchor)
    dead = expired_lines(segment, anchor=anchor, count=expired)
    return "\n".join([live, *dead]) if dead else live


def vary_tokens(text: str, *, variant: int, key: str) -> tuple[str, dict[int, int]]:
    """Change about 1% of the tokens of a master text (at least 3 lines), deterministically.

    The chosen lines get fresh tokens above the highest token in the text (so tokens stay
    unique) and a matching InstrumentID; every other field, hence every symbol, is unchanged.
    ``key`` seeds the choice (e.g. the segment name). Returns (new text, {old token: new token}).
    """
    if variant < 0:
        raise ValueError(f"variant must be >= 0, got {variant}")
    if variant == 0 or not text:
        return text, {}
    lines = text.split("\n")
    rng = random.Random(f"{key}|{variant}")
    count = min(len(lines), max(3, len(lines) // 100))
    chosen = sorted(rng.sample(range(len(lines)), count))
    highest = max(int(line.split("|", 2)[1]) for line in lines)
    first_new = highest + 1 + (variant - 1) * count
    changes: dict[int, int] = {}
    for i, position in enumerate(chosen):
        fields = lines[position].split("|")
        old, new = int(fields[1]), first_new + i
        fields[1] = str(new)
        fields[7] = f"{fields[7][:-TOKEN_WIDTH]}{new:0{TOKEN_WIDTH}d}"
        lines[position] = "|".join(fields)
        changes[old] = new
    return "\n".join(lines), changes


@functools.lru_cache(maxsize=24)
def _variant_master(
    segment: str, anchor: date, variant: int, expired: int
) -> tuple[str, dict[int, int]]:
    return vary_tokens(
        _base_master(segment, anchor, expired),
        variant=variant,
        key=f"{segment}|{anchor.isoformat()}",
    )


def generate_master(
    segment: str, *, anchor: date | None = ANCHOR, variant: int = 0, expired_lines: int = 0
) -> str:
    """The master ``result`` text of one segment (cached per segment, anchor and variant).

    ``anchor`` None: today in Asia/Kolkata. ``expired_lines``: dead contracts appended
    (F&O segments only).
    """
    _check_segment(segment)
    if variant < 0:
        raise ValueError(f"variant must be >= 0, got {variant}")
    day = resolve_anchor(anchor)
    if variant == 0:
        return _base_master(segment, day, max(expired_lines, 0))
    return _variant_master(segment, day, variant, max(expired_lines, 0))[0]


def generate_masters(
    *, anchor: date | None = ANCHOR, variant: int = 0, expired_lines: int = 0
) -> dict[str, str]:
    """All six segments."""
    day = resolve_anchor(anchor)
    return {
        segment: generate_master(segment, anchor=day, variant=variant, expired_lines=expired_lines)
        for segment in SEGMENTS
    }


def token_changes(
    segment: str, *, anchor: date | None = ANCHOR, variant: int, expired_lines: int = 0
) -> dict[int, int]:
    """Tokens that ``variant`` changes relative to variant 0: {old token: new token}."""
    _check_segment(segment)
    if variant == 0:
        return {}
    day = resolve_anchor(anchor)
    return dict(_variant_master(segment, day, variant, max(expired_lines, 0))[1])


def index_list(segment: str) -> list[str]:
    """Index entries ``NAME_TOKEN`` for NSECM (exchangeSegment 1) or BSECM (11)."""
    if segment == "NSECM":
        return [f"{name}_{token}" for name, token in NSE_INDICES]
    if segment == "BSECM":
        return [f"{name}_{token}" for name, token in BSE_INDICES]
    raise ValueError(f"No index list for {segment!r}; valid: NSECM, BSECM")
