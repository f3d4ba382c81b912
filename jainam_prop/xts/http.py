"""HTTP transport to Symphony XTS: the only place that builds XTS URLs and headers.

One ``XTSHttp`` per API root (market data or interactive). It owns the ``requests`` session,
the (connect, read) timeouts, bounded retries with exponential backoff (tenacity) and the
mapping of XTS answers to typed errors:

- connection refused / dropped / truncated body, timeouts, HTTP 5xx -> ``XTSUnavailable``
  (``XTSTimeout`` for timeouts; ``XTSNotSent`` when no connection was ever opened, so XTS
  cannot have acted), retried only when the call is ``idempotent``;
- HTTP 401/403, an ``e-session-*`` error code, or HTTP 400 with the description "Invalid
  Token" (how the public Symphony SDK recognises an expired session) -> ``XTSAuthError``
  (never retried here: the caller logs in again once);
- other HTTP 4xx or a body ``{"type": "error"}`` -> ``XTSRejected`` with the broker's
  description and code (never retried);
- 2xx that is not a JSON object with ``type == "success"`` and a ``result`` -> ``XTSBadResponse``.

Order placement is NOT idempotent: a timed-out POST /orders may have reached the exchange, so
it is never retried automatically (a retry could place the order twice).

Secrets (keys, session tokens) are never logged or put in exception messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)
from urllib3.exceptions import NewConnectionError

from jainam_prop.errors import (
    XTSAuthError,
    XTSBadResponse,
    XTSNotSent,
    XTSRejected,
    XTSTimeout,
    XTSUnavailable,
)

logger = logging.getLogger(__name__)

USER_AGENT = "jainam-prop/0.1 (+python-requests)"


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts (seconds) and retry budget for one XTS root."""

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.5

    @classmethod
    def from_settings(cls) -> HttpPolicy:
        return cls(
            connect_timeout=settings.JAINAM_HTTP_CONNECT_TIMEOUT,
            read_timeout=settings.JAINAM_HTTP_READ_TIMEOUT,
            retries=settings.JAINAM_HTTP_RETRIES,
            backoff=settings.JAINAM_HTTP_BACKOFF,
        )


class XTSHttp:
    """JSON-over-HTTP calls to one XTS root, e.g. ``https://host:port/apibinarymarketdata``."""

    def __init__(self, *, root: str, policy: HttpPolicy | None = None) -> None:
        self.root = root.rstrip("/")
        self.policy = policy or HttpPolicy.from_settings()
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    def url(self, path: str) -> str:
        return f"{self.root}/{path.lstrip('/')}"

    def close(self) -> None:
        self._session.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        token: str | None = None,
        idempotent: bool = True,
        read_timeout: float | None = None,
    ) -> Any:
        """Send one request and return the ``result`` of a success body.

        Retries (``idempotent`` calls only) on ``XTSUnavailable``, up to ``policy.retries``
        extra attempts with exponential backoff.
        """
        attempts = 1 + (self.policy.retries if idempotent else 0)
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self.policy.backoff, max=10),
            retry=retry_if_exception_type(XTSUnavailable),
            before_sleep=before_sleep_log(logger, logging.WARNING),
            reraise=True,
        )
        return retrying(
            self._call_once,
            method,
            path,
            json=json,
            params=params,
            token=token,
            read_timeout=read_timeout,
        )

    def login(
        self, path: str, *, api_key: str, api_secret: str, api: str, settings_hint: str
    ) -> str:
        """Log in with an XTS key pair at ``path``; return the session token (not stored).

        ``api`` names the API in messages ("market-data", "interactive"); ``settings_hint``
        says which settings hold the key pair. A refused key pair is an ``XTSAuthError``; a
        success without a token is an ``XTSBadResponse``. The secret is in no message.
        """
        try:
            result = self.call(
                "POST",
                path,
                json={"appKey": api_key, "secretKey": api_secret, "source": "WEBAPI"},
            )
        except XTSRejected as exc:  # XTS answers a wrong key pair with HTTP 400 e-user-0005
            raise XTSAuthError(
                f"XTS refused the {api} login: {exc}. Check {settings_hint}.",
                code=exc.code,
                http_status=exc.http_status,
            ) from exc
        token = result.get("token") if isinstance(result, dict) else None
        if not token:
            raise XTSBadResponse(f"XTS {api} login succeeded but returned no session token")
        logger.info("Logged in to the XTS %s API at %s", api, self.root)
        return str(token)

    def _call_once(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None,
        params: dict[str, Any] | None,
        token: str | None,
        read_timeout: float | None,
    ) -> Any:
        url = self.url(path)
        headers = {"Authorization": token} if token else {}
        timeout = (self.policy.connect_timeout, read_timeout or self.policy.read_timeout)
        where = f"{method} {url}"
        try:
            response = self._session.request(
                method, url, json=json, params=params, headers=headers, timeout=timeout
            )
            body_bytes = response.content  # reads the whole body: truncation surfaces here
        except requests.ConnectTimeout as exc:
            raise XTSNotSent(
                f"XTS did not accept a connection for {where} within {timeout[0]:g}s. "
                "Check JAINAM_*_URL, the network and the broker's status."
            ) from exc
        except requests.Timeout as exc:
            raise XTSTimeout(
                f"XTS did not answer {where} within {timeout[1]:g}s (timeout). "
                "Check the broker's status or raise JAINAM_HTTP_READ_TIMEOUT."
            ) from exc
        except requests.RequestException as exc:
            error_class = XTSNotSent if _never_connected(exc) else XTSUnavailable
            raise error_class(
                f"XTS unreachable for {where}: {type(exc).__name__}: {exc}. "
                "Check JAINAM_*_URL, the network and the broker's status."
            ) from exc

        status = response.status_code
        body = _json_or_none(body_bytes)
        if status >= 500:
            raise XTSUnavailable(
                f"XTS answered HTTP {status} for {where}: {_describe(body, body_bytes)}"
            )
        if (isinstance(body, dict) and body.get("type") == "error") or 400 <= status < 500:
            code = str(body.get("code", "")) if isinstance(body, dict) else ""
            description = _describe(body, body_bytes)
            rejected_class = XTSAuthError if _session_refused(status, code, body) else XTSRejected
            raise rejected_class(
                f"XTS rejected {where} (HTTP {status}, code {code or '-'}): {description}",
                code=code,
                http_status=status,
                description=description,
            )
        if not isinstance(body, dict) or body.get("type") != "success" or "result" not in body:
            raise XTSBadResponse(
                f"XTS answered HTTP {status} for {where} with a body that is not an XTS success "
                f"object: {body_bytes[:200]!r}"
            )
        return body["result"]


def _never_connected(exc: requests.RequestException) -> bool:
    """The connection was never opened (refused, no route, name not resolved)."""
    if not isinstance(exc, requests.ConnectionError) or not exc.args:
        return False
    reason = getattr(exc.args[0], "reason", exc.args[0])
    return isinstance(reason, NewConnectionError)


def _session_refused(status: int, code: str, body: Any) -> bool:
    """The broker refused the session token (not the request itself)."""
    if status in (401, 403) or code.startswith("e-session"):
        return True
    description = str(body.get("description", "")) if isinstance(body, dict) else ""
    return status == 400 and description.strip().lower() == "invalid token"


def _json_or_none(raw: bytes) -> Any:
    try:
        # types-requests omits compat.json (the json module requests itself decodes with).
        return requests.compat.json.loads(raw)  # type: ignore[attr-defined]
    except ValueError:
        return None


def _describe(body: Any, raw: bytes) -> str:
    if isinstance(body, dict):
        return str(body.get("description") or body.get("message") or body)[:500]
    return raw[:200].decode("utf-8", "replace") or "(empty body)"
