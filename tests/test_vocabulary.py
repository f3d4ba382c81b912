"""jainam_prop.vocabulary: segments, exchanges, expiry codes, strikes, symbol grammar, indices."""

from __future__ import annotations

import ast
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jainam_prop import vocabulary
from jainam_prop.vocabulary import (
    BSE_INDEX_SYMBOLS,
    EXCHANGE_BY_SEGMENT,
    EXCHANGES,
    FNO_EXCHANGES,
    INDEX_EXCHANGE_BY_SEGMENT,
    INDEX_SEGMENTS,
    INSTRUMENT_COLUMNS,
    INSTRUMENT_TYPES,
    MASTER_SEGMENTS,
    MONTHS,
    SEGMENT_BY_EXCHANGE,
    SEGMENT_CODES,
    ParsedSymbol,
    derivative_symbol,
    expiry_code,
    index_symbol,
    is_dead,
    parse_expiry_code,
    parse_symbol,
    strike_text,
    today_ist,
)


def test_vocabulary_imports_nothing_of_the_project_nor_django():
    tree = ast.parse(Path(vocabulary.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "re", "dataclasses", "datetime", "decimal", "zoneinfo"}


def test_segments_and_exchanges():
    assert MASTER_SEGMENTS == ("NSECM", "BSECM", "NSEFO", "BSEFO", "NSECD", "MCXFO")
    assert INDEX_SEGMENTS == ("NSECM", "BSECM")
    assert SEGMENT_CODES == {
        "NSECM": 1,
        "NSEFO": 2,
        "NSECD": 3,
        "BSECM": 11,
        "BSEFO": 12,
        "MCXFO": 51,
    }
    assert EXCHANGES == ("NSE", "BSE", "NFO", "BFO", "CDS", "MCX", "NSE_INDEX", "BSE_INDEX")
    assert EXCHANGE_BY_SEGMENT["NSEFO"] == "NFO"
    assert INDEX_EXCHANGE_BY_SEGMENT == {"NSECM": "NSE_INDEX", "BSECM": "BSE_INDEX"}
    assert SEGMENT_BY_EXCHANGE["BSE_INDEX"] == "BSECM"
    assert SEGMENT_BY_EXCHANGE["MCX"] == "MCXFO"
    assert frozenset({"NFO", "BFO", "CDS", "MCX"}) == FNO_EXCHANGES


def test_months_types_and_columns():
    assert " ".join(MONTHS) == "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC"
    assert INSTRUMENT_TYPES == ("EQ", "FUT", "CE", "PE", "INDEX")
    assert INSTRUMENT_COLUMNS[:11] == (
        "symbol",
        "exchange",
        "token",
        "brsymbol",
        "brexchange",
        "name",
        "expiry",
        "strike",
        "lot_size",
        "tick_size",
        "instrument_type",
    )
    assert INSTRUMENT_COLUMNS[11:] == (
        "freeze_qty",
        "price_band_low",
        "price_band_high",
        "multiplier",
        "isin",
        "underlying_token",
    )


def test_today_ist_is_the_date_in_kolkata():
    before = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    today = today_ist()
    after = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    assert before <= today <= after


def test_is_dead():
    today = date(2026, 12, 1)
    assert is_dead(today - timedelta(days=1), today=today)
    assert not is_dead(today, today=today)  # the expiry day itself is still live
    assert not is_dead(today + timedelta(days=7), today=today)
    assert not is_dead(None, today=today)


@pytest.mark.parametrize(
    ("day", "code"),
    [
        (date(2026, 8, 25), "25AUG26"),
        (date(2024, 5, 1), "01MAY24"),
        (date(2030, 12, 31), "31DEC30"),
    ],
)
def test_expiry_code_round_trip(day, code):
    assert expiry_code(day) == code
    assert parse_expiry_code(code) == day
    assert parse_expiry_code(code.lower()) == day


@pytest.mark.parametrize("text", ["31FEB26", "25AUX26", "2AUG26", "25AUG2026", "", "25-AUG-26"])
def test_parse_expiry_code_rejects_non_codes(text):
    assert parse_expiry_code(text) is None


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_expiry_code_round_trips_every_date(day):
    assert parse_expiry_code(expiry_code(day)) == day


@pytest.mark.parametrize(
    ("strike", "text"),
    [
        (Decimal("20800"), "20800"),
        (Decimal("20800.00"), "20800"),
        (Decimal("292.50"), "292.5"),
        (Decimal("82.25"), "82.25"),
        (Decimal("0.0025"), "0.0025"),
        (Decimal("1E+4"), "10000"),
        (24000, "24000"),
        ("86.2500", "86.25"),
    ],
)
def test_strike_text(strike, text):
    assert strike_text(strike) == text


def test_strike_text_refuses_non_numbers():
    with pytest.raises(ValueError, match="not a finite number"):
        strike_text(Decimal("NaN"))


@pytest.mark.parametrize(
    ("symbol", "parsed"),
    [
        ("NIFTY28NOV2424000CE", ParsedSymbol("NIFTY", date(2024, 11, 28), Decimal(24000), "CE")),
        ("VEDL25APR24292.5CE", ParsedSymbol("VEDL", date(2024, 4, 25), Decimal("292.5"), "CE")),
        ("USDINR19APR2482PE", ParsedSymbol("USDINR", date(2024, 4, 19), Decimal(82), "PE")),
        ("BANKNIFTY24APR24FUT", ParsedSymbol("BANKNIFTY", date(2024, 4, 24), None, "FUT")),
        ("CRUDEOILM20MAY24FUT", ParsedSymbol("CRUDEOILM", date(2024, 5, 20), None, "FUT")),
        ("SENSEX5028NOV24FUT", ParsedSymbol("SENSEX50", date(2024, 11, 28), None, "FUT")),
        ("M&M25AUG263200CE", ParsedSymbol("M&M", date(2026, 8, 25), Decimal(3200), "CE")),
        ("BAJAJ-AUTO25AUG26FUT", ParsedSymbol("BAJAJ-AUTO", date(2026, 8, 25), None, "FUT")),
        ("nifty28nov2424000ce", ParsedSymbol("NIFTY", date(2024, 11, 28), Decimal(24000), "CE")),
    ],
)
def test_parse_symbol(symbol, parsed):
    assert parse_symbol(symbol) == parsed
    assert parsed.symbol == symbol.upper()


@pytest.mark.parametrize(
    "symbol",
    ["SBIN", "NIFTY", "TNTELE-BE", "NIFTY31FEB2624000CE", "NIFTY28NOV24CE", "28NOV24FUT", ""],
)
def test_parse_symbol_answers_none_for_other_text(symbol):
    assert parse_symbol(symbol) is None


@given(
    name=st.from_regex(r"[A-Z][A-Z0-9&\-]{0,15}", fullmatch=True),
    expiry=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    strike=st.one_of(
        st.none(),
        st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("9999999"), places=4),
    ),
    kind=st.sampled_from(["CE", "PE"]),
)
def test_symbol_grammar_round_trips(name, expiry, strike, kind):
    kind = "FUT" if strike is None else kind
    symbol = derivative_symbol(name=name, expiry=expiry, strike=strike, kind=kind)
    parsed = parse_symbol(symbol)
    assert parsed is not None
    assert parsed.symbol == symbol
    assert parsed.kind == kind
    assert parsed.expiry == expiry or parsed.name != name  # a name ending like a date is ambiguous


@pytest.mark.parametrize(
    ("name", "segment", "symbol"),
    [
        ("NIFTY 50", "NSECM", "NIFTY"),
        ("NIFTY BANK", "NSECM", "BANKNIFTY"),
        ("NIFTY FIN SERVICE", "NSECM", "FINNIFTY"),
        ("NIFTY MID SELECT", "NSECM", "MIDCPNIFTY"),
        ("NIFTY NEXT 50", "NSECM", "NIFTYNXT50"),
        ("INDIA VIX", "NSECM", "INDIAVIX"),
        ("NIFTY 100", "NSECM", "NIFTY100"),
        ("HANGSENG BEES-NAV", "NSECM", "HANGSENGBEESNAV"),
        ("DOL30", "BSECM", "BSEDOLLEX30"),
        ("MIDCAP", "BSECM", "BSEMIDCAP"),
        ("BSE IT", "BSECM", "BSEINFORMATIONTECHNOLOGY"),
        ("bse  it", "BSECM", "BSEINFORMATIONTECHNOLOGY"),
        ("OILGAS", "BSECM", "BSEOIL&GAS"),
        ("FIN", "BSECM", "BSEFINANCIALSERVICES"),
        ("FINSER", "BSECM", "BSEFINANCIALSERVICES"),
        ("BSE100", "BSECM", "BSE100"),
        ("BSE500", "BSECM", "BSE500"),
        ("BSEIPO", "BSECM", "BSEIPO"),
        ("NIFTY 50", "BSECM", "NIFTY50"),
        ("DOL30", "NSECM", "DOL30"),
    ],
)
def test_index_symbol(name, segment, symbol):
    assert index_symbol(name, segment=segment) == symbol


def test_bse_table_has_every_documented_code():
    assert len(BSE_INDEX_SYMBOLS) == 37
    assert all(value == value.upper() and " " not in value for value in BSE_INDEX_SYMBOLS.values())


def test_index_symbol_refuses_a_segment_without_index_list():
    with pytest.raises(ValueError, match="NSEFO"):
        index_symbol("NIFTY 50", segment="NSEFO")


def test_api_expiry_is_openalgos_dd_mmm_yy():
    assert vocabulary.api_expiry(date(2026, 8, 25)) == "25-AUG-26"
    assert vocabulary.api_expiry(date(2027, 1, 5)) == "05-JAN-27"
    assert vocabulary.api_expiry(None) == ""
