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
from jainam_prop.vocabulary import today_ist
from tests.test_sync import live_master

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
    market.set_dataset("samples-live")
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


def test_contracts_dead_at_sync_time_are_skipped_and_counted(market):
    """The raw samples are dumps of 2024-2026: their contracts that expired before today are
    counted under their own reason and none of them is stored."""
    output = run()

    expired = SyncRun.objects.latest().counts["NSEFO"]["skipped_by_reason"]["expired"]
    assert expired > 0
    assert f"expired={expired}" in output
    today = today_ist()
    assert not SymbolToken.objects.filter(expiry__lt=today).exists()
    assert SymbolToken.objects.filter(exchange="NFO", expiry__gte=today).exists()


def test_unknown_segment_is_a_clear_error(market):
    with pytest.raises(CommandError, match=r"unknown segment.*NSEFX.*NSECM,BSECM"):
        run("--segments", "NSEFX")
    assert not SyncRun.objects.exists()


def test_file_import_plain_and_gzip(tmp_path, settings):
    settings.JAINAM_MARKET_URL = ""  # offline import needs no URL
    plain = tmp_path / "NSEFO.txt"
    plain.write_text(live_master("NSEFO", today=today_ist()))
    packed = tmp_path / "BSEFO.txt.gz"
    packed.write_bytes(gzip.compress(live_master("BSEFO", today=today_ist()).encode()))

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


@pytest.fixture
def live_files(tmp_path, data_dir, settings) -> tuple[Path, Path]:
    """(the live NSEFO master, the same cut at 60%) as files."""
    settings.JAINAM_MARKET_URL = ""
    lines = live_master("NSEFO", today=today_ist()).splitlines()
    whole, cut = tmp_path / "NSEFO.txt", tmp_path / "NSEFO-cut.txt"
    whole.write_text("\n".join(lines))
    cut.write_text("\n".join(lines[:96]))
    return whole, cut


def test_summary_lists_changes_per_exchange(live_files):
    whole, _ = live_files
    first = run("--file", str(whole))
    again = run("--file", str(whole))

    assert "exchange        added  removed  changed  examples" in first
    assert "NFO               160        0        0  added " in first
    assert "NFO                 0        0        0  -" in again
    assert "stored 160 instruments (added 0, removed 0, changed 0)" in again


def test_dry_run_of_a_cut_master_says_it_would_be_refused(live_files):
    whole, cut = live_files
    run("--file", str(whole))
    out = StringIO()

    with pytest.raises(CommandError, match=r"would be refused: .*NFO: 64 of its 160") as caught:
        call_command("sync_master_contract", "--file", str(cut), "--dry-run", stdout=out)

    assert caught.value.returncode == 3
    assert "--force" in str(caught.value)
    assert "NFO                 0       64        0  removed " in out.getvalue()
    assert "sync dry_run: would be refused" in out.getvalue()
    assert SymbolToken.objects.count() == 160


def test_a_refused_sync_names_the_force_flag(live_files):
    whole, cut = live_files
    run("--file", str(whole))

    with pytest.raises(CommandError, match=r"refused: .*NFO: 64 of its 160.*--force") as caught:
        run("--file", str(cut))
    assert caught.value.returncode == 3
    assert SymbolToken.objects.count() == 160

    output = run("--file", str(cut), "--force")
    assert "forced past a guard: " in output
    assert SymbolToken.objects.count() == 96
    assert SyncRun.objects.latest().forced is True


def test_missing_url_names_the_variable(settings):
    settings.JAINAM_MARKET_URL = ""
    with pytest.raises(CommandError, match="JAINAM_MARKET_URL is not set"):
        run()


def test_negative_max_malformed_is_rejected(market):
    with pytest.raises(CommandError, match="--max-malformed"):
        run("--max-malformed", "-1")


def test_malformed_lines_can_be_allowed_explicitly(market):
    market.set_dataset("samples-live")
    market.inject_fault("malformed_lines", endpoint="master", segment="NSEFO", times=1)

    output = run("--segments", "NSEFO", "--max-malformed", "100")

    assert "malformed_line=" in output
    assert SymbolToken.objects.filter(exchange="NFO").count() == 160


def test_cli_exit_statuses(live_files, tmp_path):
    """0 done, 1 failed, 2 bad arguments, 3 refused (a dry run too): as cron sees them."""
    whole, cut = live_files
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "JAINAM_MARKET_URL": "",
    }
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "sync_master_contract", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("--file", str(whole)).returncode == 0
    dry = cli("--file", str(cut), "--dry-run")
    assert dry.returncode == 3
    assert "would be refused" in dry.stderr
    assert "--force" in dry.stderr
    refused = cli("--file", str(cut))
    assert refused.returncode == 3
    assert "NFO: 64 of its 160 live instruments would vanish" in refused.stderr
    assert cli("--file", str(tmp_path / "absent.txt")).returncode == 1
    assert cli("--segments", "NSEFX").returncode == 2
    assert cli("--file", str(cut), "--dry-run", "--force").returncode == 0
    assert cli("--file", str(cut), "--force").returncode == 0


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
