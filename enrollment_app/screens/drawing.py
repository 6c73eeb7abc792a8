"""A drawing step: for a new account, which step of how many and what to draw; for a sign-in, "Sign in
as NAME" and nothing about steps. Then the pad with Undo / Clear / Save (Sign), and a way to start over
that asks first. The instruction, the pad and its buttons form one block that fits the screen (the pen
recorder sizes the pad to it and scrolls it into view)."""

from __future__ import annotations

import time

import streamlit as st

from enrollment_core import EnrollmentService, SaveResult, errors
from enrollment_core.step_plan import Step

from .. import canvas, canvas_widget, client, flow, state
from ..flow import FLOW_LABELS, SAVE_LABELS, Where
from .navigation import flash, go, shown_flash, stay
from .problems import locked_message, unreachable

# How long a tap on Save (Sign) waits for the last stroke to reach the server before asking for another
# tap: the canvas reports a stroke ~0.3 s after the pen lifts, seconds on a slow network. A pad that
# looks empty waits less: the pen's first report can follow a quick tap by a fraction of a second, but a
# stroke begun after the tap must not be signed alone.
ARRIVAL_WAIT_SECONDS = 5.0
EMPTY_WAIT_SECONDS = 0.5

STEP_HINTS = {
    "signature": "Sign above the line, as on paper.",
    "shape": "Draw it in the white area.",
    "drawing": "A simple sketch in the white area is fine.",
}


def drawing_screen(service: EnrollmentService, where: Where) -> None:
    step, progress = where.step, where.progress
    # locate() gives the flow, its step and the progress for a drawing step
    assert where.flow_type is not None and step is not None and progress is not None
    saved = shown_flash()  # the previous step's confirmation, in the header (never over the pad)
    if where.flow_type == "signin":
        st.subheader(f"Sign in as {where.username}", anchor=False)
    else:
        header = f"{FLOW_LABELS[where.flow_type]} · **{where.username}**"
        st.caption(f"{header} · :material/check_circle: {saved}" if saved else header)
        st.progress(progress.completed_steps / progress.total_steps,
                    text=f"Step {progress.completed_steps + 1} of {progress.total_steps}")
        welcome_back(where)
    with st.container(key=canvas_widget.DRAWING_AREA_KEY, gap="small"):
        st.subheader(step.instruction, anchor=False)
        st.caption(f"{STEP_HINTS[step.type]} Use your finger, a pen or the mouse.")
        drawing_pad(service, where, step)
    with st.container(key="rotate_hint"):
        st.caption(":material/screen_rotation: For a bigger pad, turn your phone sideways.")
    st.divider()
    if where.flow_type == "signup":
        if where.session is not None:
            until = flow.local_time(where.session.expires_at, st.context.timezone)
            st.caption(
                f"Each step is saved as you go: reload or reopen this page's link until {until} "
                "to continue where you left off."
            )
        else:
            st.caption("Each step is saved as you go, so you can continue after a reload.")
    start_over(where)


def start_over(where: Where) -> None:
    """Start over, confirmed first (a tap too many must not throw an enrollment away)."""
    with st.popover("Start over", icon=":material/restart_alt:", type="tertiary"):
        if where.flow_type == "signup" and where.progress and where.progress.completed_steps:
            st.write("Leave this enrollment and go back to the start page? The steps you saved will be "
                     "deleted when it expires.")
        else:
            st.write("Leave this and go back to the start page?")
        if st.button("Yes, start over", type="primary", key="start_over_confirmed"):
            go()


def welcome_back(where: Where) -> None:
    """After a reload or when reopening the link, say that the enrollment continues (until this tab
    saves a step of its own)."""
    if where.session_id and where.progress:
        saved = where.progress.completed_steps
        if state.arrival_step(where.session_id, saved) == saved and saved:
            st.info(
                f"Welcome back: {saved} step{'s' if saved != 1 else ''} already saved, "
                "continuing with the next one.",
                icon=":material/history:",
            )


# ---------------------------------------------------------------- the pad


def pad_key(where: Where, step: Step) -> str:
    owner = where.session_id or f"{where.flow_type}:{where.username}"
    return f"pad:{owner}:{step.number}"


def undo(key: str) -> None:
    pad = state.pad(key)
    pad.objects = canvas.without_last_object(pad.last)
    pad.revision += 1
    pad.save_asked_at = None


def clear(key: str) -> None:
    pad = state.pad(key)
    pad.objects = []
    pad.revision += 1
    pad.save_asked_at = None


def ask_to_save(key: str) -> None:
    """Save's callback. A button's `if st.button(...)` is lost when another message (the canvas reporting
    the stroke drawn just before the tap) interrupts the run; a callback's mark in the session is not."""
    pad = state.pad(key)
    pad.save_asked_at, pad.save_saw_empty = time.monotonic(), False


def drawing_pad(service: EnrollmentService, where: Where, step: Step) -> None:
    """The canvas and its buttons. Not an st.fragment: tried, and the canvas inside a fragment was
    mounted a second time by the first fragment rerun (its background-image report right after
    loading), wiping a stroke drawn in that moment. A whole-page rerun per stroke is cheap here."""
    key = pad_key(where, step)
    pad = state.pad(key)
    value = canvas_widget.drawing_pad(key, step.type, pad.objects, pad.revision)
    pad.last = value.json_data
    count = canvas.object_count(value.json_data)
    assert where.flow_type is not None  # a drawing step belongs to a flow
    with st.container(horizontal=True, gap="small", key="pad_buttons"):
        st.button("Undo", icon=":material/undo:", on_click=undo, args=(key,), disabled=not count)
        st.button("Clear", icon=":material/ink_eraser:", on_click=clear, args=(key,), disabled=not count)
        st.button(SAVE_LABELS[where.flow_type], type="primary", icon=":material/arrow_forward:",
                  on_click=ask_to_save, args=(key,))
    st.caption(pad_status(value, count))
    if pad.save_asked_at is not None:
        save_step(service, where, step, value, pad)


def pad_status(value: canvas_widget.CanvasValue, count: int) -> str:
    """Under the canvas: whether it is ready, and that the drawing reached the server (each stroke
    arrives ~0.3 s after the pen lifts)."""
    if count:
        return f"{count} stroke{'s' if count != 1 else ''} on the canvas"
    return "Nothing drawn yet" if value.ready else "Loading the canvas…"


# ---------------------------------------------------------------- saving the step


def save_step(
    service: EnrollmentService, where: Where, step: Step, value: canvas_widget.CanvasValue,
    pad: state.PadState,
) -> None:
    """Save the drawing as this step, then show the next step (or the end); or say why not. A drawing
    whose last stroke is still on its way is saved when it arrives (its arrival reruns the page)."""
    assert where.flow_type is not None and pad.save_asked_at is not None
    waited = time.monotonic() - pad.save_asked_at
    if pad.save_saw_empty and waited >= EMPTY_WAIT_SECONDS:  # drawn after the tap: not what was saved
        pad.save_asked_at = None
        return
    button = SAVE_LABELS[where.flow_type]
    drawing = canvas.prepare_drawing(value.json_data, value.image_rgba, step.type, timed=value.strokes,
                                     untimed=value.untimed, in_flight=value.in_flight, button=button)
    if isinstance(drawing, canvas.NotReady):
        pad.save_saw_empty = drawing.empty
        if drawing.arriving and waited < ARRIVAL_WAIT_SECONDS:
            st.info(f"{drawing.message} It is sent as soon as it arrives.", icon=":material/hourglass_top:")
            return
        if not (drawing.empty and waited < EMPTY_WAIT_SECONDS):  # else a stroke reported now is saved
            pad.save_asked_at = None
        again = f" Please tap **{button}** again." if drawing.arriving else ""
        st.warning(drawing.message + again, icon=":material/gesture:")
        return
    pad.save_asked_at = None  # before saving: a rerun must not save it twice
    command = flow.save_command(where, step, drawing.data_url, drawing.raw, drawing.metrics)
    try:
        result = service.save_drawing(command, client.client_info(where.username))
    except errors.EnrollmentError as exc:
        save_refused(service, exc)
    except errors.DATABASE_UNAVAILABLE as exc:  # nothing saved; the page, and the pad's drawing, stay
        unreachable(exc, flow.step_not_saved(where))
    else:
        step_saved(step, result)


def step_saved(step: Step, result: SaveResult) -> None:
    state.arrived_fresh(result.session_id)  # this tab saved it: no "welcome back" on the next step
    if not result.progress.is_complete:
        flash(f"Step {step.number} saved")
    go(flow.session_params(result.session_id))


def save_refused(service: EnrollmentService, error: errors.EnrollmentError) -> None:
    """The service refused the save: say why here, or show what the session has become."""
    if isinstance(error, errors.AccountLocked):
        st.error(locked_message(error.locked_until), icon=":material/lock:")
    elif isinstance(error, errors.StepConflict):  # saved meanwhile (another tab, a retried click)
        flash(flow.error_message(error, service.settings.session_lifetime))
        stay()
    elif isinstance(
        error, (errors.SessionExpired, errors.SessionClosed, errors.SessionNotFound, errors.SessionElsewhere)
    ):
        stay()  # the session cannot continue (here): locate() shows why
    else:  # a limit reached, a drawing refused...: the same step can be saved again
        st.error(flow.error_message(error, service.settings.session_lifetime), icon=":material/error:")
