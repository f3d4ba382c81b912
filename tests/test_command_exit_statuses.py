"""Exit statuses of create_api_key and lookup_token, as docs/operations.md documents them.

Real child processes (``manage.py``), against the test database: 0 on success, 1 for a
failure the command explains (``CommandError``), 2 for arguments argparse rejects. The sync
command's statuses are tested in tests/test_sync_command.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from jainam_prop.models import SymbolToken
from tests.fixtures_lookups import child_database_url

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db(transaction=True)


def manage(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "DJANGO_SECRET_KEY": "insecure-test-only-key",
        "JAINAM_ENV_FILE": "",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def sbin(db):
    SymbolToken.objects.create(
        symbol="SBIN",
        exchange="NSE",
        token=3045,
        brsymbol="SBIN-EQ",
        brexchange="NSECM",
        name="SBIN",
        lot_size=1,
        tick_size=Decimal("0.05"),
        instrument_type="EQ",
    )


def test_create_api_key_exit_statuses(django_user_model):
    django_user_model.objects.create_user("alice", password="pw-alice-123")
    django_user_model.objects.create_user("gone", password="pw-gone-123", is_active=False)

    ok = manage("create_api_key", "alice", "--name", "box")
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.strip()) == 64  # the key alone on stdout
    assert "shown only this once" in ok.stderr

    for args, message in (
        (("nobody",), "No user 'nobody'"),
        (("gone",), "inactive"),
        (("alice", "--name", "x" * 65), "at most 64"),
    ):
        failed = manage("create_api_key", *args)
        assert failed.returncode == 1, (args, failed.stderr)
        assert message in failed.stderr

    usage = manage("create_api_key")
    assert usage.returncode == 2
    assert "the following arguments are required: username" in usage.stderr


def test_lookup_token_exit_statuses(sbin):
    ok = manage("lookup_token", "SBIN", "NSE", "--search", "NSE:SB")
    assert ok.returncode == 0, ok.stderr
    assert "NSE:SBIN -> token 3045" in ok.stdout

    missing = manage("lookup_token", "NOPE", "NSE")
    assert missing.returncode == 1
    assert "Not found: NSE:NOPE" in missing.stderr

    odd = manage("lookup_token", "SBIN")
    assert odd.returncode == 1
    assert "in pairs" in odd.stderr

    for args in (("--search", "NIFTY"), ("SBIN", "NSE", "--limit", "x")):
        usage = manage("lookup_token", *args)
        assert usage.returncode == 2, (args, usage.stderr)
        assert "usage:" in usage.stderr
