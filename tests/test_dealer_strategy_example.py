"""docs/strategy_example.py, as a strategy runs it: plain requests to a live server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "strategy_example.py"


@pytest.mark.django_db(transaction=True)
def test_the_strategy_example_runs(live_server, api_key, today_master, dealer_settings):
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), live_server.url, api_key, today_master.future.symbol, "NFO"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OPENALGO_APIKEY": ""},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "cancelled cancelled" in lines
    assert f"open position {2 * today_master.future.lot_size}" in lines
    assert "close All Open Positions Squared Off" in lines
    assert lines[-1] == "open positions left: 0"
