"""Sessions: the in-progress sessions (the seed's "active sessions" list, bounded and filtered), and a
drill-down into one session's saved steps with their drawings."""

import pandas as pd
import streamlit as st

from dashboard import data, formatting, view
from enrollment_core import monitoring

SCOPE_LABELS = {"live": "Live", "overdue": "Past expiry", "all": "All (seed's list)"}
SCOPE_HELP = (
    "Live: in progress and not expired. Past expiry: in progress but expired, waiting for cleanup. "
    "All: every in_progress row, as the seed's active_sessions query lists them."
)
ORDER_LABELS = {"newest": "Newest first", "oldest": "Oldest first", "expiring": "Expiring soonest"}
FLOW_LABELS = {"All flows": None, "signup": "signup", "signin": "signin"}
ROW_LIMITS = [50, 200, 1000, monitoring.MAX_PAGE_ROWS]
DRILL_KEY = "drill_session_id"
SHOWN_IDS_KEY = "sessions_table_ids"


def session_filter() -> monitoring.SessionFilter:
    scope, flow, user, order, limit = st.columns([2.2, 1, 1.6, 1.2, 0.8], vertical_alignment="bottom")
    return monitoring.SessionFilter(
        scope=scope.segmented_control(
            "Sessions",
            list(SCOPE_LABELS),
            format_func=SCOPE_LABELS.get,
            default="live",
            key="filter_scope",
            help=SCOPE_HELP,
        )
        or "live",
        flow_type=FLOW_LABELS[flow.selectbox("Flow", list(FLOW_LABELS), key="filter_flow")],
        username=user.text_input("Username contains", key="filter_username", max_chars=255),
        order_by=order.selectbox(
            "Order", list(ORDER_LABELS), format_func=ORDER_LABELS.get, key="filter_order"
        ),
        limit=limit.selectbox("Rows", ROW_LIMITS, index=1, key="filter_limit"),
    )


def _select_from_table() -> None:
    # Called when a row is clicked: remember the session itself, not the row number, so the drill-down
    # stays on it while refreshes reorder or change the table.
    rows = st.session_state["sessions_table"].selection.rows
    shown = st.session_state.get(SHOWN_IDS_KEY, [])
    if rows and rows[0] < len(shown):
        st.session_state[DRILL_KEY] = shown[rows[0]]


def _select_pasted() -> None:
    pasted = (st.session_state.get("drill_input") or "").strip()
    if pasted:
        st.session_state[DRILL_KEY] = pasted


def sessions_table(page: monitoring.SessionPage) -> None:
    if page.rows.empty:
        st.info("No session matches these filters.", icon=":material/search_off:")
        st.session_state[SHOWN_IDS_KEY] = []
        return
    rows = formatting.localize_columns(page.rows, ["created_at", "updated_at", "expires_at"])
    rows["progress"] = rows["steps_completed"] / rows["total_steps"]
    rows["expires_in_minutes"] = (rows["expires_in_seconds"] / 60).round().astype(int)
    st.session_state[SHOWN_IDS_KEY] = list(rows["session_id"])
    st.dataframe(
        rows,
        key="sessions_table",
        on_select=_select_from_table,
        selection_mode="single-row",
        hide_index=True,
        height=min(420, 38 + 35 * len(rows)),
        column_order=[
            "username",
            "flow_type",
            "steps_completed",
            "progress",
            "created_at",
            "updated_at",
            "expires_in_minutes",
            "session_id",
        ],
        column_config={
            "username": st.column_config.TextColumn("Username"),
            "flow_type": st.column_config.TextColumn("Flow"),
            "steps_completed": st.column_config.NumberColumn("Steps completed"),
            "progress": st.column_config.ProgressColumn(
                "Progress", format="percent", min_value=0, max_value=1
            ),
            "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm:ss"),
            "updated_at": st.column_config.DatetimeColumn("Last activity", format="HH:mm:ss"),
            "expires_in_minutes": st.column_config.NumberColumn(
                "Expires in (min)", help="Negative: expired that many minutes ago.", format="%d"
            ),
            "session_id": st.column_config.TextColumn("Session id"),
        },
    )


@st.fragment(run_every=view.refresh_seconds())
def live_sessions(filter: monitoring.SessionFilter) -> None:
    page = monitoring.in_progress_sessions(data.pool(), filter)
    shown = len(page.rows)
    total = (
        f"more than {monitoring.COUNT_LIMIT:,}" if page.total_is_lower_bound else f"{page.total_matching:,}"
    )
    note = f"Showing {shown:,} of {total} matching sessions"
    if page.truncated:
        note += " (narrow the filters or raise the row limit to see more)"
    st.caption(f"{note}. Click a row to see its drawings below.")
    sessions_table(page)
    st.caption(view.updated_note())


def step_card(step: monitoring.SavedStep) -> None:
    with st.container(border=True):
        st.markdown(f"**Step {step.step_number}** · {step.step_type}")
        st.caption(step.instruction)
        if step.image is None:
            st.warning("The stored image is not a readable data URL.", icon=":material/broken_image:")
        else:
            st.image(formatting.drawing_on_white(step.image), width="stretch")
        st.caption(
            f"Saved {formatting.local_time(step.completed_at, '%H:%M:%S')} · "
            f"{formatting.duration(step.seconds_spent)} on this step"
        )
        with st.expander("Metrics"):
            st.json(step.metrics)


def session_header(detail: monitoring.SessionDetail) -> None:
    expires_in = (detail.expires_at - pd.Timestamp.now(tz="UTC")).total_seconds()
    st.subheader(f"{detail.username} · {detail.flow_type}")
    cols = st.columns(5, border=True)
    cols[0].metric("Status", detail.status)
    cols[1].metric("Steps saved", f"{len(detail.steps)} / {detail.total_steps}")
    cols[2].metric("Started", formatting.local_time(detail.created_at, "%H:%M:%S"))
    cols[3].metric("Last activity", formatting.local_time(detail.updated_at, "%H:%M:%S"))
    cols[4].metric(
        "Expires in" if expires_in >= 0 else "Expired",
        formatting.duration(expires_in) if detail.status != "completed" else "—",
    )
    st.caption(
        f"Session `{detail.session_id}` · device: {detail.device_info or 'unknown'} · "
        f"IP: {detail.metadata.get('ip') or 'unknown'}"
    )


@st.fragment(run_every=view.refresh_seconds())
def drill_down() -> None:
    session_id = st.session_state.get(DRILL_KEY)
    if not session_id:
        st.info(
            "Select a session in the table (or paste a session id) to see its drawings.",
            icon=":material/touch_app:",
        )
        return
    detail = monitoring.session_detail(data.pool(), session_id)
    if detail is None:
        st.warning(
            f"Session `{session_id}` does not exist (any more): cleanup deletes expired sessions and archive "
            "moves completed ones out of the temporary tables.",
            icon=":material/search_off:",
        )
        return
    session_header(detail)
    if not detail.steps:
        st.info("This session has no saved step.")
        return
    per_row = 4
    for start in range(0, len(detail.steps), per_row):
        for column, step in zip(st.columns(per_row), detail.steps[start : start + per_row]):
            with column:
                step_card(step)


with st.container(border=True):
    st.markdown("**Sessions in progress**")
    live_sessions(session_filter())

with st.container(border=True):
    head, paste, clear = st.columns([2, 3, 1], vertical_alignment="bottom")
    head.markdown("**Session drill-down**")
    paste.text_input("Session id", key="drill_input", on_change=_select_pasted, placeholder="sess_…")
    if clear.button("Clear", disabled=not st.session_state.get(DRILL_KEY)):
        st.session_state.pop(DRILL_KEY, None)
        st.rerun()
    drill_down()
