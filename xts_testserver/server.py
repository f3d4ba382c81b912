"""An HTTP server that speaks the XTS endpoints the product uses, over real loopback HTTP.

Market data (root ``/apibinarymarketdata``, ``market.py``): ``POST auth/login``,
``DELETE auth/logout``, ``POST instruments/master``, ``GET instruments/indexlist``. Interactive
(root ``/interactive``, ``dealer.py``): session, place/modify/cancel/cancel-all orders, dealer
order and trade books, order history, dealer positions, balance, holdings, position convert and
square-offs, over an in-memory order state (``order_state.py``). Control (``/_control``,
``control.py``) lets a test drive a server that runs as a subprocess. Faults (``faults.py``)
replace or spoil the next matching answers. docs/testserver.md lists every endpoint.

Authentication follows XTS: the session token goes bare in the ``Authorization`` header.
Market-data calls need a token only when the server has ``market_credentials``; interactive calls
always need a token from ``user/session``.

Size: the server object (start, stop, datasets, faults, request log and the levers tests
use) and its routing; each endpoint's work lives in the modules named above.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from xts_testserver import control, datasets, dealer, faults, generator, market, wire
from xts_testserver.faults import FAULT_KINDS, Fault
from xts_testserver.http_handler import Handler, HTTPServer
from xts_testserver.market import (
    DEFAULT_REFERENCE_PRICE,
    GARBAGE_INDEX_ENTRIES,
    GARBAGE_MASTER_LINES,
    SEGMENT_CODES,
    Instrument,
    segment_name,
)
from xts_testserver.order_state import OrderState
from xts_testserver.recording import RecordedRequest, RequestLog
from xts_testserver.sessions import Sessions
from xts_testserver.wire import Headers

__all__ = [
    "CONTROL_ROOT",
    "FAULT_KINDS",
    "FIRST_APP_ORDER_ID",
    "GARBAGE_INDEX_ENTRIES",
    "GARBAGE_MASTER_LINES",
    "INTERACTIVE_ROOT",
    "MARKET_ROOT",
    "Fault",
    "RecordedRequest",
    "XTSTestServer",
]

logger = logging.getLogger(__name__)

MARKET_ROOT = "/apibinarymarketdata"
INTERACTIVE_ROOT = "/interactive"
CONTROL_ROOT = "/_control"
FIRST_APP_ORDER_ID = 2190766863
ENDPOINTS = faults.ENDPOINTS

# (path, method) -> fault endpoint name; GET orders is the order history when appOrderID is sent.
ROUTES: dict[tuple[str, str], str] = {
    (f"{MARKET_ROOT}/auth/login", "POST"): "login",
    (f"{MARKET_ROOT}/auth/logout", "DELETE"): "logout",
    (f"{MARKET_ROOT}/instruments/master", "POST"): "master",
    (f"{MARKET_ROOT}/instruments/indexlist", "GET"): "indexlist",
    (f"{INTERACTIVE_ROOT}/user/session", "POST"): "session",
    (f"{INTERACTIVE_ROOT}/user/session", "DELETE"): "logout",
    (f"{INTERACTIVE_ROOT}/orders", "POST"): "orders",
    (f"{INTERACTIVE_ROOT}/orders", "PUT"): "modify",
    (f"{INTERACTIVE_ROOT}/orders", "DELETE"): "cancel",
    (f"{INTERACTIVE_ROOT}/orders", "GET"): "orderbook",
    (f"{INTERACTIVE_ROOT}/orders/cancelall", "POST"): "cancelall",
    (f"{INTERACTIVE_ROOT}/orders/dealerorderbook", "GET"): "orderbook",
    (f"{INTERACTIVE_ROOT}/orders/dealertradebook", "GET"): "tradebook",
    (f"{INTERACTIVE_ROOT}/orders/trades", "GET"): "tradebook",
    (f"{INTERACTIVE_ROOT}/portfolio/dealerpositions", "GET"): "positions",
    (f"{INTERACTIVE_ROOT}/portfolio/positions", "GET"): "positions",
    (f"{INTERACTIVE_ROOT}/user/balance", "GET"): "balance",
    (f"{INTERACTIVE_ROOT}/portfolio/holdings", "GET"): "holdings",
    (f"{INTERACTIVE_ROOT}/portfolio/positions/convert", "PUT"): "convert",
    (f"{INTERACTIVE_ROOT}/portfolio/squareoff", "PUT"): "squareoff",
    (f"{INTERACTIVE_ROOT}/portfolio/squareoffall", "PUT"): "squareoffall",
}
_METHODS: dict[str, list[str]] = {}
for _path, _method in ROUTES:
    _METHODS.setdefault(_path, []).append(_method)


@dataclass
class _Dataset:
    name: str
    variant: int
    anchor: date | None
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
        anchor: date | None = generator.ANCHOR,
        user_id: str = "JPROP01",
        require_client_id: bool = True,
        validate_instruments: bool = True,
        clients: Iterable[str] | None = None,
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
        # None: any clientID is a client of this dealer; a set: only those (others are refused).
        self.clients: set[str] | None = set(clients) if clients is not None else None
        self._initial = (dataset, variant, anchor, self.clients)
        self._lock = threading.RLock()
        self._dataset = _Dataset(dataset, variant, anchor)
        self._faults = faults.FaultQueue()
        self._requests = RequestLog()
        self._last_order_error: dict[str, Any] | None = None
        self._placed: list[dict[str, Any]] = []
        self.sessions = Sessions()
        self.orders = OrderState(first_app_order_id=FIRST_APP_ORDER_ID, instrument=self._known)
        self._master_bodies: dict[tuple[str, ...], bytes] = {}
        self._instruments: dict[str, dict[int, Instrument | None]] = {}  # looked up so far
        self.stopping = threading.Event()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> XTSTestServer:
        if self._httpd is not None:
            raise RuntimeError("XTSTestServer is already running")
        self._warm_up()
        self.stopping.clear()
        httpd = HTTPServer((self.host, self._requested_port), Handler)
        httpd.app = self
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
        self.stopping.set()
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

    def master_body(self, segments: tuple[str, ...]) -> bytes:
        """The encoded master answer for these segments (cached until the dataset changes)."""
        with self._lock:
            cached = self._master_bodies.get(segments)
        if cached is None:
            cached = market.master_body([self.master_text(s) for s in segments])
            with self._lock:
                self._master_bodies[segments] = cached
        return cached

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

    def instrument(self, segment: str, token: int) -> Instrument | None:
        """What the served master of ``segment`` says about ``token`` (None: not listed)."""
        with self._lock:
            known = self._instruments.setdefault(segment, {})
            if token not in known:
                known[token] = market.find_instrument(self.master_text(segment), token)
            return known[token]

    def _known(self, segment: str, token: int) -> Instrument:
        """The instrument, or a stand-in when instruments are not validated."""
        return self.instrument(segment, token) or Instrument(
            token=token,
            symbol=str(token),
            lot_size=1,
            tick_size=Decimal("0.05"),
            reference_price=DEFAULT_REFERENCE_PRICE,
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
        """Make the next ``times`` answers of ``endpoint`` misbehave as ``kind`` (see
        FAULT_KINDS; default endpoint: master, or orders for the order-side kinds).
        ``segment`` narrows it to requests for that segment (master list, index list or the
        ``exchangeSegment`` of an interactive body)."""
        return self._faults.add(
            kind,
            endpoint=endpoint,
            segment=segment,
            segments=tuple(SEGMENT_CODES),
            times=times,
            delay=delay,
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        return self._faults.pending()

    # ------------------------------------------------------------------ recorded traffic

    @property
    def requests(self) -> RequestLog:
        """Every request received so far, oldest first (the live list; ``.clear()`` works)."""
        return self._requests

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        """Recorded requests whose path ends with ``path_suffix`` (e.g. "/interactive/orders")."""
        return [r for r in self._requests.snapshot() if r.path.endswith(path_suffix)]

    def interactive_requests(self) -> list[RecordedRequest]:
        """Recorded requests to the interactive API (what reached "the broker")."""
        return [r for r in self._requests.snapshot() if r.path.startswith(INTERACTIVE_ROOT)]

    def clear_requests(self) -> None:
        self._requests.clear()

    @property
    def last_reject_description(self) -> str | None:
        """The description of the last 4xx error (not 401) answered to an order, if any."""
        with self._lock:
            return self._last_order_error["description"] if self._last_order_error else None

    @property
    def placed_orders(self) -> list[dict[str, Any]]:
        """Orders accepted by ``POST orders`` so far: the order JSON plus ``AppOrderID``."""
        with self._lock:
            return [dict(order) for order in self._placed]

    def record_placed(self, body: dict[str, Any], app_order_id: int) -> None:
        with self._lock:
            self._placed.append({**body, "AppOrderID": app_order_id})

    def expire_sessions(self) -> None:
        """Revoke every issued token (market data and interactive), like a broker restart."""
        self.sessions.clear()

    def reset(self) -> None:
        """Back to the constructor's dataset and clients; no faults, recorded requests, orders
        or positions."""
        dataset, variant, anchor, clients = self._initial
        self.set_dataset(dataset, variant=variant, anchor=anchor)
        self._requests.clear()
        self._faults.clear()
        self.orders.reset()
        with self._lock:
            self.clients = set(clients) if clients is not None else None
            self._placed.clear()
            self._last_order_error = None

    # ------------------------------------------------------------------ request handling

    def handle(
        self, *, method: str, target: str, headers: Headers, raw_body: bytes
    ) -> wire.Response:
        """The answer to one HTTP request (called by the HTTP handler threads)."""
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
        if path.startswith(CONTROL_ROOT):
            return control.handle(self, method, path[len(CONTROL_ROOT) :], query, body)
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
            try:
                error = json.loads(response.body)
            except ValueError:
                error = None
            if isinstance(error, dict):
                with self._lock:
                    self._last_order_error = error
        request.status = None if response.mode == "drop" else response.status
        return response

    def _route(self, request: RecordedRequest) -> tuple[str | None, str | None]:
        """(endpoint name, or None if unknown; wrong-method message or None)."""
        name = ROUTES.get((request.path, request.method))
        if name is None:
            allowed = _METHODS.get(request.path)
            if allowed:
                return None, (
                    f"{request.method} is not allowed on {request.path}; use {' or '.join(allowed)}"
                )
            return None, None
        if (
            name == "orderbook"
            and request.path.endswith("/orders")
            and "appOrderID" in request.query
        ):
            return "orderhistory", None
        return name, None

    def _segments_of(self, endpoint: str, request: RecordedRequest) -> tuple[str, ...]:
        body = request.body if isinstance(request.body, dict) else {}
        if endpoint == "master":
            wanted = body.get("exchangeSegmentList")
            if isinstance(wanted, list):
                return tuple(segment_name(s) or str(s) for s in wanted)
            return ()
        if endpoint == "indexlist":
            name = segment_name(request.query.get("exchangeSegment", ""))
        elif endpoint in ("modify", "cancel", "orderhistory"):  # the segment of that order
            name = self._order_segment(body.get("appOrderID") or request.query.get("appOrderID"))
        else:
            name = segment_name(body.get("exchangeSegment", ""))
        return (name,) if name else ()

    def _order_segment(self, app_order_id: Any) -> str | None:
        try:
            return self.orders.order(app_order_id).segment
        except wire.Refused:
            return None

    def _answer(self, request: RecordedRequest) -> wire.Response:
        endpoint, wrong_method = self._route(request)
        request.endpoint = endpoint
        if wrong_method:
            return wire.error_response(405, "e-app-0405", wrong_method)
        if endpoint is None:
            return wire.error_response(
                404, "e-app-0404", f"No XTS endpoint at {request.method} {request.path}"
            )
        fault = self._faults.take(endpoint, self._segments_of(endpoint, request))
        if fault is not None:
            request.fault = fault.kind
            logger.info("Injected fault %s on %s %s", fault.kind, request.method, request.path)
            if fault.kind in faults.REVOKES_TOKEN:
                status = 400 if fault.kind == "invalid_token" else 401
                self.sessions.revoke(request.authorization, status=status)
            early = faults.early_response(fault.kind)
            if early is not None:
                return early
        malformed = fault is not None and fault.kind == "malformed_lines"
        if endpoint == "login":
            response = market.login(self, request)
        elif endpoint == "master":
            response = market.master(self, request, malformed=malformed)
        elif endpoint == "indexlist":
            response = market.indexlist(self, request, malformed=malformed)
        else:
            response = dealer.ENDPOINTS[endpoint](self, request)
        return faults.spoil(response, fault) if fault is not None else response
