"""One session's drawings, as the Sessions and People pages show them: its facts, then each saved step
with its drawing. Everything that came from the client (username, instruction, device, address,
metrics) is shown as text, never as Markdown or HTML."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import devices, formatting, words
from enrollment_core import monitoring
from enrollment_core.staff_reads import StaffReads

STEPS_PER_ROW = 4
UNREADABLE_IMAGE = "The stored drawing could not be read as an image."


def drawing(image: bytes | None, problem: str | None = None, *, alt: str) -> None:
    """A drawing on white, or a placeholder saying why there is none. `alt` says what it is, for screen
    readers ("Step 3 drawing: Draw a circle")."""
    if image is None:
        st.warning(problem or UNREADABLE_IMAGE, icon=":material/broken_image:")
    else:
        st.image(formatting.drawing_on_white(image), width="stretch", alt=alt)


def session_facts(detail: monitoring.SessionDetail) -> None:
    """Who, which flow, and where the session stands, in cards that fit a phone and a wide screen."""
    st.subheader(f"{formatting.plain(detail.username)} · {words.flow(detail.flow_type)}", anchor=False)
    status, steps, time = st.columns(3, border=True)
    status.metric("Status", words.status(detail.status))
    steps.metric("Steps saved", words.steps(len(detail.steps), detail.total_steps))
    if detail.completed_at is not None:
        time.metric(*formatting.time_card("Completed", detail.completed_at))
    else:
        seconds = (detail.expires_at - pd.Timestamp.now(tz="UTC")).total_seconds()
        time.metric("Time left" if seconds >= 0 else "Expired", _time_left_value(seconds))
    started, active, client = st.columns(3, border=True)
    started.metric(*formatting.time_card("Started", detail.created_at))
    active.metric(*formatting.time_card("Last activity", detail.updated_at))
    with client:
        st.caption("Device")
        device(detail.device_info)
        st.caption("Client address")
        st.text(words.address(detail.metadata.get("ip")))
    st.caption(f"Session id {formatting.plain(detail.session_id)}")


def device(user_agent: str | None) -> None:
    """The device in words ("Chrome 131 on Android 14"); the string it sent, on demand."""
    st.text(devices.describe(user_agent))
    if user_agent and user_agent.strip():
        # No help text on it: Streamlit then wraps the button in a tooltip box that cuts its label.
        with st.popover("As sent", icon=":material/code:"):
            st.caption("The user-agent string the device sent")
            st.text(user_agent)


def _time_left_value(seconds: float) -> str:
    return formatting.duration(abs(seconds)) + ("" if seconds >= 0 else " ago")


def step_card(step: monitoring.SavedStep) -> None:
    with st.container(border=True):
        st.markdown(f"**Step {step.step_number}** · {step.step_type.capitalize()}")
        st.caption(formatting.plain(step.instruction))
        drawing(step.image, step.image_problem, alt=f"Step {step.step_number} drawing: {step.instruction}")
        if step.step_number == 1:
            spent = "first drawing: it starts the session"
        else:
            spent = f"{formatting.duration(step.seconds_spent)} since the step before"
        st.caption(f"Saved {formatting.when(step.completed_at)} · {spent}")
        with st.expander("Drawing measurements"):
            st.json(step.metrics, expanded=True)


def saved_steps(detail: monitoring.SessionDetail) -> None:
    if not detail.steps:
        st.info("This session has no saved drawing.", icon=":material/draw:")
        return
    for start in range(0, len(detail.steps), STEPS_PER_ROW):
        row = detail.steps[start : start + STEPS_PER_ROW]
        for column, step in zip(st.columns(STEPS_PER_ROW), row):
            with column:
                step_card(step)


def show_session(detail: monitoring.SessionDetail) -> None:
    session_facts(detail)
    saved_steps(detail)


def session_gone(reads: StaffReads, session_id: str) -> None:
    """What to say when a session's drawings are not in the temporary tables: removed by archive or
    cleanup (then its summary says what it was), or never existed."""
    summary = reads.session_summary(session_id)
    if summary is None:
        st.warning(f"No session has the id {formatting.plain(session_id)}.", icon=":material/search_off:")
        return
    removed_by = "archived" if summary.outcome == "completed" else "cleaned up after it expired"
    st.info(
        f"This {words.flow(summary.flow_type).lower()} session of {formatting.plain(summary.username)} "
        f"({words.steps(summary.step_count, summary.total_steps)}, started "
        f"{formatting.when(summary.created_at)}) was {removed_by} on "
        f"{formatting.local_time(summary.removed_at, '%d %b %H:%M')}. Only its summary is kept, not its "
        "drawings. The People page lists it with the person's other sessions.",
        icon=":material/inventory_2:",
    )
