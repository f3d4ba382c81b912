"""Template filters of the admin pages: whole numbers with thousands separators."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def jp_int(value: object) -> str:
    """161975 -> '161,975' (independent of the locale settings); other values unchanged."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)
