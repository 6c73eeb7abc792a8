"""Sessions: sessions in progress, or of every kind (completed, expired, cleaned up or archived) started
in a date range, bounded and filtered; and the drawings of the one clicked (or pasted). The table and
the drawings are one fragment, so a click shows the drawings at once, with or without automatic
refresh: a widget inside a fragment reruns only its own fragment."""

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import browser, data, formatting, outage, selection, session_view, view, words
from enrollment_core import monitoring
from enrollment_core.monitoring.sessions import OrderBy, Scope

SCOPE_LABELS: dict[Scope, str] = {
    "live": "Live",
    "overdue": "Awaiting cleanup",
    "completed": "Completed",
    "expired": "Expired",
    "any": "All",
}
SCOPE_HELP = (
    "Live: still drawing, with time left. Awaiting cleanup: ran out of time before finishing, waiting "
    "for the hourly cleanup. Completed: finished, archived ones included. Expired: ran out of time, "
    "cleaned up or not. All: every session, whatever became of it. Archived and cleaned-up sessions "
    "keep a summary only, without drawings."
)
ORDER_LABELS: dict[OrderBy, str] = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "expiring": "Expiring soonest",
}
FLOW_CHOICES = {"All flows": None, **{label: code for code, label in words.FLOWS.items()}}
ROW_LIMITS = [50, 200, 1000, monitoring.MAX_PAGE_ROWS]
DEFAULT_DAYS = 7  # the date range first offered: the last 7 days, today included
DRILL_KEY = "drill_session_id"  # the session whose drawings are shown (clicked or pasted)
DRAWINGS = "session_drawings"  # the drawings' container (scrolled into view after a click)
TABLE = "sessions_table"


def session_filter() -> monitoring.SessionFilter:
    scope = (
        st.segmented_control(
            "Sessions",
            list(SCOPE_LABELS),
            format_func=SCOPE_LABELS.__getitem__,
            default="live",
            key="filter_scope",
            help=SCOPE_HELP,
        )
        or "live"
    )
    started, flow, user, order, limit = st.columns([1.7, 1, 1.3, 1.1, 0.7], vertical_alignment="bottom")
    today = datetime.now(formatting.viewer_timezone()).date()
    started_from, started_before = formatting.day_range(
        started.date_input(
            f"Started between ({formatting.zone_name()})",
            value=(today - timedelta(days=DEFAULT_DAYS - 1), today),
            max_value=today,
            key="filter_started",
            format="YYYY-MM-DD",
            help="The first and the last day, both included, in the time zone chosen in the sidebar.",
        )
    )
    orders = [o for o in ORDER_LABELS if o != "expiring" or scope in monitoring.IN_PROGRESS_SCOPES]
    if st.session_state.get("filter_order") not in orders:
        st.session_state["filter_order"] = "newest"
    return monitoring.SessionFilter(
        scope=scope,
        flow_type=FLOW_CHOICES[flow.selectbox("Flow", list(FLOW_CHOICES), key="filter_flow")],
        username=user.text_input("Username contains", key="filter_username", max_chars=255),
        order_by=order.selectbox("Order", orders, format_func=ORDER_LABELS.__getitem__, key="filter_order")
        or "newest",
        limit=limit.selectbox("Rows", ROW_LIMITS, index=1, key="filter_limit"),
        started_from=started_from,
        started_before=started_before,
    )


def _select_pasted() -> None:
    pasted = (st.session_state.get("drill_input") or "").strip()
    if pasted:
        st.session_state[DRILL_KEY] = pasted


def _clear() -> None:
    browser.forget_scroll(DRAWINGS)
    st.session_state.pop(DRILL_KEY, None)
    st.session_state["drill_input"] = ""


def ended(status: str, completed_at: object, expires_in_seconds: float | None, expires_at: object) -> str:
    """'1 h 12 min left', 'completed 14:03:12 UTC', 'expired 28 Nov 09:15 UTC'."""
    if status == "completed":
        return f"completed {formatting.when(completed_at)}"  # type: ignore[arg-type]
    if expires_in_seconds is None or pd.isna(expires_in_seconds):
        return "—"
    if expires_in_seconds > 0:
        return formatting.time_left(expires_in_seconds)
    return f"expired {formatting.when(expires_at)}"  # type: ignore[arg-type]


def table_rows(page: monitoring.SessionPage) -> pd.DataFrame:
    rows = formatting.localize_columns(page.rows, ["created_at", "updated_at"])
    rows["flow"] = rows["flow_type"].map(words.flow)
    rows["status_text"] = [
        words.status(code, summary) for code, summary in zip(rows["status"], rows["summary_only"])
    ]
    rows["steps"] = [words.steps(n, total) for n, total in zip(rows["steps_completed"], rows["total_steps"])]
    total = rows["total_steps"].where(rows["total_steps"] > 0)
    rows["progress"] = (100 * rows["steps_completed"] / total).round().fillna(0)
    rows["time_left"] = [
        ended(*values)
        for values in zip(
            rows["status"], rows["completed_at"], rows["expires_in_seconds"], rows["expires_at"]
        )
    ]
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
        height=selection.table_height(len(rows), 520),
        column_order=[
            "username",
            "flow",
            "status_text",
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
            "status_text": st.column_config.TextColumn("Status"),
            "steps": st.column_config.TextColumn("Steps saved"),
            "progress": st.column_config.ProgressColumn(
                "Progress", format="%d %%", min_value=0, max_value=100
            ),
            "created_at": st.column_config.DatetimeColumn(
                formatting.zoned("Started"), format="YYYY-MM-DD HH:mm"
            ),
            "updated_at": st.column_config.DatetimeColumn(
                formatting.zoned("Last activity"), format="HH:mm:ss"
            ),
            "time_left": st.column_config.TextColumn("Time left or ended"),
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
    reads = data.reads()
    detail = reads.session_detail(session_id)
    if detail is None:
        session_view.session_gone(reads, session_id)
    else:
        session_view.show_session(detail)
    # A new choice: bring its drawings into view (they are below the table, often below the fold).
    browser.scroll_into_view_once(DRAWINGS, session_id)


@st.fragment(run_every=view.refresh_seconds())
@outage.section(refreshes=True)
def sessions_and_drawings(filter: monitoring.SessionFilter) -> None:
    with st.container(border=True):
        page = data.reads().list_sessions(filter)
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
    with st.container(border=True, key=DRAWINGS):
        drill_down_header()
        drill_down()


st.title("Sessions", anchor=False)
st.caption(
    "Sign-ups and sign-ins: those people are in the middle of, those that ran out of time, and those "
    "that completed, started in the days chosen. To find one person and everything that became of "
    "their sessions, use People."
)
sessions_and_drawings(session_filter())
