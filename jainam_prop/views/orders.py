"""Order endpoints: ``placeorder`` and ``splitorder`` (OpenAlgo request and answer)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from jainam_prop.errors import XTSRejected, XTSTimeout
from jainam_prop.models import ApiKey
from jainam_prop.services import place_order_api, split_order_api
from jainam_prop.services.orders import Slice, SplitResult
from jainam_prop.views.api import api_view, broker_message, scrub, unknown_message


def _order_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {field: value for field, value in body.items() if field != "apikey"}


@api_view
def place_order(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    order_id = place_order_api(
        _order_fields(body), broker=settings.JAINAM_BROKER, api_key_id=api_key.pk
    )
    return JsonResponse({"status": "success", "orderid": order_id})


@api_view
def split_order(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    result = split_order_api(
        _order_fields(body), broker=settings.JAINAM_BROKER, api_key_id=api_key.pk
    )
    answer: dict[str, Any] = {
        "status": "success" if result.complete else "error",
        "split_size": result.split_size,
        "total_quantity": result.total_quantity,
        "results": [_slice_json(piece) for piece in result.slices],
    }
    failed = result.failed
    if failed is None:
        return JsonResponse(answer)
    answer["message"] = _split_failure(result, failed)
    answer["reason"] = "outcome_unknown" if failed.status == "unknown" else "broker_rejected"
    status = 504 if failed.status == "unknown" else 502
    return JsonResponse(answer, status=status)


def _slice_json(piece: Slice) -> dict[str, Any]:
    item: dict[str, Any] = {
        "order_num": piece.order_num,
        "quantity": piece.quantity,
        "status": piece.status,
        "unique_id": piece.unique_id,
    }
    if piece.orderid is not None:
        item["orderid"] = piece.orderid
    if piece.status == "unknown":
        item["message"] = (
            scrub(broker_message(piece.error))
            if piece.error is not None and not isinstance(piece.error, XTSTimeout)
            else unknown_message()
        )
    elif piece.status == "error" and piece.error is not None:
        item["message"] = scrub(broker_message(piece.error))
    elif piece.status == "not_sent":
        item["message"] = "Not sent: an earlier slice failed"
    return item


def _split_failure(result: SplitResult, failed: Slice) -> str:
    live = result.live
    what = (
        "got no readable answer (it may be live)"
        if failed.status == "unknown"
        else "was rejected by the broker"
        if isinstance(failed.error, XTSRejected)
        else "could not be sent"
    )
    numbers = ", ".join(str(p.order_num) for p in live)
    live_text = (
        f"{'slice' if len(live) == 1 else 'slices'} {numbers} "
        f"{'is' if len(live) == 1 else 'are'} live "
        f"({sum(p.quantity for p in live)} of {result.total_quantity})"
        if live
        else "no slice is live"
    )
    not_sent = [p.order_num for p in result.slices if p.status == "not_sent"]
    span = f"{not_sent[0]}-{not_sent[-1]}" if len(not_sent) > 1 else "".join(map(str, not_sent))
    rest = (
        f"; {'slices' if len(not_sent) > 1 else 'slice'} {span} "
        f"{'were' if len(not_sent) > 1 else 'was'} not sent"
        if not_sent
        else ""
    )
    return f"Slice {failed.order_num} of {len(result.slices)} {what}; {live_text}{rest}"
