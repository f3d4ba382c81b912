"""Charts drawn on the server as inline SVG: no script, nothing loaded from the internet.

Each chart carries a ``<title>`` and ``aria-label`` and a ``<title>`` per bar with its number;
the page renders the same numbers as a table next to it (for screen readers and tests). Every
value that reaches the SVG passes through ``format_html`` (escaped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Segment:
    """One piece of a bar: its value, the CSS class that colours it and the series name."""

    value: float
    css: str
    series: str


@dataclass(frozen=True)
class Bar:
    label: str
    segments: Sequence[Segment]
    text: str = ""  # written at the end of a horizontal bar (e.g. the total)

    @property
    def total(self) -> float:
        return sum(max(s.value, 0) for s in self.segments)


def _scale(bars: Sequence[Bar]) -> float:
    return max((bar.total for bar in bars), default=0) or 1


def horizontal_bars(
    *, title: str, bars: Sequence[Bar], width: int = 640, label_width: int = 90
) -> SafeString:
    """One stacked horizontal bar per row (e.g. one per exchange)."""
    row_height, gap, text_width = 22, 6, 90
    height = len(bars) * (row_height + gap) + gap
    plot = width - label_width - text_width
    scale = plot / _scale(bars)
    parts: list[str] = []
    for i, bar in enumerate(bars):
        y = gap + i * (row_height + gap)
        parts.append(
            format_html(
                '<text x="{}" y="{}" class="jp-axis" text-anchor="end">{}</text>',
                label_width - 6,
                y + row_height * 0.7,
                bar.label,
            )
        )
        x = float(label_width)
        for segment in bar.segments:
            w = max(segment.value, 0) * scale
            if w <= 0:
                continue
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" class="{}">'
                    "<title>{} {}: {}</title></rect>",
                    f"{x:.1f}",
                    y,
                    f"{max(w, 1.0):.1f}",
                    row_height,
                    segment.css,
                    bar.label,
                    segment.series,
                    f"{segment.value:,.0f}",
                )
            )
            x += w
        parts.append(
            format_html(
                '<text x="{}" y="{}" class="jp-axis">{}</text>',
                f"{x + 4:.1f}",
                y + row_height * 0.7,
                bar.text,
            )
        )
    return _svg(title=title, width=width, height=height, body=parts)


def column_bars(
    *, title: str, bars: Sequence[Bar], width: int = 640, height: int = 140, unit: str = ""
) -> SafeString:
    """One stacked vertical column per bar (e.g. one per sync run), oldest on the left."""
    top, bottom, left = 14, 4, 4
    plot_h = height - top - bottom
    maximum = _scale(bars)
    slot = (width - left) / max(len(bars), 1)
    column = max(slot * 0.7, 2)
    parts = [
        format_html(
            '<text x="{}" y="10" class="jp-axis">max {}{}</text>',
            left,
            f"{maximum:,.1f}".removesuffix(".0"),
            unit,
        ),
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" class="jp-baseline"/>',
            left,
            top + plot_h,
            width,
            top + plot_h,
        ),
    ]
    for i, bar in enumerate(bars):
        x = left + i * slot + (slot - column) / 2
        y = float(top + plot_h)
        for segment in bar.segments:
            h = max(segment.value, 0) / maximum * plot_h
            if h <= 0:
                continue
            h = max(h, 1.0)
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" class="{}">'
                    "<title>{} {}: {}{}</title></rect>",
                    f"{x:.1f}",
                    f"{y:.1f}",
                    f"{column:.1f}",
                    f"{h:.1f}",
                    segment.css,
                    bar.label,
                    segment.series,
                    f"{segment.value:,.1f}".removesuffix(".0"),
                    unit,
                )
            )
    return _svg(title=title, width=width, height=height, body=parts)


def _svg(*, title: str, width: int, height: int, body: Sequence[str]) -> SafeString:
    return format_html(
        '<svg class="jp-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" '
        'height="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}</svg>',
        title,
        width,
        height,
        width,
        height,
        title,
        mark_safe("".join(body)),  # noqa: S308 - every part was built by format_html
    )


def legend(items: Sequence[tuple[str, str]]) -> SafeString:
    """A legend: (css class, name) pairs as coloured squares with their names."""
    return format_html(
        '<ul class="jp-legend">{}</ul>',
        format_html_join("", '<li><span class="jp-swatch {}"></span>{}</li>', items),
    )
