"""jainam_prop.master_parser: XTS master text and index lists → SymbolToken rows + skipped lines.

Pure tests: no database, no network. Real lines come from tests/data (see data/SAMPLES.md);
lines marked "synthetic" follow the exact XTS wire layout for kinds the samples lack.
"""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jainam_prop.master_parser import (
    BSE_INDEX_SYMBOLS,
    EXCHANGE_BY_SEGMENT,
    EXCHANGES,
    FNO_EXCHANGES,
    INDEX_EXCHANGE_BY_SEGMENT,
    INDEX_SEGMENTS,
    INSTRUMENT_COLUMNS,
    MASTER_SEGMENTS,
    MAX_BRSYMBOL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SYMBOL_LENGTH,
    NSE_INDEX_SYMBOLS,
    ROW_COLUMNS,
    SEGMENT_BY_EXCHANGE,
    SEGMENT_CODES,
    SKIPPED_COLUMNS,
    ParsedMaster,
    SkipReason,
    index_symbol,
    merge_parsed,
    parse_index_list,
    parse_master,
)

DATA = Path(__file__).parent / "data"

ROW_DTYPES = {
    "symbol": np.dtype(object),
    "exchange": np.dtype(object),
    "token": np.dtype("int64"),
    "brsymbol": np.dtype(object),
    "brexchange": np.dtype(object),
    "name": np.dtype(object),
    "expiry": np.dtype("datetime64[ns]"),
    "strike": np.dtype("float64"),
    "lot_size": np.dtype("int64"),
    "tick_size": np.dtype("float64"),
    "instrument_type": np.dtype(object),
    "freeze_qty": pd.Int64Dtype(),
    "price_band_low": np.dtype("float64"),
    "price_band_high": np.dtype("float64"),
    "multiplier": np.dtype("int64"),
    "isin": np.dtype(object),
    "underlying_token": pd.Int64Dtype(),
    "source": np.dtype(object),
}
# The instrument-record columns, asserted apart from the symbol columns (see ``record_fields``).
RECORD_COLUMNS = INSTRUMENT_COLUMNS[11:]

# ---- synthetic wire lines (the samples have no such rows; layouts as in XTS-AND-SYMBOLS) ----
# Weekly NIFTY option: the NSEFO sample only holds monthly expiries (last Tuesday).
NSE_WEEKLY_OPTION = (
    "NSEFO|40001|2|NIFTY|NIFTY2680425000CE|OPTIDX|NIFTY-OPTIDX|2621600040001|1250.5|0.05|1801|"
    "0.05|65|1|-1|Nifty 50|2026-08-04T14:30:00|25000|3|NIFTY 04AUG2026 CE 25000|1|1|"
    "NIFTY2680425000CE"
)
# MCX future and option: the MCXFO sample holds only type-16 spot/index rows.
MCX_FUTURE = (
    "MCXFO|444137|1|CRUDEOIL|CRUDEOIL25MAYFUT|FUTCOM|CRUDEOIL-FUTCOM|51100100444137|6000|5200|"
    "10001|1|100|1|-1|CRUDEOIL|2025-05-19T23:59:59|CRUDEOIL 19MAY2025|1|1|CRUDEOIL25MAYFUT"
)
MCX_OPTION = (
    "MCXFO|445566|2|CRUDEOIL|CRUDEOIL25MAY5500CE|OPTFUT|CRUDEOIL-OPTFUT|51100100445566|400|0.1|"
    "10001|0.1|100|1|444137|CRUDEOIL|2025-05-15T23:59:59|5500|3|CRUDEOIL 15MAY2025 CE 5500|1|1|"
    "CRUDEOIL25MAY5500CE"
)
# Currency future and option: the NSECD sample holds only calendar spreads (type 4).
CDS_FUTURE = (
    "NSECD|1234|1|USDINR|USDINR25MARFUT|FUTCUR|USDINR-FUTCUR|3100100001234|88.5|84.5|10001|"
    "0.0025|1|1000|-1||2025-03-27T12:00:00|USDINR 27MAR2025|1|1|USDINR25MARFUT"
)
CDS_OPTION = (
    "NSECD|5678|2|USDINR|USDINR25MAR86.25PE|OPTCUR|USDINR-OPTCUR|3100100005678|1.5|0.0025|10001|"
    "0.0025|1|1000|-1||2025-03-27T12:00:00|86.2500|4|USDINR 27MAR2025 PE 86.25|1|1|"
    "USDINR25MAR86.25PE"
)


def sample(segment: str) -> str:
    return (DATA / f"{segment}.txt").read_text(encoding="utf-8")


def sample_line(segment: str, line_no: int) -> str:
    return sample(segment).splitlines()[line_no - 1]


def index_entries(segment: str) -> list[str]:
    """The CSV copy of an index list (``Name,InstrumentId``) as XTS ``NAME_TOKEN`` entries."""
    with (DATA / f"{segment}_INDEX.txt").open(encoding="utf-8", newline="") as handle:
        return [f"{name}_{token}" for name, token in list(csv.reader(handle))[1:]]


def record(parsed: ParsedMaster, *, exchange: str, symbol: str) -> dict:
    """The one row of (exchange, symbol) as plain values (None for NaT / NaN), without the
    instrument-record columns."""
    found = parsed.rows[(parsed.rows["exchange"] == exchange) & (parsed.rows["symbol"] == symbol)]
    assert len(found) == 1, f"{exchange}:{symbol} found {len(found)} times"
    values = {k: v for k, v in found.iloc[0].to_dict().items() if k not in RECORD_COLUMNS}
    values["expiry"] = None if pd.isna(values["expiry"]) else values["expiry"].date().isoformat()
    values["strike"] = None if math.isnan(values["strike"]) else values["strike"]
    values["line_no"] = int(found.index[0])
    return values


def reasons(parsed: ParsedMaster) -> list[str]:
    return parsed.skipped["reason"].tolist()


def assert_accounted(parsed: ParsedMaster, *, one_part_per_source: bool = True) -> None:
    """Every line read is exactly one row or one skipped line; shapes and dtypes hold.

    When one source was merged from several parts, its line numbers repeat; only the totals
    can be checked then.
    """
    assert list(parsed.rows.columns) == ROW_COLUMNS
    assert list(parsed.skipped.columns) == SKIPPED_COLUMNS
    assert parsed.rows.dtypes.to_dict() == ROW_DTYPES
    assert parsed.skipped["line_no"].dtype == np.dtype("int64")
    assert len(parsed.rows) + len(parsed.skipped) == sum(parsed.lines.values())
    seen = pd.concat(
        [
            pd.DataFrame({"source": parsed.rows["source"], "line_no": parsed.rows.index}),
            parsed.skipped[["source", "line_no"]],
        ]
    )
    for source, count in parsed.lines.items():
        numbers = sorted(seen.loc[seen["source"] == source, "line_no"])
        assert len(numbers) == count
        if one_part_per_source:
            assert numbers == list(range(1, count + 1))
    assert not parsed.rows.duplicated(["exchange", "symbol"]).any()
    assert set(parsed.skipped["reason"]) <= {reason.value for reason in SkipReason}
    assert (parsed.skipped["line"].str.len() <= 300).all()
    assert set(parsed.rows["exchange"]) <= set(EXCHANGES)
    assert (parsed.rows["token"] > 0).all()
    assert (parsed.rows["lot_size"] > 0).all()
    assert (parsed.rows["tick_size"] > 0).all()
    assert parsed.stored_by_source() == {
        source: int((parsed.rows["source"] == source).sum()) for source in parsed.lines
    }
    skipped_counts = parsed.skipped_by_source()
    assert set(skipped_counts) == set(parsed.lines)
    for source in parsed.lines:
        assert sum(skipped_counts[source].values()) == int(
            (parsed.skipped["source"] == source).sum()
        )


# --------------------------------------------------------------------------------------------
# Constants


def test_exchange_constants_are_consistent():
    assert EXCHANGES == ("NSE", "BSE", "NFO", "BFO", "CDS", "MCX", "NSE_INDEX", "BSE_INDEX")
    assert SEGMENT_BY_EXCHANGE == {
        "NSE": "NSECM",
        "BSE": "BSECM",
        "NFO": "NSEFO",
        "BFO": "BSEFO",
        "CDS": "NSECD",
        "MCX": "MCXFO",
        "NSE_INDEX": "NSECM",
        "BSE_INDEX": "BSECM",
    }
    assert frozenset({"NFO", "BFO", "CDS", "MCX"}) == FNO_EXCHANGES
    assert set(SEGMENT_CODES) == set(MASTER_SEGMENTS) == set(EXCHANGE_BY_SEGMENT)
    assert set(INDEX_EXCHANGE_BY_SEGMENT) == set(INDEX_SEGMENTS)
    assert SEGMENT_CODES["BSECM"] == 11
    assert SEGMENT_CODES["MCXFO"] == 51


def test_length_limits_mirror_the_symboltoken_columns():
    from jainam_prop.models import SymbolToken

    fields = {f.name: f for f in SymbolToken._meta.get_fields()}
    assert fields["symbol"].max_length == MAX_SYMBOL_LENGTH
    assert fields["name"].max_length == MAX_NAME_LENGTH
    assert fields["brsymbol"].max_length == MAX_BRSYMBOL_LENGTH
    assert fields["strike"].decimal_places == 4
    assert fields["tick_size"].decimal_places == 6
    assert fields["isin"].max_length == 12
    for band in ("price_band_low", "price_band_high"):
        assert (fields[band].max_digits, fields[band].decimal_places) == (14, 4)


def test_instrument_columns_are_the_symboltoken_fields_a_line_fills():
    """The one list of instrument columns (parser rows, sync, lookups) is the model's concrete
    fields, in order, without the generated id and the broker (set by the sync)."""
    from jainam_prop.models import SymbolToken

    fields = [f.attname for f in SymbolToken._meta.concrete_fields]
    assert list(INSTRUMENT_COLUMNS) == [f for f in fields if f not in ("id", "broker")]
    assert [*INSTRUMENT_COLUMNS, "source"] == ROW_COLUMNS


def test_unknown_segment_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"'NFO'.*NSECM, BSECM, NSEFO, BSEFO, NSECD, MCXFO"):
        parse_master("", segment="NFO")
    with pytest.raises(ValueError, match=r"'NSEFO'.*NSECM, BSECM"):
        parse_index_list([], segment="NSEFO")
    with pytest.raises(ValueError, match="NSECM, BSECM"):
        index_symbol("NIFTY 50", segment="MCXFO")


# --------------------------------------------------------------------------------------------
# One exact row per kind


def test_nse_equity_eq_series_is_the_bare_name():
    parsed = parse_master(sample("NSECM"), segment="NSECM")
    assert record(parsed, exchange="NSE", symbol="ANANTRAJ") == {
        "symbol": "ANANTRAJ",
        "exchange": "NSE",
        "token": 13620,
        "brsymbol": "ANANTRAJ-EQ",
        "brexchange": "NSECM",
        "name": "ANANTRAJ",
        "expiry": None,
        "strike": None,
        "lot_size": 1,
        "tick_size": 0.05,
        "instrument_type": "EQ",
        "source": "NSECM",
        "line_no": 6,
    }


def test_nse_equity_other_series_is_name_dash_series():
    parsed = parse_master(sample("NSECM"), segment="NSECM")
    assert record(parsed, exchange="NSE", symbol="TNTELE-BE") == {
        "symbol": "TNTELE-BE",
        "exchange": "NSE",
        "token": 9884,
        "brsymbol": "TNTELE-BE",
        "brexchange": "NSECM",
        "name": "TNTELE",
        "expiry": None,
        "strike": None,
        "lot_size": 1,
        "tick_size": 0.01,
        "instrument_type": "EQ",
        "source": "NSECM",
        "line_no": 1,
    }
    # SME lot sizes are kept as sent (SAAKSHI-SM trades in lots of 600).
    assert record(parsed, exchange="NSE", symbol="SAAKSHI-SM")["lot_size"] == 600


def test_bse_equity_is_the_name_whatever_the_series():
    parsed = parse_master(sample("BSECM"), segment="BSECM")
    assert record(parsed, exchange="BSE", symbol="TTKPRESTIG") == {
        "symbol": "TTKPRESTIG",
        "exchange": "BSE",
        "token": 517506,
        "brsymbol": "TTKPRESTIG-A",
        "brexchange": "BSECM",
        "name": "TTKPRESTIG",
        "expiry": None,
        "strike": None,
        "lot_size": 1,
        "tick_size": 0.05,
        "instrument_type": "EQ",
        "source": "BSECM",
        "line_no": 1,
    }


def test_bse_spot_row_is_skipped_as_not_tradable():
    parsed = parse_master(sample("BSECM"), segment="BSECM")
    spot = parsed.skipped[parsed.skipped["line_no"] == 75].iloc[0]
    assert spot["reason"] == SkipReason.NOT_TRADABLE
    assert spot["line"] == sample_line("BSECM", 75)
    assert "BSEIPO" not in set(parsed.rows["symbol"])


def test_nse_index_nifty_50_is_nifty():
    parsed = parse_index_list(index_entries("NSECM"), segment="NSECM")
    assert record(parsed, exchange="NSE_INDEX", symbol="NIFTY") == {
        "symbol": "NIFTY",
        "exchange": "NSE_INDEX",
        "token": 26000,
        "brsymbol": "NIFTY 50",
        "brexchange": "NSECM",
        "name": "NIFTY",
        "expiry": None,
        "strike": None,
        "lot_size": 1,
        "tick_size": 0.05,
        "instrument_type": "INDEX",
        "source": "NSECM_INDEX",
        "line_no": 1,
    }
    tokens = parsed.rows.set_index("symbol")["token"]
    assert tokens["BANKNIFTY"] == 26001
    assert tokens["INDIAVIX"] == 26002
    assert tokens["FINNIFTY"] == 26034
    assert tokens["MIDCPNIFTY"] == 26121
    assert tokens["NIFTYNXT50"] == 26054
    assert tokens["NIFTY100"] == 26004
    assert tokens["HANGSENGBEESNAV"] == 26044
    assert tokens["BHARATBONDAPR30"] == 26135


def test_bse_index_snsx50_is_sensex50():
    parsed = parse_index_list(index_entries("BSECM"), segment="BSECM")
    assert record(parsed, exchange="BSE_INDEX", symbol="SENSEX50") == {
        "symbol": "SENSEX50",
        "exchange": "BSE_INDEX",
        "token": 26067,
        "brsymbol": "SNSX50",
        "brexchange": "BSECM",
        "name": "SENSEX50",
        "expiry": None,
        "strike": None,
        "lot_size": 1,
        "tick_size": 0.05,
        "instrument_type": "INDEX",
        "source": "BSECM_INDEX",
        "line_no": 3,
    }
    tokens = parsed.rows.set_index("symbol")["token"]
    assert tokens["SENSEX"] == 26065
    assert tokens["BANKEX"] == 26118
    assert tokens["BSEHEALTHCARE"] == 26072  # the OpenAlgo long name of BSE HC


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
        ("Nifty  Bank", "NSECM", "BANKNIFTY"),
        ("HANGSENG BEES-NAV", "NSECM", "HANGSENGBEESNAV"),
        ("SNSX50", "BSECM", "SENSEX50"),
        ("SENSEX", "BSECM", "SENSEX"),
        ("BANKEX", "BSECM", "BANKEX"),
        ("BSE HC", "BSECM", "BSEHEALTHCARE"),
        ("NIFTY 50", "BSECM", "NIFTY50"),
    ],
)
def test_index_symbol(name, segment, symbol):
    assert index_symbol(name, segment=segment) == symbol


def test_index_future():
    parsed = parse_master(sample("NSEFO"), segment="NSEFO")
    assert record(parsed, exchange="NFO", symbol="NIFTY25AUG26FUT") == {
        "symbol": "NIFTY25AUG26FUT",
        "exchange": "NFO",
        "token": 58072,
        "brsymbol": "NIFTY26AUGFUT",
        "brexchange": "NSEFO",
        "name": "NIFTY",
        "expiry": "2026-08-25",
        "strike": None,
        "lot_size": 65,
        "tick_size": 0.1,
        "instrument_type": "FUT",
        "source": "NSEFO",
        "line_no": 62,
    }


def test_stock_future():
    parsed = parse_master(sample("NSEFO"), segment="NSEFO")
    assert record(parsed, exchange="NFO", symbol="BEL25AUG26FUT") == {
        "symbol": "BEL25AUG26FUT",
        "exchange": "NFO",
        "token": 58130,
        "brsymbol": "BEL26AUGFUT",
        "brexchange": "NSEFO",
        "name": "BEL",
        "expiry": "2026-08-25",
        "strike": None,
        "lot_size": 1425,
        "tick_size": 0.05,
        "instrument_type": "FUT",
        "source": "NSEFO",
        "line_no": 1,
    }
    # Names with '-' and '&' and exchange test contracts ten years out survive.
    symbols = set(parsed.rows["symbol"])
    assert {"041NSETEST27NOV36FUT", "GVT&D27OCT26FUT", "BAJAJ-AUTO27OCT26FUT"} <= symbols


def test_monthly_index_option():
    parsed = parse_master(sample("NSEFO"), segment="NSEFO")
    assert record(parsed, exchange="NFO", symbol="NIFTY27OCT2621300CE") == {
        "symbol": "NIFTY27OCT2621300CE",
        "exchange": "NFO",
        "token": 51278,
        "brsymbol": "NIFTY26OCT21300CE",
        "brexchange": "NSEFO",
        "name": "NIFTY",
        "expiry": "2026-10-27",
        "strike": 21300.0,
        "lot_size": 65,
        "tick_size": 0.05,
        "instrument_type": "CE",
        "source": "NSEFO",
        "line_no": 96,
    }
    assert record(parsed, exchange="NFO", symbol="NIFTY26JUN2936000PE")["token"] == 89655


def test_weekly_index_option_follows_the_same_rule():
    # Synthetic line: the NSEFO sample has monthly expiries only (see NSE_WEEKLY_OPTION).
    parsed = parse_master(NSE_WEEKLY_OPTION, segment="NSEFO")
    assert record(parsed, exchange="NFO", symbol="NIFTY04AUG2625000CE") == {
        "symbol": "NIFTY04AUG2625000CE",
        "exchange": "NFO",
        "token": 40001,
        "brsymbol": "NIFTY2680425000CE",
        "brexchange": "NSEFO",
        "name": "NIFTY",
        "expiry": "2026-08-04",
        "strike": 25000.0,
        "lot_size": 65,
        "tick_size": 0.05,
        "instrument_type": "CE",
        "source": "NSEFO",
        "line_no": 1,
    }


def test_fractional_strike_keeps_its_decimals_without_trailing_zeros():
    parsed = parse_master(sample("NSEFO"), segment="NSEFO")
    assert record(parsed, exchange="NFO", symbol="INOXWIND25AUG2657.5CE") == {
        "symbol": "INOXWIND25AUG2657.5CE",
        "exchange": "NFO",
        "token": 38751,
        "brsymbol": "INOXWIND26AUG57.5CE",
        "brexchange": "NSEFO",
        "name": "INOXWIND",
        "expiry": "2026-08-25",
        "strike": 57.5,
        "lot_size": 6400,
        "tick_size": 0.01,
        "instrument_type": "CE",
        "source": "NSEFO",
        "line_no": 129,
    }
    assert {"ITC29SEP26272.5CE", "ASHOKLEY25AUG26132.5CE"} <= set(parsed.rows["symbol"])


@pytest.mark.parametrize(
    ("wire_strike", "symbol_strike", "strike"),
    [
        ("19550", "19550", 19550.0),
        ("19550.0", "19550", 19550.0),
        ("19550.00", "19550", 19550.0),
        ("92.5", "92.5", 92.5),
        ("92.50", "92.5", 92.5),
        ("82.25", "82.25", 82.25),
        ("0082.2500", "82.25", 82.25),
        ("0.0025", "0.0025", 0.0025),
    ],
)
def test_strike_text_in_the_symbol(wire_strike, symbol_strike, strike):
    fields = NSE_WEEKLY_OPTION.split("|")
    fields[17] = wire_strike
    parsed = parse_master("|".join(fields), segment="NSEFO")
    assert parsed.rows["symbol"].tolist() == [f"NIFTY04AUG26{symbol_strike}CE"]
    assert parsed.rows["strike"].tolist() == [strike]


def test_bse_option_uses_name_not_underlying_index_name():
    parsed = parse_master(sample("BSEFO"), segment="BSEFO")
    assert record(parsed, exchange="BFO", symbol="SENSEX5027JUN2422950CE") == {
        "symbol": "SENSEX5027JUN2422950CE",
        "exchange": "BFO",
        "token": 874010,
        "brsymbol": "SENSEX5024JUN22950CE",
        "brexchange": "BSEFO",
        "name": "SENSEX50",
        "expiry": "2024-06-27",
        "strike": 22950.0,
        "lot_size": 25,
        "tick_size": 0.05,
        "instrument_type": "CE",
        "source": "BSEFO",
        "line_no": 1,
    }
    assert not parsed.rows["symbol"].str.startswith("SNSX50").any()


def test_bse_weekly_option():
    parsed = parse_master(sample("BSEFO"), segment="BSEFO")
    row = record(parsed, exchange="BFO", symbol="SENSEX12JUL2478100PE")
    assert (row["token"], row["expiry"], row["strike"]) == (1125434, "2024-07-12", 78100.0)
    assert (row["lot_size"], row["instrument_type"], row["line_no"]) == (10, "PE", 3)
    # Tokens above 1,000,000 are kept whole.
    assert parsed.rows["token"].max() > 1_000_000


def test_mcx_future_and_option():
    # Synthetic lines: the MCXFO sample holds only spot/index rows (type 16).
    parsed = parse_master(f"{MCX_FUTURE}\n{MCX_OPTION}\n", segment="MCXFO")
    assert record(parsed, exchange="MCX", symbol="CRUDEOIL19MAY25FUT") == {
        "symbol": "CRUDEOIL19MAY25FUT",
        "exchange": "MCX",
        "token": 444137,
        "brsymbol": "CRUDEOIL25MAYFUT",
        "brexchange": "MCXFO",
        "name": "CRUDEOIL",
        "expiry": "2025-05-19",
        "strike": None,
        "lot_size": 100,
        "tick_size": 1.0,
        "instrument_type": "FUT",
        "source": "MCXFO",
        "line_no": 1,
    }
    assert record(parsed, exchange="MCX", symbol="CRUDEOIL15MAY255500CE") == {
        "symbol": "CRUDEOIL15MAY255500CE",
        "exchange": "MCX",
        "token": 445566,
        "brsymbol": "CRUDEOIL25MAY5500CE",
        "brexchange": "MCXFO",
        "name": "CRUDEOIL",
        "expiry": "2025-05-15",
        "strike": 5500.0,
        "lot_size": 100,
        "tick_size": 0.1,
        "instrument_type": "CE",
        "source": "MCXFO",
        "line_no": 2,
    }


def test_currency_future_and_option():
    # Synthetic lines: the NSECD sample holds only calendar spreads (type 4).
    parsed = parse_master(f"{CDS_FUTURE}\n{CDS_OPTION}", segment="NSECD")
    assert record(parsed, exchange="CDS", symbol="USDINR27MAR25FUT") == {
        "symbol": "USDINR27MAR25FUT",
        "exchange": "CDS",
        "token": 1234,
        "brsymbol": "USDINR25MARFUT",
        "brexchange": "NSECD",
        "name": "USDINR",
        "expiry": "2025-03-27",
        "strike": None,
        "lot_size": 1,
        "tick_size": 0.0025,
        "instrument_type": "FUT",
        "source": "NSECD",
        "line_no": 1,
    }
    assert record(parsed, exchange="CDS", symbol="USDINR27MAR2586.25PE") == {
        "symbol": "USDINR27MAR2586.25PE",
        "exchange": "CDS",
        "token": 5678,
        "brsymbol": "USDINR25MAR86.25PE",
        "brexchange": "NSECD",
        "name": "USDINR",
        "expiry": "2025-03-27",
        "strike": 86.25,
        "lot_size": 1,
        "tick_size": 0.0025,
        "instrument_type": "PE",
        "source": "NSECD",
        "line_no": 2,
    }


# --------------------------------------------------------------------------------------------
# Skipped on purpose


def test_spreads_are_skipped():
    parsed = parse_master(sample("NSECD"), segment="NSECD")
    assert parsed.rows.empty
    assert set(reasons(parsed)) == {SkipReason.SPREAD_CONTRACT}
    first = parsed.skipped.iloc[0]
    assert (first["line_no"], first["line"]) == (1, sample_line("NSECD", 1))
    assert "spread" in first["detail"]


def test_spread_does_not_hide_the_real_future():
    spread = sample_line("NSECD", 1)  # EURUSD 29JAN/26MAR spread, near leg 2025-01-29
    future = (
        "NSECD|9001|1|EURUSD|EURUSD25JANFUT|FUTCUR|EURUSD-FUTCUR|3100100009001|1.1|1.0|10001|"
        "0.0001|1|1000|-1||2025-01-29T14:30:00|EURUSD 29JAN2025|1|1|EURUSD25JANFUT"
    )  # synthetic future of the same expiry
    parsed = parse_master(f"{spread}\n{future}", segment="NSECD")
    assert parsed.rows["symbol"].tolist() == ["EURUSD29JAN25FUT"]
    assert parsed.rows["token"].tolist() == [9001]
    assert reasons(parsed) == [SkipReason.SPREAD_CONTRACT]


def test_mcx_spot_and_index_rows_are_skipped():
    parsed = parse_master(sample("MCXFO"), segment="MCXFO")
    assert parsed.rows.empty
    assert parsed.skipped_by_source() == {"MCXFO": {"not_tradable": 119}}


# --------------------------------------------------------------------------------------------
# Malformed and foreign lines


def test_wrong_field_count_is_malformed_never_realigned():
    future = sample_line("NSEFO", 1)
    padded = future.replace("|2026-08-25T14:30:00|", "|2026-08-25T14:30:00|0|0|")  # 23 fields
    short = "|".join(future.split("|")[:-1])
    parsed = parse_master(f"{padded}\n{short}\n", segment="NSEFO")
    assert parsed.rows.empty
    assert reasons(parsed) == [SkipReason.MALFORMED_LINE] * 2
    assert parsed.skipped["detail"].tolist() == [
        "instrument type '1' needs 21 fields, got 23",
        "instrument type '1' needs 21 fields, got 20",
    ]


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        (1, "abc", "token 'abc' is not a positive integer"),
        (1, "0", "token '0' is not a positive integer"),
        (1, "-5", "token '-5' is not a positive integer"),
        (1, " 58130", "token ' 58130' is not a positive integer"),
        (1, "58130.0", "token '58130.0' is not a positive integer"),
        (12, "0", "lot size '0' is not an integer in 1..2147483647"),
        (12, "-1", "lot size '-1' is not an integer in 1..2147483647"),
        (12, "99999999999", "lot size '99999999999' is not an integer in 1..2147483647"),
        (11, "NaN", "tick size 'NaN' is not a positive number"),
        (11, "0", "tick size '0' is not a positive number"),
        (16, "", "contract expiration '' is not a date"),
        (16, "2026-02-30T14:30:00", "contract expiration '2026-02-30T14:30:00' is not a date"),
        (16, "25-08-2026", "contract expiration '25-08-2026' is not a date"),
        (3, "", "empty name"),
    ],
)
def test_bad_values_make_a_malformed_line(field, value, detail):
    fields = sample_line("NSEFO", 1).split("|")
    fields[field] = value
    parsed = parse_master("|".join(fields), segment="NSEFO")
    assert parsed.rows.empty
    assert reasons(parsed) == [SkipReason.MALFORMED_LINE]
    assert parsed.skipped["detail"].tolist() == [detail]


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        (17, "", "strike price '' is not a positive number"),
        (17, "0", "strike price '0' is not a positive number"),
        (17, "-100", "strike price '-100' is not a positive number"),
        (17, "1e4", "strike price '1e4' is not a positive number"),
        (17, "92.12345", "strike price '92.12345' has more than 4 decimals"),
        (18, "0", "option type '0' is not 3 (CE) or 4 (PE)"),
        (18, "CE", "option type 'CE' is not 3 (CE) or 4 (PE)"),
    ],
)
def test_bad_option_fields_make_a_malformed_line(field, value, detail):
    fields = NSE_WEEKLY_OPTION.split("|")
    fields[field] = value
    parsed = parse_master("|".join(fields), segment="NSEFO")
    assert parsed.rows.empty
    assert parsed.skipped["detail"].tolist() == [detail]


def test_values_the_database_cannot_hold_are_malformed():
    fields = sample_line("NSECM", 6).split("|")
    long_name = fields.copy()
    long_name[3] = "X" * 65
    long_description = fields.copy()
    long_description[4] = "D" * 129
    empty_series = fields.copy()
    empty_series[5] = ""
    nul = fields.copy()
    nul[3] = "ANANT\x00RAJ"
    surrogate = fields.copy()
    surrogate[4] = "ANANTRAJ\ud800"
    lines = [long_name, long_description, empty_series, nul, surrogate]
    parsed = parse_master("\n".join("|".join(f) for f in lines), segment="NSECM")
    assert parsed.rows.empty
    assert parsed.skipped["detail"].tolist() == [
        "symbol longer than 64 characters",
        "brsymbol longer than 128 characters",
        "empty series on an NSE cash line",
        "NUL or lone surrogate character (the database cannot store it)",
        "NUL or lone surrogate character (the database cannot store it)",
    ]
    assert set(reasons(parsed)) == {SkipReason.MALFORMED_LINE}


def test_wrong_segment_and_unknown_type():
    nse_cash = sample_line("NSECM", 6)
    future = sample_line("NSEFO", 1)
    type_7 = future.replace("|1|BEL|", "|7|BEL|")
    garbage = "hello|world|again"
    parsed = parse_master(
        "\n".join([nse_cash, future, type_7, garbage, "no pipes"]), segment="NSEFO"
    )
    assert reasons(parsed) == [
        SkipReason.WRONG_SEGMENT,
        SkipReason.UNKNOWN_INSTRUMENT_TYPE,
        SkipReason.MALFORMED_LINE,
        SkipReason.MALFORMED_LINE,
    ]
    assert parsed.skipped["line_no"].tolist() == [1, 3, 4, 5]
    assert parsed.skipped["detail"].tolist() == [
        "line is for 'NSECM', not NSEFO",
        "instrument type '7' is not expected in NSEFO",
        "unknown exchange segment 'hello'",
        "not an XTS master line (fewer than 3 '|'-separated fields)",
    ]
    assert parsed.rows["symbol"].tolist() == ["BEL25AUG26FUT"]


def test_a_cash_line_in_an_fno_master_is_an_unknown_type():
    cash_as_fo = sample_line("NSECM", 6).replace("NSECM|", "NSEFO|", 1)
    fo_as_cash = sample_line("NSEFO", 1).replace("NSEFO|", "NSECM|", 1)
    assert reasons(parse_master(cash_as_fo, segment="NSEFO")) == [
        SkipReason.UNKNOWN_INSTRUMENT_TYPE
    ]
    assert reasons(parse_master(fo_as_cash, segment="NSECM")) == [
        SkipReason.UNKNOWN_INSTRUMENT_TYPE
    ]


def test_very_long_lines_survive():
    many_fields = "NSEFO|1|1|" + "|".join(["x"] * 50_000)
    huge_field = sample_line("NSEFO", 1).replace("BEL 25AUG2026", "Z" * 100_000)
    parsed = parse_master(f"{many_fields}\n{huge_field}", segment="NSEFO")
    assert reasons(parsed) == [SkipReason.MALFORMED_LINE]
    assert len(parsed.skipped["line"].iloc[0]) == 300
    assert parsed.rows["symbol"].tolist() == ["BEL25AUG26FUT"]  # DisplayName is not used


# --------------------------------------------------------------------------------------------
# Duplicate rule


def test_same_symbol_same_token_keeps_the_first():
    line = sample_line("NSEFO", 62)
    parsed = parse_master(f"{line}\n{line}\n{line}", segment="NSEFO")
    assert parsed.rows.index.tolist() == [1]
    assert reasons(parsed) == [SkipReason.DUPLICATE_LINE] * 2
    assert parsed.skipped["detail"].tolist() == ["repeats NSEFO line 1 (same symbol and token)"] * 2


def test_same_symbol_different_tokens_drops_all_of_them():
    line = sample_line("NSEFO", 62)
    other = line.replace("|58072|", "|99999|", 1)
    bel = sample_line("NSEFO", 1)
    parsed = parse_master(f"{line}\n{bel}\n{line}\n{other}", segment="NSEFO")
    assert parsed.rows["symbol"].tolist() == ["BEL25AUG26FUT"]
    assert parsed.skipped[["line_no", "reason"]].values.tolist() == [
        [1, "ambiguous_symbol"],
        [3, "ambiguous_symbol"],
        [4, "ambiguous_symbol"],
    ]
    assert parsed.ambiguous_keys == frozenset({("NFO", "NIFTY25AUG26FUT")})


def test_bse_names_shared_by_two_tokens_are_ambiguous():
    fields = sample_line("BSECM", 1).split("|")
    other = fields.copy()
    other[1], other[5] = "999001", "F"
    parsed = parse_master("|".join(fields) + "\n" + "|".join(other), segment="BSECM")
    assert parsed.rows.empty
    assert reasons(parsed) == [SkipReason.AMBIGUOUS_SYMBOL] * 2


def test_index_list_duplicates():
    parsed = parse_index_list(
        ["NIFTY 50_26000", "NIFTY 50_26000", "NIFTY BANK_26001", "Nifty Bank_26999"],
        segment="NSECM",
    )
    assert parsed.rows["symbol"].tolist() == ["NIFTY"]
    assert reasons(parsed) == ["duplicate_line", "ambiguous_symbol", "ambiguous_symbol"]


def test_merge_applies_the_duplicate_rule_across_parts():
    nifty_fut = sample_line("NSEFO", 62)
    first = parse_master(f"{nifty_fut}\n{sample_line('NSEFO', 1)}", segment="NSEFO")
    repeat = parse_master(nifty_fut, segment="NSEFO")
    clash = parse_master(nifty_fut.replace("|58072|", "|99999|", 1), segment="NSEFO")
    cash = parse_master(sample("NSECM"), segment="NSECM")
    indices = parse_index_list(index_entries("NSECM"), segment="NSECM")

    same = merge_parsed([first, repeat])
    assert same.lines == {"NSEFO": 3}
    assert same.rows["symbol"].tolist() == ["NIFTY25AUG26FUT", "BEL25AUG26FUT"]
    assert reasons(same) == [SkipReason.DUPLICATE_LINE]
    assert_accounted(same, one_part_per_source=False)

    merged = merge_parsed([first, clash, cash, indices])
    assert merged.lines == {"NSEFO": 3, "NSECM": 107, "NSECM_INDEX": 114}
    assert "NIFTY25AUG26FUT" not in set(merged.rows["symbol"])
    amb = merged.skipped[merged.skipped["reason"] == SkipReason.AMBIGUOUS_SYMBOL]
    assert amb[["source", "line_no"]].values.tolist() == [["NSEFO", 1], ["NSEFO", 1]]
    assert merged.stored_by_source() == {"NSEFO": 1, "NSECM": 107, "NSECM_INDEX": 114}
    assert_accounted(merged, one_part_per_source=False)

    # A symbol found ambiguous in one part stays dropped when a later part lists it once.
    later = merge_parsed([merged, repeat])
    assert "NIFTY25AUG26FUT" not in set(later.rows["symbol"])
    assert reasons(later)[-1] == SkipReason.AMBIGUOUS_SYMBOL
    assert_accounted(later, one_part_per_source=False)


def test_merge_of_nothing_is_empty():
    merged = merge_parsed([])
    assert merged.lines == {}
    assert_accounted(merged)


# --------------------------------------------------------------------------------------------
# Whole files, text shapes


@pytest.mark.parametrize(
    ("segment", "stored", "skipped"),
    [
        ("NSECM", 107, {}),
        ("BSECM", 106, {"not_tradable": 1}),
        ("NSEFO", 160, {}),
        ("BSEFO", 83, {}),
        ("NSECD", 0, {"spread_contract": 83}),
        ("MCXFO", 0, {"not_tradable": 119}),
    ],
)
def test_whole_sample_files_are_accounted_for(segment, stored, skipped):
    text = sample(segment)
    parsed = parse_master(text, segment=segment)
    assert parsed.lines == {segment: len(text.splitlines())}
    assert parsed.stored_by_source() == {segment: stored}
    assert parsed.skipped_by_source() == {segment: skipped}
    assert_accounted(parsed)


@pytest.mark.parametrize(("segment", "count"), [("NSECM", 114), ("BSECM", 63)])
def test_whole_index_lists_are_accounted_for(segment, count):
    parsed = parse_index_list(index_entries(segment), segment=segment)
    assert parsed.lines == {f"{segment}_INDEX": count}
    assert parsed.stored_by_source() == {f"{segment}_INDEX": count}
    assert_accounted(parsed)


def test_bad_index_entries_are_skipped():
    parsed = parse_index_list(
        ["NIFTY 50_26000", "NIFTY IT", "NIFTY IT_x", "", "_26005", "NIFTY_IT_26003", None, 7],
        segment="NSECM",
    )
    assert parsed.rows[["symbol", "token"]].values.tolist() == [
        ["NIFTY", 26000],
        ["NIFTY_IT", 26003],
    ]
    assert parsed.rows["brsymbol"].tolist() == ["NIFTY 50", "NIFTY_IT"]
    assert parsed.skipped[["line_no", "reason", "detail"]].values.tolist() == [
        [2, "malformed_line", "no '_' between index name and token"],
        [3, "malformed_line", "token 'x' is not a positive integer"],
        [4, "blank_line", "blank entry"],
        [5, "malformed_line", "empty index name"],
        [7, "malformed_line", "entry is not a string"],
        [8, "malformed_line", "entry is not a string"],
    ]
    assert_accounted(parsed)


def test_empty_text_gives_empty_frames():
    parsed = parse_master("", segment="NSEFO")
    assert parsed.lines == {"NSEFO": 0}
    assert parsed.stored_by_source() == {"NSEFO": 0}
    assert parsed.skipped_by_source() == {"NSEFO": {}}
    assert_accounted(parsed)
    assert_accounted(parse_index_list([], segment="BSECM"))


def test_crlf_trailing_newline_and_blank_lines():
    lines = sample("NSEFO").splitlines()[:5]
    unix = parse_master("\n".join(lines), segment="NSEFO")
    windows = parse_master("\r\n".join(lines) + "\r\n", segment="NSEFO")
    assert windows.lines == unix.lines == {"NSEFO": 5}
    pd.testing.assert_frame_equal(windows.rows, unix.rows)
    assert "\r" not in "".join(windows.rows["brsymbol"])

    gappy = parse_master("\n" + "\n".join(lines) + "\n\n  \n", segment="NSEFO")
    assert gappy.lines == {"NSEFO": 8}
    assert gappy.skipped[["line_no", "reason"]].values.tolist() == [
        [1, "blank_line"],
        [7, "blank_line"],
        [8, "blank_line"],
    ]
    assert len(gappy.rows) == 5
    assert_accounted(gappy)


def test_quotes_and_hashes_in_fields_are_plain_text():
    fields = sample_line("BSECM", 1).split("|")
    fields[4] = '"TTK #PRESTIG'
    fields[18] = 'TTK "PRESTIGE" LTD.'
    parsed = parse_master("|".join(fields), segment="BSECM")
    assert parsed.rows["brsymbol"].tolist() == ['"TTK #PRESTIG']


# --------------------------------------------------------------------------------------------
# Properties: never raise, always account for every line

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
REAL_LINES = [
    line
    for segment in MASTER_SEGMENTS
    for line in (DATA / f"{segment}.txt").read_text(encoding="utf-8").splitlines()[:20]
]
# Characters the wire must never break on: separators, line ends, NUL and lone surrogates
# (which st.text() leaves out by default).
NASTY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(), st.sampled_from(["|", "\n", "\r", "\x00", "\ud800", "\udfff", '"'])
    ),
    max_size=400,
)
FIELD_VALUES = st.one_of(
    st.sampled_from(
        [*MASTER_SEGMENTS, "1", "2", "4", "8", "16", "3", "NaN", "-1", "", "0", "0.05", "EQ"]
    ),
    st.sampled_from(["2026-08-25T14:30:00", "2024-07-12T00:00:00", "2026-02-30", "92.5", "X&Y"]),
    NASTY_TEXT.map(lambda text: text[:12]),
    st.integers(min_value=-10, max_value=10**20).map(str),
)


@SETTINGS
@given(text=NASTY_TEXT, segment=st.sampled_from(MASTER_SEGMENTS))
def test_random_text_never_raises(text, segment):
    assert_accounted(parse_master(text, segment=segment))


@SETTINGS
@given(
    lines=st.lists(st.lists(FIELD_VALUES, min_size=0, max_size=25).map("|".join), max_size=12),
    newline=st.sampled_from(["\n", "\r\n"]),
    segment=st.sampled_from(MASTER_SEGMENTS),
)
def test_random_fields_never_raise(lines, newline, segment):
    assert_accounted(parse_master(newline.join(lines), segment=segment))


@SETTINGS
@given(data=st.data(), count=st.integers(min_value=1, max_value=8))
def test_mutated_real_lines_never_raise(data, count):
    lines = []
    for _ in range(count):
        fields = data.draw(st.sampled_from(REAL_LINES)).split("|")
        position = data.draw(st.integers(min_value=0, max_value=len(fields) - 1))
        fields[position] = data.draw(FIELD_VALUES)
        lines.append("|".join(fields))
    segment = data.draw(st.sampled_from(MASTER_SEGMENTS))
    parsed = parse_master("\n".join(lines), segment=segment)
    assert_accounted(parsed)
    assert (parsed.rows["brexchange"] == segment).all()


@SETTINGS
@given(
    entries=st.lists(
        st.one_of(
            NASTY_TEXT.map(lambda text: text[:20]),
            st.builds(lambda name, token: f"{name}_{token}", st.text(max_size=15), FIELD_VALUES),
        ),
        max_size=15,
    ),
    segment=st.sampled_from(INDEX_SEGMENTS),
)
def test_random_index_entries_never_raise(entries, segment):
    assert_accounted(parse_index_list(entries, segment=segment))


@SETTINGS
@given(
    picks=st.lists(st.sampled_from(REAL_LINES[:40]), min_size=1, max_size=30),
    bump=st.integers(min_value=0, max_value=3),
)
def test_merged_random_parts_keep_every_line(picks, bump):
    half = len(picks) // 2
    parts = [
        parse_master("\n".join(chunk), segment=chunk[0].split("|")[0])
        for chunk in (picks[:half], picks[half:])
        if chunk
    ]
    if bump and parts:
        text = "\n".join(line.replace("|", f"|{bump}", 1) for line in picks[:half])
        if text:
            parts.append(parse_master(text, segment=picks[0].split("|")[0]))
    assert_accounted(merge_parsed(parts), one_part_per_source=False)


# --------------------------------------------------------------------------------------------
# Instrument-record fields (freeze quantity, price band, multiplier, ISIN, underlying)


def record_fields(parsed: ParsedMaster, *, exchange: str, symbol: str) -> dict:
    """The record columns of the one row of (exchange, symbol), None for NA / NaN."""
    found = parsed.rows[(parsed.rows["exchange"] == exchange) & (parsed.rows["symbol"] == symbol)]
    assert len(found) == 1, f"{exchange}:{symbol} found {len(found)} times"
    values = found.iloc[0][list(RECORD_COLUMNS)].to_dict()
    return {key: None if pd.isna(value) else value for key, value in values.items()}


def test_record_fields_of_nse_equity():
    parsed = parse_master(sample("NSECM"), segment="NSECM")
    assert record_fields(parsed, exchange="NSE", symbol="ANANTRAJ") == {
        "freeze_qty": 110430,
        "price_band_low": 724.15,
        "price_band_high": 1086.15,
        "multiplier": 1,
        "isin": "INE242C01024",
        "underlying_token": None,
    }


def test_record_fields_of_bse_equity_freeze_zero_is_no_limit():
    parsed = parse_master(sample("BSECM"), segment="BSECM")
    assert record_fields(parsed, exchange="BSE", symbol="TTKPRESTIG") == {
        "freeze_qty": None,
        "price_band_low": 638.65,
        "price_band_high": 957.95,
        "multiplier": 1,
        "isin": "INE690A01028",
        "underlying_token": None,
    }
    assert parsed.rows["freeze_qty"].isna().all()  # every BSECM sample line says 0


def test_record_fields_of_stock_future_carry_the_underlying():
    parsed = parse_master(sample("NSEFO"), segment="NSEFO")
    assert record_fields(parsed, exchange="NFO", symbol="BEL25AUG26FUT") == {
        "freeze_qty": 57001,
        "price_band_low": 350.95,
        "price_band_high": 428.85,
        "multiplier": 1,
        "isin": None,
        "underlying_token": 1100100000383,  # UnderlyingInstrumentId as sent
    }


def test_record_fields_of_index_future_and_option():
    parsed = parse_master(sample("NSEFO"), segment="NSEFO")
    assert record_fields(parsed, exchange="NFO", symbol="NIFTY25AUG26FUT") == {
        "freeze_qty": 1801,
        "price_band_low": 21689.0,
        "price_band_high": 26508.6,
        "multiplier": 1,
        "isin": None,
        "underlying_token": None,  # -1 on index derivatives
    }
    assert record_fields(parsed, exchange="NFO", symbol="NIFTY27OCT2621300CE") == {
        "freeze_qty": 1801,
        "price_band_low": 2449.65,
        "price_band_high": 3648.65,
        "multiplier": 1,
        "isin": None,
        "underlying_token": None,
    }


def test_record_fields_of_bse_option():
    parsed = parse_master(sample("BSEFO"), segment="BSEFO")
    assert record_fields(parsed, exchange="BFO", symbol="SENSEX12JUL2478100PE") == {
        "freeze_qty": 1000,
        "price_band_low": 1189.05,
        "price_band_high": 4593.25,
        "multiplier": 1,
        "isin": None,
        "underlying_token": None,
    }


def test_record_fields_of_currency_and_mcx_contracts():
    cds = parse_master(f"{CDS_FUTURE}\n{CDS_OPTION}", segment="NSECD")
    assert record_fields(cds, exchange="CDS", symbol="USDINR27MAR25FUT")["multiplier"] == 1000
    assert record_fields(cds, exchange="CDS", symbol="USDINR27MAR2586.25PE") == {
        "freeze_qty": 10001,
        "price_band_low": 0.0025,
        "price_band_high": 1.5,
        "multiplier": 1000,
        "isin": None,
        "underlying_token": None,
    }
    mcx = parse_master(f"{MCX_FUTURE}\n{MCX_OPTION}", segment="MCXFO")
    assert (
        record_fields(mcx, exchange="MCX", symbol="CRUDEOIL15MAY255500CE")["underlying_token"]
        == 444137
    )


def test_record_fields_of_index_rows_are_empty():
    parsed = parse_index_list(index_entries("NSECM"), segment="NSECM")
    assert record_fields(parsed, exchange="NSE_INDEX", symbol="NIFTY") == {
        "freeze_qty": None,
        "price_band_low": None,
        "price_band_high": None,
        "multiplier": 1,
        "isin": None,
        "underlying_token": None,
    }


@pytest.mark.parametrize(
    "value", ["0", "", "NaN", "-1", "1801.5", "abc", "99999999999999999999", " 1801"]
)
def test_garbage_freeze_quantity_is_no_limit(value):
    fields = sample_line("NSEFO", 62).split("|")
    fields[10] = value
    parsed = parse_master("|".join(fields), segment="NSEFO")
    assert record_fields(parsed, exchange="NFO", symbol="NIFTY25AUG26FUT")["freeze_qty"] is None


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("NaN", "NaN"),
        ("", ""),
        ("NaN", "26508.6"),  # one bound unknown: neither is trusted
        ("-1", "26508.6"),
        ("21689", "1e20"),  # beyond the column (14 digits, 4 decimals)
        ("26508.6", "21689"),  # crossed
        ("abc", "26508.6"),
    ],
)
def test_garbage_price_band_is_unknown(low, high):
    fields = sample_line("NSEFO", 62).split("|")
    fields[9], fields[8] = low, high
    parsed = parse_master("|".join(fields), segment="NSEFO")
    values = record_fields(parsed, exchange="NFO", symbol="NIFTY25AUG26FUT")
    assert (values["price_band_low"], values["price_band_high"]) == (None, None)


@pytest.mark.parametrize("value", ["0", "", "-1", "NaN", "1.5", "99999999999"])
def test_garbage_multiplier_makes_a_malformed_line(value):
    fields = sample_line("NSEFO", 62).split("|")
    fields[13] = value
    parsed = parse_master("|".join(fields), segment="NSEFO")
    assert parsed.rows.empty
    assert parsed.skipped["detail"].tolist() == [
        f"multiplier {value!r} is not an integer in 1..2147483647"
    ]


@pytest.mark.parametrize(
    ("value", "isin"),
    [
        ("", None),
        ("0", None),
        ("-1", None),
        ("INE242C0102", None),
        ("ine242c01024", "INE242C01024"),
    ],
)
def test_isin_of_a_cash_line(value, isin):
    fields = sample_line("NSECM", 6).split("|")
    fields[15] = value
    parsed = parse_master("|".join(fields), segment="NSECM")
    assert record_fields(parsed, exchange="NSE", symbol="ANANTRAJ")["isin"] == isin


@pytest.mark.parametrize(("value", "token"), [("-1", None), ("0", None), ("", None), ("x", None)])
def test_garbage_underlying_is_none(value, token):
    fields = sample_line("NSEFO", 1).split("|")
    fields[14] = value
    parsed = parse_master("|".join(fields), segment="NSEFO")
    assert (
        record_fields(parsed, exchange="NFO", symbol="BEL25AUG26FUT")["underlying_token"] is token
    )


@SETTINGS
@given(data=st.data(), count=st.integers(min_value=1, max_value=8))
def test_record_fields_always_fit_their_columns(data, count):
    lines = []
    for _ in range(count):
        fields = data.draw(st.sampled_from(REAL_LINES)).split("|")
        for position in (8, 9, 10, 13, 14, 15):
            if position < len(fields) and data.draw(st.booleans()):
                fields[position] = data.draw(FIELD_VALUES)
        lines.append("|".join(fields))
    segment = data.draw(st.sampled_from(MASTER_SEGMENTS))
    rows = parse_master("\n".join(lines), segment=segment).rows
    freeze = rows["freeze_qty"].dropna()
    assert ((freeze > 0) & (freeze <= 2**63 - 1)).all()
    for column in ("price_band_low", "price_band_high"):
        band = rows[column].dropna()
        assert ((band >= 0) & (band < 1e10)).all()
    assert (rows["price_band_low"].isna() == rows["price_band_high"].isna()).all()
    assert ((rows["multiplier"] >= 1) & (rows["multiplier"] <= 2**31 - 1)).all()
    assert rows["isin"].dropna().str.fullmatch("[A-Z0-9]{12}").all()
    assert (rows["underlying_token"].dropna() > 0).all()
    assert rows.loc[rows["instrument_type"] != "EQ", "isin"].isna().all()
    assert rows.loc[rows["instrument_type"] == "EQ", "underlying_token"].isna().all()


# --------------------------------------------------------------------------------------------
# Index names on the real index lists


def test_bse_index_codes_get_openalgo_long_names():
    parsed = parse_index_list(index_entries("BSECM"), segment="BSECM")
    symbols = dict(zip(parsed.rows["brsymbol"], parsed.rows["symbol"], strict=True))
    assert {code: symbols[code] for code in ("DOL30", "MIDCAP", "BSE IT", "OILGAS")} == {
        "DOL30": "BSEDOLLEX30",
        "MIDCAP": "BSEMIDCAP",
        "BSE IT": "BSEINFORMATIONTECHNOLOGY",
        "OILGAS": "BSEOIL&GAS",
    }
    assert record(parsed, exchange="BSE_INDEX", symbol="BSEOIL&GAS")["token"] == 26107
    # every documented code in the real list maps to its long name ...
    listed = {code: name for code, name in BSE_INDEX_SYMBOLS.items() if code in symbols}
    assert len(listed) == 36  # all but FINSER appear in the sample list
    assert {code: symbols[code] for code in listed} == listed
    # ... and undocumented codes keep the clean-up rule
    assert [symbols[code] for code in ("BSE100", "BSE500", "BSEIPO", "100", "SNSX60")] == [
        "BSE100",
        "BSE500",
        "BSEIPO",
        "100",
        "SNSX60",
    ]
    assert len(parsed.rows) == 63  # no two codes collide


def test_nse_index_names_on_the_real_list():
    parsed = parse_index_list(index_entries("NSECM"), segment="NSECM")
    symbols = dict(zip(parsed.rows["brsymbol"], parsed.rows["symbol"], strict=True))
    assert {name: symbols[name] for name in NSE_INDEX_SYMBOLS} == NSE_INDEX_SYMBOLS
    assert symbols["NIFTY IT"] == "NIFTYIT"
    assert symbols["NIFTY 100"] == "NIFTY100"
    assert all(symbol == symbol.upper() and " " not in symbol for symbol in symbols.values())
    assert len(parsed.rows) == 114


# --------------------------------------------------------------------------------------------
# Dead contracts (``today``)


def test_contracts_expired_before_today_are_skipped():
    text = sample("NSEFO")
    everything = parse_master(text, segment="NSEFO")
    today = date(2026, 8, 26)  # the day after the sample's nearest expiry (2026-08-25)
    parsed = parse_master(text, segment="NSEFO", today=today)
    expired = everything.rows["expiry"] < pd.Timestamp(today)
    assert expired.sum() > 0
    assert parsed.rows["symbol"].tolist() == everything.rows.loc[~expired, "symbol"].tolist()
    assert parsed.skipped_by_source() == {"NSEFO": {"expired": int(expired.sum())}}
    first = parsed.skipped.iloc[0]
    assert first["reason"] == SkipReason.EXPIRED
    assert first["line"] == sample_line("NSEFO", int(first["line_no"]))
    assert first["detail"] == "expired contract (expiry 2026-08-25, before 2026-08-26)"
    assert_accounted(parsed)


def test_a_contract_is_live_on_its_expiry_day_and_without_today():
    text = sample("NSEFO")
    on_expiry_day = parse_master(text, segment="NSEFO", today=date(2026, 8, 25))
    assert on_expiry_day.skipped.empty
    assert parse_master(text, segment="NSEFO").skipped.empty
    later = parse_master(text, segment="NSEFO", today=date(2040, 1, 1))
    assert later.rows.empty  # even the test contracts of 2036 are dead by then


def test_cash_and_index_rows_never_expire():
    today = date(2099, 1, 1)
    assert parse_master(sample("NSECM"), segment="NSECM", today=today).skipped.empty
    bse = parse_master(sample("BSEFO"), segment="BSEFO", today=today)
    assert set(reasons(bse)) == {SkipReason.EXPIRED}


def test_a_malformed_expired_line_is_malformed():
    fields = sample_line("NSEFO", 1).split("|")
    fields[12] = "0"  # lot size
    parsed = parse_master("|".join(fields), segment="NSEFO", today=date(2030, 1, 1))
    assert reasons(parsed) == [SkipReason.MALFORMED_LINE]


@SETTINGS
@given(
    picks=st.lists(st.sampled_from(REAL_LINES), min_size=1, max_size=20),
    today=st.dates(min_value=date(2024, 1, 1), max_value=date(2037, 1, 1)),
)
def test_today_only_moves_dead_contracts_to_expired(picks, today):
    segment = picks[0].split("|")[0]
    text = "\n".join(picks)
    everything = parse_master(text, segment=segment)
    parsed = parse_master(text, segment=segment, today=today)
    assert_accounted(parsed)
    assert (parsed.rows["expiry"].dropna() >= pd.Timestamp(today)).all()
    still_there = set(parsed.rows["symbol"])
    dead = everything.rows["expiry"] < pd.Timestamp(today)
    assert still_there == set(everything.rows.loc[~dead, "symbol"])
