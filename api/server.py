"""uvicorn's HTTP protocol (httptools, as api.serve runs it), with two guards that belong to the server,
not to the app:

- a request must arrive whole, headers and body, within API_REQUEST_TIMEOUT_SECONDS of its first byte
  (or of the connection opening); otherwise the client gets 408 with the API's error body and the
  connection is closed. A client that sends a body one byte at a time no longer holds a connection
  for as long as it likes (uvicorn itself has no such limit: only an idle keep-alive timeout).
- what uvicorn answers by itself to a request it cannot parse (a malformed Content-Length, a broken
  request line) has the API's JSON error body and headers too, instead of plain text.
- the request line and headers together may be API_MAX_HEADER_BYTES (16 KiB) and hold API_MAX_HEADERS
  (100) fields; past either the client gets 431 and the connection is closed. The size is counted as
  the bytes arrive, before the parser sees them: httptools joins the pieces of a header value (and
  uvicorn those of the URL) one by one, so one endless header line cost time quadratic in its length
  and memory without bound (16 such connections answered none of the normal requests within 1 s and
  took a worker from 87 to 394 MB, issue 24).

api.serve (./dev start) and bench.api_server.serve (the tests) both run it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from enrollment_core.config import process_configuration

from .errors import error_body
from .headers import SECURITY_HEADERS

REQUEST_TIMEOUT_CODE = "request_timeout"
HEADERS_TOO_LARGE_CODE = "headers_too_large"


def _head_end(data: bytes, within: int) -> int:
    """Where the blank line ending a request's head ends in data's first `within` bytes (-1: not
    there). A bare LF line end counts too: the parser may accept one, and finding an end too early only
    counts the head short by the rest of this read."""
    ends = [i + len(mark) for mark in (b"\r\n\r\n", b"\n\n") if (i := data.find(mark, 0, within)) >= 0]
    return min(ends) if ends else -1


def error_response_bytes(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response with the API's error body, closing the connection."""
    body = json.dumps(error_body(code, message), separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *SECURITY_HEADERS,
    ]
    head = f"HTTP/1.1 {status} {reason}\r\n".encode() + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    return head + b"\r\n" + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # The deadline and the header limits: a subclass's (guarded_protocol), else this process's settings
    # (API_REQUEST_TIMEOUT_SECONDS, API_MAX_HEADER_BYTES, API_MAX_HEADERS). uvicorn imports this class by
    # name in every worker process, so they are read when a connection arrives, never at import.
    request_timeout: float
    max_header_bytes: int
    max_header_count: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = process_configuration().settings
        configured = {
            "request_timeout": settings.request_timeout_seconds,
            "max_header_bytes": settings.max_header_bytes,
            "max_header_count": settings.max_header_count,
        }
        for name, value in configured.items():
            if not hasattr(self, name):
                setattr(self, name, value)
        self._deadline: asyncio.TimerHandle | None = None
        self._mid_request = False  # between the parser's message begin and message complete
        self._in_head = True  # the next bytes belong to a request line and headers
        self._head_bytes = 0  # of the current request's head, so far
        self._head_tail = b""  # its last 3 bytes: the blank line ending it may span two reads
        self._header_count = 0
        self._head_refusal: str | None = None  # why the head is refused (431), set by a parser callback

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_deadline()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None:  # the first bytes of the next request on this connection
            self._start_deadline()
        if self._in_head and self._head_too_large(data):
            self._refuse_head(f"the request line and headers are larger than {self.max_header_bytes} bytes")
            return
        super().data_received(data)
        if not self._mid_request:  # this request is whole (body included); the next has not begun
            self._stop_deadline()

    def _head_too_large(self, data: bytes) -> bool:
        """Count this read's bytes that belong to the head (all of them until the blank line ending
        it); True when the head is then over the limit (nothing of this read is parsed)."""
        room = self.max_header_bytes - self._head_bytes  # bytes the head may still take
        tail = self._head_tail
        # A blank line spanning two reads (ending in this one: one lying in the tail ended nothing)
        end = _head_end(tail + data[:3], len(tail) + 3) - len(tail) if tail else -1
        if end <= 0:
            end = _head_end(data, room + 4)
        size = self._head_bytes + (len(data) if end < 0 else end)
        if size > self.max_header_bytes:
            return True
        self._head_bytes, self._head_tail = size, (tail + data)[-3:] if len(data) < 3 else data[-3:]
        return False

    def on_message_begin(self) -> None:
        self._mid_request = True
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_header_count:
            self._head_refusal = f"the request has more than {self.max_header_count} header fields"
            raise ValueError(self._head_refusal)  # the parser stops; send_400_response answers 431
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._mid_request = False
        self._in_head, self._head_bytes, self._head_tail, self._header_count = True, 0, b"", 0
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse, in the API's error shape (431 when a parser
        callback refused the head)."""
        if self._head_refusal is not None:
            self._refuse_head(self._head_refusal)
            return
        self._stop_deadline()
        message = "the request is not valid HTTP (for example a malformed Content-Length header)"
        self.transport.write(error_response_bytes(400, "Bad Request", "bad_request", message))
        self.transport.close()

    def _refuse_head(self, message: str) -> None:
        """431 and close, unless an answer to an earlier request on this connection is being written
        (then only close: our bytes would land inside it)."""
        self._stop_deadline()
        cycle = self.cycle
        if not self.transport.is_closing() and (cycle is None or cycle.response_complete):
            reason = "Request Header Fields Too Large"
            self.transport.write(error_response_bytes(431, reason, HEADERS_TOO_LARGE_CODE, message))
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


def guarded_protocol(request_timeout: float, **limits: int) -> type[GuardedHttpToolsProtocol]:
    """The protocol with another deadline and header limits (max_header_bytes, max_header_count):
    tests, a server built in Python."""
    attributes = {"request_timeout": request_timeout, **limits}
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), attributes)
