"""The request log: every non-control request the server received, as tests read it back.

Tests assert on it ("nothing was sent to the broker", "the cancel carried clientID"), in process
(``XTSTestServer.requests``) or over HTTP (``GET /_control/requests``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from xts_testserver.wire import Headers


@dataclass
class RecordedRequest:
    """One request the server received (control requests are not recorded)."""

    method: str
    path: str
    query: dict[str, str]
    headers: Headers  # case-insensitive lookups
    body: Any  # the parsed JSON body, or None
    raw_body: bytes
    time: float
    endpoint: str | None = None  # the fault endpoint name (see faults.ENDPOINTS), or None
    status: int | None = None  # the status answered (None for a dropped connection)
    fault: str | None = None  # the fault kind applied to this answer, if any

    def header(self, name: str) -> str | None:
        """A header value, case-insensitive."""
        return self.headers.get(name)

    @property
    def authorization(self) -> str | None:
        return self.header("Authorization")

    @property
    def client_id(self) -> str | None:
        """The clientID sent: JSON body for writes, query string for reads."""
        if isinstance(self.body, dict) and self.body.get("clientID") not in (None, ""):
            return str(self.body["clientID"])
        return self.query.get("clientID") or None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "body": self.body,
            "time": self.time,
            "endpoint": self.endpoint,
            "status": self.status,
            "fault": self.fault,
        }


class RequestLog(list):
    """The live, thread-safe list of recorded requests (tests may ``clear()`` it)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, request: RecordedRequest) -> None:
        with self._lock:
            super().append(request)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self)
