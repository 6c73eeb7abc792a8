"""Request and response bodies of the HTTP API, for parsing JSON and for the OpenAPI document.

The request models check only the JSON *shape* (which fields, of which JSON type). Every business rule
(username format, session id format, step plan, image and size limits) is enforced by
enrollment_core, the single place of validation; the limits below are copied into the OpenAPI schema
from enrollment_core.validation so that the document cannot drift from what the service enforces.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from enrollment_core import device_tokens, validation
from enrollment_core.status import SessionStatus
from enrollment_core.step_plan import FlowType as FlowName
from enrollment_core.step_plan import StepType

# Strict: JSON types are not coerced ("1" is not a step number, 1.5 is not one either).
_REQUEST = ConfigDict(strict=True, extra="ignore")

SESSION_ID_PATTERN = validation.SESSION_ID_PATTERN
USERNAME_DOC = (
    f"{validation.USERNAME_MIN}-{validation.USERNAME_MAX} characters (surrounding spaces are trimmed): "
    "letters, digits, '_', '.' and '-', starting with a letter or digit; compared case-insensitively."
)


DEVICE_TOKEN_BINDS = (
    "Extension: a secret this client holds, typically its device token for the account. A session "
    "started with one (the first drawing, without sessionId) continues (save-drawing, /register, /login) "
    "only with the same one; anything else is 409 session_elsewhere. Without it, anyone with the session "
    "id and the username can continue the session (the design note's behaviour)."
)
DEVICE_TOKEN_ANSWER = (
    "Extension: the device token to keep (in the app: the browser) and send as deviceToken with every "
    "later /login of this account; a retry of this request answers the same one. Opaque, 256 bits; the "
    "server keeps only its hash. It lives from its latest accepted sign-in for DEVICE_TOKEN_DAYS (90 "
    "by default)."
)


# Free text and JSON fields are checked by enrollment_core.validation (NUL characters, unpaired
# surrogates, nesting depth, sizes), so the API and the apps refuse the same things in the same words.
Text = str
RawStrokes = Any


def _documented(**schema: Any) -> dict[str, Any]:
    """Constraints shown in the OpenAPI schema (as json_schema_extra) but enforced by enrollment_core
    (with its own messages)."""
    return schema


# ------------------------------------------------------------------------------------------ requests

# A small but real first step (a valid PNG of the squiggle in `raw`): the OpenAPI example, which the
# fuzzing test also sends, so the success path is part of it.
SAVE_DRAWING_EXAMPLE: dict[str, Any] = {
    "username": "john_doe",
    "step": 1,
    "type": "signature",
    "instruction": "Sign your name",
    "signature": (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAFAAAAAoCAYAAABpYH0BAAAA7UlEQVR4nO2XSw6AIAxER+9/Z1y5I"
        "RigH2DMvI2JUWyfrRZACCGEEEIIMc21O4AkSuNcSq7sAluieoTmzCzQIq+FywGrQE+Lhrb3bb1xI14BrWvN1cwmMKp6wiQyCYz+"
        "s4ZIZBGYNZbUa0yvefpP5KsiouMu1jVPFrhsGPYw2sJRM9coFPKAMYGlOmZDIw/oC6yTWV2JwMHygL7A0KFzgHrto+UBYy28SuK"
        "O6nYz84azRopVo0oKM4P0V0KeyqGWB9gD9SZOL+7FupXzVONv5AExQXs//pTiXjL2lDueu42sRH7VpkIIIYQQQohgHjhvJR9F2O"
        "a7AAAAAElFTkSuQmCC"
    ),
    "raw": {
        "strokes": [
            [[8.0, 20.0], [12.5, 24.4], [17.0, 27.9], [21.5, 29.8], [26.0, 29.7], [30.5, 27.6], [35.0, 24.0]]
            + [
                [39.5, 19.6],
                [44.0, 15.3],
                [48.5, 11.9],
                [53.0, 10.1],
                [57.5, 10.4],
                [62.0, 12.6],
                [66.5, 16.3],
            ]
        ]
    },
    "metrics": {"stroke_count": 1, "point_count": 14, "path_length": 70.46},
}


class UsernameRequest(BaseModel):
    model_config = _REQUEST

    username: Text = Field(description=USERNAME_DOC, examples=["john_doe"])


class UserExistsRequest(UsernameRequest):
    """Body of /api/check-user-exists."""

    deviceToken: Text | None = Field(
        default=None,
        description=(
            "Extension: the device token this client keeps for the account. A valid one is a known device, "
            "which no address lock stops: then no lock is reported."
        ),
        json_schema_extra=_documented(pattern=device_tokens.SECRET_PATTERN),
    )


class SaveDrawingRequest(BaseModel):
    """One drawing step, exactly as the seed's mobile web client sends it."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        json_schema_extra={
            "description": "One step of an enrollment: the seed's save-drawing body.",
            "examples": [SAVE_DRAWING_EXAMPLE],
        },
    )

    username: Text = Field(description=USERNAME_DOC)
    step: int = Field(
        description="Step number, from 1; steps are saved in order (signup 1-11, signin 1).",
        json_schema_extra=_documented(minimum=1, maximum=validation.MAX_STEP),
    )
    type: StepType = Field(description="The plan's type for this step.")
    instruction: Text | None = Field(
        default=None,
        description="What the person was asked to draw; the plan's wording is stored when empty.",
        json_schema_extra=_documented(maxLength=validation.INSTRUCTION_MAX_CHARS),
    )
    signature: Text = Field(
        description="The drawing as a PNG, JPEG or WebP image in a base64 data URL.",
        json_schema_extra=_documented(
            maxLength=validation.SIGNATURE_MAX_CHARS,
            pattern=validation.SIGNATURE_PREFIX_PATTERN,
        ),
    )
    raw: RawStrokes = Field(
        description=(
            "The pen strokes: a Fabric.js canvas json_data object, signature_pad toData() output, or "
            f"either as JSON text; at most {validation.RAW_MAX_BYTES} bytes as compact JSON."
        ),
        json_schema_extra=_documented(type=["object", "array", "string"]),
    )
    metrics: dict[str, Any] | None = Field(
        default=None,
        description=(
            f"Client-side metrics of the drawing (a JSON object, at most {validation.METRICS_MAX_BYTES} "
            "bytes); computed by the server when absent."
        ),
    )
    sessionId: Text | None = Field(
        default=None,
        description="The id returned by the first call; absent on the first drawing.",
        json_schema_extra=_documented(pattern=SESSION_ID_PATTERN),
    )
    flowType: FlowName | None = Field(
        default=None,
        description="Extension: 'signup' (default for a new session) or 'signin'.",
    )
    deviceToken: Text | None = Field(
        default=None,
        description=DEVICE_TOKEN_BINDS,
        json_schema_extra=_documented(pattern=device_tokens.SECRET_PATTERN),
    )


class CompletionRequest(BaseModel):
    """Body of /register and /login."""

    model_config = _REQUEST

    username: Text = Field(description=USERNAME_DOC, examples=["john_doe"])
    sessionId: Text = Field(
        description="The session whose drawings complete the signup or sign-in.",
        json_schema_extra=_documented(pattern=SESSION_ID_PATTERN),
    )
    useTemporaryData: bool = Field(
        default=True,
        description="Must be true: the drawings saved in the session are used.",
        json_schema_extra=_documented(const=True),
    )
    deviceToken: Text | None = Field(
        default=None,
        description=(
            "Extension: the device token this client keeps for the account (from /register or an accepted "
            "/login). /login: a valid one makes the attempt a known device, which rejected sign-ins from "
            "elsewhere never lock, slow or refuse (it has limits of its own). Both: a session started "
            "with a deviceToken completes only with the same one."
        ),
        json_schema_extra=_documented(pattern=device_tokens.SECRET_PATTERN),
    )


# ------------------------------------------------------------------------------------------ responses


class UsernameAvailability(BaseModel):
    username: str
    available: bool = Field(description="Signup: the username is valid and nobody has registered it.")
    reason: str | None = Field(description="Why it is not available (null when it is).")
    code: str | None = Field(description="validation_error or username_taken (null when available).")


class UserExistence(BaseModel):
    username: str
    exists: bool = Field(description="Sign-in: an account is registered under this username.")
    reason: str | None = Field(
        description="Why sign-in cannot start (null when it can): not registered, or locked from here."
    )
    code: str | None = Field(
        description="validation_error, user_not_found or account_locked (null when sign-in can start)."
    )
    lockedUntil: datetime | None = Field(
        default=None,
        description=(
            "Set when the account exists but this client address is locked out of it after repeated "
            "rejections (other addresses are not)."
        ),
    )


class ProgressBody(BaseModel):
    """The columns of get_enrollment_progress(session_id), plus the next step to draw."""

    total_steps: int
    completed_steps: int
    last_step_number: int | None
    last_step_type: str | None
    remaining_steps: int
    is_complete: bool
    next_step: int | None = Field(description="The step number to draw next; null when complete.")


class SaveDrawingResponse(BaseModel):
    sessionId: str
    progress: ProgressBody
    created: bool = Field(description="This call started the session.")
    duplicate: bool = Field(
        description="A retry of a step already saved with the same content: nothing was written."
    )


class SessionProgressResponse(BaseModel):
    sessionId: str
    flowType: FlowName
    status: Literal[SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED] = Field(
        description="An expired session answers 410."
    )
    expiresAt: datetime
    progress: ProgressBody


class RegisterResponse(BaseModel):
    userId: int
    username: str
    sessionId: str
    drawingsCopied: int = Field(description="Drawings copied from the session to the account.")
    deviceToken: str | None = Field(default=None, description=DEVICE_TOKEN_ANSWER)


class LoginVerdict(BaseModel):
    accepted: bool
    username: str
    sessionId: str
    reason: str = Field(description="The verdict in plain words (never a score: that would help a forger).")
    reasonCode: str = Field(
        description="match, no_match, replay, empty, untimed (a timed account refuses a drawing without its"
        " timing) or implausible_timing (times no hand produces); a newer release may add codes."
    )
    failuresLeft: int = Field(
        description=(
            "Rejections from this client address left before it is locked out of the account; with a "
            "valid deviceToken, rejections with that token left before it is revoked."
        )
    )
    lockedUntil: datetime | None = Field(
        description="Set when this rejection locked this client address out of the account."
    )
    deviceToken: str | None = Field(default=None, description=DEVICE_TOKEN_ANSWER + " Null when rejected.")


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code (see docs/api.md).")
    message: str = Field(description="Human-readable explanation, safe to show to the person.")
    field: str | None = Field(description="The request field concerned, by its API name, if any.")


class ErrorBody(BaseModel):
    """Every error answer: {"error": {code, message, field}} (plus a few documented extras)."""

    error: ErrorDetail
    login: LoginVerdict | None = Field(
        default=None, description="Only on a rejected /login (401): the verdict details."
    )
    lockedUntil: datetime | None = Field(
        default=None,
        description="Only on account_locked (423): when sign-in from this address is possible again.",
    )
    retryAfter: int | None = Field(
        default=None, description="Only on rate_limited (429): seconds to wait (as Retry-After)."
    )


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]
