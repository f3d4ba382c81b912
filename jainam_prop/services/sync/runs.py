"""Records of sync runs (``SyncRun``), written in autocommit outside the replace transaction,
so that a failed run is recorded even though its writes rolled back. A run left ``running``
by a dead process is marked ``abandoned`` by the next run.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from jainam_prop.models import SyncRun

logger = logging.getLogger(__name__)

# A run still 'running' after this long is taken as abandoned even on another host.
STALE_RUN_HOURS = 6


def finish_run(run: SyncRun, *, status: str, **fields: Any) -> None:
    run.status = status
    run.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(run, name, value)
    try:
        run.save()
    except DatabaseError:
        logger.exception("Could not record the end of sync run %s (status %s)", run.pk, status)


def mark_abandoned_runs(*, broker: str) -> list[int]:
    """Mark runs left ``running`` by a process that no longer exists (e.g. SIGKILL)."""
    host = socket.gethostname()[:255]
    stale_after = timezone.now() - timedelta(hours=STALE_RUN_HOURS)
    abandoned = []
    for run in SyncRun.objects.filter(broker=broker, status=SyncRun.Status.RUNNING):
        same_host_dead = run.host == host and run.pid is not None and not _pid_alive(run.pid)
        if same_host_dead or run.started_at < stale_after:
            run.status = SyncRun.Status.ABANDONED
            run.finished_at = timezone.now()
            run.error = (
                "The sync process ended without finishing (killed or crashed); its transaction "
                "was rolled back, so the instruments it started to write were never applied."
            )
            run.save(update_fields=["status", "finished_at", "error"])
            abandoned.append(run.pk)
            logger.warning("Sync run %s was abandoned by its process", run.pk)
    return abandoned


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
