"""XTS interactive API for a dealer (prop) account: session, order writes, books, positions.

Every dealer call names the client it acts for (``clientID``): in the JSON body of writes,
in the query string of reads. The caller passes it; this module only speaks HTTP.

One interactive session serves every process: the session token lives in the shared Django
cache (Redis in production), so gunicorn workers and management commands reuse one login.
A short lock in the same cache (``cache.add``, atomic on Redis and on the in-process cache)
lets exactly one caller log in while the others wait for its token, so a burst of orders on
an empty or expired session does not stampede ``/user/session``.

When the broker refuses the token (``XTSAuthError``: HTTP 401/403, ``e-session-*``, or HTTP
400 "Invalid Token"), the client logs in again once (unless another caller already replaced
the refused token) and retries the request once: a refused token means nothing was done.

Order writes (place, modify, cancel) are sent with ``idempotent=False``: a timed-out or
dropped write may already have reached the exchange, so it is never retried automatically;
the order service reconciles it against the order book instead. Reads are retried.

If the cache itself fails (Redis down), the client falls back to a session kept in this
process: orders keep flowing, at the cost of one login per process.
:mod:`jainam_prop.cache_outage` logs the outage once (and its end once) and backs off.

Secrets (the key pair, the session token) are never logged or put in exception messages.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache

from jainam_prop import cache_outage
from jainam_prop.errors import (
    MissingSetting,
    XTSAuthError,
    XTSBadResponse,
    XTSTimeout,
)
from jainam_prop.xts.http import HttpPolicy, XTSHttp

logger = logging.getLogger(__name__)

# XTS sessions last about a trading day; an earlier expiry is handled by the re-login.
SESSION_TTL_SECONDS = 8 * 3600
LOGIN_POLL_SECONDS = 0.05


class InteractiveClient:
    """Places orders through one XTS interactive root with one key pair."""

    def __init__(
        self,
        *,
        root: str,
        api_key: str,
        api_secret: str,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.http = XTSHttp(root=root, policy=policy)
        self._api_key = api_key
        self._api_secret = api_secret
        # The cache keys name the session without revealing the key: a short fingerprint.
        fingerprint = hashlib.sha256(f"{self.http.root}\0{api_key}".encode()).hexdigest()[:16]
        self._token_key = f"xts:interactive:{fingerprint}:session"
        self._lock_key = f"xts:interactive:{fingerprint}:login-lock"
        # Fallback when the shared cache is unreachable.
        self._local_token: str | None = None
        self._local_lock = threading.Lock()

    @classmethod
    def from_settings(cls, *, policy: HttpPolicy | None = None) -> InteractiveClient:
        purpose = "place orders through the XTS interactive API"
        for variable in (
            "JAINAM_INTERACTIVE_URL",
            "JAINAM_INTERACTIVE_API_KEY",
            "JAINAM_INTERACTIVE_API_SECRET",
        ):
            if not getattr(settings, variable):
                raise MissingSetting(variable, purpose)
        return cls(
            root=settings.JAINAM_INTERACTIVE_URL,
            api_key=settings.JAINAM_INTERACTIVE_API_KEY,
            api_secret=settings.JAINAM_INTERACTIVE_API_SECRET,
            policy=policy,
        )

    def close(self) -> None:
        self.http.close()

    # --- orders ----------------------------------------------------------------------------

    def place_order(self, xts_order: dict[str, Any]) -> int:
        """Send one order (an XTS ``/orders`` body) and return the broker's AppOrderID."""
        result = self._authed_call("POST", "orders", json=xts_order, idempotent=False)
        app_order_id = result.get("AppOrderID") if isinstance(result, dict) else None
        try:
            return int(app_order_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise XTSBadResponse(
                "XTS accepted the order but returned no AppOrderID; check the broker's order "
                "book before placing it again."
            ) from None

    def modify_order(self, xts_modify: dict[str, Any]) -> int:
        """Send one modification (an XTS ``PUT /orders`` body); return its AppOrderID."""
        result = self._authed_call("PUT", "orders", json=xts_modify, idempotent=False)
        return _app_order_id(result, fallback=xts_modify.get("appOrderID"), action="modify")

    def cancel_order(
        self, *, app_order_id: int, client_id: str, order_unique_identifier: str = ""
    ) -> int:
        """Cancel one order (``DELETE /orders``); return its AppOrderID."""
        params: dict[str, Any] = {"appOrderID": int(app_order_id), "clientID": client_id}
        if order_unique_identifier:
            params["orderUniqueIdentifier"] = order_unique_identifier
        result = self._authed_call("DELETE", "orders", params=params, idempotent=False)
        return _app_order_id(result, fallback=app_order_id, action="cancel")

    def order_book(self, *, client_id: str) -> list[dict[str, Any]]:
        """Today's orders of ``client_id`` (``GET /orders/dealerorderbook``)."""
        result = self._authed_call("GET", "orders/dealerorderbook", params={"clientID": client_id})
        return _rows(result, "order book")

    def trade_book(self, *, client_id: str) -> list[dict[str, Any]]:
        """Today's trades of ``client_id`` (``GET /orders/dealertradebook``)."""
        result = self._authed_call("GET", "orders/dealertradebook", params={"clientID": client_id})
        return _rows(result, "trade book")

    def positions(self, *, client_id: str, day_or_net: str = "NetWise") -> list[dict[str, Any]]:
        """Positions of ``client_id`` (``GET /portfolio/dealerpositions``), net-wise by default."""
        result = self._authed_call(
            "GET",
            "portfolio/dealerpositions",
            params={"dayOrNet": day_or_net, "clientID": client_id},
        )
        if isinstance(result, dict):
            result = result.get("positionList", [])
        return _rows(result, "position book")

    def balance(self, *, client_id: str) -> Any:
        """Funds and limits of ``client_id`` (``GET /user/balance``), as XTS answers them."""
        return self._authed_call("GET", "user/balance", params={"clientID": client_id})

    def holdings(self, *, client_id: str) -> Any:
        """Delivery holdings of ``client_id`` (``GET /portfolio/holdings``), as XTS answers them."""
        return self._authed_call("GET", "portfolio/holdings", params={"clientID": client_id})

    def _authed_call(self, method: str, path: str, **kwargs: Any) -> Any:
        token = self.session_token()
        try:
            return self.http.call(method, path, token=token, **kwargs)
        except XTSAuthError:
            logger.warning(
                "XTS interactive session refused for %s %s; logging in again once", method, path
            )
            token = self.session_token(stale=token)
            return self.http.call(method, path, token=token, **kwargs)

    # --- session ---------------------------------------------------------------------------

    def login(self) -> str:
        """Log in with the interactive key pair; returns a fresh session token (not stored)."""
        return self.http.login(
            "user/session",
            api_key=self._api_key,
            api_secret=self._api_secret,
            api="interactive",
            settings_hint="JAINAM_INTERACTIVE_API_KEY and JAINAM_INTERACTIVE_API_SECRET",
        )

    def session_token(self, *, stale: str | None = None) -> str:
        """The shared session token, logging in when there is none (or it equals ``stale``).

        ``stale`` is a token the broker just refused: it is replaced, by this caller or by
        another one that got there first.
        """
        try:
            return self._shared_session_token(stale=stale)
        except _CacheDown:
            return self._local_session_token(stale=stale)

    def _shared_session_token(self, *, stale: str | None) -> str:
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + self._login_budget_seconds()
        while True:
            token = _shared("XTS session get", cache.get, self._token_key)
            if token and token != stale:
                return token
            if _shared(
                "XTS session lock",
                cache.add,
                self._lock_key,
                owner,
                timeout=self._login_budget_seconds(),
            ):
                try:
                    token = _shared("XTS session get", cache.get, self._token_key)
                    if token and token != stale:
                        return token
                    token = self.login()
                    self._store_token(token)
                    return token
                finally:
                    self._release_lock(owner)
            if time.monotonic() >= deadline:
                raise XTSTimeout(
                    "Timed out waiting for another process to log in to the XTS interactive API. "
                    "Check the broker's status and retry."
                )
            time.sleep(LOGIN_POLL_SECONDS)

    def _store_token(self, token: str) -> None:
        stored = cache_outage.guarded(
            "XTS session set",
            cache.set,
            self._token_key,
            token,
            timeout=SESSION_TTL_SECONDS,
            default=_DOWN,
        )
        if stored is _DOWN:  # keep the fresh login in this process rather than lose it
            with self._local_lock:
                self._local_token = token

    def _release_lock(self, owner: str) -> None:
        # During an outage the lock is left to expire on its own.
        if cache_outage.guarded("XTS session unlock", cache.get, self._lock_key) == owner:
            cache_outage.guarded("XTS session unlock", cache.delete, self._lock_key)

    def _local_session_token(self, *, stale: str | None) -> str:
        with self._local_lock:
            if self._local_token is None or self._local_token == stale:
                self._local_token = self.login()
            return self._local_token

    def _login_budget_seconds(self) -> int:
        """Upper bound of one login, retries included: the lock's lifetime and the wait."""
        policy = self.http.policy
        per_attempt = policy.connect_timeout + policy.read_timeout
        attempts = 1 + policy.retries
        backoff = sum(min(policy.backoff * 2**n, 10) for n in range(policy.retries))
        return math.ceil(per_attempt * attempts + backoff + 1)


def _app_order_id(result: Any, *, fallback: Any, action: str) -> int:
    """The AppOrderID of a write's answer (XTS echoes it; fall back to the one we sent)."""
    value = result.get("AppOrderID") if isinstance(result, dict) else None
    try:
        return int(value if value is not None else fallback)
    except (TypeError, ValueError):
        raise XTSBadResponse(f"XTS answered the {action} without an AppOrderID") from None


def _rows(result: Any, what: str) -> list[dict[str, Any]]:
    """A book's rows: a list of objects (XTS answers an empty book with [] or "")."""
    if result in (None, "", []):
        return []
    if isinstance(result, list) and all(isinstance(row, dict) for row in result):
        return result
    raise XTSBadResponse(f"XTS answered the {what} with something that is not a list of rows")


class _CacheDown(Exception):
    """The shared cache is down (:mod:`jainam_prop.cache_outage`): use a per-process session."""


#: ``cache_outage.guarded``'s answer when the cache is down (``None`` is a cache answer).
_DOWN = object()


def _shared(operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` on the shared cache; ``_CacheDown`` during an outage."""
    result = cache_outage.guarded(operation, fn, *args, default=_DOWN, **kwargs)
    if result is _DOWN:
        raise _CacheDown
    return result


_thread_clients = threading.local()


def interactive_client_from_settings() -> InteractiveClient:
    """The calling thread's client for the configured interactive root (kept for reuse).

    One client per thread keeps HTTP connections alive between orders without sharing a
    ``requests`` session across threads; a settings change replaces it.
    """
    config = (
        settings.JAINAM_INTERACTIVE_URL,
        settings.JAINAM_INTERACTIVE_API_KEY,
        settings.JAINAM_INTERACTIVE_API_SECRET,
        HttpPolicy.from_settings(),
    )
    current = getattr(_thread_clients, "entry", None)
    if current is not None and current[0] == config:
        return current[1]
    client = InteractiveClient.from_settings(policy=config[3])
    if current is not None:
        current[1].close()
    _thread_clients.entry = (config, client)
    return client
