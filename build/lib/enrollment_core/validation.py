"""Validation of everything that enters the flow. Each refusal names the field (by its name in
enrollment_core.commands; api/wire.py gives the JSON names) and the reason. Limits are documented here
and in the README."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import orjson
import xxhash

from . import images, step_plan, strokes
from .commands import SaveDrawing
from .errors import PayloadTooLarge, ValidationError
from .step_plan import FlowType, StepType
from .strokes import RAW_MAX_BYTES as RAW_MAX_BYTES  # raw stroke data, as compact JSON (one limit for both)

# ---- limits (documented in the README) ----
USERNAME_MIN, USERNAME_MAX = 3, 32
SIGNATURE_MAX_CHARS = 1_500_000  # a data URL of about 1.1 MB of image; a 2x canvas PNG is ~20-80 KB
METRICS_MAX_BYTES = 16_384
INSTRUCTION_MAX_CHARS = 500
MAX_STEP = max(step_plan.total_steps(flow) for flow in step_plan.FLOW_TYPES)  # the longest plan's last
USER_AGENT_MAX_CHARS = 512  # longer user agents are truncated, not refused

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
RESERVED_USERNAMES = frozenset({"admin", "administrator", "root", "support", "system", "staff", "null"})
SESSION_ID_PATTERN = r"^sess_[A-Za-z0-9_-]{32,64}$"
_SESSION_ID = re.compile(SESSION_ID_PATTERN)
# Only the prefix: b64decode(validate=True) checks the (large) rest once, instead of a regex and it.
SIGNATURE_PREFIX_PATTERN = r"^data:image/(png|jpeg|webp);base64,"
_DATA_URL = re.compile(SIGNATURE_PREFIX_PATTERN[1:])
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
MIN_IMAGE_BYTES = 60  # smaller than any real PNG of a drawing
# PostgreSQL cannot store NUL (in text or jsonb), and an unpaired surrogate is not Unicode at all
# (Python's JSON decoder lets "\ud800" through): both would fail deep in the database.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A JSON-escaped NUL (\u0000) whose backslash is not itself escaped.
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def printable(text: Any) -> str:
    """Echo user input back safely (surrogates replaced) in answers and messages."""
    return str(text or "").encode("utf-8", "replace").decode("utf-8")


UNSTORABLE = "contains a NUL character or an unpaired surrogate, which cannot be stored"


def check_storable_text(text: str, field: str) -> None:
    if _UNSTORABLE.search(text):
        raise ValidationError(f"{field} {UNSTORABLE}", field=field)


def _has_non_finite(value: Any) -> bool:
    """Whether a NaN or an infinity hides in this JSON-like value."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(map(_has_non_finite, value.values()))
    if isinstance(value, (list, tuple)):
        return any(map(_has_non_finite, value))
    return False


def _sorted_json(value: Any, strict_numbers: bool) -> bytes:
    if not strict_numbers:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    # orjson writes NaN/Infinity as null, so they are looked for (after orjson, which caps the depth);
    # what orjson cannot serialise (ints beyond 64 bits, numpy scalars...) the standard library does,
    # or says why not.
    try:
        dumped = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
        return text.encode()  # a lone surrogate fails here (UnicodeEncodeError)
    if _has_non_finite(value):
        raise ValueError("NaN and Infinity are not JSON numbers")
    return dumped


def canonical_json(value: Any, field: str, limit: int, *, strict_numbers: bool = False) -> bytes:
    """The value as compact JSON with sorted keys, refused when it cannot be stored or is over `limit`
    bytes. One serialisation serves the size check, the content hash and the insert: orjson's (~10x
    the standard library's). strict_numbers refuses NaN and Infinity (orjson would write null)."""
    try:
        dumped = _sorted_json(value, strict_numbers)
    except (TypeError, ValueError, RecursionError) as exc:  # orjson.JSONEncodeError is a TypeError
        reason = str(exc)
        if isinstance(exc, UnicodeEncodeError) or "surrogates" in reason:
            reason = UNSTORABLE
        elif isinstance(exc, RecursionError) or "ecursion" in reason:
            reason = "is nested too deeply"
        else:
            reason = f"is not valid JSON data ({reason})"
        raise ValidationError(f"{field} {reason}", field=field) from None
    if len(dumped) > limit:
        raise PayloadTooLarge(f"{field} is larger than {limit} bytes", field=field)
    if b"\\u0000" in dumped and _ESCAPED_NUL.search(dumped):  # substring test first: fast and rare
        raise ValidationError(f"{field} {UNSTORABLE}", field=field)
    return dumped


def username_problem(username: Any) -> str | None:
    """Why this is not an acceptable username, or None when it is (format only, not availability)."""
    if not isinstance(username, str) or not username.strip():
        return "is required"
    name = username.strip()
    if len(name) < USERNAME_MIN:
        return f"must be at least {USERNAME_MIN} characters"
    if len(name) > USERNAME_MAX:
        return f"must be at most {USERNAME_MAX} characters"
    if not _USERNAME.match(name):
        return "may contain only letters, digits, '_', '.' and '-', and must start with a letter or digit"
    if name.lower() in RESERVED_USERNAMES:
        return "is reserved"
    return None


def clean_username(username: Any, field: str = "username") -> str:
    problem = username_problem(username)
    if problem:
        raise ValidationError(f"{field} {problem}", field=field)
    return cast(str, username).strip()


def clean_session_id(session_id: Any, field: str = "session_id") -> str:
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
        raise ValidationError("the session id is not a valid session id", field=field)
    return session_id


def clean_flow_type(flow_type: Any, field: str = "flow_type") -> FlowType:
    if flow_type not in step_plan.FLOW_TYPES:
        raise ValidationError(f"the flow type must be one of {', '.join(step_plan.FLOW_TYPES)}", field=field)
    return cast(FlowType, flow_type)


def base64_size(data: bytes, start: int) -> int | None:
    """The decoded size of the strict, padded base64 text data[start:], or None when it is not that.
    Every character is checked by one C pass over the whole data URL, without copying or decoding the
    ~25 kB image: what that pass leaves must be what the prefix data[:start] leaves, then the padding."""
    size = len(data) - start
    padding = 2 if data.endswith(b"==") else 1 if data.endswith(b"=") else 0
    left_by_prefix = data[:start].translate(None, _BASE64_ALPHABET)
    if size % 4 or data.translate(None, _BASE64_ALPHABET) != left_by_prefix + b"=" * padding:
        return None
    return (size - padding) * 3 // 4


def check_signature(data_url: Any, field: str = "signature") -> bytes:
    """Check that this is a PNG/JPEG/WebP image as a base64 data URL, within the size limits, whose bytes
    are that image type (images.check_base64: the structure, the header and the pixel limit, without
    decoding the pixels); return it as the ASCII bytes the check made (the content hash's input)."""
    if not isinstance(data_url, str) or not data_url:
        raise ValidationError(f"{field} is required: a data:image/png;base64,... URL", field=field)
    if len(data_url) > SIGNATURE_MAX_CHARS:
        raise PayloadTooLarge(
            f"{field} is {len(data_url)} characters; the limit is {SIGNATURE_MAX_CHARS}", field=field
        )
    match = _DATA_URL.match(data_url)
    if not match:
        raise ValidationError(
            f"{field} must be a base64 data URL of a PNG, JPEG or WebP image (data:image/png;base64,...)",
            field=field,
        )
    kind = match.group(1)
    # isascii reads a flag of the string, not its characters.
    data = data_url.encode("ascii") if data_url.isascii() else None
    size = base64_size(data, match.end()) if data else None
    if size is None or data is None:
        raise ValidationError(f"{field} is not a valid base64 data URL", field=field)
    if size < MIN_IMAGE_BYTES:
        raise ValidationError(f"{field} is empty or too small to be a drawing", field=field)
    try:
        images.check_base64(kind, memoryview(data)[match.end() :], size)
    except images.ImageProblem as problem:
        raise ValidationError(f"{field}: {problem}", field=field) from None
    return data


@dataclass(frozen=True)
class DrawingStep:
    """A validated save-drawing request (the seed's payload)."""

    username: str
    step: int
    type: StepType
    instruction: str
    signature: str
    raw: Any
    metrics: dict[str, Any]
    session_id: str | None
    flow_type: FlowType | None  # None: continue the session's flow (or signup for a new session)
    raw_json: bytes = dataclasses.field(repr=False, default=b"null")  # canonical JSON of raw and metrics
    metrics_json: bytes = dataclasses.field(repr=False, default=b"{}")
    # The signature as the ASCII bytes its check made, for the content hash: set by parse_drawing_step
    # only (not an init field, so dataclasses.replace cannot carry it over to another signature).
    signature_bytes: bytes = dataclasses.field(init=False, repr=False, compare=False, default=b"")

    @property
    def stored_size(self) -> int:
        """About what the step takes in the database, in bytes (the upload quota's cost)."""
        return len(self.signature) + len(self.raw_json) + len(self.metrics_json) + len(self.instruction)

    @cached_property
    def content_hash(self) -> str:
        """Identifies the step's content: a retry with the same content has the same hash. The image,
        strokes and metrics (~35 kB) enter by their xxh3-128 digests (1 us instead of SHA-256's 22; a
        crafted collision could only make a client's own re-sent step count as a retry); SHA-256 over
        the small rest keeps the stored format, and under 2 kB it keeps the interpreter lock, whose
        hand-back costs a thread switch when other threads are busy."""
        parts = [
            str(self.step).encode(),
            self.type.encode(),
            self.instruction.encode(),
            xxhash.xxh3_128_digest(self.signature_bytes or self.signature.encode()),
            xxhash.xxh3_128_digest(self.raw_json),
            xxhash.xxh3_128_digest(self.metrics_json),
        ]
        return hashlib.sha256(b"\x1f".join(parts)).hexdigest()


def parse_drawing_step(command: SaveDrawing) -> DrawingStep:
    """Validate a save-drawing command against the plan and the limits."""
    session_id = command.session_id
    session_id = None if session_id is None else clean_session_id(session_id)
    username = clean_username(command.username)
    flow_type = command.flow_type
    flow_type = None if flow_type is None else clean_flow_type(flow_type)

    step = command.step
    # Bounded here, not by the database: 2**31 does not fit the INTEGER parameter and would fail there.
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= MAX_STEP:
        message = f"step must be a positive integer step number between 1 and {MAX_STEP}"
        raise ValidationError(message, field="step")
    step_type = command.type
    if step_type not in step_plan.STEP_TYPES:
        raise ValidationError(f"type must be one of {', '.join(step_plan.STEP_TYPES)}", field="type")

    instruction = command.instruction
    if instruction is None:
        instruction = ""
    if not isinstance(instruction, str):
        raise ValidationError("instruction must be text", field="instruction")
    check_storable_text(instruction, "instruction")
    if len(instruction) > INSTRUCTION_MAX_CHARS:
        raise PayloadTooLarge(
            f"instruction is longer than {INSTRUCTION_MAX_CHARS} characters", field="instruction"
        )

    signature = command.signature
    signature_bytes = check_signature(signature)

    raw = command.raw
    if isinstance(raw, str):  # some clients send the stroke JSON as a string; store it as JSON
        if len(raw) > RAW_MAX_BYTES:
            raise PayloadTooLarge(f"raw is larger than {RAW_MAX_BYTES} bytes", field="raw")
        try:
            raw = json.loads(raw)
        except RecursionError:
            raise ValidationError(
                "raw is JSON text nested too deeply to be stroke data", field="raw"
            ) from None
        except ValueError:
            raise ValidationError("raw is a string but not valid JSON", field="raw") from None
    if raw is None:
        raise ValidationError("raw is required: the stroke data of the drawing", field="raw")
    raw_json = canonical_json(raw, "raw", RAW_MAX_BYTES)
    try:
        near_empty = strokes.raw_is_near_empty(raw)
    except strokes.InvalidRawData as exc:
        raise ValidationError(str(exc), field="raw") from None
    if near_empty:
        raise ValidationError("raw: the drawing is empty or too small; please draw it again", field="raw")

    metrics = command.metrics
    if metrics is None:
        metrics = strokes.compute_metrics(strokes.parse_strokes(raw))
    if not isinstance(metrics, dict):
        raise ValidationError("metrics must be a JSON object", field="metrics")
    metrics_json = canonical_json(metrics, "metrics", METRICS_MAX_BYTES, strict_numbers=True)

    drawing = DrawingStep(
        username=username,
        step=step,
        type=step_type,
        instruction=instruction,
        signature=signature,
        raw=raw,
        metrics=metrics,
        session_id=session_id,
        flow_type=flow_type,
        raw_json=raw_json,
        metrics_json=metrics_json,
    )
    object.__setattr__(drawing, "signature_bytes", signature_bytes)  # frozen: set as __init__ does
    return drawing


def plan_problem(drawing: DrawingStep, flow_type: FlowType) -> ValidationError | None:
    """Why this step is not in the flow's plan (outside it, or of the wrong type), or None when it is."""
    planned = step_plan.step_of(flow_type, drawing.step)
    if planned is None:
        return ValidationError(
            f"step must be between 1 and {step_plan.total_steps(flow_type)} for {flow_type}", field="step"
        )
    if drawing.type != planned.type:
        return ValidationError(
            f"type must be {planned.type!r} for step {drawing.step} of {flow_type}, got {drawing.type!r}",
            field="type",
        )
    return None


def check_step_in_plan(drawing: DrawingStep, flow_type: FlowType) -> None:
    """Refuse a step outside the flow's plan or of the wrong type."""
    problem = plan_problem(drawing, flow_type)
    if problem is not None:
        raise problem
