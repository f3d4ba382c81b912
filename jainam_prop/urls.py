"""JSON API routes (OpenAlgo shape). Views live in jainam_prop.views.

OpenAlgo clients post to ``/api/v1/<name>``; the trailing slash is optional. Monitoring
calls ``GET /healthz``.
"""

from django.urls import re_path

from jainam_prop import views

urlpatterns = [
    re_path(r"^api/v1/placeorder/?$", views.place_order, name="api-placeorder"),
    re_path(r"^api/v1/symbol/?$", views.symbol, name="api-symbol"),
    re_path(r"^api/v1/search/?$", views.search, name="api-search"),
    re_path(r"^healthz/?$", views.healthz, name="healthz"),
]
