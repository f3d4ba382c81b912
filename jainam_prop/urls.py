"""JSON API routes (OpenAlgo shape); views live in the jainam_prop.views package.

OpenAlgo clients post to ``/api/v1/<name>``; the trailing slash is optional. Monitoring
calls ``GET /healthz``. Reference: docs/api.md.
"""

from django.urls import re_path

from jainam_prop.views import health, lifecycle, orders, symbols

urlpatterns = [
    re_path(r"^api/v1/placeorder/?$", orders.place_order, name="api-placeorder"),
    re_path(r"^api/v1/splitorder/?$", orders.split_order, name="api-splitorder"),
    re_path(r"^api/v1/symbol/?$", symbols.symbol, name="api-symbol"),
    re_path(r"^api/v1/search/?$", symbols.search, name="api-search"),
    re_path(r"^healthz/?$", health.healthz, name="healthz"),
    *[
        re_path(rf"^api/v1/{name}/?$", view, name=f"api-{name}")
        for name, view in (
            ("modifyorder", lifecycle.modify_order),
            ("cancelorder", lifecycle.cancel_order),
            ("cancelallorder", lifecycle.cancel_all_orders),
            ("orderstatus", lifecycle.order_status),
            ("orderbook", lifecycle.order_book),
            ("tradebook", lifecycle.trade_book),
            ("positionbook", lifecycle.position_book),
            ("openposition", lifecycle.open_position),
            ("closeposition", lifecycle.close_position),
            ("placesmartorder", lifecycle.place_smart_order),
            ("basketorder", lifecycle.basket_order),
            ("funds", lifecycle.funds),
            ("holdings", lifecycle.holdings),
            ("expiry", lifecycle.expiry),
            ("instruments", lifecycle.instruments_download),
        )
    ],
]
