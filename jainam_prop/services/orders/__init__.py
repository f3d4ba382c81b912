"""Order service: OpenAlgo orders checked against the master, then placed on XTS.

- ``fields``: OpenAlgo order fields read and checked (no lookup).
- ``pretrade``: the exchange's rules from the instrument record (dead contract, lots,
  freeze limit, tick), shared by every order endpoint.
- ``place``: one order, mapped to XTS and sent once.
- ``split``: one order in slices under the freeze limit.
"""

from .fields import OpenAlgoOrder, parse_order, parse_split_size
from .place import (
    ORDER_TYPE_BY_PRICETYPE,
    PRODUCT_TYPE_BY_PRODUCT,
    new_unique_id,
    place_order_api,
    to_xts_order,
)
from .pretrade import (
    check_freeze_limit,
    check_live,
    check_lot_size,
    check_order,
    check_tick,
    freeze_limit,
    max_quantity,
)
from .split import MAX_SLICES, Slice, SplitResult, split_order_api

__all__ = [
    "MAX_SLICES",
    "ORDER_TYPE_BY_PRICETYPE",
    "PRODUCT_TYPE_BY_PRODUCT",
    "OpenAlgoOrder",
    "Slice",
    "SplitResult",
    "check_freeze_limit",
    "check_live",
    "check_lot_size",
    "check_order",
    "check_tick",
    "freeze_limit",
    "max_quantity",
    "new_unique_id",
    "parse_order",
    "parse_split_size",
    "place_order_api",
    "split_order_api",
    "to_xts_order",
]
