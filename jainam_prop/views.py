"""OpenAlgo-compatible JSON API: place orders, look up and search instruments.

Thin faces: read the JSON body, authenticate the ``apikey`` it carries, call one service and
render ``{"status": "success", ...}`` or ``{"status": "error", "message": ...}``.

| status | when |
|---|---|
| 400 | malformed JSON, wrong types, control characters, a field breaking a rule (``field``) |
| 401 | ``apikey`` missing, unknown or revoked |
| 404 | unknown symbol (``suggestions`` lists near matches) |
| 405 | not a POST |
| 413 | body over 16 KiB |
| 429 | order rate limit of the key exceeded (``Retry-After``); nothing sent |
| 502 | the broker rejected the order or could not be reached (its description included) |
| 503 | the broker connection is not configured (the missing variable is named) |
| 504 | the broker did not answer in time (the order may still have been placed) |

``GET /healthz`` (no key): 200 ``{"status": "ok", ...}`` or 503 ``{"status": "unhealthy",
"reasons": [...]}`` (``services.health.check_health``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from jainam_prop.errors import (
    ApiKeyInvalid,
    MissingSetting,
    OrderInvalid,
    RateLimited,
    SymbolNotFound,
    XTSAuthError,
    XTSError,
    XTSRejected,
    XTSTimeout,
)
from jainam_prop.master_parser import EXCHANGES
from jainam_prop.models import ApiKey
from jainam_prop.services import get_instrument, place_order_api, search_instruments
from jainam_prop.services.api_keys import authenticate_api_key
from jainam_prop.services.health import check_health
from jainam_prop.services.lookups import Instrument
from jainam_prop.services.rate_limit import check_order_rate

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
SEARCH_LIMIT = 50
# C0 control characters (NUL, newline, ...), DEL, and unpaired UTF-16 surrogates (a JSON
# "\ud800" escape decodes to one): no OpenAlgo field holds them, PostgreSQL cannot store NUL,
# and a surrogate cannot be encoded to UTF-8 for the database, the cache or the broker.
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


class _BadRequest(Exception):
    def __init__(self, message: str, *, status: int = 400, field: str | None = None) -> None:
        self.status = status
        self.field = field
        super().__init__(message)


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"status": "error", "message": message, **extra}, status=status)


def _read_json(request: HttpRequest) -> dict[str, Any]:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        raise _BadRequest(f"Request body too large: at most {MAX_BODY_BYTES} bytes", status=413)
    raw = request.body
    if len(raw) > MAX_BODY_BYTES:
        raise _BadRequest(f"Request body too large: at most {MAX_BODY_BYTES} bytes", status=413)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise _BadRequest("Request body must be valid JSON (an object of fields)") from None
    if not isinstance(body, dict):
        raise _BadRequest(
            f"Request body must be a JSON object of fields, not {type(body).__name__}"
        )
    _check_characters(body)
    return body


def _check_characters(body: dict[str, Any]) -> None:
    """Refuse any text in the body (keys and values, at any depth) with a forbidden character."""
    for key, value in body.items():
        field = key if isinstance(key, str) and not _FORBIDDEN_CHARACTERS.search(key) else None
        pending: list[Any] = [key, value]
        while pending:
            item = pending.pop()
            if isinstance(item, dict):
                pending.extend(item.keys())
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, str) and (found := _FORBIDDEN_CHARACTERS.search(item)):
                where = f"{field}: " if field else "a field name "
                raise _BadRequest(
                    f"{where}must not contain control characters or unpaired surrogates "
                    f"(found U+{ord(found.group()):04X} at position {found.start()})",
                    field=field or "body",
                )


def _string_field(body: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _BadRequest(f"{field}: is required", field=field)
        return None
    if not isinstance(value, str):
        raise _BadRequest(f"{field}: must be a string (got {type(value).__name__})", field=field)
    if len(value) > 128:
        raise _BadRequest(f"{field}: must be at most 128 characters", field=field)
    return value.strip()


def _exchange_field(body: dict[str, Any], *, required: bool) -> str | None:
    exchange = _string_field(body, "exchange", required=required)
    if exchange is None:
        return None
    if exchange.upper() not in EXCHANGES:
        raise _BadRequest(
            f"exchange: must be one of {', '.join(EXCHANGES)} (got {exchange[:20]!r})",
            field="exchange",
        )
    return exchange.upper()


ApiView = Callable[[HttpRequest, dict[str, Any], ApiKey], JsonResponse]


def api_view(view: ApiView) -> Callable[[HttpRequest], JsonResponse]:
    """POST-only JSON view authenticated by the body's ``apikey``; domain errors rendered."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest) -> JsonResponse:
        if request.method != "POST":
            response = _error(405, f"Method {request.method} not allowed: use POST with JSON")
            response["Allow"] = "POST"
            return response
        try:
            body = _read_json(request)
            api_key = authenticate_api_key(body.get("apikey"))
            return view(request, body, api_key)
        except _BadRequest as exc:
            extra = {"field": exc.field} if exc.field else {}
            return _error(exc.status, str(exc), **extra)
        except ApiKeyInvalid as exc:
            return _error(401, str(exc))
        except OrderInvalid as exc:
            return _error(400, str(exc), field=exc.field)
        except SymbolNotFound as exc:
            return _error(404, str(exc), suggestions=list(exc.suggestions))
        except ValueError as exc:  # the services' contract: a bad argument from the caller
            return _error(400, str(exc))
        except RateLimited as exc:
            response = _error(429, str(exc))
            response["Retry-After"] = str(exc.retry_after)
            return response
        except MissingSetting as exc:
            logger.error("Order API not configured: %s", exc)
            return _error(503, f"Broker connection not configured: {exc}")
        except XTSTimeout as exc:
            logger.error("Broker timeout: %s", exc)
            return _error(
                504,
                "The broker did not answer in time; the order may still have reached the "
                f"exchange: check the order book before placing it again. ({exc})",
            )
        except XTSAuthError as exc:
            logger.error("Broker refused the session: %s", exc)
            return _error(502, f"Broker refused the session: {exc}")
        except XTSRejected as exc:
            logger.warning("Broker rejected the request: %s", exc)
            return _error(502, f"Broker rejected the order: {exc}")
        except XTSError as exc:
            logger.error("Broker unavailable: %s", exc)
            return _error(502, f"Broker unavailable: {exc}")

    return wrapper


@api_view
def place_order(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    check_order_rate(api_key_id=api_key.pk)
    order = {field: value for field, value in body.items() if field != "apikey"}
    order_id = place_order_api(order, broker=settings.JAINAM_BROKER)
    return JsonResponse({"status": "success", "orderid": order_id})


@api_view
def symbol(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    symbol_text = _string_field(body, "symbol")
    exchange = _exchange_field(body, required=True)
    instrument = get_instrument(symbol_text, exchange, broker=settings.JAINAM_BROKER)
    return JsonResponse({"status": "success", "data": instrument_json(instrument)})


@api_view
def search(request: HttpRequest, body: dict[str, Any], api_key: ApiKey) -> JsonResponse:
    query = _string_field(body, "query")
    exchange = _exchange_field(body, required=False)
    found = search_instruments(
        query, exchange=exchange, broker=settings.JAINAM_BROKER, limit=SEARCH_LIMIT
    )
    return JsonResponse(
        {
            "status": "success",
            "message": f"Found {len(found)} matching symbols",
            "data": [instrument_json(instrument) for instrument in found],
        }
    )


def instrument_json(instrument: Instrument) -> dict[str, Any]:
    """An instrument in OpenAlgo's symbol-API shape (``token`` a string, expiry DD-MMM-YY)."""
    expiry = instrument.expiry
    return {
        "symbol": instrument.symbol,
        "brsymbol": instrument.brsymbol,
        "name": instrument.name,
        "exchange": instrument.exchange,
        "brexchange": instrument.brexchange,
        "token": str(instrument.token),
        "expiry": f"{expiry.day:02d}-{_MONTHS[expiry.month - 1]}-{expiry.year % 100:02d}"
        if expiry
        else "",
        "strike": float(instrument.strike) if instrument.strike is not None else -1.0,
        "lotsize": int(instrument.lot_size),
        "tick_size": float(instrument.tick_size),
        "instrumenttype": instrument.instrument_type,
    }


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness for load balancers and monitoring: no authentication, no secrets."""
    report = check_health(broker=settings.JAINAM_BROKER)
    return JsonResponse(report.to_dict(), status=200 if report.ok else 503)
