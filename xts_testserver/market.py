"""Market-data endpoints (``POST auth/login``, ``POST instruments/master``,
``GET instruments/indexlist``) and the instrument facts the interactive side reads from the master
being served (lot size, tick size, a reference price, the trading symbol).
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from xts_testserver import datasets, generator, wire
from xts_testserver.recording import RecordedRequest

if TYPE_CHECKING:
    from xts_testserver.server import XTSTestServer

SEGMENT_CODES = generator.SEGMENT_CODES
SEGMENT_BY_CODE = {code: name for name, code in SEGMENT_CODES.items()}
DEFAULT_REFERENCE_PRICE = Decimal("100")

GARBAGE_MASTER_LINES = (
    "this is not an instrument line",
    "NSEFO|notatoken|2|BROKEN",
    "|||||",
    "<html><body>partial</body></html>",
    "NSECM|99999999|8|TOO|FEW|FIELDS",
)
GARBAGE_INDEX_ENTRIES = ("GARBAGE", "NIFTY 50_notatoken", "")


@dataclass(frozen=True)
class Instrument:
    """What the order side needs to know about one token of the served master."""

    token: int
    symbol: str  # the master's Description, which XTS books show as TradingSymbol
    lot_size: int
    tick_size: Decimal
    reference_price: Decimal  # where MARKET orders fill: mid of the price band, on the tick


def segment_name(value: Any) -> str | None:
    """``NSEFO`` or its numeric code (2 / "2") -> ``NSEFO``; anything else -> None."""
    if isinstance(value, str) and value in SEGMENT_CODES:
        return value
    with contextlib.suppress(TypeError, ValueError):
        return SEGMENT_BY_CODE.get(int(value))
    return None


def find_instrument(text: str, token: int) -> Instrument | None:
    """The instrument whose ExchangeInstrumentID (field 2) is ``token`` in a master text, or None
    (also when its line does not parse). A string search, not a parse of the whole master."""
    needle = f"|{token}|"
    start = text.find(needle)
    while start != -1:
        line_start = text.rfind("\n", 0, start) + 1
        if "|" not in text[line_start:start]:  # the token is the line's second field
            line_end = text.find("\n", start)
            return _instrument(text[line_start : line_end if line_end != -1 else len(text)])
        start = text.find(needle, start + 1)
    return None


def _instrument(line: str) -> Instrument | None:
    fields = line.split("|", 13)
    if len(fields) < 14:
        return None
    try:
        token = int(fields[1])
        lot = int(float(fields[12]))
        tick = Decimal(fields[11])
    except (ValueError, InvalidOperation):
        return None
    return Instrument(
        token=token,
        symbol=fields[4],
        lot_size=lot,
        tick_size=tick,
        reference_price=_reference_price(fields[8], fields[9], tick),
    )


def _reference_price(high: str, low: str, tick: Decimal) -> Decimal:
    try:
        band_high, band_low = float(high), float(low)
    except ValueError:
        return DEFAULT_REFERENCE_PRICE
    if not (math.isfinite(band_high) and math.isfinite(band_low)) or band_low <= 0:
        return DEFAULT_REFERENCE_PRICE
    if band_high < band_low or tick <= 0:
        return DEFAULT_REFERENCE_PRICE
    mid = (Decimal(high) + Decimal(low)) / 2
    return ((mid / tick).quantize(Decimal(1), rounding=ROUND_HALF_UP) * tick).normalize()


# ---------------------------------------------------------------------- endpoints


def auth_refused(server: XTSTestServer, request: RecordedRequest) -> wire.Response | None:
    if not server.market_credentials:
        return None
    if server.sessions.is_market(request.authorization):
        return None
    return wire.json_response(
        server.sessions.refusal_status(request.authorization), wire.INVALID_TOKEN
    )


def check_keys(
    request: RecordedRequest, credentials: tuple[str, str] | None
) -> wire.Response | None:
    body = request.body if isinstance(request.body, dict) else None
    if body is None or not body.get("appKey") or not body.get("secretKey"):
        return wire.error_response(
            400, "e-user-0005", "appKey and secretKey are required (JSON body)"
        )
    if credentials and (body["appKey"], body["secretKey"]) != tuple(credentials):
        return wire.json_response(400, wire.INVALID_KEYS)
    return None


def login(server: XTSTestServer, request: RecordedRequest) -> wire.Response:
    refused = check_keys(request, server.market_credentials)
    if refused:
        return refused
    token = secrets.token_urlsafe(32)
    server.sessions.add_market(token)
    return wire.json_response(
        200,
        wire.success(
            "s-user-0001",
            "Logged in successfully",
            {"token": token, "userID": server.user_id, "appVersion": "1.0.0"},
        ),
    )


def master_payload(text: str) -> dict[str, Any]:
    return wire.success("s-instrument-0010", "Get master instrument data successfully", text)


def master(server: XTSTestServer, request: RecordedRequest, *, malformed: bool) -> wire.Response:
    refused = auth_refused(server, request)
    if refused:
        return refused
    body = request.body if isinstance(request.body, dict) else {}
    wanted = body.get("exchangeSegmentList")
    if not isinstance(wanted, list) or not wanted:
        return wire.error_response(
            400,
            "e-instrument-0005",
            'exchangeSegmentList is required: a non-empty list such as ["NSEFO"]',
        )
    segments = tuple(segment_name(s) for s in wanted)
    unknown = [str(raw) for raw, name in zip(wanted, segments, strict=True) if name is None]
    if unknown:
        return wire.error_response(
            400,
            "e-instrument-0005",
            f"Invalid exchangeSegment {', '.join(unknown)}; valid: {', '.join(SEGMENT_CODES)}",
        )
    names = tuple(s for s in segments if s)
    if malformed:
        lines = "\n".join(server.master_text(s) for s in names).split("\n")
        step = max(1, len(lines) // (len(GARBAGE_MASTER_LINES) + 1))
        for i, garbage in enumerate(GARBAGE_MASTER_LINES):
            lines.insert(min(len(lines), (i + 1) * step + i), garbage)
        return wire.json_response(200, master_payload("\n".join(lines)))
    return wire.Response(200, server.master_body(names))


def master_body(texts: list[str]) -> bytes:
    return json.dumps(master_payload("\n".join(t for t in texts if t))).encode()


def indexlist(server: XTSTestServer, request: RecordedRequest, *, malformed: bool) -> wire.Response:
    refused = auth_refused(server, request)
    if refused:
        return refused
    raw = request.query.get("exchangeSegment", "")
    segment = segment_name(raw)
    if segment is None or segment not in datasets.INDEX_SEGMENTS.values():
        return wire.error_response(
            400,
            "e-instrument-0006",
            f"Invalid exchangeSegment {raw!r} for the index list; use 1 (NSECM) or 11 (BSECM)",
        )
    entries = server.index_entries(segment)
    if malformed:
        entries = list(entries)
        for i, garbage in enumerate(GARBAGE_INDEX_ENTRIES):
            entries.insert(min(len(entries), (i + 1) * 7), garbage)
    return wire.json_response(
        200,
        wire.success(
            "s-instrument-0013",
            "Index list retrieved successfully",
            {"exchangeSegment": SEGMENT_CODES[segment], "indexList": entries},
        ),
    )
