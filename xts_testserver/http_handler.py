"""HTTP plumbing: a threaded loopback server that delivers ``wire.Response`` objects.

It knows nothing about XTS: it reads a request, asks its ``app`` (the ``XTSTestServer``) for an
answer, and delivers it normally, late (``delay``), cut in half (``truncated``) or not at all
(``drop``). ``close_connections`` makes a stopped server really stop answering kept-alive clients.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from xts_testserver.wire import Headers, Response

logger = logging.getLogger("xts_testserver.server")


class App(Protocol):
    stopping: threading.Event

    def handle(self, *, method: str, target: str, headers: Headers, raw_body: bytes) -> Response:
        """The answer to one request."""
        ...


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    app: App

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


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "XTSTestServer/1.0"
    timeout = 120  # an idle kept-alive connection is closed after this many seconds
    server: HTTPServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length > 0 else b""
        app = self.server.app
        response = app.handle(
            method=self.command,
            target=self.path,
            headers=Headers(self.headers.items()),
            raw_body=raw_body,
        )
        if response.delay and app.stopping.wait(response.delay):
            self.close_connection = True
            return
        if response.mode == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._deliver(response)

    def _deliver(self, response: Response) -> None:
        body = response.body
        truncated = response.mode == "truncated"
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(body)))
            if truncated:
                self.send_header("Connection", "close")
            self.end_headers()
            if truncated:
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
