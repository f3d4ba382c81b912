"""URL map: the admin and the OpenAlgo-compatible JSON API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("jainam_prop.urls")),
]
