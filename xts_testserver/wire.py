"""What the test server puts on the wire: XTS answer bodies, error constants and raw responses.

XTS answers ``{"type": "success", "code", "description", "result"}`` and errors
``{"type": "error", "code", "description"}``; every endpoint module builds its answers here so the
shapes stay in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def error(code: str, description: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "description": description}


def success(code: str, description: str, result: Any) -> dict[str, Any]:
    return {"type": "success", "code": code, "description": description, "result": result}


INVALID_TOKEN = error("e-session-0002", "Invalid Token")
INVALID_KEYS = error("e-user-0005", "Invalid appKey or secretKey")
RMS_REJECT = error("e-orders-0008", "Order rejected by RMS: insufficient margin")
NOT_JSON_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
# A processed request whose answer came back mangled by a proxy: JSON-ish, not parseable.
GARBLED_BODY = b'{"type":"success","code":"s-orders-\x00\xff\xfe#@!garbled\x1b[0m'


@dataclass
class Response:
    """One answer; ``mode`` says how the HTTP handler delivers it."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    mode: str = "normal"  # normal | truncated | drop
    delay: float = 0.0


def json_response(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload).encode())


def error_response(status: int, code: str, description: str) -> Response:
    return json_response(status, error(code, description))


class Refused(Exception):
    """A request the broker refuses: answered as an XTS error (HTTP 400 unless said)."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status

    def response(self) -> Response:
        return error_response(self.status, self.code, self.description)


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
