"""Admin of the sync history (``SyncRun``) and the operator's sync button.

Read-only: runs are written by the sync service. The list shows each run's status as a
coloured badge (``run_display``), forced runs flagged, and its counts; the detail page shows
the full error. Holders of ``jainam_prop.run_sync`` get "Start a sync now", which calls
``services.sync_master_contract`` (the same code path as the command) inside the request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from jainam_prop.admin.common import ReadOnlyAdmin
from jainam_prop.admin.run_display import (
    REMEDIES,
    admin_error_text,
    change_totals,
    first_line,
    status_badge,
)
from jainam_prop.errors import MissingSetting, SyncError, SyncRefused, XTSError
from jainam_prop.models import SyncRun
from jainam_prop.services import SyncReport, sync_master_contract

logger = logging.getLogger(__name__)

RUN_SYNC_PERMISSION = "jainam_prop.run_sync"


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    """History of master-contract syncs; holders of ``run_sync`` can start one."""

    list_display = (
        "started_at",
        "status_shown",
        "duration",
        "changes_shown",
        "stored",
        "skipped",
        "error_summary",
    )
    list_display_links = ("started_at",)
    list_filter = ("status", "forced")
    list_per_page = 50
    show_facets = admin.ShowFacets.NEVER
    actions = None
    fields = (
        ("started_at", "finished_at", "duration"),
        ("status_shown", "forced", "broker"),
        "remedy",
        "error_full",
        "changes_table",
        "source",
        "segments",
        ("stored", "deleted", "skipped"),
        "segment_counts",
        "skipped_reasons",
        ("host", "pid"),
    )
    readonly_fields = (
        "started_at",
        "finished_at",
        "duration",
        "status_shown",
        "forced",
        "broker",
        "remedy",
        "error_full",
        "changes_table",
        "source",
        "segments",
        "stored",
        "deleted",
        "skipped",
        "segment_counts",
        "skipped_reasons",
        "host",
        "pid",
    )

    @admin.display(description="status", ordering="status")
    def status_shown(self, obj: SyncRun) -> str:
        return status_badge(obj)

    @admin.display(description="added / removed / changed")
    def changes_shown(self, obj: SyncRun) -> str:
        totals = change_totals(obj)
        if totals is None:
            return "-"
        return format_html(
            '<span class="jp-changes">{} / <span class="{}">{}</span> / {}</span>',
            f"{totals['added']:,}",
            "jp-removed" if totals["removed"] else "",
            f"{totals['removed']:,}",
            f"{totals['changed']:,}",
        )

    @admin.display(description="changes per exchange")
    def changes_table(self, obj: SyncRun) -> str:
        changes = obj.changes
        if not isinstance(changes, dict) or not changes:
            return "-"
        return format_html(
            "<table><thead><tr><th>exchange</th><th>added</th><th>removed</th><th>changed</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (exchange, c.get("added", 0), c.get("removed", 0), c.get("changed", 0))
                    for exchange, c in sorted(changes.items())
                    if isinstance(c, dict)
                ),
            ),
        )

    @admin.display(description="error")
    def error_summary(self, obj: SyncRun) -> str:
        if not obj.error:
            return ""
        return format_html(
            '<span class="jp-error">{}</span>', first_line(admin_error_text(obj.error))
        )

    @admin.display(description="error (full)")
    def error_full(self, obj: SyncRun) -> str:
        if not obj.error:
            return "-"
        return format_html(
            '<div class="jp-error" id="jp-full-error">{}</div>', admin_error_text(obj.error)
        )

    @admin.display(description="what to do")
    def remedy(self, obj: SyncRun) -> str:
        return REMEDIES.get(obj.status, "-")

    @admin.display(description="lines / stored / skipped per source")
    def segment_counts(self, obj: SyncRun) -> str:
        counts = obj.counts if isinstance(obj.counts, dict) else {}
        if not counts:
            return "-"
        return format_html_join(
            "",
            "<div>{}: {} / {} / {}</div>",
            (
                (source, c.get("lines", "?"), c.get("stored", "?"), c.get("skipped", "?"))
                for source, c in sorted(counts.items())
                if isinstance(c, dict)
            ),
        )

    @admin.display(description="skipped by reason")
    def skipped_reasons(self, obj: SyncRun) -> str:
        totals = _skipped_by_reason(obj.counts.values() if isinstance(obj.counts, dict) else ())
        if not totals:
            return "-"
        most_first = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        return format_html_join("", "<div>{}: {}</div>", most_first)

    @admin.display(description="duration")
    def duration(self, obj: SyncRun) -> str:
        seconds = obj.duration_seconds
        return "-" if seconds is None else f"{seconds:.1f} s"

    def get_urls(self) -> list:
        urls = [
            path(
                "start-sync/",
                self.admin_site.admin_view(self.start_sync_view),
                name="jainam_prop_syncrun_start_sync",
            )
        ]
        return urls + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        extra_context = {
            "title": "Sync runs",
            **(extra_context or {}),
            "can_run_sync": request.user.has_perm(RUN_SYNC_PERMISSION),
            "start_sync_url": reverse("admin:jainam_prop_syncrun_start_sync"),
            "market_url": settings.JAINAM_MARKET_URL,
        }
        return super().changelist_view(request, extra_context=extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> Any:
        context = {
            **(extra_context or {}),
            "can_run_sync": request.user.has_perm(RUN_SYNC_PERMISSION),
            "start_sync_url": reverse("admin:jainam_prop_syncrun_start_sync"),
        }
        return super().change_view(request, object_id, form_url, context)

    def start_sync_view(self, request: HttpRequest) -> HttpResponse:
        return _start_sync(request)


@require_POST
def _start_sync(request: HttpRequest) -> HttpResponse:
    """The sync button, in three forms (all need ``run_sync``; each runs in this request):

    - ``dry_run=1``: the service's dry run; renders its verdict (what would be added,
      removed, changed, and whether a guard would refuse), writes nothing;
    - ``force=1`` with ``confirm=1`` (the box ticked on the verdict page): a sync that
      overrides the guards; without the tick, the verdict page again;
    - neither: a plain sync, reported as a message on the sync-run list.
    """
    if not request.user.has_perm(RUN_SYNC_PERMISSION):
        raise PermissionDenied("Starting a sync needs the permission jainam_prop.run_sync.")
    dry_run = request.POST.get("dry_run") == "1"
    force = request.POST.get("force") == "1"
    if force and request.POST.get("confirm") != "1":
        messages.error(request, "Tick the box to confirm what the forced sync removes.")
        dry_run, force = True, False
    logger.info(
        "Sync started from the admin by %s (dry run: %s, force: %s)", request.user, dry_run, force
    )
    try:
        report = sync_master_contract(broker=settings.JAINAM_BROKER, dry_run=dry_run, force=force)
    except SyncRefused as exc:
        logger.warning("Sync started from the admin was refused: %s", exc)
        messages.error(
            request,
            f"Sync refused by the safety guard, nothing changed: {refusal_text(exc)} "
            "Press \u201cCheck first (dry run)\u201d to see everything that would vanish; "
            "if the removal is real, force the sync from there.",
        )
    except (SyncError, XTSError, MissingSetting, ValidationError, ValueError) as exc:
        logger.warning("Sync started from the admin failed: %s", exc)
        messages.error(request, f"Sync failed ({type(exc).__name__}): {admin_error_text(str(exc))}")
    else:
        if dry_run:
            return _verdict(request, report)
        text = f"Sync {report.run_id}: {report.summary()}"
        if report.forced:
            text = f"Forced sync {report.run_id} (safety guard overridden): {report.summary()}"
        messages.success(request, text)
        if report.run_id is not None:
            return HttpResponseRedirect(
                reverse("admin:jainam_prop_syncrun_change", args=[report.run_id])
            )
    return HttpResponseRedirect(reverse("admin:jainam_prop_syncrun_changelist"))


def refusal_text(refusal: SyncRefused) -> str:
    """The refusal of every exchange, in the service's words (they name no remedy)."""
    return " ".join(str(r) for r in (refusal, *refusal.others))


def _verdict(request: HttpRequest, report: SyncReport) -> HttpResponse:
    """The dry run's verdict, with the force form when a guard would refuse."""
    refusals = [] if report.refusal is None else [report.refusal, *report.refusal.others]
    rows = [
        {
            "exchange": exchange,
            "added": c.get("added", 0),
            "removed": c.get("removed", 0),
            "changed": c.get("changed", 0),
            "examples": report.examples.get(exchange, {}),
        }
        for exchange, c in sorted(report.changes.items())
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Dry run: what a sync would do",
        "opts": SyncRun._meta,
        "report": report,
        "rows": rows,
        "totals": report.totals(),
        "refusals": refusals,
        "vanishing": sum(r.vanished for r in refusals),
        "start_sync_url": reverse("admin:jainam_prop_syncrun_start_sync"),
    }
    return TemplateResponse(request, "admin/jainam_prop/syncrun/verdict.html", context)


def _skipped_by_reason(counts: Iterable[Any]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for source_counts in counts:
        if not isinstance(source_counts, dict):
            continue
        for reason, n in (source_counts.get("skipped_by_reason") or {}).items():
            totals[reason] = totals.get(reason, 0) + int(n)
    return totals
