"""End to end: a person checks the admin in headless Chromium (Playwright + Debian's chromium).

Log in, read the dashboard (the charts are there, the counts match the database, the health
and the last refused run are coloured), the instrument list (fits a 1,440 px screen, dead
contracts hidden, a search finds a token), the sync runs (a refused run is red, a forced one
flagged) and a run's page (the full error). Screenshots go to artifacts/ (git-ignored).

Chromium comes from Debian (``apt-get install -y chromium``, done by bin/test when missing):
Playwright's own browser download is not used. All database work happens before Playwright
starts, because its sync API runs an event loop in this thread and Django refuses ORM calls
from a thread with a running loop.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jainam_prop.models import SymbolToken, SyncRun
from jainam_prop.vocabulary import today_ist
from tests.test_admin import AUG_CODE, _option, _run, make_master

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path(os.environ.get("JAINAM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
WIDTH = 1440
REFUSED_ERROR = (
    "NFO: 41,237 of its 70,731 live instruments would vanish (more than the 3,536 allowed: 5% "
    "of the live ones, at least 50), e.g. NIFTY29DEC2624000CE, NIFTY29DEC2624000PE, "
    "BANKNIFTY29DEC2650000CE. Expired contracts may vanish; live ones vanishing usually means "
    "a cut or partial master. Nothing was changed."
)


def _history() -> dict[str, SyncRun]:
    now = timezone.now()
    runs = {}
    for i in range(8):
        runs[f"ok{i}"] = _run(
            started_at=now - timedelta(days=8 - i),
            finished_at=now - timedelta(days=8 - i) + timedelta(seconds=14 + i),
            changes={"NFO": {"added": 400 + 10 * i, "removed": 380, "changed": 12}},
        )
    runs["refused"] = _run(
        status=SyncRun.Status.REFUSED,
        started_at=now - timedelta(hours=3),
        finished_at=now - timedelta(hours=3) + timedelta(seconds=9),
        error=REFUSED_ERROR,
    )
    runs["forced"] = _run(
        started_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=2) + timedelta(seconds=21),
        forced=True,
        changes={"NFO": {"added": 0, "removed": 41_237, "changed": 0}},
    )
    return runs


def _expected() -> dict[str, tuple[int, int, int]]:
    today = today_ist()
    week_end = today + timedelta(days=6 - today.weekday())
    expected = {}
    for exchange in sorted(set(SymbolToken.objects.values_list("exchange", flat=True))):
        rows = SymbolToken.objects.filter(broker="jainam_prop", exchange=exchange)
        if not rows.exists():
            continue
        dead = rows.filter(expiry__lt=today).count()
        week = rows.filter(expiry__gte=today, expiry__lte=week_end).count()
        expected[exchange] = (rows.count() - dead - week, week, dead)
    return expected


def test_operator_reads_the_admin_in_a_browser(live_server, django_user_model):
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium with "
            "'apt-get update && apt-get install -y chromium' (bin/test does it when run as root)"
        )
    from playwright.sync_api import expect, sync_playwright

    django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-ops-e2e-123")
    make_master()
    today = today_ist()
    SymbolToken.objects.bulk_create(
        [
            _option("OLDX", "NFO", today - timedelta(days=7), 100, kind, 91_000 + i)
            for i, kind in enumerate(("CE", "PE"))
        ]
    )
    runs = _history()
    expected = _expected()
    option = SymbolToken.objects.get(symbol=f"NIFTY{AUG_CODE}24500CE")

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(f"{live_server.url}/admin/")
            page.fill("#id_username", "ops")
            page.fill("#id_password", "pw-ops-e2e-123")
            page.click("input[type=submit]")

            # The dashboard: three charts, counts as the database has them, colours.
            expect(page.locator("#jp-dashboard")).to_be_visible()
            expect(page.locator("svg.jp-chart")).to_have_count(3)
            expect(page.locator("#jp-instruments svg rect")).not_to_have_count(0)
            for exchange, (live, week, dead) in expected.items():
                row = page.locator(f'#jp-instruments-table tr[data-exchange="{exchange}"]')
                expect(row.locator("td").nth(0)).to_have_text(f"{live:,}")
                expect(row.locator("td").nth(1)).to_have_text(f"{week:,}")
                expect(row.locator("td").nth(2)).to_have_text(f"{dead:,}")
            problem = page.locator("#jp-last-problem")
            expect(problem).to_contain_text("41,237 of its 70,731 live instruments")
            assert _is_red(problem.locator('[data-status="refused"]'))
            assert _is_green(page.locator('#jp-health [data-health="ok"]'))
            page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)

            # Instruments: live first, in chain order, fitting the screen.
            page.goto(f"{live_server.url}/admin/jainam_prop/symboltoken/")
            expect(page.locator("#result_list")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
            expect(page.locator("#result_list")).not_to_contain_text("OLDX")
            page.fill("#searchbar", "NIFTY")
            page.press("#searchbar", "Enter")
            page.wait_for_url(re.compile(r"[?&]q=NIFTY"))
            first = page.locator("#result_list tbody tr").first
            expect(first).to_contain_text(f"NIFTY{AUG_CODE}FUT")
            expect(first).to_contain_text("0.05")
            expect(first).not_to_contain_text("0.050000")
            page.screenshot(path=str(ARTIFACTS / "admin-instruments.png"), full_page=True)
            page.locator("#result_list").get_by_role("link", name=option.symbol).click()
            expect(page.locator(".live-token")).to_have_text(str(option.token))
            expect(page.locator("a.historylink")).to_have_count(0)

            # Dead contracts on request, marked.
            page.goto(f"{live_server.url}/admin/jainam_prop/symboltoken/?contract=dead")
            expect(page.locator("#result_list tbody tr")).to_have_count(2)
            expect(page.locator("#result_list .jp-dead").first).to_be_visible()

            # Sync runs: a refused run is red, a forced run flagged, the error readable.
            page.goto(f"{live_server.url}/admin/jainam_prop/syncrun/")
            refused = page.locator('#result_list [data-status="refused"]')
            expect(refused).to_have_text("Refused (safety guard)")
            assert _is_red(refused)
            assert _is_green(page.locator('#result_list [data-status="success"]').first)
            expect(page.locator("#result_list .jp-forced")).to_have_count(1)
            expect(page.locator("#result_list")).to_contain_text("0 / 41,237 / 0")
            page.screenshot(path=str(ARTIFACTS / "admin-sync-runs.png"), full_page=True)

            page.goto(f"{live_server.url}/admin/jainam_prop/syncrun/{runs['refused'].pk}/change/")
            expect(page.locator("#jp-full-error")).to_have_text(REFUSED_ERROR)
            expect(page.locator("#jp-full-error")).to_be_visible()
            expect(page.locator("#dry-run")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "admin-refused-run.png"), full_page=True)
        finally:
            browser.close()
    for name in ("dashboard", "instruments", "sync-runs", "refused-run"):
        assert (ARTIFACTS / f"admin-{name}.png").stat().st_size > 10_000


def _background(locator) -> tuple[int, ...]:
    color = locator.evaluate("e => getComputedStyle(e).backgroundColor")
    return tuple(int(part) for part in re.findall(r"\d+", color)[:3])


def _is_red(locator) -> bool:
    red, green, blue = _background(locator)
    return red > 200 and green < 230 and blue < 230 and red - green > 20


def _is_green(locator) -> bool:
    red, green, blue = _background(locator)
    return green > red + 15 and green > blue
