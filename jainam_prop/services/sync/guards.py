"""The sync's guards: what makes a master too suspicious to store without ``force``.

- **Corruption**: malformed or wrong-segment lines mean the download is not what XTS serves
  (``SyncError``, not overridable by ``force``; ``max_malformed`` tolerates some).
- **Vanish** (first line): contracts that expired (or expire today) are expected to leave the
  master; *live* instruments (cash, indices, contracts expiring after today) leaving it are
  the alarm. Refused when more than ``JAINAM_SYNC_MAX_VANISHED_SHARE`` (2%) of an exchange's
  live instruments, and more than ``JAINAM_SYNC_VANISHED_ALLOWANCE`` (10) of them, would vanish.
- **Shrink** (second line): refused when an exchange would keep fewer than
  ``JAINAM_SYNC_MIN_RATIO`` (50%) of its stored rows, whatever the reason.

Refusals are ``SyncRefused`` naming the exchange, the count and examples; the wording of the
remedy (a command flag, an admin button) belongs to each face.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
from django.conf import settings

from jainam_prop.errors import SyncError, SyncRefused
from jainam_prop.master_parser import ParsedMaster, SkipReason

from .delta import EXAMPLES, ExchangeDelta

CORRUPTION_REASONS = frozenset({SkipReason.MALFORMED_LINE, SkipReason.WRONG_SEGMENT})
_EPOCH = dt.date(1970, 1, 1)


def guard_corruption(parsed: ParsedMaster, *, limit: int) -> None:
    """Fail (``SyncError``) when more than ``limit`` lines are malformed or of another segment."""
    bad = parsed.skipped[parsed.skipped["reason"].isin([str(r) for r in CORRUPTION_REASONS])]
    if len(bad) > limit:
        first = bad.iloc[0]
        raise SyncError(
            f"The master has {len(bad)} malformed line(s) (limit {limit}); nothing was written. "
            f"First: {first['source']} line {first['line_no']} ({first['reason']}): "
            f"{str(first['line'])[:120]!r}. This usually means a corrupt or truncated download: "
            "run the sync again; if the broker's master really has bad lines, allow them with "
            "--max-malformed N (they are skipped and reported)."
        )


def vanish_limit(live: int, *, share: float, allowance: int) -> int:
    """How many of an exchange's ``live`` instruments may vanish in one sync."""
    return max(allowance, int(live * share))


def refusals(
    deltas: Iterable[ExchangeDelta],
    *,
    today: dt.date,
    min_ratio: float | None = None,
    share: float | None = None,
    allowance: int | None = None,
) -> list[SyncRefused]:
    """Every guard's refusal of these deltas, the worst first (empty: the master may be stored).

    ``today`` (Asia/Kolkata) decides which contracts are expired: expiry on or before it.
    """
    ratio = settings.JAINAM_SYNC_MIN_RATIO if min_ratio is None else min_ratio
    share = settings.JAINAM_SYNC_MAX_VANISHED_SHARE if share is None else share
    allowance = settings.JAINAM_SYNC_VANISHED_ALLOWANCE if allowance is None else allowance
    today_days = (today - _EPOCH).days
    found: list[SyncRefused] = []
    for delta in deltas:
        live_stored = int(_live(delta.stored_expiry, today_days).sum())
        vanished_live = _live(delta.vanished_expiry, today_days)
        count = int(vanished_live.sum())
        limit = vanish_limit(live_stored, share=share, allowance=allowance)
        if count > limit:
            examples = [str(s) for s in delta.vanished_symbols[vanished_live][:EXAMPLES]]
            found.append(
                SyncRefused(
                    f"{delta.exchange}: {count:,} of its {live_stored:,} live instruments would "
                    f"vanish (more than the {limit:,} allowed: {share:.0%} of the live ones, at "
                    f"least {allowance}), e.g. {', '.join(examples)}. Expired contracts may "
                    "vanish; live ones vanishing usually means a cut or partial master. "
                    "Nothing was changed.",
                    exchange=delta.exchange,
                    vanished=count,
                    examples=examples,
                    reason="vanished",
                )
            )
        elif delta.new < delta.stored * ratio:
            examples = [str(s) for s in delta.vanished_symbols[:EXAMPLES]]
            found.append(
                SyncRefused(
                    f"{delta.exchange}: {delta.stored} -> {delta.new} instruments, below "
                    f"{ratio:.0%} of what is stored (e.g. {', '.join(examples) or '-'} would "
                    "vanish). Nothing was changed.",
                    exchange=delta.exchange,
                    vanished=delta.removed,
                    examples=examples,
                    reason="shrink",
                )
            )
    return sorted(found, key=lambda refusal: -refusal.vanished)


def _live(expiry_days: np.ndarray, today_days: int) -> np.ndarray:
    """Rows without an expiry (cash, indices) or expiring after today."""
    return np.isnan(expiry_days) | (expiry_days > today_days)
