"""Overview: metric cards, live sessions over time, the expiry backlog, drop-off and step times."""

import streamlit as st

from dashboard import charts, data, formatting, view
from enrollment_core import monitoring

CARD_WINDOW_HOURS = monitoring.CARD_WINDOW_HOURS
BACKLOG_MAX_HOURS = 24


def metric_cards(overview: monitoring.Overview) -> None:
    total, signup, signin = overview.total, overview.by_flow["signup"], overview.by_flow["signin"]
    live, backlog, completed, rate = st.columns(4, border=True)
    with live:
        st.metric(
            "Live sessions",
            total.live,
            help="Sessions in progress that have not expired yet "
            "(status in_progress, expires_at in the future).",
        )
        st.caption(f"signup {signup.live} · signin {signin.live}")
    with backlog:
        st.metric(
            "Expired, awaiting cleanup",
            total.backlog,
            help="Never-completed sessions past their expiry: what cleanup deletes. The seed's "
            "expired_pending_cleanup query counts only those whose status is still 'in_progress'; rows "
            "already marked 'expired' (by a late save or completion attempt) are backlog too.",
        )
        st.caption(
            f"seed query (in_progress only): {overview.seed_expired_pending_cleanup} · "
            f"marked 'expired': {total.backlog_marked_expired}"
        )
    with completed:
        st.metric(
            "Completed, last 24 h",
            total.completed_recent,
            help="Sessions completed in the last 24 hours, archived ones included.",
        )
        st.caption(f"signup {signup.completed_recent} · signin {signin.completed_recent}")
    with rate:
        st.metric(
            "Completion rate, last 24 h",
            formatting.percent(total.completion_rate),
            help="Of the sessions started in the last 24 hours that have ended, the share that completed. "
            "Ended = completed, or expired without completing. Sessions still in progress are not counted, "
            "nor those cleanup has already deleted (they leave no trace).",
        )
        st.caption(
            f"{total.ended_completed} of {total.ended} ended · "
            f"signup {formatting.percent(signup.completion_rate)} · "
            f"signin {formatting.percent(signin.completion_rate)}"
        )


def chart_card(title: str, caption: str, frame, build, empty_message: str) -> None:
    with st.container(border=True):
        st.markdown(f"**{title}**")
        st.caption(caption)
        if frame.empty:
            st.info(empty_message, icon=":material/hourglass_empty:")
        else:
            st.altair_chart(build(frame), width="stretch")


@st.fragment(run_every=view.refresh_seconds())
def live_overview() -> None:
    pool = data.pool()
    hours = view.window_hours()
    overview = monitoring.overview(pool, CARD_WINDOW_HOURS)
    metric_cards(overview)
    if overview.as_of is not None:
        st.caption(
            "Live sessions: now. The other figures and the charts: as of "
            f"{formatting.local_time(overview.as_of, '%H:%M:%S')} (recomputed about once a minute; "
            "counting a large database takes seconds)."
        )

    over_time = monitoring.active_over_time(pool, hours, bucket_minutes=max(5, hours * 60 // 96))
    backlog = monitoring.expiry_backlog(pool, BACKLOG_MAX_HOURS)
    left, right = st.columns(2)
    with left:
        chart_card(
            "Live sessions over time",
            f"By flow, {view.window_label()}. Rebuilt from the sessions still stored: sessions deleted by "
            "cleanup no longer appear in the past.",
            over_time if over_time["live"].any() else over_time.iloc[0:0],
            charts.active_sessions_over_time,
            "No session was live in this window.",
        )
    with right:
        chart_card(
            "Expiry backlog",
            "Never-completed sessions past their expiry, by how long ago they expired. Cleanup deletes them.",
            backlog,
            lambda frame: charts.expiry_backlog(frame, BACKLOG_MAX_HOURS),
            "No backlog: every expired session has been cleaned up.",
        )

    funnel = monitoring.step_funnel(pool, hours, "signup")
    durations = monitoring.step_durations(pool, hours)
    left, right = st.columns(2)
    with left:
        chart_card(
            "Signup funnel: where people stop",
            f"Signup sessions started {view.window_label()} that reached each step of the plan.",
            funnel if funnel["sessions"].any() else funnel.iloc[0:0],
            charts.step_funnel,
            "No signup session started in this window.",
        )
    with right:
        chart_card(
            "Time spent per step",
            "From the previous step's save (step 1: from the session's start, which the service records "
            f"when step 1 is saved). Latest {monitoring.STEP_TIME_SAMPLE:,} sessions started "
            f"{view.window_label()}.",
            durations,
            charts.step_durations,
            "No steps saved in this window.",
        )

    chart_card(
        "Average steps per completed enrollment",
        "The seed's avg_steps_per_flow figures (completed sessions not yet archived), from each session's "
        "step count; the tick is the plan's step count.",
        monitoring.avg_steps_per_flow(pool),
        charts.average_steps,
        "No completed enrollment yet.",
    )
    st.caption(view.updated_note())


live_overview()
