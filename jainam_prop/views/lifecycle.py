"""OpenAlgo endpoints for the life of an order: modify, cancel, status, books, positions,
smart and basket orders, funds, holdings, expiry and the instruments download.

Thin faces over the services (``order_actions``, ``books``, ``smart``, ``instruments``);
the body parsing, the ``apikey`` and the common errors are ``views.api_view``'s. Broker
errors are worded here without the broker's URL or host (the server log has those):

| status | when |
|---|---|
| 404 | unknown order id (or an order of another client) |
| 409 | the order's state forbids the action (modify a filled order, cancel a cancelled one) |
| 502 | the broker refused the request (its description) or could not be reached |
| 504 | outcome unknown: a write's answer was lost and the order book does not show it |
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse

from jainam_prop.errors import (
    ApiKeyInvalid,
    OrderInvalid,
    OrderNotFound,
    OrderOutcomeUnknown,
    OrderStateConflict,
    RateLimited,
    XTSAuthError,
    XTSError,
    XTSNotSent,
    XTSRejected,
)
from jainam_prop.models import ApiKey
from jainam_prop.services import books, dealer, instruments, order_actions, smart
from jainam_prop.services.api_keys import authenticate_api_key
from jainam_prop.services.rate_limit import check_order_rate
from jainam_prop.views.api import (
    API_KEY_HEADER,
    OUTCOME_UNKNOWN,
    api_view,
    charge_lookup,
    scrub,
)

logger = logging.getLogger(__name__)


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"status": "error", "message": message, **extra}, status=status)


def broker_error_response(exc: XTSError) -> JsonResponse:
    """A broker failure in the caller's words: the broker's description, never its host."""
    if isinstance(exc, XTSAuthError):
        logger.error("Broker refused the session: %s", exc)
        return _error(
            502,
            "Broker refused the session: check the interactive key pair",
            reason="broker_session",
        )
    if isinstance(exc, XTSRejected):
        logger.warning("Broker rejected the request: %s", exc)
        return _error(
            502,
            scrub(f"Broker rejected the request: {exc.description or 'no reason given'}"),
            reason="broker_rejected",
        )
    logger.error("Broker unavailable: %s", exc)
    if isinstance(exc, XTSNotSent):
        message = "Broker unreachable: nothing was sent; retry later"
    else:
        message = "Broker unavailable or its answer unreadable; retry later"
    return _error(502, message, reason="broker_unavailable")


LifecycleView = Callable[[HttpRequest, dict[str, Any], ApiKey], JsonResponse]


def lifecycle_view(view: LifecycleView) -> Callable[[HttpRequest], JsonResponse]:
    """``api_view`` plus the order-life errors and host-free broker errors."""

    @wraps(view)
    def inner(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
        try:
            return view(request, body, api_key)
        except OrderNotFound as exc:
            return _error(404, str(exc), orderid=exc.order_id, reason="unknown_order")
        except OrderStateConflict as exc:
            return _error(
                409, str(exc), orderid=exc.order_id, order_status=exc.state, reason="order_state"
            )
        except OrderOutcomeUnknown:
            raise  # api_view words it (504, unique_id), as for placeorder
        except XTSError as exc:
            return broker_error_response(exc)

    return api_view(inner)


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != "apikey"}


def _written(result: Any, **extra: Any) -> JsonResponse:
    """The answer to a write: its order id and identifier (and whether the book told us)."""
    if result.status == "rejected":
        return _error(
            502,
            f"Broker rejected the order: {result.reason or 'no reason given'}",
            orderid=result.order_id,
            unique_id=result.identifier,
            reason="broker_rejected",
        )
    data: dict[str, Any] = {
        "status": "success",
        "orderid": result.order_id,
        "unique_id": result.identifier,
        **extra,
    }
    if result.reconciled:
        data["reconciled"] = True
        data["order_status"] = result.status
    return JsonResponse(data)


# --- order actions -----------------------------------------------------------------------------


@lifecycle_view
def modify_order(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    return _written(order_actions.modify_order_api(_fields(body), api_key_id=api_key.pk))


@lifecycle_view
def cancel_order(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    order_id = order_actions.order_id_field(body.get("orderid"))
    return _written(order_actions.cancel_order_api(order_id, api_key_id=api_key.pk))


@lifecycle_view
def cancel_all_orders(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    report = order_actions.cancel_all_orders_api()
    message = (
        f"Canceled {len(report.cancelled)} orders. Failed to cancel {len(report.failed)} orders."
    )
    if report.unknown:
        message += f" Outcome unknown for {len(report.unknown)} orders: check the order book."
    return JsonResponse(
        {
            "status": "success",
            "message": message,
            "canceled_orders": report.cancelled,
            "failed_cancellations": [
                {**failure, "reason": scrub(failure["reason"])} for failure in report.failed
            ],
            "unknown_cancellations": report.unknown,
        }
    )


@lifecycle_view
def order_status(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    order_id = order_actions.order_id_field(body.get("orderid"))
    return JsonResponse({"status": "success", "data": order_actions.order_status_api(order_id)})


# --- books -----------------------------------------------------------------------------------


@lifecycle_view
def order_book(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    return JsonResponse({"status": "success", "data": books.order_book(dealer.order_rows())})


@lifecycle_view
def trade_book(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    return JsonResponse({"status": "success", "data": books.trade_book(dealer.trade_rows())})


@lifecycle_view
def position_book(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    return JsonResponse({"status": "success", "data": books.position_book(dealer.position_rows())})


@lifecycle_view
def funds(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    return JsonResponse({"status": "success", "data": books.funds(dealer.balance_result())})


@lifecycle_view
def holdings(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    return JsonResponse({"status": "success", "data": books.holdings(dealer.holdings_result())})


# --- positions and smart orders ------------------------------------------------------------------


@lifecycle_view
def open_position(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    fields = _fields(body)
    for required in ("symbol", "exchange", "product"):
        if fields.get(required) in (None, ""):
            raise OrderInvalid(field=required, rule="is required")
    quantity = smart.open_position_api(fields)
    return JsonResponse({"status": "success", "quantity": str(quantity)})


@lifecycle_view
def close_position(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    legs = smart.close_positions_api()
    results = [{**leg.to_dict(), "message": scrub(leg.message)} for leg in legs]
    if not legs:
        return JsonResponse({"status": "success", "message": "No open positions to close"})
    failed = [leg for leg in legs if leg.status != "success"]
    if not failed:
        return JsonResponse(
            {"status": "success", "message": "All Open Positions Squared Off", "results": results}
        )
    unknown = sum(leg.status == "unknown" for leg in failed)
    message = (
        f"Squared off {len(legs) - len(failed)} of {len(legs)} orders; "
        f"{len(failed) - unknown} refused, {unknown} outcome unknown (check the order book)"
    )
    return _error(504 if unknown else 502, message, results=results)


@lifecycle_view
def place_smart_order(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    outcome = smart.smart_order_api(_fields(body), api_key_id=api_key.pk)
    if outcome.result is None:
        return JsonResponse(
            {
                "status": "success",
                "message": f"No action needed: the position is already {outcome.current}",
            }
        )
    return _written(outcome.result)


@lifecycle_view
def basket_order(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    checked = smart.check_basket(body.get("orders"), strategy=body.get("strategy"))
    for _ in checked:
        check_order_rate(api_key_id=api_key.pk)
    legs = smart.basket_order_api(checked)
    results = [
        {**leg.to_dict(), **({"message": scrub(leg.message)} if leg.message else {})}
        for leg in legs
    ]
    if any(leg.status == "success" for leg in legs):
        return JsonResponse({"status": "success", "results": results})
    if any(leg.status == "unknown" for leg in legs):
        return _error(504, f"{OUTCOME_UNKNOWN} (see results)", results=results)
    return _error(502, "Broker rejected every order of the basket", results=results)


# --- symbol services ---------------------------------------------------------------------------


@lifecycle_view
def expiry(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise OrderInvalid(field="symbol", rule="is required (the underlying, e.g. NIFTY)")
    kind = body.get("instrumenttype")
    instruments.check_expiry_request(exchange=body.get("exchange"), instrumenttype=kind)
    charge_lookup(api_key)
    dates = instruments.expiry_dates(
        symbol=symbol[:64],
        exchange=str(body.get("exchange") or ""),
        instrumenttype=str(kind or ""),
        broker=settings.JAINAM_BROKER,
    )
    return JsonResponse(
        {
            "status": "success",
            "message": f"Found {len(dates)} expiry dates for {symbol.strip().upper()} "
            f"{str(kind).lower()} in {str(body.get('exchange')).upper()}",
            "data": dates,
        }
    )


def instruments_download(request: HttpRequest) -> StreamingHttpResponse | JsonResponse:
    """``GET /api/v1/instruments?apikey=...&exchange=NFO&format=json|csv`` (streamed)."""
    if request.method not in ("GET", "HEAD"):
        response = _error(405, f"Method {request.method} not allowed: use GET with a query")
        response["Allow"] = "GET, HEAD"
        return response
    try:
        # OpenAlgo sends the key in the query; the X-API-KEY header keeps it out of access logs.
        api_key = authenticate_api_key(
            request.headers.get(API_KEY_HEADER) or request.GET.get("apikey")
        )
    except ApiKeyInvalid as exc:
        return _error(401, str(exc))
    output = (request.GET.get("format") or "json").strip().lower()
    if output not in ("json", "csv"):
        return _error(400, f"format: must be json or csv (got {output[:10]!r})", field="format")
    try:
        exchange = instruments.check_exchange(request.GET.get("exchange"))
    except OrderInvalid as exc:
        return _error(400, str(exc), field=exc.field)
    try:
        charge_lookup(api_key)  # only well-formed requests count, as for symbol and search
    except RateLimited as exc:
        limited = _error(429, str(exc), reason="rate_limited")
        limited["Retry-After"] = str(exc.retry_after)
        return limited
    broker = settings.JAINAM_BROKER
    if output == "csv":
        csv_response = StreamingHttpResponse(
            instruments.instruments_csv(exchange=exchange, broker=broker),
            content_type="text/csv",
        )
        name = f"instruments_{exchange or 'all'}.csv"
        csv_response["Content-Disposition"] = f'attachment; filename="{name}"'
        return csv_response
    return StreamingHttpResponse(
        instruments.instruments_json(exchange=exchange, broker=broker),
        content_type="application/json",
    )
