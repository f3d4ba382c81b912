"""The test server's masters are relative to today: generated expiries, dead lines on demand,
and live sample lines (xts_testserver.generator / datasets, tests/sample_data.py)."""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, timedelta

import pytest
import requests

from jainam_prop.master_parser import SkipReason, parse_master
from jainam_prop.vocabulary import MASTER_SEGMENTS, today_ist
from tests import sample_data
from xts_testserver import XTSTestServer, datasets, generator

TUESDAY, THURSDAY = 1, 3
TODAY = today_ist()


def last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def expiries_by_name(text: str, *, kinds: tuple[str, ...] = ("1", "2")) -> dict[str, set[date]]:
    found: dict[str, set[date]] = defaultdict(set)
    for line in text.split("\n"):
        fields = line.split("|")
        if fields[2] in kinds:
            found[fields[3]].add(date.fromisoformat(fields[16][:10]))
    return found


def series_of(text: str) -> dict[str, str]:
    return {line.split("|")[3]: line.split("|")[5] for line in text.split("\n")}


def test_today_in_the_test_server_is_the_product_today():
    assert generator.today_ist() == TODAY  # the server computes it without importing jainam_prop
    assert generator.resolve_anchor(None) == TODAY
    assert generator.generate_master("BSEFO") == generator.generate_master("BSEFO", anchor=TODAY)


# A Tuesday, a Wednesday after the month's last Tuesday, a Sunday before a month end.
ANCHORS = [TODAY, date(2027, 3, 30), date(2027, 3, 31), date(2028, 2, 27)]


@pytest.mark.parametrize("anchor", ANCHORS, ids=str)
def test_no_generated_contract_is_dead_on_its_anchor(anchor):
    for segment in ("NSEFO", "BSEFO", "NSECD", "MCXFO"):
        text = generator.generate_master(segment, anchor=anchor)
        parsed = parse_master(text, segment=segment, today=anchor)
        assert SkipReason.EXPIRED not in set(parsed.skipped["reason"])
        assert len(parsed.rows) > 1000


@pytest.mark.parametrize("anchor", ANCHORS, ids=str)
def test_nse_expiries_weekly_tuesdays_and_last_tuesday_monthlies(anchor):
    text = generator.generate_master("NSEFO", anchor=anchor)
    expiries = expiries_by_name(text)
    nifty = sorted(expiries["NIFTY"])
    assert all(day.weekday() == TUESDAY for day in nifty)
    next_tuesday = anchor + timedelta(days=(TUESDAY - anchor.weekday()) % 7)
    weekly = [next_tuesday + timedelta(weeks=i) for i in range(4)]
    assert set(weekly) <= set(nifty)
    months = [
        (anchor.year + (anchor.month - 1 + i) // 12, (anchor.month - 1 + i) % 12 + 1)
        for i in range(4)
    ]
    monthly = [d for y, m in months if (d := last_weekday(y, m, TUESDAY)) >= anchor][:3]
    assert set(monthly) <= set(nifty)
    # stock F&O: the three monthlies only
    assert expiries["SBIN"] == set(monthly)
    assert expiries["RELIANCE"] == set(monthly)
    assert series_of(text)["SBIN"] in ("FUTSTK", "OPTSTK")


@pytest.mark.parametrize("anchor", ANCHORS[:2], ids=str)
def test_bse_sensex_weekly_thursdays(anchor):
    expiries = expiries_by_name(generator.generate_master("BSEFO", anchor=anchor))
    sensex = expiries["SENSEX"]
    assert all(day.weekday() == THURSDAY for day in sensex)
    next_thursday = anchor + timedelta(days=(THURSDAY - anchor.weekday()) % 7)
    assert {next_thursday + timedelta(weeks=i) for i in range(4)} <= sensex
    assert all(day.weekday() == THURSDAY for day in expiries["BANKEX"])
    assert len(expiries["BANKEX"]) == 3  # monthly only


@pytest.mark.parametrize("anchor", ANCHORS[:2], ids=str)
def test_currency_and_mcx_futures_are_monthly(anchor):
    for segment, name in (("NSECD", "USDINR"), ("MCXFO", "CRUDEOIL")):
        futures = expiries_by_name(generator.generate_master(segment, anchor=anchor), kinds=("1",))
        months = [(d.year, d.month) for d in sorted(futures[name])]
        assert len(months) == len(set(months)) >= 3  # one future a month
        assert min(futures[name]) >= anchor


def test_generation_is_deterministic_for_an_anchor():
    anchor = date(2027, 5, 4)
    first = generator.generate_masters(anchor=anchor)
    assert generator.generate_masters(anchor=anchor) == first
    assert generator.generate_masters(anchor=anchor + timedelta(days=7)) != first


@pytest.mark.parametrize("segment", ["NSEFO", "BSEFO", "NSECD", "MCXFO"])
def test_expired_lines_are_dead_well_formed_and_uniquely_tokened(segment):
    anchor = TODAY
    live = generator.generate_master(segment, anchor=anchor)
    text = generator.generate_master(segment, anchor=anchor, expired_lines=40)
    assert text.startswith(live + "\n")
    dead = text.split("\n")[len(live.split("\n")) :]
    assert len(dead) == 40
    assert all(line.split("|")[16][:10] < anchor.isoformat() for line in dead)
    tokens = [line.split("|")[1] for line in text.split("\n")]
    assert len(tokens) == len(set(tokens))
    parsed = parse_master(text, segment=segment, today=anchor)
    assert parsed.skipped_by_source()[segment][SkipReason.EXPIRED] == 40
    everything = parse_master(text, segment=segment)
    assert len(everything.rows) == len(parsed.rows) + 40  # no symbol clashes with live ones


def test_cash_segments_have_no_expired_lines():
    assert generator.expired_lines("NSECM", anchor=TODAY, count=10) == []


def test_full_expired_dataset_serves_dead_lines_for_a_sync_to_skip():
    with XTSTestServer(dataset="full-expired") as server:
        answer = requests.post(
            f"{server.market_url}/instruments/master",
            json={"exchangeSegmentList": ["BSEFO"]},
            timeout=30,
        ).json()
    parsed = parse_master(answer["result"], segment="BSEFO", today=TODAY)
    assert parsed.skipped_by_source() == {"BSEFO": {"expired": datasets.EXPIRED_LINES}}
    assert datasets.index_entries("full-expired", "NSECM") == datasets.index_entries(
        "full", "NSECM"
    )


# --- samples-live and tests/sample_data ---------------------------------------------------------


@pytest.mark.parametrize("segment", MASTER_SEGMENTS)
def test_live_samples_are_all_alive_today(segment):
    text = sample_data.live_master(segment, today=TODAY)
    assert text == datasets.master_text("samples-live", segment, anchor=TODAY)
    parsed = parse_master(text, segment=segment, today=TODAY)
    original = parse_master(sample_data.sample_text(segment), segment=segment)
    assert len(parsed.rows) == len(original.rows)
    assert SkipReason.EXPIRED not in set(parsed.skipped["reason"])


@pytest.mark.parametrize("segment", ["NSEFO", "BSEFO", "NSECD"])
@pytest.mark.parametrize("today", [TODAY, date(2031, 1, 1), date(2024, 1, 1)], ids=str)
def test_live_samples_move_whole_weeks_and_only_the_expiry(segment, today):
    original = sample_data.sample_text(segment).split("\n")
    moved = sample_data.live_lines(segment, today=today)
    earliest = sample_data.earliest_live_expiry(segment, today=today)
    assert today <= earliest <= today + timedelta(days=6)
    weeks = sample_data.shift_weeks(segment, today=today)
    for before, after in zip(original, moved, strict=True):
        a, b = before.split("|"), after.split("|")
        assert a[:16] == b[:16]
        assert a[17:] == b[17:]
        shift = date.fromisoformat(b[16][:10]) - date.fromisoformat(a[16][:10])
        assert shift == timedelta(weeks=weeks)
        assert a[16][10:] == b[16][10:]  # time of day kept


def test_expected_symbol_follows_the_shifted_expiry():
    today = TODAY
    parsed = parse_master(sample_data.live_master("NSEFO", today=today), segment="NSEFO")
    symbols = parsed.rows["symbol"]
    for line_no in (1, 62, 96, 129):
        assert symbols.loc[line_no] == sample_data.expected_symbol("NSEFO", line_no, today=today)
    nifty = sample_data.expected_symbol("NSEFO", 62, today=today)
    expiry = sample_data.live_expiry("NSEFO", 62, today=today)
    assert nifty == f"NIFTY{expiry:%d}{expiry:%b}{expiry:%y}FUT".upper()
    assert expiry.weekday() == date(2026, 8, 25).weekday()  # the sample's Tuesday
    assert sample_data.expected_symbol("NSECM", 6, today=today) == "ANANTRAJ"
    assert sample_data.expected_symbol("NSECM", 1, today=today) == "TNTELE-BE"
    bse = parse_master(sample_data.live_master("BSEFO", today=today), segment="BSEFO")
    assert bse.rows["symbol"].loc[3] == sample_data.expected_symbol("BSEFO", 3, today=today)
    with pytest.raises(ValueError, match="no OpenAlgo symbol"):
        sample_data.expected_symbol("NSECD", 1, today=today)


def test_samples_live_dataset_is_served():
    with XTSTestServer(dataset="samples-live") as server:
        answer = requests.post(
            f"{server.market_url}/instruments/master",
            json={"exchangeSegmentList": ["NSEFO"]},
            timeout=30,
        ).json()
    assert answer["result"] == sample_data.live_master("NSEFO", today=generator.today_ist())
