"""Sessions: the sessions in progress (bounded and filtered), and the drawings of the one clicked (or
pasted). The table and the drawings are one fragment, so a click shows the drawings at once, with or
without automatic refresh: a widget inside a fragment reruns only its own fragment."""

import pandas as pd
import streamlit as st

from dashboard import data, formatting, outage, selection, session_view, view, words
from enrollment_core import monitoring

SCOPE_LABELS = {"live": "Live", "overdue": "Expired", "all": "Both"}
SCOPE_HELP = (
    "Live: still drawing, with time left. Expired: ran out of time before finishing, waiting for the "
    "hourly cleanup. Both: all sessions not finished."
)
ORDER_LABELS = {"newest": "Newest first", "oldest": "Oldest first", "expiring": "Expiring soonest"}
FLOW_CHOICES = {"All flows": None, **{label: code for code, label in words.FLOWS.items()}}
ROW_LIMITS = [50, 200, 1000, monitoring.MAX_PAGE_ROWS]
DRILL_KEY = "drill_session_id"  # the session whose drawings are shown (clicked or pasted)
TABLE = "sessions_table"


def session_filter() -> monitoring.SessionFilter:
    scope, flow, user, order, limit = st.columns([2.4, 1.1, 1.6, 1.4, 0.8], vertical_alignment="bottom")
    return monitoring.SessionFilter(
        scope=scope.segmented_control(
            "Sessions",
            list(SCOPE_LABELS),
            format_func=SCOPE_LABELS.__getitem__,
            default="live",
            key="filter_scope",
            help=SCOPE_HELP,
        )
        or "live",
        flow_type=FLOW_CHOICES[flow.selectbox("Flow", list(FLOW_CHOICES), key="filter_flow")],
        username=user.text_input("Username contains", key="filter_username", max_chars=255),
        order_by=order.selectbox(
            "Order", list(ORDER_LABELS), format_func=ORDER_LABELS.__getitem__, key="filter_order"
        ),
        limit=limit.selectbox("Rows", ROW_LIMITS, index=1, key="filter_limit"),
    )


def _select_pasted() -> None:
    pasted = (st.session_state.get("drill_input") or "").strip()
    if pasted:
        st.session_state[DRILL_KEY] = pasted


def _clear() -> None:
    st.session_state.pop(DRILL_KEY, None)
    st.session_state["drill_input"] = ""


def table_rows(page: monitoring.SessionPage) -> pd.DataFrame:
    rows = formatting.localize_columns(page.rows, ["created_at", "updated_at"])
    rows["flow"] = rows["flow_type"].map(words.flow)
    rows["steps"] = [words.steps(n, total) for n, total in zip(rows["steps_completed"], rows["total_steps"])]
    rows["progress"] = (100 * rows["steps_completed"] / rows["total_steps"]).round()
    rows["time_left"] = rows["expires_in_seconds"].map(formatting.time_left)
    return rows


def sessions_table(page: monitoring.SessionPage) -> None:
    if page.rows.empty:
        st.info("No session matches these filters.", icon=":material/search_off:")
        return
    rows = table_rows(page)
    selection.sticky_table(
        TABLE,
        rows,
        list(rows["session_id"]),
        DRILL_KEY,
        hide_index=True,
        height=min(420, 38 + 35 * len(rows)),
        column_order=[
            "username",
            "flow",
            "steps",
            "progress",
            "created_at",
            "updated_at",
            "time_left",
            "session_id",
        ],
        column_config={
            "username": st.column_config.TextColumn("Username"),
            "flow": st.column_config.TextColumn("Flow"),
            "steps": st.column_config.TextColumn("Steps saved"),
            "progress": st.column_config.ProgressColumn(
                "Progress", format="%d %%", min_value=0, max_value=100
            ),
            "created_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm"),
            "updated_at": st.column_config.DatetimeColumn("Last activity", format="HH:mm:ss"),
            "time_left": st.column_config.TextColumn("Time left"),
            "session_id": st.column_config.TextColumn("Session id"),
        },
    )


def drill_down_header() -> None:
    # A row clicked after a pasted id: the box no longer names the session shown.
    pasted = (st.session_state.get("drill_input") or "").strip()
    if pasted and pasted != st.session_state.get(DRILL_KEY):
        st.session_state["drill_input"] = ""
    head, paste, clear = st.columns([2, 3, 1], vertical_alignment="bottom")
    head.markdown("**Drawings of a session**")
    paste.text_input("Session id", key="drill_input", on_change=_select_pasted, placeholder="sess_…")
    clear.button(
        "Clear",
        key="drill_clear",
        on_click=_clear,
        disabled=not st.session_state.get(DRILL_KEY),
        width="stretch",
    )


def drill_down() -> None:
    session_id = st.session_state.get(DRILL_KEY)
    if not session_id:
        st.info(
            "Click a row of the table (or paste a session id) to see that session's drawings.",
            icon=":material/touch_app:",
        )
        return
    db = data.pool()
    detail = monitoring.session_detail(db, session_id)
    if detail is None:
        session_view.session_gone(db, session_id)
    else:
        session_view.show_session(detail)


@st.fragment(run_every=view.refresh_seconds())
@outage.section(refreshes=True)
def sessions_and_drawings(filter: monitoring.SessionFilter) -> None:
    with st.container(border=True):
        page = monitoring.in_progress_sessions(data.pool(), filter)
        total = (
            f"more than {monitoring.COUNT_LIMIT:,}"
            if page.total_is_lower_bound
            else f"{page.total_matching:,}"
        )
        note = f"Showing {len(page.rows):,} of {total} matching sessions"
        if page.truncated:
            note += " (narrow the filters or show more rows to see the rest)"
        st.caption(f"{note}. Click a row to see its drawings below.")
        sessions_table(page)
        st.caption(view.updated_note())
    with st.container(border=True):
        drill_down_header()
        drill_down()


st.title("Sessions")
st.caption(
    "Sign-ups and sign-ins people are in the middle of, and those that ran out of time and wait for the "
    "hourly cleanup. To find one person and everything that became of their sessions, use People."
)
sessions_and_drawings(session_filter())
