"""JSON API routes (OpenAlgo shape). Views live in jainam_prop.views.

OpenAlgo clients post to ``/api/v1/<name>``; the trailing slash is optional. Monitoring
calls ``GET /healthz``.
"""

from django.urls import re_path

from jainam_prop import views, views_lifecycle

urlpatterns = [
    re_path(r"^api/v1/placeorder/?$", views.place_order, name="api-placeorder"),
    re_path(r"^api/v1/symbol/?$", views.symbol, name="api-symbol"),
    re_path(r"^api/v1/search/?$", views.search, name="api-search"),
    re_path(r"^healthz/?$", views.healthz, name="healthz"),
    *[
        re_path(rf"^api/v1/{name}/?$", view, name=f"api-{name}")
        for name, view in (
            ("modifyorder", views_lifecycle.modify_order),
            ("cancelorder", views_lifecycle.cancel_order),
            ("cancelallorder", views_lifecycle.cancel_all_orders),
            ("orderstatus", views_lifecycle.order_status),
            ("orderbook", views_lifecycle.order_book),
            ("tradebook", views_lifecycle.trade_book),
            ("positionbook", views_lifecycle.position_book),
            ("openposition", views_lifecycle.open_position),
            ("closeposition", views_lifecycle.close_position),
            ("placesmartorder", views_lifecycle.place_smart_order),
            ("basketorder", views_lifecycle.basket_order),
            ("funds", views_lifecycle.funds),
            ("holdings", views_lifecycle.holdings),
            ("expiry", views_lifecycle.expiry),
            ("instruments", views_lifecycle.instruments_download),
        )
    ],
]
