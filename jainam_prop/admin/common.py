"""What every admin page of jainam-prop shares: the read-only base, the bounded search and the
way numbers are written (no trailing zeros).

Searches are cut to ``MAX_SEARCH_LENGTH`` characters before they reach the database: a pasted
page of text would otherwise build a query that SQLite refuses ("Expression tree is too
large") and PostgreSQL takes seconds to plan. The page says when it cut.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

# Longest search term used; longer input is cut (a 64-character prefix is already unique).
MAX_SEARCH_LENGTH = 64


def bounded_term(request: HttpRequest, search_term: str) -> str:
    """The stripped term, cut to ``MAX_SEARCH_LENGTH`` characters (with a warning if cut)."""
    term = search_term.strip()
    if len(term) > MAX_SEARCH_LENGTH:
        term = term[:MAX_SEARCH_LENGTH]
        messages.warning(
            request, f"The search was cut to its first {MAX_SEARCH_LENGTH} characters: {term}"
        )
    return term


if TYPE_CHECKING:
    # The mixin's super() is the ModelAdmin it is mixed into.
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _ModelAdminBase = object


class BoundedSearchMixin(_ModelAdminBase):
    """Django's own search, on a term cut to ``MAX_SEARCH_LENGTH`` characters."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, Any]:
        return super().get_search_results(request, queryset, bounded_term(request, search_term))


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete for anyone, superusers included: the rows are written only by
    the sync (instruments and the run history), never by hand. Their pages show no "History" link
    (templates ``change_form_object_tools.html``): nobody edits these rows in the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def plain_number(value: Decimal | int | None) -> str:
    """24500.0000 -> 24500, 0.050000 -> 0.05, None -> '-' (as the OpenAlgo symbol writes it)."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return format(value.normalize(), "f")
