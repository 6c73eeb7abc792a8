"""The screens of the enrollment app. Each function draws one screen; the decisions live in flow.py and
canvas.py, the rules in the core service."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from enrollment_core import EnrollmentService, LoginResult, UsernameCheck, errors, step_plan
from enrollment_core.step_plan import FlowType, Step

from . import canvas, canvas_widget, flow
from .client import client_info
from .flow import FLOW_LABELS, Where

STEP_HINTS = {
    "signature": "Sign above the line, as on paper.",
    "shape": "Draw it in the white area.",
    "drawing": "A simple sketch in the white area is fine.",
}


# ---------------------------------------------------------------- navigation


def go(params: dict[str, str] | None = None) -> None:
    """Move to another place in the flow: the URL is the state (see flow.py), then a full rerun."""
    st.query_params.from_dict(params or {})
    st.rerun(scope="app")


def flash(message: str) -> None:
    """A short confirmation for the next screen (a toast: it does not push the canvas down)."""
    st.session_state["flash"] = message


def show_flash() -> None:
    message = st.session_state.pop("flash", None)
    if message:
        st.toast(message, icon=":material/check_circle:")


def start_page_button(label: str = "Back to the start page", key: str = "to_start") -> None:
    if st.button(label, key=key, icon=":material/home:"):
        go()


# ---------------------------------------------------------------- start


def start_screen(service: EnrollmentService, where: Where) -> None:
    st.title("Signature enrollment")
    st.write(
        "Create an account by drawing your signature, a few shapes and drawings (11 short steps), "
        "or sign in by drawing your signature."
    )
    with st.form("start"):
        flow_type = st.segmented_control(
            "What would you like to do?",
            options=list(step_plan.FLOW_TYPES),
            format_func=FLOW_LABELS.get,
            default=where.flow_type or "signup",
            required=True,
        )
        username = st.text_input(
            "Username", value=where.username or "", max_chars=64, placeholder="e.g. john_doe",
            help="3 to 32 characters: letters, digits, '_', '.' and '-'.",
        )
        submitted = st.form_submit_button("Continue", type="primary", icon=":material/arrow_forward:")
    if submitted:
        try:
            check = checked_name(service, flow_type, username)
        except errors.RateLimited as exc:
            st.warning(flow.sentence(exc.message), icon=":material/hourglass_top:")
            return
        if check.ok:
            go(flow.start_params(flow_type, check.username))
        st.error(flow.sentence(check.reason or "This username cannot be used"), icon=":material/error:")
        if check.code == "username_taken":
            st.caption("If this is your account, choose **Sign in** instead.")
        elif check.code == "user_not_found":
            st.caption("Check the spelling, or choose **Create account** to enroll this name.")
    elif where.message:
        st.error(where.message, icon=":material/error:")


NAME_CHECK_SECONDS = 60  # how long an answer about a name is reused (each stroke reruns the page)


def checked_name(service: EnrollmentService, flow_type: FlowType, username: str) -> UsernameCheck:
    """flow.check_name for this browser's address, remembered for a minute: the page reruns on every
    stroke, and each check counts against the address's limit of look-ups."""
    checks = st.session_state.setdefault("name_checks", {})
    asked_at, check = checks.get((flow_type, username), (0.0, None))
    if check is None or time.monotonic() - asked_at > NAME_CHECK_SECONDS:
        check = flow.check_name(service, flow_type, username, client_info())
        checks[(flow_type, username)] = (time.monotonic(), check)
    return check


# ---------------------------------------------------------------- drawing steps


def drawing_screen(service: EnrollmentService, where: Where) -> None:
    step, progress = where.step, where.progress
    assert step is not None and progress is not None
    st.caption(f"{FLOW_LABELS[where.flow_type]} · **{where.username}**")
    show_flash()
    welcome_back(where)
    st.progress(
        progress.completed_steps / progress.total_steps,
        text=f"Step {progress.completed_steps + 1} of {progress.total_steps}",
    )
    st.markdown(f"#### {step.instruction}")
    st.caption(f"{STEP_HINTS[step.type]} Use your finger or the mouse.")
    drawing_pad(service, where, step)
    st.divider()
    if where.session is not None:
        until = flow.local_time(where.session.expires_at, st.context.timezone)
        st.caption(
            f"Each step is saved as you go: reload or reopen this page's link until {until} "
            "to continue where you left off."
        )
    else:
        st.caption("Each step is saved as you go, so you can continue after a reload.")
    if st.button("Start over", icon=":material/restart_alt:", type="tertiary"):
        go()


def welcome_back(where: Where) -> None:
    """After a reload or when reopening the link, say that the enrollment continues."""
    # session id -> the step this browser session arrived at; the note stays until that step is saved.
    arrivals = st.session_state.setdefault("arrivals", {})
    if where.session_id and where.progress:
        saved = where.progress.completed_steps
        if arrivals.setdefault(where.session_id, saved) == saved and saved:
            st.info(
                f"Welcome back: {saved} step{'s' if saved != 1 else ''} already saved, "
                "continuing with the next one.",
                icon=":material/history:",
            )


def pad_key(where: Where, step: Step) -> str:
    owner = where.session_id or f"{where.flow_type}:{where.username}"
    return f"pad:{owner}:{step.number}"


def pad_state(key: str) -> dict[str, Any]:
    """Our Undo/Clear state of the canvas on screen (reset whenever another canvas is shown)."""
    state = st.session_state.get("pad")
    if state is None or state["key"] != key:
        state = {"key": key, "objects": None, "revision": 0, "last": None}
        st.session_state["pad"] = state
    return state


def undo(key: str) -> None:
    state = pad_state(key)
    state["objects"] = canvas.without_last_object(state["last"])
    state["revision"] += 1


def clear(key: str) -> None:
    state = pad_state(key)
    state["objects"] = []
    state["revision"] += 1


def drawing_pad(service: EnrollmentService, where: Where, step: Step) -> None:
    """The canvas and its buttons. Not an st.fragment: tried, and the canvas inside a fragment was
    mounted a second time by the first fragment rerun (its background-image report right after
    loading), wiping a stroke drawn in that moment. A whole-page rerun per stroke is cheap here."""
    key = pad_key(where, step)
    state = pad_state(key)
    value = canvas_widget.drawing_pad(key, step.type, state["objects"], state["revision"])
    state["last"] = value.json_data
    count = canvas.object_count(value.json_data)
    with st.container(horizontal=True, gap="small"):
        st.button("Undo", icon=":material/undo:", on_click=undo, args=(key,), disabled=not count)
        st.button("Clear", icon=":material/ink_eraser:", on_click=clear, args=(key,), disabled=not count)
        save = st.button("Save and continue", type="primary", icon=":material/arrow_forward:")
    st.caption(pad_status(value, count))
    if save:
        save_step(service, where, step, value)


def pad_status(value: canvas_widget.CanvasValue, count: int) -> str:
    """Under the canvas: whether it is ready, and that the drawing reached the server (each stroke
    arrives ~0.3 s after the pen lifts)."""
    if count:
        return f"{count} stroke{'s' if count != 1 else ''} on the canvas"
    return "Nothing drawn yet" if value.ready else "Loading the canvas…"


def save_step(
    service: EnrollmentService, where: Where, step: Step, value: canvas_widget.CanvasValue
) -> None:
    drawing = canvas.prepare_drawing(value.json_data, value.image_rgba, step.type, timed=value.strokes,
                                     untimed=value.untimed, in_flight=value.in_flight)
    if isinstance(drawing, canvas.NotReady):
        st.warning(drawing.message, icon=":material/gesture:")
        return
    command = flow.save_command(where, step, drawing.data_url, drawing.raw, drawing.metrics)
    try:
        result = service.save_drawing(command, client_info())
    except errors.AccountLocked as exc:
        st.error(locked_message(exc.locked_until), icon=":material/lock:")
        return
    except errors.StepConflict as exc:  # saved meanwhile (another tab, a retried click): show where it is
        flash(flow.error_message(exc, service.settings.session_lifetime))
        go(st.query_params.to_dict())
    except (errors.SessionExpired, errors.SessionClosed, errors.SessionNotFound):
        go(st.query_params.to_dict())  # the session cannot continue: locate() shows why
    except errors.EnrollmentError as exc:
        st.error(flow.error_message(exc, service.settings.session_lifetime), icon=":material/error:")
        return
    progress = result.progress
    st.session_state.setdefault("arrivals", {}).setdefault(result.session_id, 0)  # no "welcome back"
    if not progress.is_complete:
        flash(f"Step {step.number} saved. {progress.remaining_steps} to go.")
    go(flow.session_params(result.session_id))


# ---------------------------------------------------------------- the end of the flow


def finish_screen(service: EnrollmentService, where: Where) -> None:
    """Every step is saved: register (signup) or verify (signin). Also reached after a reload that
    lost the answer, so this is the one place that completes a session."""
    if where.flow_type == "signup":
        with st.spinner("Creating your account…"):
            try:
                service.register(where.username, where.session_id, use_temporary_data=True)
            except errors.UsernameUnavailable:
                problem_screen(
                    f"Someone registered the username '{where.username}' while you were drawing, so "
                    "this enrollment cannot become an account. Please start again with another name."
                )
                return
            except (errors.SessionClosed, errors.SessionExpired, errors.SessionNotFound):
                go(st.query_params.to_dict())
                return
        signup_done_screen(where, celebrate=True)
        return
    with st.spinner("Checking your signature…"):
        outcome = sign_in(service, where)
    if outcome is not None:
        st.session_state.pop("name_checks", None)  # "Try again" asks afresh whether this address is locked
        st.session_state.setdefault("signin_outcomes", {})[where.session_id] = outcome
        signin_outcome_screen(where, outcome)


def sign_in(service: EnrollmentService, where: Where) -> dict[str, Any] | None:
    """Call login and keep what the result screen needs (it cannot be asked again after a reload)."""
    try:
        result = service.login(
            where.username, where.session_id, use_temporary_data=True, client=client_info()
        )
    except errors.AccountLocked as exc:
        return {"locked_until": exc.locked_until, "accepted": False}
    except errors.RateLimited as exc:  # nothing was checked: the same drawing can be checked later
        st.title("Please wait a moment")
        st.warning(flow.sentence(exc.message), icon=":material/hourglass_top:")
        if st.button("Check my signature again", type="primary", icon=":material/replay:"):
            go(st.query_params.to_dict())
        return None
    except (errors.SessionClosed, errors.SessionExpired, errors.SessionNotFound):
        go(st.query_params.to_dict())
        return None
    except errors.EnrollmentError as exc:
        reason = flow.error_message(exc, service.settings.session_lifetime)
        problem_screen(f"Your signature could not be checked: {reason}")
        return None
    return outcome_of(result)


def outcome_of(result: LoginResult) -> dict[str, Any]:
    """What the result screen shows of a sign-in verdict: never the score or the threshold (they would
    tell a forger how close they came; staff see them in the dashboard)."""
    return {
        "accepted": result.accepted,
        "reason": result.reason,
        "reason_code": result.reason_code,
        "failures_left": result.failures_left,
        "locked_until": result.locked_until,
    }


def signup_done_screen(where: Where, celebrate: bool = False) -> None:
    if celebrate:  # only at the moment the account is created, not when the link is reopened
        st.balloons()
    st.title("Account created")
    st.success(f"Welcome, **{where.username}**! Your account is ready.", icon=":material/verified:")
    steps = where.progress.total_steps if where.progress else step_plan.total_steps("signup")
    st.write(
        f"Your signature and drawings ({steps} steps) are saved. "
        "Next time, sign in by drawing your signature."
    )
    if st.button("Sign in now", type="primary", icon=":material/login:"):
        go(flow.start_params("signin", where.username))
    start_page_button()


def signin_outcome_screen(where: Where, outcome: dict[str, Any]) -> None:
    again = flow.start_params("signin", where.username)
    if outcome["accepted"]:
        st.title("Signed in")
        st.success(f"Signature verified. Welcome back, **{where.username}**!", icon=":material/verified:")
        start_page_button("Done")
        return
    if outcome.get("reason") is None:  # locked before this attempt could be checked
        st.title("Account locked")
        st.error(locked_message(outcome["locked_until"]), icon=":material/lock:")
        start_page_button()
        return
    st.title("Sign-in rejected")
    st.error(flow.sentence(outcome["reason"]), icon=":material/block:")
    if outcome["locked_until"] is not None:
        st.warning(locked_message(outcome["locked_until"]), icon=":material/lock:")
        start_page_button()
        return
    left = outcome["failures_left"]
    st.caption(
        f"{left} more rejected attempt{'s' if left != 1 else ''} will lock the account "
        "from this network for a while."
    )
    if st.button("Try again", type="primary", icon=":material/replay:"):
        go(again)
    start_page_button()


def locked_message(locked_until: datetime | None) -> str:
    if locked_until is None:
        return (
            "Too many rejected sign-ins from this network: signing in to this account from here is "
            "locked for now. Please try again later."
        )
    minutes = flow.minutes_until(locked_until, datetime.now(UTC))
    return (
        "Too many rejected sign-ins from this network: signing in to this account from here is locked until "
        f"{flow.local_time(locked_until, st.context.timezone)} (about {minutes} min). Please try again then."
    )


# ---------------------------------------------------------------- sessions that cannot continue


def completed_screen(service: EnrollmentService, where: Where) -> None:
    """Reopening the link of a finished enrollment."""
    if where.flow_type == "signup":
        signup_done_screen(where)
        return
    outcome = st.session_state.get("signin_outcomes", {}).get(where.session_id)
    if outcome is None:  # reopened after a reload or in another tab: the database kept the verdict
        verdict = service.get_login_result(where.session_id)
        outcome = outcome_of(verdict) if verdict else None
    if outcome is not None:
        signin_outcome_screen(where, outcome)
        return
    st.title("Sign-in already checked")
    st.info(
        "This sign-in attempt was already used. To sign in again, draw your signature once more.",
        icon=":material/info:",
    )
    if st.button("Sign in again", type="primary", icon=":material/login:"):
        go(flow.start_params("signin", where.username))
    start_page_button()


def expired_screen(service: EnrollmentService, where: Where) -> None:
    st.title("This enrollment has expired")
    ended = flow.local_time(where.session.expires_at if where.session else None, st.context.timezone)
    st.warning(
        f"Enrollment sessions last {service.settings.session_lifetime}; this one ended at {ended}. "
        "The drawings saved in it will be "
        "deleted. Please start again.",
        icon=":material/timer_off:",
    )
    if st.button(f"Start again as {where.username}", type="primary", icon=":material/restart_alt:"):
        go(flow.start_params(where.flow_type, where.username))
    start_page_button()


def missing_screen(where: Where) -> None:
    st.title("Enrollment not found")
    st.warning(
        "We could not find this enrollment. The link may be mistyped, or the enrollment expired and was "
        "removed. Please start again.",
        icon=":material/search_off:",
    )
    start_page_button("Start again")


def problem_screen(message: str) -> None:
    st.title("Something went wrong")
    st.error(message, icon=":material/error:")
    start_page_button("Start again", key="problem_to_start")
