"""How a sync run is shown: status badge colours, the forced flag, change totals, remedies.

Shared by the sync-run pages and the dashboard, so that a run looks the same everywhere
(docs/admin.md explains each colour).
"""

from __future__ import annotations

import re

from django.utils.html import format_html
from django.utils.safestring import SafeString

from jainam_prop.models import SyncRun

Status = SyncRun.Status

# Status -> CSS class: green done, red needs a person, amber worth a look, blue/grey neutral.
STATUS_CSS: dict[str, str] = {
    Status.SUCCESS: "jp-ok",
    Status.FAILED: "jp-bad",
    Status.REFUSED: "jp-bad",
    Status.ABANDONED: "jp-warn",
    Status.DRY_RUN: "jp-muted",
    Status.RUNNING: "jp-info",
}

# What an operator does about a run that did not replace the instruments (worded for the
# admin: buttons, never command-line flags).
REMEDIES: dict[str, str] = {
    Status.REFUSED: (
        "The new master would have removed more instruments than the safety guard allows, so "
        "nothing was changed. If the broker served a partial master, wait and press "
        "\u201cStart a sync now\u201d again. If the removal is real (an expiry day, a segment "
        "dropped on purpose), press \u201cCheck first (dry run)\u201d on Sync runs to see what "
        "would vanish, then \u201cForce this sync\u201d on that page."
    ),
    Status.FAILED: (
        "Nothing was changed: trading continues on the previous instruments. Fix what the "
        "error names (the broker, its credentials, the network, the database), then press "
        "\u201cStart a sync now\u201d on Sync runs."
    ),
    Status.ABANDONED: (
        "The process running this sync died; its transaction rolled back, so nothing was "
        "half-written. Press \u201cStart a sync now\u201d on Sync runs."
    ),
}


def status_badge(run: SyncRun) -> SafeString:
    badge = format_html(
        '<span class="jp-badge {}" data-status="{}">{}</span>',
        STATUS_CSS.get(run.status, "jp-muted"),
        run.status,
        run.get_status_display(),
    )
    if run.forced:
        badge += format_html(
            ' <span class="jp-badge jp-warn jp-forced" title="{}">forced</span>',
            "The safety guard was overridden by hand: check how many instruments it removed.",
        )
    return badge


def change_totals(run: SyncRun) -> dict[str, int] | None:
    """Added, removed and changed instruments over every exchange; None if not recorded."""
    changes = run.changes
    if not isinstance(changes, dict) or not changes:
        return None
    totals = {"added": 0, "removed": 0, "changed": 0}
    for per_exchange in changes.values():
        if isinstance(per_exchange, dict):
            for key in totals:
                totals[key] += int(per_exchange.get(key) or 0)
    return totals


_CLI_ADVICE = re.compile(r"[^.]*(?:--force|--max-malformed)[^.]*\.?\s*")


def admin_error_text(text: str) -> str:
    """A run's error without the sentences that give command-line advice (``--force``...).

    The error is the service's words, written for the command; the admin words the remedy
    for its own user, as buttons (``REMEDIES``).
    """
    return _CLI_ADVICE.sub("", text or "").strip()


def first_line(text: str, *, limit: int = 240) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"
