"""Fault injection: which answers misbehave, and how.

A test (or ``POST /_control/fault``) queues a ``Fault`` for one endpoint; the next matching
requests get the fault instead of (or on top of) their normal answer. Some kinds answer early and
the request is NOT processed (``drop``, ``http500``...); others process the request first and then
lose or spoil the answer (``slow``, ``truncated``, ``accepted_then_drop``, ``garbled``): the
"unknown outcome" cases a client must never report as a failure.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from xts_testserver import wire

# kind -> what the client sees (the answer replaces the normal one unless said otherwise)
FAULT_KINDS: dict[str, str] = {
    "http500": "HTTP 500 with an XTS error body (e-server-0500); the request is not processed",
    "http400": "HTTP 400 with an XTS error body (e-request-0400); the request is not processed",
    "slow": "the normal answer, sent after sleeping `delay` seconds (the request IS processed)",
    "truncated": "the normal answer's headers, then half of its body, then the connection closes "
    "(Content-Length promises more; the request IS processed)",
    "accepted_then_drop": "the request IS processed, then the connection closes without any answer",
    "garbled": "the request IS processed; the answer's body is not JSON (mangled bytes)",
    "malformed_lines": "a success body whose master lines (or index entries) have garbage mixed "
    "in (GARBAGE_MASTER_LINES / GARBAGE_INDEX_ENTRIES)",
    "not_json": "HTTP 200 with an HTML page instead of JSON; the request is not processed",
    "error_body": 'HTTP 200 with {"type": "error", ...} (e-app-0003); not processed',
    "drop": "the connection closes without any answer (the request is not processed)",
    "auth_expired": "HTTP 401 e-session-0002 Invalid Token; the token sent is revoked",
    "invalid_token": 'HTTP 400 e-session-0002 "Invalid Token" (the form the public SDK treats '
    "as an expired session); the token sent is revoked and refused that way from then on",
    "reject_order": "HTTP 400 e-orders-0008 Order rejected by RMS: insufficient margin",
    "no_token": "a login (login or session endpoint) that succeeds without a token in result",
}

MARKET_ENDPOINTS = ("login", "master", "indexlist")
# Interactive writes: the request changes the order state.
WRITE_ENDPOINTS = (
    "orders",
    "modify",
    "cancel",
    "cancelall",
    "convert",
    "squareoff",
    "squareoffall",
)
READ_ENDPOINTS = ("orderbook", "tradebook", "orderhistory", "positions", "balance", "holdings")
ENDPOINTS = (
    *MARKET_ENDPOINTS,
    "session",
    "logout",
    *WRITE_ENDPOINTS,
    *READ_ENDPOINTS,
    "any",
)
DEFAULT_ENDPOINT = {
    "auth_expired": "orders",
    "invalid_token": "orders",
    "reject_order": "orders",
    "accepted_then_drop": "orders",
    "garbled": "orders",
}
# Kinds that only make sense on some endpoints (an "any" fault of that kind skips the others).
ONLY_ON = {
    "malformed_lines": ("master", "indexlist"),
    "reject_order": ("orders", "modify"),
}
# Kinds whose answer comes after the normal processing.
AFTER_PROCESSING = ("slow", "truncated", "accepted_then_drop", "garbled", "malformed_lines")
REVOKES_TOKEN = ("auth_expired", "invalid_token")


@dataclass
class Fault:
    """A pending fault: replaces the next ``remaining`` answers of ``endpoint`` (and segment)."""

    kind: str
    endpoint: str
    segment: str | None
    remaining: int
    delay: float

    def matches(self, endpoint: str, segments: tuple[str, ...]) -> bool:
        if self.endpoint not in ("any", endpoint):
            return False
        if endpoint not in ONLY_ON.get(self.kind, (endpoint,)):
            return False
        return self.segment is None or self.segment in segments


class FaultQueue:
    """The pending faults of one server, consumed in the order they were queued."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        *,
        endpoint: str | None,
        segment: str | None,
        segments: tuple[str, ...],
        times: int,
        delay: float,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault kind {kind!r}; valid: {', '.join(FAULT_KINDS)}")
        endpoint = endpoint or DEFAULT_ENDPOINT.get(kind, "master")
        if endpoint not in ENDPOINTS:
            raise ValueError(f"Unknown endpoint {endpoint!r}; valid: {', '.join(ENDPOINTS)}")
        allowed = ONLY_ON.get(kind)
        if allowed and endpoint not in (*allowed, "any"):
            raise ValueError(f"{kind} applies to the {' or '.join(allowed)} endpoint only")
        if segment is not None and segment not in segments:
            raise ValueError(f"Unknown XTS segment {segment!r}")
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        fault = Fault(kind, endpoint, segment, int(times), float(delay))
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, endpoint: str, segments: tuple[str, ...]) -> Fault | None:
        """The first pending fault for this request, counted as used; or None."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(endpoint, segments):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)


def early_response(kind: str) -> wire.Response | None:
    """The answer replacing the normal one (the request is not processed), or None."""
    if kind == "http500":
        return wire.error_response(500, "e-server-0500", "Internal server error (injected fault)")
    if kind == "http400":
        return wire.error_response(400, "e-request-0400", "Bad request (injected fault)")
    if kind == "not_json":
        return wire.Response(200, wire.NOT_JSON_PAGE, content_type="text/html")
    if kind == "error_body":
        return wire.error_response(
            200, "e-app-0003", "Service temporarily unavailable (injected fault)"
        )
    if kind == "drop":
        return wire.Response(0, b"", mode="drop")
    if kind == "no_token":
        return wire.json_response(
            200,
            wire.success("s-user-0001", "Logged in successfully", {"userID": "TEST01"}),
        )
    if kind == "auth_expired":
        return wire.json_response(401, wire.INVALID_TOKEN)
    if kind == "invalid_token":
        return wire.json_response(400, wire.INVALID_TOKEN)
    if kind == "reject_order":
        return wire.json_response(400, wire.RMS_REJECT)
    return None


def spoil(response: wire.Response, fault: Fault) -> wire.Response:
    """Apply an after-processing fault to the normal answer."""
    if fault.kind == "slow":
        response.delay = fault.delay
    elif fault.kind == "truncated":
        response.mode = "truncated"
    elif fault.kind == "accepted_then_drop":
        response.mode = "drop"
    elif fault.kind == "garbled":
        response.body = wire.GARBLED_BODY
    return response
