"""Load shedding: a worker process works on at most `max_in_flight` requests at once (API_MAX_IN_FLIGHT);
one more is answered 503 server_busy with Retry-After at once.

Without it every request beyond what the worker could serve joined a queue (FastAPI's 40 worker threads,
then the connection pool's) that only grew: at 200 concurrent clients nothing was refused and answers
took up to 15 s, longer than a phone waits. A quick "busy, retry in 1 s" lets the client retry (or a
load balancer try another server) while the requests already in hand finish at their usual speed.

A request counts from the moment it has arrived whole (its body included) until its answer is sent: a
client still sending its body costs no work yet, and it is cut off by the server's own deadline
(api/server.py), so slow clients cannot fill the count and get everyone else refused.

The count is this process's own: it measures this process's capacity, which no other process shares (the
limits that are about clients, not capacity, live in PostgreSQL: enrollment_core.rate_limits). The
health checks are never shed: a busy server is alive and, if its database answers, ready.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import BUSY_RETRY_AFTER, SERVER_BUSY, SERVER_BUSY_MESSAGE
from .limits import send_error

NEVER_SHED = frozenset({"/healthz", "/readyz"})
_RETRY_AFTER = ((b"retry-after", BUSY_RETRY_AFTER.encode()),)


class Shed(Exception):
    """Raised into the application when its request, now whole, is one too many."""


class InFlightLimit:
    """Pure ASGI middleware. One event loop per worker process, so a plain counter is exact."""

    def __init__(self, app: ASGIApp, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NEVER_SHED:
            await self.app(scope, receive, send)
            return
        if not _has_body(scope):  # the request is whole already
            if self.in_flight >= self.max_in_flight:
                await send_error(send, 503, SERVER_BUSY, SERVER_BUSY_MESSAGE, _RETRY_AFTER)
                return
            self.in_flight += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.in_flight -= 1
            return
        await self._when_body_arrives(scope, receive, send)

    async def _when_body_arrives(self, scope: Scope, receive: Receive, send: Send) -> None:
        counted = shed = False

        async def admitting_receive() -> Message:
            nonlocal counted, shed
            message = await receive()
            whole = message["type"] == "http.request" and not message.get("more_body", False)
            if whole and not counted:
                if self.in_flight >= self.max_in_flight:
                    shed = True
                    raise Shed
                self.in_flight += 1
                counted = True
            return message

        async def guarded_send(message: Message) -> None:
            if not shed:  # whatever the app answers to the aborted body is replaced by the 503 below
                await send(message)

        try:
            await self.app(scope, admitting_receive, guarded_send)
        except Exception:
            if not shed:
                raise
        finally:
            if counted:
                self.in_flight -= 1
        if shed:
            await send_error(send, 503, SERVER_BUSY, SERVER_BUSY_MESSAGE, _RETRY_AFTER)


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
            return True
    return False
