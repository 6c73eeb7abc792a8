"""Every error answer has one shape: {"error": {"code", "message", "field"}}.

The core service raises typed EnrollmentErrors; this module maps each class to the HTTP status that
means the same thing, and turns FastAPI's own errors (malformed JSON, wrong JSON types, unknown
routes) and database outages into the same body, so a client needs one error parser.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from enrollment_core import errors as core

from .wire import json_field

log = logging.getLogger(__name__)

# Most specific class first is not needed: the lookup walks the exception's MRO.
STATUS_OF: dict[type[core.EnrollmentError], int] = {
    core.ValidationError: 422,
    core.PayloadTooLarge: 413,
    core.UsernameUnavailable: 409,
    core.UserNotFound: 404,
    core.SessionNotFound: 404,
    core.SessionExpired: 410,
    core.SessionClosed: 409,
    core.SessionElsewhere: 409,  # the session, started elsewhere, cannot be continued from here
    core.StepConflict: 409,
    core.EnrollmentIncomplete: 409,
    core.WrongFlow: 409,
    core.NoEnrolledSignatures: 409,
    core.AccountLocked: 423,
    core.RateLimited: 429,
    core.EnrollmentError: 400,  # a refusal this table does not know yet: still the client's side
}

# Codes the API layer itself produces (the others are EnrollmentError.code values).
MALFORMED_JSON = "malformed_json"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
SIGNATURE_REJECTED = "signature_rejected"
# The code of a 503 when the database did not answer (the core's DATABASE_UNAVAILABLE: the exceptions).
DATABASE_UNAVAILABLE_CODE = "database_unavailable"
SERVER_BUSY = "server_busy"
# Seconds a client is asked to wait before retrying: PostgreSQL back after a crash is reconnected to
# within about a second (enrollment_core.database), and a shed request can be sent again at once.
DATABASE_RETRY_AFTER = "2"
BUSY_RETRY_AFTER = "1"
SERVER_BUSY_MESSAGE = "the server is busy right now; nothing was saved, please retry in a moment"
INTERNAL_ERROR = "internal_error"
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: UNSUPPORTED_MEDIA_TYPE,
}


def status_of(exc: core.EnrollmentError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}, **extra}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, field, **extra), status_code=status, headers=headers)


def enrollment_error_response(exc: core.EnrollmentError) -> JSONResponse:
    headers: dict[str, str] | None = None
    extra: dict[str, Any] = {}
    if isinstance(exc, core.AccountLocked):
        until = exc.locked_until
        wait = max(1, math.ceil((until - datetime.now(UTC)).total_seconds()))
        headers, extra = {"Retry-After": str(wait)}, {"lockedUntil": until.isoformat()}
    elif isinstance(exc, core.RateLimited):
        wait = exc.retry_after_seconds
        headers, extra = {"Retry-After": str(wait)}, {"retryAfter": wait}
    return error_response(
        status_of(exc), exc.code, exc.message, json_field(exc.field), headers=headers, **extra
    )


async def _on_enrollment_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, core.EnrollmentError)
    return enrollment_error_response(exc)


def _field_of(loc: tuple[Any, ...]) -> str | None:
    """('body', 'metrics', 'x') -> 'metrics.x'; ('body',) -> None (the body as a whole)."""
    located = loc[1:] if loc and loc[0] in ("body", "path", "query") else loc
    parts = [str(p) for p in located]
    return ".".join(parts) or None


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _on_request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    for problem in problems:
        if problem.get("type") == "json_invalid":
            detail = (problem.get("ctx") or {}).get("error", "JSON decode error")
            position = problem["loc"][-1] if len(problem["loc"]) > 1 else "?"
            return error_response(
                400, MALFORMED_JSON, f"the request body is not valid JSON: {detail} (at character {position})"
            )
    first = problems[0] if problems else {"loc": ("body",), "type": "", "msg": "invalid request"}
    loc = tuple(first.get("loc", ()))
    field = _field_of(loc)
    if field is None and loc[:1] == ("body",):
        if first.get("type") == "missing":  # FastAPI reports an empty body this way
            return error_response(422, "validation_error", "the request body is required: a JSON object")
        if not _is_json(request):  # FastAPI hands a non-JSON body over as bytes
            return error_response(
                415, UNSUPPORTED_MEDIA_TYPE, "send the request body as JSON (Content-Type: application/json)"
            )
        return error_response(422, "validation_error", "the request body must be a JSON object")
    if first.get("type") == "missing":
        message = f"{field} is required"
    else:
        message = f"{field}: {str(first.get('msg', 'is invalid'))[:1].lower()}{str(first.get('msg'))[1:]}"
    return error_response(422, "validation_error", message, field)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else "the request was refused"
    if exc.status_code == 404 and message == "Not Found":  # the router's words: no such endpoint
        message = f"there is no endpoint {request.url.path} (see /docs)"
    if exc.status_code == 405:
        allowed = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow", "")
        message = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}"
    if (
        exc.status_code == 400
    ):  # FastAPI's answer to a body its JSON decoder gave up on (e.g. nested too deep)
        code, message = (
            MALFORMED_JSON,
            "the request body could not be parsed as JSON (is it nested too deeply?)",
        )
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _on_database_down(_: Request, exc: Exception) -> JSONResponse:
    """The database is down, or did not answer within its limits (a connection within
    DB_POOL_TIMEOUT_SECONDS, a statement or lock wait within its timeout). The transaction was rolled
    back: nothing of the request was saved, and sending it again is safe."""
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
        message = "the database did not answer in time; nothing was saved, please retry in a moment"
    else:
        message = "the database is unavailable right now; nothing was saved, please retry in a moment"
    retry = {"Retry-After": DATABASE_RETRY_AFTER}
    return error_response(503, DATABASE_UNAVAILABLE_CODE, message, headers=retry)


async def _on_pool_full(_: Request, exc: Exception) -> JSONResponse:
    """More requests wait for a database connection than DB_POOL_MAX_WAITING: refused at once rather
    than queued (load shedding)."""
    log.warning("request shed: %s", exc)
    return error_response(503, SERVER_BUSY, SERVER_BUSY_MESSAGE, headers={"Retry-After": BUSY_RETRY_AFTER})


async def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, INTERNAL_ERROR, "an unexpected error occurred; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(core.EnrollmentError, _on_enrollment_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    for unavailable in core.DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _on_database_down)
    # An OperationalError too, but its own answer: Starlette picks the handler of the nearest class in
    # the exception's MRO, so this one wins over the OperationalError handler above.
    app.add_exception_handler(psycopg_pool.TooManyRequests, _on_pool_full)
    app.add_exception_handler(Exception, _on_unexpected)
