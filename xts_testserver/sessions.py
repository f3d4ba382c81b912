"""Session tokens issued by the test server: market-data logins and interactive sessions.

Revoking a token is how an expired session is simulated; a revoked token keeps being refused the
way it expired (HTTP 401, or HTTP 400 "Invalid Token", the form the public SDK recognises).
"""

from __future__ import annotations

import threading


class Sessions:
    """The valid tokens of one server, and how each revoked one is refused."""

    def __init__(self) -> None:
        self._market: set[str] = set()
        self._interactive: set[str] = set()
        self._revoked: dict[str, int] = {}  # token -> HTTP status it is refused with
        self._lock = threading.Lock()

    def add_market(self, token: str) -> None:
        with self._lock:
            self._market.add(token)

    def add_interactive(self, token: str) -> None:
        with self._lock:
            self._interactive.add(token)

    def is_market(self, token: str | None) -> bool:
        with self._lock:
            return (token or "") in self._market

    def is_interactive(self, token: str | None) -> bool:
        with self._lock:
            return (token or "") in self._interactive

    def refusal_status(self, token: str | None) -> int:
        """401 for a token never issued or expired that way; 400 for the "Invalid Token" form."""
        with self._lock:
            return self._revoked.get(token or "", 401)

    def revoke(self, token: str | None, *, status: int = 401) -> bool:
        """Forget ``token`` (later calls with it are refused with ``status``); True if it was
        valid."""
        token = token or ""
        with self._lock:
            known = token in self._market or token in self._interactive
            self._market.discard(token)
            self._interactive.discard(token)
            if known:
                self._revoked[token] = status
            return known

    def clear(self) -> None:
        """Revoke every token (a broker restart): they are refused with 401."""
        with self._lock:
            self._market.clear()
            self._interactive.clear()
