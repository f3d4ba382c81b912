"""Admin of API keys: create one (the key is shown once), see who uses what, revoke.

Creating needs ``jainam_prop.add_apikey``, revoking ``jainam_prop.change_apikey``; both go
through ``services.api_keys`` (the only place a plain key exists, for the length of one
response). The key hash is never shown. Users and groups own keys, so their admin searches
get the same bound as every other search here (``BoundedSearchMixin``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from jainam_prop.admin.common import MAX_SEARCH_LENGTH, BoundedSearchMixin
from jainam_prop.models import ApiKey
from jainam_prop.services.api_keys import create_api_key, revoke_api_key

__all__ = ["MAX_SEARCH_LENGTH", "ApiKeyAdmin", "ApiKeyCreateForm"]


class ApiKeyCreateForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        help_text="The key acts as this user; only active users can hold keys.",
    )
    name = forms.CharField(
        max_length=64,
        required=False,
        help_text="A label to recognise the key later, e.g. the strategy host.",
    )


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

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            revoke_api_key(api_key=api_key)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)

    def get_urls(self) -> list:
        return [
            path(
                "<int:key_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="jainam_prop_apikey_revoke",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        return super().changelist_view(request, {"title": "API keys", **(extra_context or {})})

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> Any:
        api_key = self.get_object(request, object_id)
        context = {**(extra_context or {})}
        if api_key is not None:
            context["title"] = f"API key {api_key.prefix}… of {api_key.user}"
            context["can_revoke"] = api_key.revoked_at is None and self.has_change_permission(
                request, api_key
            )
            context["revoke_url"] = reverse("admin:jainam_prop_apikey_revoke", args=[api_key.pk])
        return super().change_view(request, object_id, form_url, context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> Any:
        """Create a key: a small form, then a page that shows the key once (never stored)."""
        if not self.has_add_permission(request):
            raise PermissionDenied("Creating API keys needs the permission jainam_prop.add_apikey.")
        form = ApiKeyCreateForm(request.POST or None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Create an API key",
            "form": form,
            **(extra_context or {}),
        }
        if request.method == "POST" and form.is_valid():
            api_key, raw_key = create_api_key(
                user=form.cleaned_data["user"], name=form.cleaned_data["name"]
            )
            context.update(title="API key created", api_key=api_key, raw_key=raw_key)
            response = TemplateResponse(request, "admin/jainam_prop/apikey/created.html", context)
            response["Cache-Control"] = "no-store"  # the plain key must not stay in a cache
            return response
        return TemplateResponse(request, "admin/jainam_prop/apikey/create.html", context)

    def revoke_view(self, request: HttpRequest, key_id: int) -> HttpResponse:
        return _revoke(self, request, key_id)


def _revoke(model_admin: ApiKeyAdmin, request: HttpRequest, key_id: int) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    api_key = get_object_or_404(ApiKey, pk=key_id)
    if not model_admin.has_change_permission(request, api_key):
        raise PermissionDenied("Revoking API keys needs the permission jainam_prop.change_apikey.")
    revoke_api_key(api_key=api_key)
    model_admin.message_user(
        request, f"Revoked API key {api_key.prefix}… of {api_key.user}.", messages.SUCCESS
    )
    return HttpResponseRedirect(reverse("admin:jainam_prop_apikey_change", args=[api_key.pk]))


# Users own API keys: their search gets the same bound (Django's own admin, otherwise as is).
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class BoundedUserAdmin(BoundedSearchMixin, UserAdmin):
    pass


@admin.register(Group)
class BoundedGroupAdmin(BoundedSearchMixin, GroupAdmin):
    pass
