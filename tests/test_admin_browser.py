"""End to end: a person drives the admin in headless Chromium (Playwright + Debian's chromium).

Log in, search NIFTY, filter NFO, open a row, see its token; the screenshot is saved to
artifacts/admin-e2e.png. Chromium comes from Debian (``apt-get install -y chromium``, done by
bin/test when missing): Playwright's own browser download is not used. All database work
happens before Playwright starts, because its sync API runs an event loop in this thread and
Django refuses ORM calls from a thread with a running loop.
"""

from __future__ import annotations

import os
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from jainam_prop.models import SymbolToken

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
SCREENSHOT = Path(__file__).resolve().parent.parent / "artifacts" / "admin-e2e.png"
OPTION = {"symbol": "NIFTY25AUG2624500CE", "token": 43210}


def _rows() -> list[SymbolToken]:
    common = {"tick_size": Decimal("0.05"), "broker": "jainam_prop"}
    rows = [
        SymbolToken(
            symbol=OPTION["symbol"],
            exchange="NFO",
            token=OPTION["token"],
            brsymbol="NIFTY26AUG24500CE",
            brexchange="NSEFO",
            name="NIFTY",
            expiry=date(2026, 8, 25),
            strike=Decimal(24500),
            lot_size=75,
            instrument_type="CE",
            **common,
        ),
        SymbolToken(
            symbol="NIFTY",
            exchange="NSE_INDEX",
            token=26000,
            brsymbol="NIFTY 50",
            brexchange="NSECM",
            name="NIFTY 50",
            lot_size=1,
            instrument_type="INDEX",
            **common,
        ),
        SymbolToken(
            symbol="SBIN",
            exchange="NSE",
            token=3045,
            brsymbol="SBIN-EQ",
            brexchange="NSECM",
            name="SBIN",
            lot_size=1,
            instrument_type="EQ",
            **common,
        ),
    ]
    return SymbolToken.objects.bulk_create(rows)


def test_operator_finds_a_token_in_the_admin(live_server, django_user_model):
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium with "
            "'apt-get update && apt-get install -y chromium' (bin/test does it when run as root)"
        )
    from playwright.sync_api import expect, sync_playwright

    django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-ops-e2e-123")
    _rows()

    SCREENSHOT.parent.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(f"{live_server.url}/admin/")
            page.fill("#id_username", "ops")
            page.fill("#id_password", "pw-ops-e2e-123")
            page.click("input[type=submit]")
            expect(page.locator("#site-name")).to_be_visible()

            page.goto(f"{live_server.url}/admin/jainam_prop/symboltoken/")
            page.fill("#searchbar", "NIFTY")
            page.press("#searchbar", "Enter")
            page.wait_for_url(re.compile(r"[?&]q=NIFTY"))
            expect(page.locator("#result_list tbody tr")).to_have_count(2)

            page.locator("#changelist-filter").get_by_role("link", name="NFO", exact=True).click()
            page.wait_for_url(re.compile(r"[?&]exchange=NFO"))
            rows = page.locator("#result_list tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text(str(OPTION["token"]))

            rows.first.get_by_role("link", name=OPTION["symbol"]).click()
            expect(page.locator("h2, h1").first).to_be_visible()
            expect(page.locator(".live-token")).to_have_text(str(OPTION["token"]))
            expect(page.locator(".fieldBox.field-token .readonly")).to_have_text(
                str(OPTION["token"])
            )
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
