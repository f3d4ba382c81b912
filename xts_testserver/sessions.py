"""Session tokens issued by the test server: market-data logins and interactive sessions."""

from __future__ import annotations

import threading


class Sessions:
    """The valid tokens of one server; revoking one is how an expired session is simulated."""

    def __init__(self) -> None:
        self._market: set[str] = set()
        self._interactive: set[str] = set()
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

    def revoke(self, token: str | None) -> bool:
        """Forget ``token``; True if it was valid."""
        with self._lock:
            known = (token or "") in self._market or (token or "") in self._interactive
            self._market.discard(token or "")
            self._interactive.discard(token or "")
            return known

    def clear(self) -> None:
        with self._lock:
            self._market.clear()
            self._interactive.clear()
