"""Maintenance: table growth, what cleanup and archive would do, and buttons to run them (confirmed)."""

import streamlit as st

from dashboard import charts, data, formatting, view
from enrollment_core import monitoring

PENDING_KEY = "maintenance_pending"  # "cleanup" | "archive" while waiting for a confirmation
RESULT_KEY = "maintenance_result"  # the last action's outcome, shown after the rerun


@st.fragment(run_every=view.refresh_seconds())
def table_growth() -> None:
    sizes = monitoring.table_sizes(data.pool())
    st.markdown("**Table growth**")
    left, right = st.columns(2)
    with left:
        shown = sizes.assign(
            total=sizes["total_bytes"].map(formatting.human_bytes),
            rows_part=sizes["heap_bytes"].map(formatting.human_bytes),
            toast=sizes["toast_bytes"].map(formatting.human_bytes),
            indexes=sizes["index_bytes"].map(formatting.human_bytes),
        )
        st.dataframe(
            shown,
            hide_index=True,
            column_order=["table_name", "row_count", "total", "rows_part", "toast", "indexes"],
            column_config={
                "table_name": "Table",
                "row_count": st.column_config.NumberColumn(
                    "Rows",
                    format="localized",
                    help="Exact for tables under 64 MB; above, PostgreSQL's estimate (kept current by "
                    "autovacuum), because an exact count of millions of rows takes a noticeable time.",
                ),
                "total": "On disk",
                "rows_part": "Rows part",
                "toast": st.column_config.TextColumn(
                    "TOAST", help="Out-of-line storage: mostly the drawings."
                ),
                "indexes": "Indexes",
            },
        )
    with right:
        st.altair_chart(charts.table_sizes(sizes), width="stretch")
    if sizes["row_count_is_estimate"].any():
        estimated = ", ".join(sizes.loc[sizes["row_count_is_estimate"], "table_name"])
        st.caption(f"Row counts of {estimated} are PostgreSQL's estimates (large tables).")
    st.caption(view.updated_note())


def action_status(status: monitoring.MaintenanceStatus) -> None:
    cleanup, archive, periodic = st.columns(3, border=True)
    cleanup.metric(
        "Cleanup would delete", status.cleanup_candidates, help="Never-completed sessions past expiry."
    )
    if status.as_of is not None:
        cleanup.caption(f"counted at {formatting.local_time(status.as_of, '%H:%M:%S')}")
    archive.metric(
        "Archive would move",
        status.archive_candidates,
        help="Completed sessions older than the cut-off below.",
    )
    if status.last_cleanup_at is None:
        periodic.metric("Last periodic cleanup", "never")
    else:
        periodic.metric("Last periodic cleanup", formatting.local_time(status.last_cleanup_at, "%H:%M"))
        periodic.caption(
            f"{formatting.local_time(status.last_cleanup_at)} · removed {status.last_cleanup_removed or 0}"
        )


def ask(action: str) -> None:
    st.session_state[PENDING_KEY] = action
    st.session_state.pop(RESULT_KEY, None)


def cancel() -> None:
    st.session_state.pop(PENDING_KEY, None)


def run_cleanup() -> None:
    removed = data.staff().run_cleanup()
    st.session_state[RESULT_KEY] = f"Cleanup removed {removed:,} expired session(s) and their drawings."
    st.session_state.pop(PENDING_KEY, None)


def run_archive(older_than_hours: float) -> None:
    moved = data.staff().run_archive(int(older_than_hours * 3600))
    st.session_state[RESULT_KEY] = (
        f"Archive moved {moved:,} completed session(s) older than {older_than_hours:g} h "
        "to enrollment_archive."
    )
    st.session_state.pop(PENDING_KEY, None)


def actions() -> None:
    st.markdown("**Actions**")
    older_than_hours = st.number_input(
        "Archive completed sessions older than (hours)",
        min_value=0.0,
        max_value=24.0 * 365,
        value=24.0,
        step=1.0,
    )
    status = monitoring.maintenance_status(data.pool(), int(older_than_hours * 3600))
    action_status(status)
    pending = st.session_state.get(PENDING_KEY)
    cleanup_col, archive_col = st.columns(2)
    cleanup_col.button(
        "Run cleanup now…",
        icon=":material/delete_sweep:",
        on_click=ask,
        args=("cleanup",),
        disabled=bool(pending),
    )
    archive_col.button(
        "Archive completed…",
        icon=":material/archive:",
        on_click=ask,
        args=("archive",),
        disabled=bool(pending),
    )
    if pending == "cleanup":
        with st.container(border=True):
            st.warning(
                f"Permanently delete the {status.cleanup_candidates:,} expired session(s) and their "
                "drawings? People in the middle of those enrollments have already run out of time.",
                icon=":material/warning:",
            )
            yes, no = st.columns([1, 5])
            yes.button("Delete expired sessions", type="primary", on_click=run_cleanup, key="confirm_cleanup")
            no.button("Cancel", on_click=cancel, key="cancel_cleanup")
    elif pending == "archive":
        with st.container(border=True):
            st.warning(
                f"Move the {status.archive_candidates:,} completed session(s) older than "
                f"{older_than_hours:g} h to enrollment_archive? Their drawings leave the temporary "
                "tables (registered users keep theirs in user_enrolled_drawings).",
                icon=":material/warning:",
            )
            yes, no = st.columns([1, 5])
            yes.button(
                "Archive completed sessions",
                type="primary",
                on_click=run_archive,
                args=(older_than_hours,),
                key="confirm_archive",
            )
            no.button("Cancel", on_click=cancel, key="cancel_archive")
    if st.session_state.get(RESULT_KEY):
        st.success(st.session_state[RESULT_KEY], icon=":material/check_circle:")


with st.container(border=True):
    table_growth()

with st.container(border=True):
    actions()
