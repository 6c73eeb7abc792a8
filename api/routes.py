"""The endpoints: the seed's contract (check-username, check-user-exists, save-drawing, register, login)
plus progress and health. Each one translates JSON to a service call and back; the rules live in
enrollment_core.

Endpoints are plain `def`: the service does blocking database work, so FastAPI runs them in its
thread pool. save-drawing, the hot path (11 calls per enrollment), is `async def` and hands only the
service call to the pool: one thread hand-off per request instead of one for the endpoint and one for
its response check (FastAPI checks a plain endpoint's answer in the pool too). The dependencies are
`async def` for the same reason: they only read the request, and a plain one costs a hand-off each.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from enrollment_core import ClientInfo, EnrollmentService, Progress
from enrollment_core.config import Settings, duration_words

from . import schemas, wire
from .errors import DATABASE_UNAVAILABLE_CODE, SIGNATURE_REJECTED, error_body, error_response
from .json_body import JSONRoute
from .schemas import SESSION_ID_PATTERN

router = APIRouter(route_class=JSONRoute)  # bodies decoded by orjson (api/json_body.py)

# The session lifetime goes where {lifetime} stands when an app is built (state_lifetime): the app's
# settings are known then, not when this module is imported.
_LIFETIME = "{lifetime}"
# What each error status means on this API (the OpenAPI document lists them per operation).
_ERROR_MEANINGS = {
    400: "malformed_json: the body is not valid JSON.",
    401: "signature_rejected: the signature did not match; `login` holds the verdict.",
    404: "session_not_found (unknown, removed, or another user's session) or user_not_found.",
    409: (
        "username_taken, step_conflict (not the next step, or a saved step with different content), "
        "session_closed (already completed; register and login answer a retry with the first result "
        "instead), enrollment_incomplete, wrong_flow, no_enrolled_signatures, session_elsewhere (the "
        "session was started with a deviceToken and continues only with it)."
    ),
    410: f"session_expired: the session passed its {_LIFETIME} lifetime; start again.",
    413: "payload_too_large: the body (over 3 MiB) or a field (signature, raw, metrics...) is too large.",
    415: "unsupported_media_type: the body is not sent as application/json.",
    422: "validation_error: a field is missing, of the wrong type, or invalid; `field` names it.",
    423: (
        "account_locked: too many rejected sign-ins from this client address; `lockedUntil` says until "
        "when (also Retry-After). Sign-in from other addresses is not locked."
    ),
    429: (
        "rate_limited: too many requests of this kind from this client address (or rejected sign-ins of "
        "this account); nothing was done. Send it again after Retry-After seconds (`retryAfter`)."
    ),
    503: (
        "database_unavailable (the database is down, or did not answer within its time limits) or "
        "server_busy (this server has as many requests as it takes at once): nothing was saved; retry "
        "after Retry-After seconds."
    ),
}
_BODY_ERRORS = (400, 413, 415, 422, 503)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": schemas.ErrorBody, "description": _ERROR_MEANINGS[status]}
        for status in sorted(set(statuses))
    }


def state_lifetime(app: FastAPI, settings: Settings) -> None:
    """`app`'s OpenAPI document states the configured session lifetime ("2-hour") in its descriptions of
    the errors (FastAPI's way of extending the document: the app's openapi(), which builds it once)."""
    lifetime = duration_words(settings.session_ttl_seconds, adjective=True)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    for response in operation.get("responses", {}).values():
                        if _LIFETIME in response.get("description", ""):
                            response["description"] = response["description"].replace(_LIFETIME, lifetime)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


async def get_service(request: Request) -> EnrollmentService:
    service: EnrollmentService = request.app.state.service
    return service


async def client_info(request: Request) -> ClientInfo:
    """The device as the request shows it. The IP is the TCP peer, or the client named by
    X-Forwarded-For when uvicorn trusts the peer as a proxy (--forwarded-allow-ips, see docs/api.md)."""
    return ClientInfo(
        user_agent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )


Service = Annotated[EnrollmentService, Depends(get_service)]
Client = Annotated[ClientInfo, Depends(client_info)]


def _progress(progress: Progress) -> dict[str, Any]:
    return {**progress.as_dict(), "next_step": progress.next_step}


# ---------------------------------------------------------------------------------------- usernames


@router.post(
    "/api/check-username",
    response_model=schemas.UsernameAvailability,
    responses=_errors(*_BODY_ERRORS, 429),
    summary="Signup: is this username valid and free?",
    tags=["enrollment"],
)
def check_username(body: schemas.UsernameRequest, service: Service, client: Client) -> dict[str, Any]:
    check = service.check_username(body.username, client)
    return {"username": check.username, "available": check.ok, "reason": check.reason, "code": check.code}


@router.post(
    "/api/check-user-exists",
    response_model=schemas.UserExistence,
    responses=_errors(*_BODY_ERRORS, 429),
    summary="Sign-in: is there an account with this username?",
    tags=["enrollment"],
)
def check_user_exists(body: schemas.UserExistsRequest, service: Service, client: Client) -> dict[str, Any]:
    check = service.check_user_exists(body.username, wire.with_device_token(client, body.deviceToken))
    return {
        "username": check.username,
        "exists": check.ok,
        "reason": check.reason,
        "code": check.code,
        "lockedUntil": check.locked_until,
    }


# ---------------------------------------------------------------------------------------- drawings


@router.post(
    "/api/save-drawing",
    response_model=schemas.SaveDrawingResponse,
    responses=_errors(*_BODY_ERRORS, 404, 409, 410, 429),
    summary="Save one drawing step (starts the session on step 1 without sessionId)",
    tags=["enrollment"],
)
async def save_drawing(body: schemas.SaveDrawingRequest, service: Service, client: Client) -> dict[str, Any]:
    # The service validates every value itself (the model checked only the JSON types); the fields as
    # decoded, not model_dump()'s copy of the strokes. One thread hand-off for the blocking save.
    command = wire.save_drawing_command({name: getattr(body, name) for name in body.model_fields_set})
    client = wire.with_device_token(client, body.deviceToken)
    result = await run_in_threadpool(service.save_drawing, command, client)
    return {
        "sessionId": result.session_id,
        "progress": _progress(result.progress),
        "created": result.created,
        "duplicate": result.duplicate,
    }


@router.get(
    "/api/progress/{sessionId}",
    response_model=schemas.SessionProgressResponse,
    responses=_errors(404, 410, 413, 422, 503),
    summary="Where a session stands, e.g. to resume after a lost connection",
    tags=["enrollment"],
)
def get_progress(
    session_id: Annotated[
        str,
        Path(
            alias="sessionId",
            description="The session's id.",
            json_schema_extra={"pattern": SESSION_ID_PATTERN},
        ),
    ],
    service: Service,
) -> dict[str, Any]:
    session, progress = service.get_live_session(session_id)
    return {
        "sessionId": session.session_id,
        "flowType": session.flow_type,
        "status": session.status,
        "expiresAt": session.expires_at,
        "progress": _progress(progress),
    }


# ---------------------------------------------------------------------------------------- completion


@router.post(
    "/register",
    status_code=201,
    response_model=schemas.RegisterResponse,
    responses=_errors(*_BODY_ERRORS, 404, 409, 410),
    summary="Complete signup: create the account from the session's drawings",
    description=(
        "Idempotent: the same request sent again once the account exists (the answer was lost) gets the "
        "identical 201 and creates nothing; another username for this session is 404."
    ),
    tags=["completion"],
)
def register(body: schemas.CompletionRequest, service: Service, client: Client) -> dict[str, Any]:
    client = wire.with_device_token(client, body.deviceToken)
    done = service.register(body.username, body.sessionId, body.useTemporaryData, client)
    return {
        "userId": done.user_id,
        "username": done.username,
        "sessionId": done.session_id,
        "drawingsCopied": done.drawings_copied,
        "deviceToken": done.device_token,
    }


@router.post(
    "/login",
    response_model=schemas.LoginVerdict,
    responses=_errors(*_BODY_ERRORS, 401, 404, 409, 410, 423, 429),
    summary="Complete sign-in: verify the session's signature against the enrolled ones",
    description=(
        "Idempotent: the same request sent again once the session has its verdict gets that verdict again "
        "(200, or 401 with the same reason), before any rate limit, and records, counts and spends "
        "nothing; failuresLeft and lockedUntil are those of now. Another username for this session is 404."
    ),
    tags=["completion"],
)
def login(body: schemas.CompletionRequest, service: Service, client: Client) -> Any:
    client = wire.with_device_token(client, body.deviceToken)
    result = service.login(body.username, body.sessionId, body.useTemporaryData, client)
    verdict = {
        "accepted": result.accepted,
        "username": result.username,
        "sessionId": result.session_id,
        "reason": result.reason,
        "reasonCode": result.reason_code,
        "failuresLeft": result.failures_left,
        "lockedUntil": result.locked_until,
        "deviceToken": result.device_token,
    }
    if result.accepted:
        return verdict
    # A rejection is not a success: clients that only look at the status cannot mistake it for one.
    rejection = error_body(SIGNATURE_REJECTED, result.reason, "sessionId", login=verdict)
    return JSONResponse(jsonable_encoder(rejection), status_code=401)


# ---------------------------------------------------------------------------------------- operations


@router.get(
    "/healthz",
    response_model=schemas.Health,
    summary="Liveness: the process answers (no database involved)",
    tags=["operations"],
)
async def healthz() -> dict[str, str]:
    # async and without the database: answered by the event loop at once, never queued behind saves
    # waiting for worker threads or connections. Restart the process only when this fails.
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=schemas.Readiness,
    responses=_errors(503),
    summary="Readiness: the database answers and drawings can be saved now",
    tags=["operations"],
)
async def readyz(request: Request) -> Any:
    # On its own connection from the event loop, within half a second (enrollment_core/readiness.py):
    # send traffic elsewhere while this says 503.
    problem = await request.app.state.readiness.problem()
    if problem is not None:
        return error_response(503, DATABASE_UNAVAILABLE_CODE, problem, headers={"Retry-After": "1"})
    return {"status": "ready", "database": "ok"}
