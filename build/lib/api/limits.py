"""Request body size limit, enforced before anything reads or parses the body.

A pure ASGI middleware: a declared Content-Length over the limit is refused at once (the body is never
read); a body without Content-Length (chunked) is counted as it streams in and refused as soon as it
passes the limit. Either way the answer is 413 with the API's error body.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from enrollment_core import validation

from .errors import error_body

# The largest legitimate body: a signature data URL at its limit, raw strokes at theirs, metrics, and
# room for the other fields and JSON escaping. Anything larger cannot be a valid save-drawing request.
MAX_BODY_BYTES = 3 * 1024 * 1024
assert MAX_BODY_BYTES > (
    validation.SIGNATURE_MAX_CHARS + validation.RAW_MAX_BYTES + validation.METRICS_MAX_BYTES
)


class BodyTooLarge(Exception):
    """Raised into the application when the streamed body passes the limit."""


async def send_error(
    send: Send, status: int, code: str, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Answer with the API's error body from a pure ASGI middleware (before the app runs)."""
    body = json.dumps(error_body(code, message), separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large_message(self) -> str:
        return f"the request body is larger than {self.max_body_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared = _content_length(scope)
        if declared == -1:
            await send_error(send, 400, "bad_request", "the Content-Length header is not a valid number")
            return
        if declared is not None and declared > self.max_body_bytes:
            await send_error(send, 413, "payload_too_large", self._too_large_message())
            return

        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded:
                return  # whatever the app answers to the aborted body is replaced by the 413 below
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not response_started:
            await send_error(send, 413, "payload_too_large", self._too_large_message())


def _content_length(scope: Scope) -> int | None:
    """The declared body size; None when absent, -1 when malformed."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                size = int(value)
            except ValueError:
                return -1
            return size if size >= 0 else -1
    return None
