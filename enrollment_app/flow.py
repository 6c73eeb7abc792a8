"""Where a visitor is in the flow, decided from the page URL and the database, and the small decisions
around it (payload, URL, messages). No Streamlit here, so it is easy to test and to read.

The URL is the only state that survives a reload, a dropped connection or reopening the link:
  (nothing)                    the start screen
  ?flow=signup&user=alice      chosen flow and name, nothing drawn yet (step 1 of the plan)
  ?session=sess_...            an enrollment session in the database; the username, flow and progress
                               are read from the service, so the link alone resumes at the next step
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from enrollment_core import errors, step_plan
from enrollment_core.commands import SaveDrawing
from enrollment_core.config import AppSettings
from enrollment_core.service import ClientInfo, EnrollmentService, Progress, UsernameCheck
from enrollment_core.status import SessionInfo
from enrollment_core.step_plan import FlowType, Step

log = logging.getLogger(__name__)

FLOW_LABELS: dict[FlowType, str] = {"signup": "Create account", "signin": "Sign in"}
# The button that saves the drawing: a step of a new account, or the signature that signs in.
SAVE_LABELS: dict[FlowType, str] = {"signup": "Save and continue", "signin": "Sign"}

# elsewhere: the session is bound to the browser that started it, and this is another one;
# waiting: the session is bound to a browser, and this one has not said yet what it keeps (a page's first
# run: its answer reruns the page within moments).
Kind = Literal["start", "drawing", "finish", "completed", "expired", "missing", "elsewhere", "waiting"]


@dataclass(frozen=True)
class Where:
    """The screen to show and what it needs."""

    kind: Kind
    flow_type: FlowType | None = None
    username: str | None = None
    session_id: str | None = None
    progress: Progress | None = None
    session: SessionInfo | None = None
    message: str | None = None  # start: why the URL's choice was refused
    locked_until: datetime | None = None  # start: a sign-in this network is locked out of, until when

    @property
    def step(self) -> Step | None:
        """The step to draw now (kind == "drawing")."""
        if self.kind != "drawing" or self.flow_type is None or self.progress is None:
            return None
        return step_plan.step_of(self.flow_type, self.progress.next_step or 0)


def plan_progress(flow_type: FlowType) -> Progress:
    """Progress before anything is saved (there is no session yet to ask): 0 of the plan's steps."""
    total = step_plan.total_steps(flow_type)
    return Progress(total, 0, None, None, total, False)


def check_name(
    service: EnrollmentService, flow_type: FlowType, username: str, client: ClientInfo | None = None
) -> UsernameCheck:
    """Signup: valid and free; signin: the user exists and is not locked from here. Rate-limited per
    client address (RateLimited)."""
    if flow_type == "signup":
        return service.check_username(username, client)
    check = service.check_user_exists(username, client)
    if check.locked_until is not None:  # the account exists but cannot sign in yet
        return replace(check, ok=False)
    return check


NameCheck = Callable[[EnrollmentService, FlowType, str], UsernameCheck]


def locate(
    params: Mapping[str, str],
    service: EnrollmentService,
    check: NameCheck = check_name,
    client: ClientInfo | None = None,
    browser_answered: bool = True,
) -> Where:
    """Read the URL's query parameters and the database into the screen to show (check: how a name in
    the URL is checked; the app passes one that remembers its answers between reruns; client: this
    browser, for a session bound to the browser that started it; browser_answered: whether the browser
    has said what it keeps yet)."""
    session_id = params.get("session")
    if session_id:
        return _locate_session(session_id, service, client, browser_answered)
    flow_type, username = params.get("flow"), params.get("user")
    if flow_type in step_plan.FLOW_TYPES and username:
        try:
            checked = check(service, flow_type, username)
        except errors.RateLimited as exc:  # too many checks from this address: say so, plainly
            return Where("start", flow_type, username, message=sentence(exc.message))
        if not checked.ok:
            return Where("start", flow_type, username, message=sentence(checked.reason or "username refused"),
                         locked_until=checked.locked_until)
        return Where("drawing", flow_type, checked.username, progress=plan_progress(flow_type))
    return Where("start", flow_type if flow_type in step_plan.FLOW_TYPES else None, username)


def locate_or_last(
    params: Mapping[str, str],
    service: EnrollmentService,
    check: NameCheck,
    last: Where | None,
    client: ClientInfo | None = None,
    browser_answered: bool = True,
) -> Where:
    """locate(); when the database cannot answer, `last` (what this tab showed for the same URL) if it
    is a drawing step: the page is drawn as it was, so the pad keeps its drawing (a page drawn without
    the pad would lose it), and saving the step says whether it was saved. Otherwise the error goes on
    to the app, which says that it cannot reach its server."""
    try:
        return locate(params, service, check, client, browser_answered)
    except errors.DATABASE_UNAVAILABLE as exc:
        if last is None or last.kind != "drawing":
            raise
        log.warning("database unavailable, showing the last drawing step: %s: %s", type(exc).__name__, exc)
        return last


def _locate_session(
    session_id: str, service: EnrollmentService, client: ClientInfo | None, browser_answered: bool
) -> Where:
    try:
        info = service.get_session(session_id)
        progress = service.get_progress(session_id)
    except (errors.SessionNotFound, errors.ValidationError):
        # Unknown, mistyped, or expired long ago and removed by the cleanup.
        return Where("missing", session_id=session_id)
    if info.bound:  # it continues only in the browser that started it: is this the one?
        if not browser_answered:
            return Where("waiting", info.flow_type, info.username, session_id)
        try:
            service.get_live_session(session_id, client or ClientInfo())
        except errors.SessionElsewhere:
            return Where("elsewhere", info.flow_type, info.username, session_id, session=info)
        except errors.SessionExpired:
            pass  # shown as expired below, to the browser that started it
    if info.status == "expired":
        kind: Kind = "expired"
    elif info.status == "completed":
        kind = "completed"
    elif progress.is_complete:  # every step saved, but register/login did not happen (or its answer was lost)
        kind = "finish"
    else:
        kind = "drawing"
    return Where(kind, info.flow_type, info.username, session_id, progress=progress, session=info)


def save_command(
    where: Where, step: Step, signature: str, raw: Any, metrics: dict[str, Any]
) -> SaveDrawing:
    """The save-drawing command for this step (with the session once it exists)."""
    return SaveDrawing(
        username=where.username,
        step=step.number,
        type=step.type,
        instruction=step.instruction,
        signature=signature,
        raw=raw,
        metrics=metrics,
        flow_type=where.flow_type,
        session_id=where.session_id or None,
    )


def start_params(flow_type: FlowType, username: str) -> dict[str, str]:
    return {"flow": flow_type, "user": username}


def session_params(session_id: str) -> dict[str, str]:
    return {"session": session_id}


def sentence(text: str) -> str:
    """The service's messages are lower-case clauses ("username is required"); show them as sentences."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def error_message(error: errors.EnrollmentError, session_lifetime: str) -> str:
    """What to tell the person about a refusal from the service (session_lifetime: '2 hours')."""
    if isinstance(error, errors.SessionExpired):
        return f"This enrollment has expired (sessions last {session_lifetime}). Please start again."
    if isinstance(error, errors.SessionNotFound):
        return "We could not find this enrollment. It may have expired and been removed."
    if isinstance(error, errors.StepConflict):
        return "This step was already saved, perhaps in another tab. Continuing from where you are."
    return sentence(error.message)


# ---------------------------------------------------------------- the sign-in's verdict, in words
# The one place where the verifier's reason codes become words for the person (a new code gets its
# sentence here). Never the code itself, nor the score: they are for staff.

VERDICT_WORDS: dict[str, str] = {
    "match": "Your signature matches the one you enrolled.",
    "no_match": "This signature does not match the one you enrolled.",
    "replay": (
        "This drawing is identical to one we already received. A signature drawn by hand is never "
        "exactly the same twice: please sign again."
    ),
    "empty": "The drawing is empty or too small to be a signature.",
    # A timed account's sign-in must come with how it was drawn (the pad records it): an app or device
    # that sends none, or times no hand produces, is refused rather than judged by the shape alone.
    "untimed": (
        "This drawing came without how it was drawn, which your account needs. Please sign on the pad."
    ),
    "implausible_timing": (
        "This drawing was not drawn the way a hand signs. Please sign again on the pad, at your usual pace."
    ),
}
UNKNOWN_VERDICT = "We could not confirm that this signature is yours."


def verdict_words(reason_code: str) -> str:
    """What the person reads about their sign-in's verdict (the reason code is never shown)."""
    return VERDICT_WORDS.get(reason_code, UNKNOWN_VERDICT)


def support_line(settings: AppSettings) -> str | None:
    """'Need help? …' with the contact set by SUPPORT_CONTACT (an address, a phone number, a desk), or
    None when none is configured."""
    contact = (settings.support_contact or "").strip()
    return f"Need help? Contact {contact}." if contact else None


# ---------------------------------------------------------------- when our server cannot answer
# (its database is down, restarting or too busy): what was not done, what is kept, what to do. In plain
# words, without "database": the person only needs to know that it is not their doing.

UNREACHABLE = "We could not reach our server just now"
UNREACHABLE_TITLE = "We can't reach our server right now"
UNREACHABLE_SCREEN = (
    "This is on our side, not yours, and it usually passes within moments. Nothing you saved is lost: "
    "tap **Try again** in a moment to continue where you were."
)
NAME_NOT_CHECKED = (
    f"{UNREACHABLE}, so your username is not checked yet. Please tap **Continue** again in a moment."
)
ACCOUNT_NOT_CREATED = (
    f"{UNREACHABLE}, so your account is not created yet. All your drawings are saved: "
    "tap **Try again** in a moment."
)
SIGNATURE_NOT_CHECKED = (
    f"{UNREACHABLE}, so your signature is not checked yet. Your drawing is saved: tap **Try again** "
    "in a moment."
)


def step_not_saved(where: Where) -> str:
    """The save of this step did not reach the database: the drawing is still on the pad."""
    earlier = where.progress.completed_steps if where.progress else 0
    if earlier == 0:
        kept = ""
    elif earlier == 1:
        kept = " The step you saved before is safe."
    else:
        kept = f" The {earlier} steps you saved before are safe."
    return (
        f"{UNREACHABLE}, so this step is not saved yet. Your drawing is still here: tap "
        f"**{SAVE_LABELS[where.flow_type or 'signup']}** again in a moment.{kept}"
    )


def local_time(moment: datetime | None, tz_name: str | None, now: datetime | None = None) -> str:
    """'14:05 CET' in the browser's time zone (st.context.timezone), '13:05 UTC' when it is unknown; a
    zone without a common abbreviation reads 'UTC+03:00'. Another day than today (there) adds it:
    '14:05 CET on 6 December'."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        zone: tzinfo = ZoneInfo(tz_name) if tz_name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    there = moment.astimezone(zone)
    abbreviation = there.tzname() or ""
    if not abbreviation.isalpha():  # e.g. "+03" or "-0230": no name people use, so say the offset
        offset = there.strftime("%z")
        abbreviation = f"UTC{offset[:3]}:{offset[3:]}"
    text = f"{there:%H:%M} {abbreviation}"
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    if there.date() != today:
        text += f" on {there.day} {there:%B}"
    return text


def minutes_until(moment: datetime | None, now: datetime) -> int | None:
    """Whole minutes from now until moment, rounded up (never negative)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - now).total_seconds()
    return max(0, int(-(-seconds // 60)))
