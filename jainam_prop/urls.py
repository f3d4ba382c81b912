"""JSON API routes (OpenAlgo shape); views live in the jainam_prop.views package.

OpenAlgo clients post to ``/api/v1/<name>``; the trailing slash is optional. Monitoring
calls ``GET /healthz``. Reference: docs/api.md.
"""

from django.urls import re_path

from jainam_prop.views import health, orders, symbols

urlpatterns = [
    re_path(r"^api/v1/placeorder/?$", orders.place_order, name="api-placeorder"),
    re_path(r"^api/v1/splitorder/?$", orders.split_order, name="api-splitorder"),
    re_path(r"^api/v1/symbol/?$", symbols.symbol, name="api-symbol"),
    re_path(r"^api/v1/search/?$", symbols.search, name="api-search"),
    re_path(r"^healthz/?$", health.healthz, name="healthz"),
]
