"""uvicorn's HTTP protocol (httptools, as api.serve runs it), with two guards that belong to the server,
not to the app:

- a request must arrive whole, headers and body, within API_REQUEST_TIMEOUT_SECONDS of its first byte
  (or of the connection opening); otherwise the client gets 408 with the API's error body and the
  connection is closed. A client that sends a body one byte at a time no longer holds a connection
  for as long as it likes (uvicorn itself has no such limit: only an idle keep-alive timeout).
- what uvicorn answers by itself to a request it cannot parse (a malformed Content-Length, a broken
  request line) has the API's JSON error body and headers too, instead of plain text.

api.serve (./dev start) and api.testing.serve (the tests) both run it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from enrollment_core.config import Settings

from .headers import SECURITY_HEADERS

REQUEST_TIMEOUT_CODE = "request_timeout"


def error_response_bytes(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response with the API's error body, closing the connection."""
    body = json.dumps(
        {"error": {"code": code, "message": message, "field": None}}, separators=(",", ":")
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *SECURITY_HEADERS,
    ]
    head = f"HTTP/1.1 {status} {reason}\r\n".encode() + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    return head + b"\r\n" + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    request_timeout: float = Settings.from_env().request_timeout_seconds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._mid_request = False  # between the parser's message begin and message complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_deadline()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None:  # the first bytes of the next request on this connection
            self._start_deadline()
        super().data_received(data)
        if not self._mid_request:  # this request is whole (body included); the next has not begun
            self._stop_deadline()

    def on_message_begin(self) -> None:
        self._mid_request = True
        super().on_message_begin()

    def on_message_complete(self) -> None:
        self._mid_request = False
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse, in the API's error shape."""
        self._stop_deadline()
        message = "the request is not valid HTTP (for example a malformed Content-Length header)"
        self.transport.write(error_response_bytes(400, "Bad Request", "bad_request", message))
        self.transport.close()

    # ------------------------------------------------------------------ the deadline

    def _start_deadline(self) -> None:
        self._deadline = self.loop.call_later(self.request_timeout, self._on_deadline)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _on_deadline(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started and not cycle.response_complete
        if self._mid_request and not answering:
            message = f"the request did not arrive in full within {self.request_timeout:g} seconds"
            self.transport.write(error_response_bytes(408, "Request Timeout", REQUEST_TIMEOUT_CODE, message))
        self.transport.close()  # the app, if it was waiting for the body, sees the client disconnect


def guarded_protocol(request_timeout: float) -> type[GuardedHttpToolsProtocol]:
    """The protocol with another deadline (tests; a server built in Python)."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"request_timeout": request_timeout})
