"""The README's walkthrough, run exactly as written, on a fresh copy of the repository.

The test copies the repository's files (what a clone holds, plus the working tree's changes)
to a temporary directory, links the virtualenv, runs ``bin/demo`` there and then the README's
blocks marked ``sh walkthrough``, concatenated, in one ``bash -euo pipefail`` with a
newcomer's environment (no DATABASE_URL, REDIS_URL, DJANGO_* or JAINAM_* variables). While
the walkthrough's servers still run, a probe logs into the admin as the walkthrough's user.
Then it checks what the blocks printed: a first order accepted, lookups answered.

Slow (a full sync of the 150,000-instrument master): marker ``slow``. It needs the ports
the README names (8000 and 18731) free.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"^```sh walkthrough\n(.*?)^```", re.M | re.S)
PORTS = (8000, 18731)
# The admin login, from outside: the dashboard answers the walkthrough's user.
PROBE = """
import re, sys, requests
s = requests.Session()
login = "http://127.0.0.1:8000/admin/login/?next=/admin/"
page = s.get(login, timeout=10)
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
answer = s.post(login, data={"csrfmiddlewaretoken": token, "username": "admin",
    "password": "change-me-now", "next": "/admin/"}, headers={"Referer": login}, timeout=30)
assert answer.status_code == 200 and 'id="jp-dashboard"' in answer.text, answer.text[:2000]
print("probe: logged in, dashboard shown")
"""

pytestmark = pytest.mark.slow


def walkthrough_blocks(text: str) -> list[str]:
    return [block.strip() for block in BLOCK.findall(text)]


def test_readme_marks_the_walkthrough_in_order():
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    joined = "\n".join(blocks)
    steps = ["bin/testserver", "createsuperuser", "runserver", "placeorder", "lookup_token"]
    positions = [joined.index(step) for step in steps]
    assert positions == sorted(positions), "admin user, log in, first order, first lookup"
    assert not re.search(r"(^|\s)python3? ", joined), "the venv's Python, never a bare python"


def _clone_like_copy(target: Path) -> None:
    """What a clone holds (tracked files, plus untracked ones not ignored), and the venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)
    (target / ".venv").symlink_to((ROOT / ".venv").resolve(), target_is_directory=True)


def _newcomer_env(home: Path) -> dict[str, str]:
    drop = ("DATABASE_URL", "REDIS_URL", "DJANGO_", "JAINAM_", "CACHE_", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["HOME"] = str(home)
    return env


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait(condition, *, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _stop_group(pgid: int) -> None:
    """Stop every process the walkthrough left in its session (this test started them)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return


def test_the_walkthrough_runs_verbatim_after_bin_demo(tmp_path):
    busy = [port for port in PORTS if not _port_is_free(port)]
    assert not busy, f"the walkthrough needs ports {busy} free on 127.0.0.1"
    clone = tmp_path / "jainam-prop"
    _clone_like_copy(clone)
    env = _newcomer_env(tmp_path)
    demo = subprocess.run(
        ["bin/demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=600
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert (clone / ".env").is_file()

    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    (tmp_path / "probe.py").write_text(PROBE, encoding="utf-8")
    script = "\n".join(
        [
            "set -euo pipefail",
            # The test's own cleanup, not the README's: stop what the walkthrough started.
            "trap 'bin/testserver stop >/dev/null; kill $(jobs -p) 2>/dev/null || true' EXIT",
            *blocks,
            f".venv/bin/python {tmp_path / 'probe.py'}",
        ]
    )
    child = subprocess.Popen(
        ["bash", "-c", script],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = child.communicate(timeout=600)
    finally:
        _stop_group(child.pid)
    run = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    assert re.search(r'"status": "success", "orderid": "\w+"', run.stdout), output[-5000:]
    assert re.search(r'"status": "success", "data": \{[^}]*"symbol": "NIFTY"', run.stdout), output[
        -5000:
    ]
    assert re.search(r"NSE:SBIN -> token \d+", run.stdout), output[-5000:]
    assert re.search(r"NFO:NIFTY\w+ -> token \d+", run.stdout), output[-5000:]
    assert "probe: logged in, dashboard shown" in run.stdout
    assert _wait(lambda: all(_port_is_free(port) for port in PORTS)), "servers left running"


if __name__ == "__main__":  # print the walkthrough as the test runs it
    sys.stdout.write("\n".join(walkthrough_blocks(README.read_text(encoding="utf-8"))) + "\n")
