"""Admin for API keys: list, see who uses what, revoke. The key hash is never shown.

Keys are created with ``manage.py create_api_key USERNAME`` (the only moment the plain key
exists); the admin cannot create them. Imported by ``jainam_prop.admin``.

Searches of API keys, users and groups (Django's word search: every word of the term adds one
``LIKE`` per search field) are cut to ``MAX_SEARCH_LENGTH`` characters first, as the
instrument search is: a pasted page of text would otherwise build a query that SQLite refuses
("Expression tree is too large") and PostgreSQL takes seconds to plan.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db.models import QuerySet
from django.http import HttpRequest

from jainam_prop.models import ApiKey
from jainam_prop.services.api_keys import revoke_api_key

# As the instrument search (jainam_prop.admin.MAX_SEARCH_LENGTH).
MAX_SEARCH_LENGTH = 64


class BoundedSearchMixin:
    """Cut the admin search term to ``MAX_SEARCH_LENGTH`` characters, and say so on the page."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, Any]:
        term = search_term.strip()
        if len(term) > MAX_SEARCH_LENGTH:
            term = term[:MAX_SEARCH_LENGTH]
            messages.warning(
                request,
                f"The search was cut to its first {MAX_SEARCH_LENGTH} characters: {term}",
            )
        return super().get_search_results(request, queryset, term)


@admin.register(ApiKey)
class ApiKeyAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("prefix_shown", "name", "user", "created_at", "last_used_at", "active")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    ordering = ("-created_at",)
    fields = ("prefix_shown", "name", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix_shown", "user", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke_selected",)

    @admin.display(description="key", ordering="prefix")
    def prefix_shown(self, obj: ApiKey) -> str:
        return f"{obj.prefix}…"

    @admin.display(boolean=True, description="active", ordering="revoked_at")
    def active(self, obj: ApiKey) -> bool:
        return obj.revoked_at is None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are created (and shown once) by manage.py create_api_key

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            revoke_api_key(api_key=api_key)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)


# Users own API keys: their search gets the same bound (Django's own admin, otherwise as is).
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class BoundedUserAdmin(BoundedSearchMixin, UserAdmin):
    pass


@admin.register(Group)
class BoundedGroupAdmin(BoundedSearchMixin, GroupAdmin):
    pass
