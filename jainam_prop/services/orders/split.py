"""Split one OpenAlgo order into slices the exchange accepts, and place them one by one.

OpenAlgo's ``splitorder``: ``quantity`` in slices of ``splitsize``, the last one the
remainder. Before the first slice is sent the whole request is checked: at most
``MAX_SLICES`` slices, every slice whole lots and under the freeze limit, the contract live,
prices on the tick grid. Then the slices go out in order, each with its own
``orderUniqueIdentifier``. The first slice that fails stops the run: the answer lists every
slice with its own outcome (placed, rejected, unknown, or not sent; a slice without a
readable answer is unknown, never failed), so a rejection mid-way
says exactly which slices are live. The request counts once against the key's order budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from django.conf import settings

from jainam_prop.errors import OrderInvalid, XTSError, XTSRejected
from jainam_prop.services.lookups import get_instrument
from jainam_prop.services.orders.fields import parse_order, parse_split_size
from jainam_prop.services.orders.place import (
    ReadyOrder,
    dealer_client_id,
    new_unique_id,
    send_order,
)
from jainam_prop.services.orders.pretrade import (
    check_live,
    check_lot_size,
    check_order,
    lot_multiple,
)
from jainam_prop.services.rate_limit import check_order_rate
from jainam_prop.vocabulary import today_ist
from jainam_prop.xts.interactive import InteractiveClient, interactive_client_from_settings

#: OpenAlgo's limit of orders per split request.
MAX_SLICES = 100

SliceStatus = Literal["success", "error", "unknown", "not_sent"]


@dataclass
class Slice:
    """One slice of a split order and what became of it."""

    order_num: int
    quantity: int
    unique_id: str
    status: SliceStatus = "not_sent"
    orderid: str | None = None
    error: XTSError | None = None


@dataclass
class SplitResult:
    split_size: int
    total_quantity: int
    slices: list[Slice] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(piece.status == "success" for piece in self.slices)

    @property
    def failed(self) -> Slice | None:
        """The slice that stopped the run (rejected or unknown), if any."""
        return next((s for s in self.slices if s.status in ("error", "unknown")), None)

    @property
    def live(self) -> list[Slice]:
        return [piece for piece in self.slices if piece.status == "success"]


def slice_quantities(*, total: int, split_size: int) -> list[int]:
    """``total`` in slices of ``split_size``, the remainder last (105 by 20: 5 x 20 + 5)."""
    full, remainder = divmod(total, split_size)
    return [split_size] * full + ([remainder] if remainder else [])


def split_order_api(
    order: Mapping[str, Any],
    *,
    broker: str | None = None,
    client: InteractiveClient | None = None,
    api_key_id: int | None = None,
    today: date | None = None,
) -> SplitResult:
    """Check the whole split request, then place its slices in order until one fails.

    Raises before anything is sent (as ``place_order_api``); once slices are sent, broker
    errors are recorded on the slices, never raised.
    """
    parsed = parse_order(order)
    split_size = min(parse_split_size(order), parsed.quantity)
    today = today or today_ist()
    instrument = get_instrument(
        parsed.symbol, parsed.exchange, broker=broker or settings.JAINAM_BROKER
    )
    quantities = slice_quantities(total=parsed.quantity, split_size=split_size)
    if len(quantities) > MAX_SLICES:
        lot = lot_multiple(instrument=instrument)
        needed = -(-parsed.quantity // MAX_SLICES)  # ceil: the smallest size for 100 slices
        smallest = -(-needed // lot) * lot  # in whole lots
        raise OrderInvalid(
            field="splitsize",
            rule=f"{parsed.quantity} in slices of {split_size} makes {len(quantities)} orders; "
            f"at most {MAX_SLICES} are placed per request (use a splitsize of at least "
            f"{smallest})",
            reason="too_many_slices",
        )
    check_live(instrument=instrument, today=today)
    check_lot_size(instrument=instrument, quantity=parsed.quantity, field="quantity")
    # Every slice is split_size but the last, the remainder: smaller, and whole lots too.
    check_order(
        instrument=instrument,
        quantity=split_size,
        pricetype=parsed.pricetype,
        price=parsed.price,
        trigger_price=parsed.trigger_price,
        today=today,
        quantity_field="splitsize",
    )
    ready = ReadyOrder(order=parsed, instrument=instrument, client_id=dealer_client_id())
    client = client or interactive_client_from_settings()
    if api_key_id is not None:
        check_order_rate(api_key_id=api_key_id)

    result = SplitResult(split_size=split_size, total_quantity=parsed.quantity)
    result.slices = [
        Slice(order_num=number, quantity=quantity, unique_id=new_unique_id())
        for number, quantity in enumerate(quantities, start=1)
    ]
    for piece in result.slices:
        try:
            piece.orderid = send_order(
                replace(ready, order=replace(ready.order, quantity=piece.quantity)),
                client=client,
                unique_id=piece.unique_id,
            )
            piece.status = "success"
        except XTSRejected as exc:  # the broker answered no (or refused the session)
            piece.status, piece.error = "error", exc
            break
        except XTSError as exc:  # no answer, a dropped or unreadable one: it may be live
            piece.status, piece.error = "unknown", exc
            break
    return result
