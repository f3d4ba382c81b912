"""An HTTP server that speaks the XTS endpoints the product uses, over real loopback HTTP.

Market data (root ``/apibinarymarketdata``): ``POST auth/login``, ``DELETE auth/logout``,
``POST instruments/master``, ``GET instruments/indexlist``. Interactive (root ``/interactive``):
``POST user/session``, ``DELETE user/session``, ``POST orders``. Control (``/_control``) lets a
test drive a server that runs as a subprocess: ``POST fault``, ``POST clear_faults``,
``POST dataset``, ``POST reset``, ``GET requests``, ``GET health``.

Authentication follows XTS: the session token goes bare in the ``Authorization`` header.
Market-data calls need a token only when the server has ``market_credentials``; orders always
need a token from ``user/session``.

Faults (``inject_fault``) replace the next matching answers; see ``FAULT_KINDS``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from xts_testserver import datasets, generator

logger = logging.getLogger(__name__)

MARKET_ROOT = "/apibinarymarketdata"
INTERACTIVE_ROOT = "/interactive"
CONTROL_ROOT = "/_control"
FIRST_APP_ORDER_ID = 2190766863
SEGMENT_CODES = generator.SEGMENT_CODES
SEGMENT_BY_CODE = {code: name for name, code in SEGMENT_CODES.items()}

# kind -> what the client sees (the answer replaces the normal one unless said otherwise)
FAULT_KINDS: dict[str, str] = {
    "http500": "HTTP 500 with an XTS error body (e-server-0500)",
    "http400": "HTTP 400 with an XTS error body (e-request-0400)",
    "slow": "the normal answer, sent after sleeping `delay` seconds (the request IS processed)",
    "truncated": "the normal answer's headers, then half of its body, then the connection closes "
    "(Content-Length promises more; the request IS processed)",
    "malformed_lines": "a success body whose master lines (or index entries) have garbage mixed "
    "in (GARBAGE_MASTER_LINES / GARBAGE_INDEX_ENTRIES)",
    "not_json": "HTTP 200 with an HTML page instead of JSON",
    "error_body": 'HTTP 200 with {"type": "error", ...} (e-app-0003)',
    "drop": "the connection closes without any answer (the request is not processed)",
    "auth_expired": "HTTP 401 e-session-0002 Invalid Token; the token sent is revoked",
    "reject_order": "HTTP 400 e-orders-0008 Order rejected by RMS: insufficient margin",
    "no_token": "a login (login or session endpoint) that succeeds without a token in result",
}
ENDPOINTS = ("login", "master", "indexlist", "session", "orders", "any")
_DEFAULT_ENDPOINT = {"auth_expired": "orders", "reject_order": "orders"}

GARBAGE_MASTER_LINES = (
    "this is not an instrument line",
    "NSEFO|notatoken|2|BROKEN",
    "|||||",
    "<html><body>partial</body></html>",
    "NSECM|99999999|8|TOO|FEW|FIELDS",
)
GARBAGE_INDEX_ENTRIES = ("GARBAGE", "NIFTY 50_notatoken", "")

ORDER_REQUIRED_FIELDS = (
    "exchangeSegment",
    "exchangeInstrumentID",
    "productType",
    "orderType",
    "orderSide",
    "timeInForce",
    "disclosedQuantity",
    "orderQuantity",
    "limitPrice",
    "stopPrice",
    "orderUniqueIdentifier",
)
PRODUCT_TYPES = ("MIS", "NRML", "CNC")
ORDER_TYPES = ("MARKET", "LIMIT", "STOPLIMIT", "STOPMARKET")
ORDER_SIDES = ("BUY", "SELL")
TIMES_IN_FORCE = ("DAY", "IOC")
LOT_CHECKED_SEGMENTS = ("NSEFO", "BSEFO")


def _error(code: str, description: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "description": description}


INVALID_TOKEN = _error("e-session-0002", "Invalid Token")
INVALID_KEYS = _error("e-user-0005", "Invalid appKey or secretKey")
RMS_REJECT = _error("e-orders-0008", "Order rejected by RMS: insufficient margin")
NOT_JSON_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


class Headers(dict):
    """Request headers as received; lookups (``[]``, ``get``, ``in``) ignore case."""

    def _key(self, name: object) -> object:
        if isinstance(name, str) and not dict.__contains__(self, name):
            wanted = name.lower()
            return next((k for k in self if k.lower() == wanted), name)
        return name

    def __getitem__(self, name: object) -> str:
        return dict.__getitem__(self, self._key(name))

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, self._key(name))

    def get(self, name: object, default: Any = None) -> Any:
        return dict.get(self, self._key(name), default)


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
    endpoint: str | None = None  # login, master, indexlist, session, orders, logout, or None
    status: int | None = None  # the status answered (None for a dropped connection)
    fault: str | None = None  # the fault kind applied to this answer, if any

    def header(self, name: str) -> str | None:
        """A header value, case-insensitive."""
        return self.headers.get(name)

    @property
    def authorization(self) -> str | None:
        return self.header("Authorization")

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
        return self.segment is None or self.segment in segments


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    mode: str = "normal"  # normal | truncated | drop
    delay: float = 0.0


def _json_response(status: int, payload: Any) -> _Response:
    return _Response(status, json.dumps(payload).encode())


@dataclass
class _Dataset:
    name: str
    variant: int
    anchor: date
    custom: dict[str, str] = field(default_factory=dict)


class XTSTestServer:
    """A threaded XTS test server on loopback. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        dataset: str = "samples",
        variant: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        market_credentials: tuple[str, str] | None = None,
        interactive_credentials: tuple[str, str] | None = None,
        data_dir: Path | None = None,
        anchor: date = generator.ANCHOR,
        user_id: str = "JPROP01",
        require_client_id: bool = True,
        validate_instruments: bool = True,
    ) -> None:
        datasets.check_dataset(dataset)
        self.host = host
        self._requested_port = port
        self.market_credentials = market_credentials
        self.interactive_credentials = interactive_credentials
        self.data_dir = Path(data_dir) if data_dir else datasets.DEFAULT_DATA_DIR
        self.user_id = user_id
        self.require_client_id = require_client_id
        self.validate_instruments = validate_instruments
        self._initial = (dataset, variant, anchor)
        self._lock = threading.RLock()
        self._dataset = _Dataset(dataset, variant, anchor)
        self._faults: list[Fault] = []
        self._requests = RequestLog()
        self._last_order_error: dict[str, Any] | None = None
        self._orders: list[dict[str, Any]] = []
        self._market_tokens: set[str] = set()
        self._interactive_tokens: set[str] = set()
        self._next_order_id = FIRST_APP_ORDER_ID
        self._master_bodies: dict[tuple[str, ...], bytes] = {}
        self._instruments: dict[str, dict[int, int]] = {}
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> XTSTestServer:
        if self._httpd is not None:
            raise RuntimeError("XTSTestServer is already running")
        self._warm_up()
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self._requested_port), _Handler)
        httpd.xts = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"xts-testserver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._requested_port = self.port  # a restart after stop() binds the same port
        logger.info("XTS test server listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None
        logger.info("XTS test server stopped")

    def __enter__(self) -> XTSTestServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The bound port (still known after stop(), so a stopped server's URLs refuse)."""
        if self._httpd is not None:
            return self._httpd.server_address[1]
        if self._requested_port:
            return self._requested_port
        raise RuntimeError("XTSTestServer has no port yet: call start() first")

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    @property
    def market_url(self) -> str:
        return f"{self.base_url}{MARKET_ROOT}"

    @property
    def interactive_url(self) -> str:
        return f"{self.base_url}{INTERACTIVE_ROOT}"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}{CONTROL_ROOT}"

    def _warm_up(self) -> None:
        """Build the dataset now, so the first request is not the slow one."""
        for segment in datasets.SEGMENTS:
            self.master_text(segment)

    # ------------------------------------------------------------------ data

    def set_dataset(self, dataset: str, *, variant: int = 0, anchor: date | None = None) -> None:
        """Serve another dataset/variant from now on; drops masters set with ``set_master``."""
        datasets.check_dataset(dataset)
        if variant < 0:
            raise ValueError(f"variant must be >= 0, got {variant}")
        new = _Dataset(dataset, variant, anchor or self._dataset.anchor)
        for segment in datasets.SEGMENTS:  # fail here, not on the next request
            datasets.master_text(
                new.name, segment, variant=new.variant, anchor=new.anchor, data_dir=self.data_dir
            )
        with self._lock:
            self._dataset = new
            self._master_bodies.clear()
            self._instruments.clear()

    def set_master(self, segment: str, text: str) -> None:
        """Serve ``text`` (the raw result string) as the master of ``segment``."""
        if segment not in SEGMENT_CODES:
            raise ValueError(f"Unknown XTS segment {segment!r}; valid: {', '.join(SEGMENT_CODES)}")
        with self._lock:
            self._dataset.custom[segment] = text
            self._master_bodies.clear()
            self._instruments.pop(segment, None)

    @property
    def dataset(self) -> str:
        return self._dataset.name

    @property
    def variant(self) -> int:
        return self._dataset.variant

    def master_text(self, segment: str) -> str:
        """The master text currently served for ``segment``."""
        current = self._dataset
        if segment in current.custom:
            return current.custom[segment]
        return datasets.master_text(
            current.name,
            segment,
            variant=current.variant,
            anchor=current.anchor,
            data_dir=self.data_dir,
        )

    def index_entries(self, segment: str) -> list[str]:
        return datasets.index_entries(self._dataset.name, segment, data_dir=self.data_dir)

    def token_changes(self, segment: str) -> dict[int, int]:
        """{old token: new token} of the current variant relative to variant 0."""
        current = self._dataset
        return datasets.token_changes(
            current.name,
            segment,
            variant=current.variant,
            anchor=current.anchor,
            data_dir=self.data_dir,
        )

    # ------------------------------------------------------------------ faults

    def inject_fault(
        self,
        kind: str,
        *,
        endpoint: str | None = None,
        segment: str | None = None,
        times: int = 1,
        delay: float = 1.0,
    ) -> Fault:
        """Make the next ``times`` answers of ``endpoint`` (default: master; orders for
        auth_expired and reject_order) misbehave as ``kind`` (see FAULT_KINDS). ``segment``
        narrows it to requests for that segment (master list, index list or order segment)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault kind {kind!r}; valid: {', '.join(FAULT_KINDS)}")
        endpoint = endpoint or _DEFAULT_ENDPOINT.get(kind, "master")
        if endpoint not in ENDPOINTS:
            raise ValueError(f"Unknown endpoint {endpoint!r}; valid: {', '.join(ENDPOINTS)}")
        if kind == "malformed_lines" and endpoint not in ("master", "indexlist"):
            raise ValueError("malformed_lines applies to the master or indexlist endpoint only")
        if kind == "reject_order" and endpoint not in ("orders", "any"):
            raise ValueError("reject_order applies to the orders endpoint only")
        if segment is not None and segment not in SEGMENT_CODES:
            raise ValueError(f"Unknown XTS segment {segment!r}")
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        fault = Fault(kind, endpoint, segment, int(times), float(delay))
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def _take_fault(self, endpoint: str, segments: tuple[str, ...]) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == "reject_order" and endpoint != "orders":
                    continue
                if fault.kind == "malformed_lines" and endpoint not in ("master", "indexlist"):
                    continue
                if fault.matches(endpoint, segments):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # ------------------------------------------------------------------ recorded traffic

    @property
    def requests(self) -> RequestLog:
        """Every request received so far, oldest first (the live list; ``.clear()`` works)."""
        return self._requests

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        """Recorded requests whose path ends with ``path_suffix`` (e.g. "/interactive/orders")."""
        return [r for r in self._requests.snapshot() if r.path.endswith(path_suffix)]

    def clear_requests(self) -> None:
        self._requests.clear()

    @property
    def last_reject_description(self) -> str | None:
        """The description of the last 4xx error (not 401) answered to an order, if any."""
        with self._lock:
            return self._last_order_error["description"] if self._last_order_error else None

    @property
    def placed_orders(self) -> list[dict[str, Any]]:
        """Orders accepted so far: the order JSON plus ``AppOrderID``."""
        with self._lock:
            return [dict(order) for order in self._orders]

    def expire_sessions(self) -> None:
        """Revoke every issued token (market data and interactive), like a broker restart."""
        with self._lock:
            self._market_tokens.clear()
            self._interactive_tokens.clear()

    def reset(self) -> None:
        """Back to the constructor's dataset; no faults, recorded requests or placed orders."""
        dataset, variant, anchor = self._initial
        self.set_dataset(dataset, variant=variant, anchor=anchor)
        self._requests.clear()
        with self._lock:
            self._faults.clear()
            self._orders.clear()
            self._last_order_error = None

    # ------------------------------------------------------------------ request handling

    def _handle(self, *, method: str, target: str, headers: Headers, raw_body: bytes) -> _Response:
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body: Any = None
        if raw_body:
            with contextlib.suppress(ValueError):
                body = json.loads(raw_body)
        if path.startswith(CONTROL_ROOT):
            return self._control(method, path[len(CONTROL_ROOT) :], query, body)
        request = RecordedRequest(
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            raw_body=raw_body,
            time=time.time(),
        )
        self._requests.append(request)
        response = self._answer(request)
        if request.endpoint == "orders" and 400 <= response.status < 500 and response.status != 401:
            with contextlib.suppress(ValueError), self._lock:
                self._last_order_error = json.loads(response.body)
        request.status = None if response.mode == "drop" else response.status
        return response

    def _route(self, request: RecordedRequest) -> tuple[str | None, str | None]:
        """(endpoint name, or None if unknown; wrong-method message or None)."""
        routes = {
            f"{MARKET_ROOT}/auth/login": ("login", "POST"),
            f"{MARKET_ROOT}/auth/logout": ("logout", "DELETE"),
            f"{MARKET_ROOT}/instruments/master": ("master", "POST"),
            f"{MARKET_ROOT}/instruments/indexlist": ("indexlist", "GET"),
            f"{INTERACTIVE_ROOT}/user/session": ("session", "POST"),
            f"{INTERACTIVE_ROOT}/orders": ("orders", "POST"),
        }
        if request.path == f"{INTERACTIVE_ROOT}/user/session" and request.method == "DELETE":
            return "logout", None
        found = routes.get(request.path)
        if found is None:
            return None, None
        name, method = found
        if request.method != method:
            return None, f"{request.method} is not allowed on {request.path}; use {method}"
        return name, None

    def _segments_of(self, endpoint: str, request: RecordedRequest) -> tuple[str, ...]:
        body = request.body if isinstance(request.body, dict) else {}
        if endpoint == "master":
            wanted = body.get("exchangeSegmentList")
            if isinstance(wanted, list):
                return tuple(_segment_name(s) or str(s) for s in wanted)
        elif endpoint == "indexlist":
            name = _segment_name(request.query.get("exchangeSegment", ""))
            return (name,) if name else ()
        elif endpoint == "orders":
            name = _segment_name(body.get("exchangeSegment", ""))
            return (name,) if name else ()
        return ()

    def _answer(self, request: RecordedRequest) -> _Response:
        endpoint, wrong_method = self._route(request)
        request.endpoint = endpoint
        if wrong_method:
            return _json_response(405, _error("e-app-0405", wrong_method))
        if endpoint is None:
            return _json_response(
                404, _error("e-app-0404", f"No XTS endpoint at {request.method} {request.path}")
            )
        fault = self._take_fault(endpoint, self._segments_of(endpoint, request))
        if fault is not None:
            request.fault = fault.kind
            logger.info("Injected fault %s on %s %s", fault.kind, request.method, request.path)
            early = self._fault_response(fault, request)
            if early is not None:
                return early
        handler = getattr(self, f"_endpoint_{endpoint}")
        malformed = fault is not None and fault.kind == "malformed_lines"
        response: _Response = handler(request, malformed=malformed)
        if fault is not None and fault.kind == "slow":
            response.delay = fault.delay
        if fault is not None and fault.kind == "truncated":
            response.mode = "truncated"
        return response

    def _fault_response(self, fault: Fault, request: RecordedRequest) -> _Response | None:
        """The answer replacing the normal one, or None when the fault modifies the normal one."""
        kind = fault.kind
        if kind == "http500":
            return _json_response(
                500, _error("e-server-0500", "Internal server error (injected fault)")
            )
        if kind == "http400":
            return _json_response(400, _error("e-request-0400", "Bad request (injected fault)"))
        if kind == "not_json":
            return _Response(200, NOT_JSON_PAGE, content_type="text/html")
        if kind == "error_body":
            return _json_response(
                200, _error("e-app-0003", "Service temporarily unavailable (injected fault)")
            )
        if kind == "drop":
            return _Response(0, b"", mode="drop")
        if kind == "no_token":
            return _json_response(
                200,
                {
                    "type": "success",
                    "code": "s-user-0001",
                    "description": "Logged in successfully",
                    "result": {"userID": "TEST01"},
                },
            )
        if kind == "auth_expired":
            token = request.authorization
            with self._lock:
                self._market_tokens.discard(token or "")
                self._interactive_tokens.discard(token or "")
            return _json_response(401, INVALID_TOKEN)
        if kind == "reject_order":
            return _json_response(400, RMS_REJECT)
        return None  # slow, truncated, malformed_lines: the normal answer, modified

    # ------------------------------------------------------------------ endpoints

    def _check_keys(
        self, request: RecordedRequest, credentials: tuple[str, str] | None
    ) -> _Response | None:
        body = request.body if isinstance(request.body, dict) else None
        if body is None or not body.get("appKey") or not body.get("secretKey"):
            return _json_response(
                400,
                _error("e-user-0005", "appKey and secretKey are required (JSON body)"),
            )
        if credentials and (body["appKey"], body["secretKey"]) != tuple(credentials):
            return _json_response(400, INVALID_KEYS)
        return None

    def _endpoint_login(self, request: RecordedRequest, *, malformed: bool) -> _Response:
        refused = self._check_keys(request, self.market_credentials)
        if refused:
            return refused
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._market_tokens.add(token)
        return _json_response(
            200,
            {
                "type": "success",
                "code": "s-user-0001",
                "description": "Logged in successfully",
                "result": {"token": token, "userID": self.user_id, "appVersion": "1.0.0"},
            },
        )

    def _endpoint_session(self, request: RecordedRequest, *, malformed: bool) -> _Response:
        refused = self._check_keys(request, self.interactive_credentials)
        if refused:
            return refused
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._interactive_tokens.add(token)
        return _json_response(
            200,
            {
                "type": "success",
                "code": "s-user-0001",
                "description": "Logged in successfully",
                "result": {
                    "token": token,
                    "userID": self.user_id,
                    "isInvestorClient": False,
                    "clientCodes": [self.user_id],
                },
            },
        )

    def _endpoint_logout(self, request: RecordedRequest, *, malformed: bool) -> _Response:
        token = request.authorization or ""
        with self._lock:
            known = token in self._market_tokens or token in self._interactive_tokens
            self._market_tokens.discard(token)
            self._interactive_tokens.discard(token)
        if not known:
            return _json_response(401, INVALID_TOKEN)
        return _json_response(
            200, {"type": "success", "code": "s-user-0004", "description": "Logged out"}
        )

    def _market_auth_refused(self, request: RecordedRequest) -> _Response | None:
        if not self.market_credentials:
            return None
        with self._lock:
            valid = (request.authorization or "") in self._market_tokens
        return None if valid else _json_response(401, INVALID_TOKEN)

    def _endpoint_master(self, request: RecordedRequest, *, malformed: bool) -> _Response:
        refused = self._market_auth_refused(request)
        if refused:
            return refused
        body = request.body if isinstance(request.body, dict) else {}
        wanted = body.get("exchangeSegmentList")
        if not isinstance(wanted, list) or not wanted:
            return _json_response(
                400,
                _error(
                    "e-instrument-0005",
                    'exchangeSegmentList is required: a non-empty list such as ["NSEFO"]',
                ),
            )
        segments = tuple(_segment_name(s) for s in wanted)
        unknown = [str(raw) for raw, name in zip(wanted, segments, strict=True) if name is None]
        if unknown:
            return _json_response(
                400,
                _error(
                    "e-instrument-0005",
                    f"Invalid exchangeSegment {', '.join(unknown)}; "
                    f"valid: {', '.join(SEGMENT_CODES)}",
                ),
            )
        names = tuple(s for s in segments if s)
        if malformed:
            lines = "\n".join(self.master_text(s) for s in names).split("\n")
            step = max(1, len(lines) // (len(GARBAGE_MASTER_LINES) + 1))
            for i, garbage in enumerate(GARBAGE_MASTER_LINES):
                lines.insert(min(len(lines), (i + 1) * step + i), garbage)
            return _json_response(200, _master_payload("\n".join(lines)))
        with self._lock:
            cached = self._master_bodies.get(names)
        if cached is None:
            text = "\n".join(t for t in (self.master_text(s) for s in names) if t)
            cached = json.dumps(_master_payload(text)).encode()
            with self._lock:
                self._master_bodies[names] = cached
        return _Response(200, cached)

    def _endpoint_indexlist(self, request: RecordedRequest, *, malformed: bool) -> _Response:
        refused = self._market_auth_refused(request)
        if refused:
            return refused
        raw = request.query.get("exchangeSegment", "")
        segment = _segment_name(raw)
        if segment not in datasets.INDEX_SEGMENTS.values():
            return _json_response(
                400,
                _error(
                    "e-instrument-0006",
                    f"Invalid exchangeSegment {raw!r} for the index list; use 1 (NSECM) "
                    "or 11 (BSECM)",
                ),
            )
        entries = self.index_entries(segment)
        if malformed:
            entries = list(entries)
            for i, garbage in enumerate(GARBAGE_INDEX_ENTRIES):
                entries.insert(min(len(entries), (i + 1) * 7), garbage)
        return _json_response(
            200,
            {
                "type": "success",
                "code": "s-instrument-0013",
                "description": "Index list retrieved successfully",
                "result": {"exchangeSegment": SEGMENT_CODES[segment], "indexList": entries},
            },
        )

    def _endpoint_orders(self, request: RecordedRequest, *, malformed: bool) -> _Response:
        with self._lock:
            valid = (request.authorization or "") in self._interactive_tokens
        if not valid:
            return _json_response(401, INVALID_TOKEN)
        body = request.body if isinstance(request.body, dict) else None
        problem = self._order_problem(body)
        if problem:
            return _json_response(400, _error("e-orders-0005", problem))
        assert body is not None
        with self._lock:
            app_order_id = self._next_order_id
            self._next_order_id += 1
            self._orders.append({**body, "AppOrderID": app_order_id})
        return _json_response(
            200,
            {
                "type": "success",
                "code": "s-orders-0001",
                "description": "Request sent",
                "result": {
                    "AppOrderID": app_order_id,
                    "OrderUniqueIdentifier": body.get("orderUniqueIdentifier"),
                    "ClientID": body.get("clientID") or self.user_id,
                },
            },
        )

    def _order_problem(self, body: dict[str, Any] | None) -> str | None:
        """Why the broker would refuse this order JSON, or None."""
        if body is None:
            return "The order must be a JSON object"
        required = ORDER_REQUIRED_FIELDS + (("clientID",) if self.require_client_id else ())
        missing = [name for name in required if body.get(name) in (None, "")]
        if missing:
            hint = " (clientID is required for dealer accounts)" if "clientID" in missing else ""
            return f"Missing required field(s): {', '.join(missing)}{hint}"
        segment = body["exchangeSegment"]
        if segment not in SEGMENT_CODES:
            return f"Invalid exchangeSegment {segment!r}; valid: {', '.join(SEGMENT_CODES)}"
        token = body["exchangeInstrumentID"]
        if not _is_int(token):
            return f"exchangeInstrumentID must be an integer, got {token!r}"
        for name, allowed in (
            ("productType", PRODUCT_TYPES),
            ("orderType", ORDER_TYPES),
            ("orderSide", ORDER_SIDES),
            ("timeInForce", TIMES_IN_FORCE),
        ):
            if body[name] not in allowed:
                return f"Invalid {name} {body[name]!r}; valid: {', '.join(allowed)}"
        quantity, disclosed = body["orderQuantity"], body["disclosedQuantity"]
        if not _is_int(quantity) or quantity <= 0:
            return f"orderQuantity must be a positive integer, got {quantity!r}"
        if not _is_int(disclosed) or not 0 <= disclosed <= quantity:
            return (
                f"disclosedQuantity must be an integer from 0 to orderQuantity, got {disclosed!r}"
            )
        limit, stop = body["limitPrice"], body["stopPrice"]
        for name, value in (("limitPrice", limit), ("stopPrice", stop)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                return f"{name} must be a number >= 0, got {value!r}"
        order_type = body["orderType"]
        if order_type in ("LIMIT", "STOPLIMIT") and limit <= 0:
            return f"limitPrice must be > 0 for a {order_type} order"
        if order_type in ("STOPLIMIT", "STOPMARKET") and stop <= 0:
            return f"stopPrice must be > 0 for a {order_type} order"
        if self.validate_instruments:
            lot_size = self._instrument_lots(segment).get(token)
            if lot_size is None:
                return f"Instrument {token} not found in {segment}"
            if segment in LOT_CHECKED_SEGMENTS and lot_size > 1 and quantity % lot_size:
                return (
                    f"orderQuantity {quantity} is not a multiple of the lot size {lot_size} "
                    f"of instrument {token}"
                )
        return None

    def _instrument_lots(self, segment: str) -> dict[int, int]:
        """{token: lot size} of the master currently served for ``segment``."""
        with self._lock:
            lots = self._instruments.get(segment)
        if lots is None:
            lots = {}
            for line in self.master_text(segment).split("\n"):
                fields = line.split("|", 13)
                if len(fields) < 14:
                    continue
                with contextlib.suppress(ValueError):
                    lots[int(fields[1])] = int(float(fields[12]))
            with self._lock:
                self._instruments[segment] = lots
        return lots

    # ------------------------------------------------------------------ control API

    def _control(self, method: str, path: str, query: dict[str, str], body: Any) -> _Response:
        body = body if isinstance(body, dict) else {}
        try:
            if method == "GET" and path == "/requests":
                return _json_response(
                    200,
                    {"type": "success", "result": [r.to_json() for r in self._requests.snapshot()]},
                )
            if method == "GET" and path == "/health":
                return _json_response(
                    200,
                    {
                        "type": "success",
                        "result": {
                            "dataset": self.dataset,
                            "variant": self.variant,
                            "pending_faults": len(self.pending_faults),
                        },
                    },
                )
            if method == "POST" and path == "/fault":
                fault = self.inject_fault(
                    str(body.get("kind", "")),
                    endpoint=body.get("endpoint"),
                    segment=body.get("segment"),
                    times=int(body.get("times", 1)),
                    delay=float(body.get("delay", 1.0)),
                )
                return _json_response(
                    200,
                    {"type": "success", "result": {"kind": fault.kind, "endpoint": fault.endpoint}},
                )
            if method == "POST" and path == "/clear_faults":
                self.clear_faults()
                return _json_response(200, {"type": "success", "result": None})
            if method == "POST" and path == "/dataset":
                if "text" in body:
                    self.set_master(str(body.get("segment", "")), str(body["text"]))
                else:
                    anchor = body.get("anchor")
                    self.set_dataset(
                        str(body.get("dataset", "")),
                        variant=int(body.get("variant", 0)),
                        anchor=date.fromisoformat(anchor) if anchor else None,
                    )
                return _json_response(
                    200,
                    {
                        "type": "success",
                        "result": {"dataset": self.dataset, "variant": self.variant},
                    },
                )
            if method == "POST" and path == "/reset":
                self.reset()
                return _json_response(200, {"type": "success", "result": None})
        except (ValueError, TypeError, FileNotFoundError) as exc:
            return _json_response(400, _error("e-control-0400", str(exc)))
        return _json_response(404, _error("e-control-0404", f"No control endpoint {method} {path}"))


def _master_payload(text: str) -> dict[str, Any]:
    return {
        "type": "success",
        "code": "s-instrument-0010",
        "description": "Get master instrument data successfully",
        "result": text,
    }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _segment_name(value: Any) -> str | None:
    """``NSEFO`` or its numeric code (2 / "2") -> ``NSEFO``; anything else -> None."""
    if isinstance(value, str) and value in SEGMENT_CODES:
        return value
    with contextlib.suppress(TypeError, ValueError):
        return SEGMENT_BY_CODE.get(int(value))
    return None


# ---------------------------------------------------------------------- HTTP plumbing


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    xts: XTSTestServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Close kept-alive connections too, so a stopped server really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("Connection from %s ended: %r", client_address, sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "XTSTestServer/1.0"
    timeout = 120  # an idle kept-alive connection is closed after this many seconds
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length > 0 else b""
        xts = self.server.xts
        response = xts._handle(
            method=self.command,
            target=self.path,
            headers=Headers(self.headers.items()),
            raw_body=raw_body,
        )
        if response.delay and xts._stopping.wait(response.delay):
            self.close_connection = True
            return
        if response.mode == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = response.body
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(body)))
            if response.mode == "truncated":
                self.send_header("Connection", "close")
            self.end_headers()
            if response.mode == "truncated":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            else:
                self.wfile.write(body)
        except OSError:  # the client went away (e.g. it timed out on a slow answer)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)
