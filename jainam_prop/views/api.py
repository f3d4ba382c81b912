"""What every OpenAlgo JSON endpoint shares: one decorator, one error mapping.

``@api_view`` (POST only) reads the JSON body (``Content-Length`` or chunked, at most
``MAX_BODY_BYTES``), authenticates the API key (JSON ``apikey`` or the ``X-API-KEY`` header;
never the URL, which access logs record), calls the view with ``(request, body, api_key)``
and turns every domain error into ``{"status": "error", "message": ..., "reason": ...}``
with its HTTP status, in ``error_response`` and nowhere else. Every refusal is logged once
with a stable ``reason`` key (``refused endpoint=... reason=...``). No error body carries a
broker URL or host (they stay in the server log). Endpoints and statuses: docs/api.md.

View modules next to this one use ``string_field``, ``exchange_field`` (and their
``optional_`` forms) and ``charge_lookup``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from jainam_prop.errors import (
    ApiKeyInvalid,
    ContractExpired,
    MissingSetting,
    NotWholeLots,
    OffTickPrice,
    OrderInvalid,
    OrderOutcomeUnknown,
    OverFreezeLimit,
    RateLimited,
    SymbolNotFound,
    XTSAuthError,
    XTSError,
    XTSRejected,
    XTSTimeout,
)
from jainam_prop.models import ApiKey
from jainam_prop.services.api_keys import authenticate_api_key
from jainam_prop.services.rate_limit import check_lookup_rate
from jainam_prop.vocabulary import EXCHANGES

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
API_KEY_HEADER = "X-API-KEY"
_API_KEY_META = "HTTP_X_API_KEY"
MAX_TEXT_LENGTH = 128
SPLIT_ENDPOINT = "/api/v1/splitorder"
# C0 control characters (NUL, newline, ...), DEL, and unpaired UTF-16 surrogates (a JSON
# "\ud800" escape decodes to one): no OpenAlgo field holds them, PostgreSQL cannot store NUL,
# and a surrogate cannot be encoded to UTF-8 for the database, the cache or the broker.
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_BROKER_URL_SETTINGS = ("JAINAM_MARKET_URL", "JAINAM_INTERACTIVE_URL")


class BadRequest(Exception):
    """The request itself is unusable (not JSON, too big, a field of the wrong type)."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        field: str | None = None,
        reason: str = "invalid_field",
    ) -> None:
        self.status = status
        self.field = field
        self.reason = reason
        super().__init__(message)


ApiView = Callable[[HttpRequest, dict[str, Any], ApiKey], JsonResponse]


def api_view(view: ApiView) -> Callable[[HttpRequest], JsonResponse]:
    """POST-only JSON view authenticated by its API key; every domain error rendered."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest) -> JsonResponse:
        try:
            if request.method != "POST":
                raise BadRequest(
                    f"Method {request.method} not allowed: use POST with a JSON body",
                    status=405,
                    reason="method_not_allowed",
                )
            if "apikey" in request.GET:
                raise BadRequest(
                    "apikey must not be sent in the URL (URLs are written to access logs): "
                    f"send it in the JSON body as 'apikey' or in the {API_KEY_HEADER} header",
                    field="apikey",
                    reason="apikey_in_url",
                )
            body = read_json(request)
            api_key = authenticate_api_key(_api_key_of(request, body))
            return view(request, body, api_key)
        except Exception as exc:
            return error_response(exc, endpoint=view.__name__)

    return wrapper


def error_response(exc: BaseException, *, endpoint: str) -> JsonResponse:
    """The one mapping of errors to HTTP answers; logs each refusal with its reason key."""
    status, reason, body, headers = _describe(exc)
    body["message"] = scrub(body["message"])
    body["reason"] = reason
    log = logger.warning if status >= 500 else logger.info
    log(
        "refused endpoint=%s status=%d reason=%s field=%s",
        endpoint,
        status,
        reason,
        body.get("field", "-"),
    )
    response = JsonResponse({"status": "error", **body}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _describe(exc: BaseException) -> tuple[int, str, dict[str, Any], dict[str, str]]:
    """(status, reason, body, headers) of an error; unknown errors propagate."""
    if isinstance(exc, BadRequest):
        body: dict[str, Any] = {"message": str(exc)}
        if exc.field:
            body["field"] = exc.field
        headers = {"Allow": "POST"} if exc.status == 405 else {}
        return exc.status, exc.reason, body, headers
    if isinstance(exc, ApiKeyInvalid):
        return 401, "invalid_api_key", {"message": str(exc)}, {}
    if isinstance(exc, OrderInvalid):
        return 400, exc.reason, refusal_body(exc), {}
    if isinstance(exc, SymbolNotFound):
        body = {"message": str(exc), "field": "symbol", "suggestions": list(exc.suggestions)}
        return 404, "unknown_symbol", body, {}
    if isinstance(exc, RateLimited):
        return 429, "rate_limited", {"message": str(exc)}, {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, MissingSetting):
        logger.error("API not configured: %s", exc)
        return 503, "not_configured", {"message": f"Broker connection not configured: {exc}"}, {}
    if isinstance(exc, ValueError):  # the services' contract: a bad argument from the caller
        return 400, "invalid_field", {"message": str(exc)}, {}
    if isinstance(exc, XTSError):
        return _broker_error(exc)
    raise exc


def _broker_error(exc: XTSError) -> tuple[int, str, dict[str, Any], dict[str, str]]:
    """Broker failures in the broker's words, never with our request line (URL, host)."""
    if isinstance(exc, OrderOutcomeUnknown):
        logger.error("Order outcome unknown (uid %s): %s", exc.unique_id, exc)
        body = {"message": unknown_message(exc.unique_id), "unique_id": exc.unique_id}
        order_id = getattr(exc, "order_id", None)  # an OutcomeUnknown of a modify or cancel
        if order_id:
            body["orderid"] = order_id
        return 504, "outcome_unknown", body, {}
    if isinstance(exc, XTSTimeout):
        logger.error("Broker timeout: %s", exc)
        return 504, "broker_timeout", {"message": unknown_message()}, {}
    if isinstance(exc, XTSAuthError):
        logger.error("Broker refused the session: %s", exc)
        return 502, "broker_session", {"message": broker_message(exc)}, {}
    if isinstance(exc, XTSRejected):
        logger.warning("Broker rejected the request: %s", exc)
        return 502, "broker_rejected", {"message": broker_message(exc)}, {}
    logger.error("Broker unavailable: %s", exc)
    return 502, "broker_unavailable", {"message": broker_message(exc)}, {}


def broker_message(exc: XTSError) -> str:
    """One sentence for a user about a broker failure (no URL, host or request line)."""
    if isinstance(exc, XTSAuthError):
        return (
            "Broker refused the session: check the interactive key pair "
            "(JAINAM_INTERACTIVE_API_KEY / JAINAM_INTERACTIVE_API_SECRET). "
            f"The broker said: {exc.description}"
        )
    if isinstance(exc, XTSRejected):
        return f"Broker rejected the order: {exc.description}"
    return (
        f"Broker unavailable ({type(exc).__name__}): the broker could not be reached or did "
        "not answer properly, so the order may or may not have reached the exchange: check "
        "the order book before sending it again (the server log has the details)"
    )


OUTCOME_UNKNOWN = "outcome unknown: the order may be live; check the order book"


def unknown_message(unique_id: str | None = None) -> str:
    """The words of a lost answer: look for ``unique_id`` in the order book before resending."""
    named = f" for unique_id {unique_id}" if unique_id else ""
    return f"{OUTCOME_UNKNOWN}{named} before sending it again"


def refusal_body(exc: OrderInvalid) -> dict[str, Any]:
    """An order refusal: the field, the rule and the fix, with the numbers behind them."""
    body: dict[str, Any] = {"field": exc.field}
    if isinstance(exc, ContractExpired):
        fix = (
            f"trade a live contract: {', '.join(exc.alternatives)}"
            if exc.alternatives
            else "no live contract of the same underlying is stored"
        )
        body.update(expiry=exc.expiry.isoformat(), suggestions=list(exc.alternatives))
    elif isinstance(exc, OffTickPrice):
        nearest = [_number(price) for price in exc.nearest]
        fix = f"send {' or '.join(str(p) for p in nearest)}"
        body.update(tick_size=_number(exc.tick_size), valid_prices=nearest)
    elif isinstance(exc, OverFreezeLimit):
        fix = (
            f"use a splitsize of at most {exc.max_quantity}"
            if exc.field == "splitsize"
            else f"send at most {exc.max_quantity} per order, or the whole quantity through "
            f"{SPLIT_ENDPOINT} with a splitsize of at most {exc.max_quantity}"
        )
        body.update(freeze_qty=exc.limit, max_quantity=exc.max_quantity)
    elif isinstance(exc, NotWholeLots):
        fix = f"send {' or '.join(str(q) for q in exc.nearest)}"
        body.update(lot_size=exc.lot_size, valid_quantities=list(exc.nearest))
    else:
        fix = ""
    body["message"] = f"{exc}. Fix: {fix}" if fix else str(exc)
    return body


def scrub(message: str) -> str:
    """``message`` without any URL, and without the configured broker hosts."""
    hosts: set[str] = set()
    for name in _BROKER_URL_SETTINGS:
        url = getattr(settings, name, "") or ""
        if url:
            message = message.replace(url, "<broker>")
            parts = urlsplit(url)
            hosts.update(h for h in (parts.netloc, parts.hostname) if h)
    message = _URL.sub("<broker>", message)
    for host in sorted(hosts, key=len, reverse=True):
        message = message.replace(host, "<broker>")
    return message


def _number(value: Any) -> int | float:
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


# --- request reading -------------------------------------------------------------------------


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The JSON object of the body; chunked bodies (no Content-Length) are read too."""
    raw = _raw_body(request)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest(
            "Request body must be valid JSON (an object of fields)", reason="bad_json"
        ) from None
    if not isinstance(body, dict):
        raise BadRequest(
            f"Request body must be a JSON object of fields, not {type(body).__name__}",
            reason="bad_json",
        )
    _check_characters(body)
    return body


def _raw_body(request: HttpRequest) -> bytes:
    too_large = BadRequest(
        f"Request body too large: at most {MAX_BODY_BYTES} bytes", status=413, reason="too_large"
    )
    declared = request.META.get("CONTENT_LENGTH")
    try:
        length = int(declared) if declared else None
    except ValueError:
        length = None
    if length is not None and length > MAX_BODY_BYTES:
        raise too_large
    if length is None and _is_chunked(request):
        # WSGI servers that decode chunked bodies (gunicorn) say so with
        # wsgi.input_terminated; Django reads Content-Length bytes only, i.e. none.
        raw = request.META["wsgi.input"].read(MAX_BODY_BYTES + 1)
    else:
        raw = request.body
    if len(raw) > MAX_BODY_BYTES:
        raise too_large
    return raw


def _is_chunked(request: HttpRequest) -> bool:
    return (
        bool(request.META.get("wsgi.input_terminated"))
        and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


def _api_key_of(request: HttpRequest, body: dict[str, Any]) -> object:
    in_body = body.get("apikey")
    in_header = request.META.get(_API_KEY_META)
    if in_body not in (None, "") and in_header and in_body != in_header:
        raise ApiKeyInvalid(
            f"Two different API keys: the JSON 'apikey' and the {API_KEY_HEADER} header differ"
        )
    return in_body if in_body not in (None, "") else in_header


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
                raise BadRequest(
                    f"{where}must not contain control characters or unpaired surrogates "
                    f"(found U+{ord(found.group()):04X} at position {found.start()})",
                    field=field or "body",
                    reason="control_character",
                )


# --- fields of lookup endpoints --------------------------------------------------------------


def string_field(body: dict[str, Any], field: str) -> str:
    """A required text field, trimmed."""
    value = optional_string_field(body, field)
    if value is None:
        raise BadRequest(f"{field}: is required", field=field)
    return value


def optional_string_field(body: dict[str, Any], field: str) -> str | None:
    """A text field, trimmed; None when absent or blank."""
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{field}: must be a string (got {type(value).__name__})", field=field)
    if len(value) > MAX_TEXT_LENGTH:
        raise BadRequest(f"{field}: must be at most {MAX_TEXT_LENGTH} characters", field=field)
    return value.strip()


def exchange_field(body: dict[str, Any]) -> str:
    """A required OpenAlgo exchange, upper-cased."""
    exchange = optional_exchange_field(body)
    if exchange is None:
        raise BadRequest("exchange: is required", field="exchange")
    return exchange


def optional_exchange_field(body: dict[str, Any]) -> str | None:
    exchange = optional_string_field(body, "exchange")
    if exchange is None:
        return None
    if exchange.upper() not in EXCHANGES:
        raise BadRequest(
            f"exchange: must be one of {', '.join(EXCHANGES)} (got {exchange[:20]!r})",
            field="exchange",
        )
    return exchange.upper()


def charge_lookup(api_key: ApiKey) -> None:
    """Count one well-formed lookup call against the key's lookup budget."""
    check_lookup_rate(api_key_id=api_key.pk)
