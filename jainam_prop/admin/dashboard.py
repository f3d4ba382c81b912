"""The admin's index page as an operator's dashboard.

Instruments per exchange, the last syncs, health and the last failed or refused run, from ONE
selector (``services.dashboard.dashboard_summary``); charts are server-side SVG
(``admin.charts``) with the same numbers as tables. Django's app list stays below it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse

from jainam_prop.admin.charts import Bar, Segment, column_bars, horizontal_bars, legend
from jainam_prop.admin.run_display import (
    REMEDIES,
    STATUS_CSS,
    admin_error_text,
    change_totals,
    status_badge,
)
from jainam_prop.services.dashboard import Dashboard, dashboard_summary

INSTRUMENT_SERIES = (
    ("jp-ok", "live"),
    ("jp-warn", "expiring this week"),
    ("jp-dead-fill", "dead (expired, not yet removed)"),
)
CHANGE_SERIES = (("jp-ok", "added"), ("jp-bad", "removed"), ("jp-info", "changed"))


def instruments_chart(summary: Dashboard) -> Any:
    bars = [
        Bar(
            label=row.exchange,
            segments=[
                Segment(row.live, "jp-ok", "live"),
                Segment(row.expiring_this_week, "jp-warn", "expiring this week"),
                Segment(row.dead, "jp-dead-fill", "dead"),
            ],
            text=f"{row.total:,}",
        )
        for row in summary.exchanges
    ]
    return horizontal_bars(title="Instruments per exchange", bars=bars)


def run_rows(summary: Dashboard) -> list[dict[str, Any]]:
    rows = []
    for run in summary.runs:
        rows.append(
            {
                "run": run,
                "badge": status_badge(run),
                # A forced run is amber in the chart, whatever its status: it overrode a guard.
                "css": "jp-warn" if run.forced else STATUS_CSS.get(run.status, "jp-muted"),
                "duration": run.duration_seconds,
                "changes": change_totals(run),
                "label": f"run {run.pk} {run.started_at:%d %b %H:%M}",
            }
        )
    return rows


def runs_charts(rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    durations = column_bars(
        title="Duration of the last syncs, coloured by status (amber: forced)",
        bars=[
            Bar(row["label"], [Segment(row["duration"] or 0, row["css"], row["run"].status)])
            for row in rows
        ],
        unit=" s",
    )
    changes = column_bars(
        title="Instruments added, removed and changed by the last syncs",
        bars=[
            Bar(
                row["label"],
                [
                    Segment((row["changes"] or {}).get(key, 0), css, key)
                    for css, key in CHANGE_SERIES
                ],
            )
            for row in rows
        ],
    )
    return durations, changes


def dashboard_index(
    site: AdminSite, request: HttpRequest, extra_context: dict | None = None
) -> HttpResponse:
    summary = dashboard_summary(broker=settings.JAINAM_BROKER)
    rows = run_rows(summary)
    durations, changes = runs_charts(rows)
    problem = summary.last_problem
    context = {
        "title": "Dashboard",
        "summary": summary,
        "instruments_chart": instruments_chart(summary),
        "instruments_legend": legend(INSTRUMENT_SERIES),
        "run_rows": rows[::-1],  # the table: newest first
        "durations_chart": durations,
        "changes_chart": changes,
        "changes_legend": legend(CHANGE_SERIES),
        "health_rows": [
            (name, value, "jp-ok" if value == "ok" else "jp-bad")
            for name, value in summary.health.checks.items()
        ],
        "problem": problem,
        "problem_badge": status_badge(problem) if problem else "",
        "problem_error": admin_error_text(problem.error) if problem else "",
        "problem_remedy": REMEDIES.get(problem.status, "") if problem else "",
        "problem_resolved": bool(
            problem
            and summary.health.last_sync_at
            and summary.health.last_sync_at > problem.started_at
        ),
        **(extra_context or {}),
    }
    return AdminSite.index(site, request, extra_context=context)


def install(site: AdminSite = admin.site) -> None:
    """Make the dashboard the index page of ``site`` (Django's index, with more context)."""
    site.index_template = "admin/jainam_prop/dashboard.html"
    # A bound method, as AdminSite.get_urls expects, set on the instance. setattr: the stubs
    # declare ``index`` a method, which mypy refuses to see assigned; ``admin.site`` is a lazy
    # proxy, so the attribute must go through its __setattr__ (not the proxy's own __dict__).
    setattr(site, "index", dashboard_index.__get__(site))  # noqa: B010
