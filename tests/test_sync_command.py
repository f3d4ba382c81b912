"""manage.py sync_master_contract: flags, output, exit status."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from jainam_prop.models import SymbolToken, SyncRun

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def market(xts_server, settings):
    settings.JAINAM_MARKET_URL = xts_server.market_url
    settings.JAINAM_HTTP_BACKOFF = 0.01
    settings.JAINAM_HTTP_RETRIES = 1
    return xts_server


def run(*args: str) -> str:
    out = StringIO()
    call_command("sync_master_contract", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_prints_counts_per_source_and_a_summary(market):
    output = run()

    assert "NSEFO" in output
    assert "NSECM_INDEX" in output
    assert "spread_contract=83" in output
    assert "not_tradable=119" in output
    assert "sync success: stored" in output
    assert SymbolToken.objects.count() > 400


def test_segments_flag_replaces_only_those(market):
    run()
    nse_before = SymbolToken.objects.filter(exchange="NSE").count()
    SymbolToken.objects.filter(exchange="NFO").update(token=1)  # marks the old NFO rows

    output = run("--segments", "nsefo", "--force")

    assert "NSEFO" in output
    assert "NSECM" not in output
    assert not SymbolToken.objects.filter(exchange="NFO", token=1).exists()
    assert SymbolToken.objects.filter(exchange="NSE").count() == nse_before
    assert SyncRun.objects.latest().segments == ["NSEFO"]


def test_unknown_segment_is_a_clear_error(market):
    with pytest.raises(CommandError, match=r"unknown segment.*NSEFX.*NSECM,BSECM"):
        run("--segments", "NSEFX")
    assert not SyncRun.objects.exists()


def test_file_import_plain_and_gzip(tmp_path, data_dir, settings):
    settings.JAINAM_MARKET_URL = ""  # offline import needs no URL
    plain = tmp_path / "NSEFO.txt"
    plain.write_bytes((data_dir / "NSEFO.txt").read_bytes())
    packed = tmp_path / "BSEFO.txt.gz"
    packed.write_bytes(gzip.compress((data_dir / "BSEFO.txt").read_bytes()))

    output = run("--file", str(plain), "--file", str(packed))

    assert "NSEFO" in output
    assert "BSEFO" in output
    assert SymbolToken.objects.filter(exchange="NFO").count() == 160
    assert SymbolToken.objects.filter(exchange="BFO").count() == 83
    assert set(SymbolToken.objects.values_list("exchange", flat=True)) == {"NFO", "BFO"}


def test_file_that_is_not_a_master_is_rejected(tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello|world\n")
    with pytest.raises(CommandError, match="cannot tell its segment"):
        run("--file", str(junk))


def test_missing_file_is_rejected(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run("--file", str(tmp_path / "absent.txt"))


def test_dry_run_reports_without_writing(market):
    output = run("--dry-run")

    assert "sync dry_run: would store" in output
    assert not SymbolToken.objects.exists()


def test_missing_url_names_the_variable(settings):
    settings.JAINAM_MARKET_URL = ""
    with pytest.raises(CommandError, match="JAINAM_MARKET_URL is not set"):
        run()


def test_negative_max_malformed_is_rejected(market):
    with pytest.raises(CommandError, match="--max-malformed"):
        run("--max-malformed", "-1")


def test_malformed_lines_can_be_allowed_explicitly(market):
    market.inject_fault("malformed_lines", endpoint="master", segment="NSEFO", times=1)

    output = run("--segments", "NSEFO", "--max-malformed", "100")

    assert "malformed_line=" in output
    assert SymbolToken.objects.filter(exchange="NFO").count() == 160


def test_cli_exits_non_zero_with_message_on_stderr(xts_server, tmp_path):
    """The real process: exit status and stderr, as cron and operators see them."""
    xts_server.inject_fault("http500", endpoint="master", times=100)
    env = {
        **os.environ,
        "JAINAM_MARKET_URL": xts_server.market_url,
        "JAINAM_HTTP_RETRIES": "1",
        "JAINAM_HTTP_BACKOFF": "0.01",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
    }
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    result = subprocess.run(
        [sys.executable, "manage.py", "sync_master_contract"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "sync_master_contract failed" in result.stderr
    assert "HTTP 500" in result.stderr


def test_unreachable_database_is_a_clear_error_without_traceback(tmp_path):
    """The real process with a database it cannot open: one message, exit 1, no traceback."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite3'}",
        "JAINAM_MARKET_URL": "http://127.0.0.1:9/apibinarymarketdata",
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "sync_master_contract"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "the database is unavailable" in result.stderr
    assert "Traceback" not in result.stderr
