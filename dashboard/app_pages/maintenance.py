"""Maintenance: storage growth, what cleanup and archive would do, buttons to run them (each confirmed and
logged under the signed-in person's name), and the staff log, paged and filtered by who, what and when."""

from dataclasses import replace
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import auth, charts, data, formatting, outage, view, words
from dashboard.confirm import confirm_then_run
from enrollment_core import monitoring
from enrollment_core.errors import DATABASE_UNAVAILABLE
from enrollment_core.staff import StaffAction

PENDING_KEY = "maintenance_pending"  # "cleanup" | "archive" while waiting for a confirmation
# The last action's outcome, ("done" | "failed", in words), shown after the rerun.
RESULT_KEY = "maintenance_result"
KEPT = "Each one leaves a summary without drawings, so the figures on Overview do not change."


@st.fragment(run_every=view.refresh_seconds())
@outage.section(refreshes=True)
def storage() -> None:
    sizes = data.reads().table_sizes()
    sizes = sizes.assign(holds=sizes["table_name"].map(words.table))
    st.markdown("**Storage**")
    st.caption(
        "Sessions stay until cleanup (expired ones) or archive (completed ones) removes them with their "
        "drawings; each leaves a summary, without drawings, for the figures."
    )
    shown = sizes.assign(
        total=sizes["total_bytes"].map(formatting.human_bytes),
        rows_part=sizes["heap_bytes"].map(formatting.human_bytes),
        toast=sizes["toast_bytes"].map(formatting.human_bytes),
        indexes=sizes["index_bytes"].map(formatting.human_bytes),
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_order=["holds", "row_count", "total", "toast", "rows_part", "indexes"],
        column_config={
            "holds": st.column_config.TextColumn("Holds"),
            "row_count": st.column_config.NumberColumn(
                "Rows",
                format="localized",
                help="Exact under 64 MB; above, PostgreSQL's estimate (kept current by autovacuum), "
                "because counting millions of rows exactly takes a noticeable time.",
            ),
            "total": st.column_config.TextColumn("On disk"),
            "toast": st.column_config.TextColumn("Images", help="Mostly the drawings, stored apart."),
            "rows_part": st.column_config.TextColumn("Other data"),
            "indexes": st.column_config.TextColumn("Indexes"),
        },
    )
    st.altair_chart(charts.table_sizes(sizes), width="stretch")
    if sizes["row_count_is_estimate"].any():
        estimated = ", ".join(sizes.loc[sizes["row_count_is_estimate"], "holds"].str.lower())
        st.caption(f"Row counts of large tables are estimates: {estimated}.")
    st.caption(view.updated_note())


def action_status(status: monitoring.MaintenanceStatus) -> None:
    cleanup, archive, periodic = st.columns(3, border=True)
    cleanup.metric(
        "Cleanup would delete",
        words.count(status.cleanup_candidates, "session"),
        help="Sessions that ran out of time before finishing, with their drawings.",
    )
    if status.as_of is not None:
        cleanup.caption(f"Counted at {formatting.local_time(status.as_of, '%H:%M:%S')}")
    archive.metric(
        "Archive would move",
        words.count(status.archive_candidates, "session"),
        help="Completed sessions older than the age above.",
    )
    if status.last_cleanup_at is None:
        periodic.metric("Last automatic cleanup", "never")
    else:
        periodic.metric(*formatting.time_card("Last automatic cleanup", status.last_cleanup_at))
        periodic.caption(f"Removed {words.count(status.last_cleanup_removed or 0, 'session')}")


def ask(action: str) -> None:
    st.session_state[PENDING_KEY] = action
    st.session_state.pop(RESULT_KEY, None)


# Both work in batches, each committed: when the database stops answering half-way, those stay done.
def run_cleanup() -> None:
    st.session_state.pop(PENDING_KEY, None)
    try:
        removed = data.staff().run_cleanup()
    except DATABASE_UNAVAILABLE as error:
        st.session_state[RESULT_KEY] = (
            "failed",
            outage.not_done(
                "Cleanup did not run to the end",
                error,
                "Sessions it had already removed stay removed; run it again when the database answers.",
            ),
        )
        return
    st.session_state[RESULT_KEY] = (
        "done",
        f"Cleanup removed {removed:,} expired session(s) and their drawings.",
    )


def run_archive(older_than_hours: float) -> None:
    st.session_state.pop(PENDING_KEY, None)
    try:
        moved = data.staff().run_archive(int(older_than_hours * 3600))
    except DATABASE_UNAVAILABLE as error:
        st.session_state[RESULT_KEY] = (
            "failed",
            outage.not_done(
                "Archive did not run to the end",
                error,
                "Sessions it had already moved stay archived; run it again when the database answers.",
            ),
        )
        return
    st.session_state[RESULT_KEY] = (
        "done",
        f"Archive moved {moved:,} completed session(s) older than {older_than_hours:g} h to the archive.",
    )


@outage.section()
def actions() -> None:
    st.markdown("**Cleanup and archive**")
    older_than_hours = st.number_input(
        "Archive completed sessions older than (hours)",
        min_value=0.0,
        max_value=24.0 * 365,
        value=24.0,
        step=1.0,
        width=320,
    )
    status = data.reads().maintenance_status(int(older_than_hours * 3600))
    action_status(status)
    pending = st.session_state.get(PENDING_KEY)
    with st.container(horizontal=True):
        st.button(
            "Run cleanup now…",
            icon=":material/delete_sweep:",
            on_click=ask,
            args=("cleanup",),
            disabled=bool(pending),
        )
        st.button(
            "Archive completed…",
            icon=":material/archive:",
            on_click=ask,
            args=("archive",),
            disabled=bool(pending),
        )
    if pending == "cleanup":
        confirm_then_run(
            f"Permanently delete the {status.cleanup_candidates:,} expired session(s) and their drawings? "
            f"The people in them already ran out of time. {KEPT}",
            "Delete expired sessions",
            run_cleanup,
            pending_key=PENDING_KEY,
            key="cleanup",
        )
    elif pending == "archive":
        confirm_then_run(
            f"Move the {status.archive_candidates:,} completed session(s) older than {older_than_hours:g} h "
            f"to the archive? Their drawings are deleted; registered people keep their enrolled drawings. "
            f"{KEPT}",
            "Archive completed sessions",
            run_archive,
            pending_key=PENDING_KEY,
            key="archive",
            args=(older_than_hours,),
        )


def action_result() -> None:
    """What the last cleanup or archive did, or that the database did not answer it: outside actions(),
    which shows the database's notice instead when it cannot read the database either."""
    if st.session_state.get(RESULT_KEY):
        kind, message = st.session_state[RESULT_KEY]
        if kind == "done":
            st.success(message, icon=":material/check_circle:")
        else:
            st.error(message, icon=":material/cloud_off:")
    st.caption(f"Actions are recorded in the staff log below as {formatting.plain(auth.staff_name())}.")


def _result_text(action: str, target: str | None, succeeded: bool, result: dict[str, Any]) -> str:
    """A log line's outcome in words; shown in a table cell, so client text (a username) stays text."""
    if action == "sign_in":  # target: the address it came from ("this computer": the server itself)
        return "Wrong password (the name is the one given; On: the address it came from)"
    if not succeeded:
        return f"Failed: {result.get('error', 'unknown error')}"
    if action == "cleanup":
        return f"Removed {words.count(result.get('removed', 0), 'expired session')}"
    if action == "archive":
        hours = result.get("older_than_seconds", 0) / 3600
        return f"Moved {words.count(result.get('moved', 0), 'completed session')} older than {hours:g} h"
    if action == "unlock_sign_in":
        address = result.get("address")
        where = "every address" if address is None else words.address(address)
        done = f"Unlocked sign-in for {result.get('username', target)} from {where}"
        return done if result.get("unlocked") else f"{done} (nothing was locked any more)"
    if action == "clear_rate_limit":
        done = f"Cleared the {words.limit_name(result.get('limit'))} for {target}"
        return done if result.get("cleared") else f"{done} (it was whole again already)"
    return ", ".join(f"{key}: {value}" for key, value in result.items())


LOG_PAGE = "staff_log_page_number"
EVERY_ACTION = ""  # not None: Streamlit offers to clear a select box showing None
ACTION_CHOICES = [EVERY_ACTION, *(action.value for action in StaffAction)]


def _first_log_page() -> None:
    """A changed filter shows its newest lines."""
    st.session_state[LOG_PAGE] = 1


def _turn_log_page(step: int) -> None:
    st.session_state[LOG_PAGE] = max(1, st.session_state.get(LOG_PAGE, 1) + step)


def staff_log_filter() -> monitoring.StaffLogFilter:
    """Who, what and when, as chosen above the staff log; the page shown."""
    who, what, when = st.columns([1, 1, 1.2], vertical_alignment="bottom")
    name = who.text_input(
        "Who (part of the name)",
        key="log_who",
        max_chars=monitoring.STAFF_NAME_MAX_LENGTH,
        on_change=_first_log_page,
    )
    action = what.selectbox(
        "What",
        ACTION_CHOICES,
        format_func=lambda code: "Every action" if code == EVERY_ACTION else words.staff_action(code),
        key="log_what",
        on_change=_first_log_page,
    )
    today = datetime.now(formatting.viewer_timezone()).date()
    days = when.date_input(
        f"When ({formatting.zone_name()})",
        value=[],
        max_value=today,
        key="log_when",
        format="YYYY-MM-DD",
        on_change=_first_log_page,
        help="The first and the last day, both included; empty: every day.",
    )
    acted_from, acted_before = formatting.day_range(days)
    return monitoring.StaffLogFilter(
        staff_name=name,
        action=action or None,
        acted_from=acted_from,
        acted_before=acted_before,
        page=max(1, int(st.session_state.get(LOG_PAGE, 1))),
    )


@st.fragment(run_every=view.refresh_seconds())
@outage.section(refreshes=True)
def staff_log(filter: monitoring.StaffLogFilter) -> None:
    page = data.reads().staff_log_page(filter)
    if page.rows.empty and filter.page > 1 and page.total_matching > 0:
        # Fewer lines than before (another filter elsewhere, a page number out of range): the last page.
        st.session_state[LOG_PAGE] = page.pages
        filter = replace(filter, page=page.pages)
        page = data.reads().staff_log_page(filter)
    log = page.rows
    if log.empty:
        filtered = filter.staff_name or filter.action or filter.acted_from
        st.info(
            "No action matches these filters."
            if filtered
            else "No one has run an action from the dashboard yet.",
            icon=":material/history:",
        )
        return
    shown = pd.DataFrame(
        {
            "when": formatting.localize_columns(log, ["acted_at"])["acted_at"],
            "who": log["staff_name"],
            "what": log["action"].map(words.staff_action),
            "on": log["target"].fillna("all"),
            "result": [
                _result_text(a, t, ok, r)
                for a, t, ok, r in zip(log["action"], log["target"], log["succeeded"], log["result"])
            ],
        }
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "when": st.column_config.DatetimeColumn(formatting.zoned("When"), format="YYYY-MM-DD HH:mm:ss"),
            "who": st.column_config.TextColumn("Who"),
            "what": st.column_config.TextColumn("What"),
            "on": st.column_config.TextColumn("On"),
            "result": st.column_config.TextColumn("Result", width="large"),
        },
    )
    first = (filter.page - 1) * filter.page_size + 1
    total = (
        f"more than {monitoring.STAFF_LOG_COUNT_LIMIT:,}"
        if page.total_is_lower_bound
        else f"{page.total_matching:,}"
    )
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button(
            "Newer",
            icon=":material/chevron_left:",
            key="log_newer",
            on_click=_turn_log_page,
            args=(-1,),
            disabled=filter.page <= 1,
        )
        lines = (
            "1 line"
            if page.total_matching == 1
            else f"Lines {first:,}–{first + len(log) - 1:,} of {total}, newest first · "
            f"page {filter.page:,} of {page.pages:,}"
        )
        st.markdown(lines)
        st.button(
            "Older",
            icon=":material/chevron_right:",
            key="log_older",
            on_click=_turn_log_page,
            args=(1,),
            disabled=filter.page >= page.pages,
        )
    st.caption("Names are as given at sign-in.")


st.title("Maintenance", anchor=False)
with st.container(border=True):
    storage()

with st.container(border=True):
    actions()
    action_result()

with st.container(border=True):
    st.markdown("**Staff log**")
    staff_log(staff_log_filter())
