"""Overview: metric cards, live sessions over time, the expiry backlog, drop-off and step times. Every
figure about the past counts the summaries cleanup and archive leave, so running them changes none."""

from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import charts, data, formatting, outage, view, words
from enrollment_core import monitoring

CARD_WINDOW_HOURS = monitoring.CARD_WINDOW_HOURS
BACKLOG_MAX_HOURS = 24


def by_flow(signup: object, signin: object) -> str:
    """Two short caption lines: a card's width never breaks them inside a word."""
    return f"{words.flow('signup')} {signup}  \n{words.flow('signin')} {signin}"


def metric_cards(overview: monitoring.Overview) -> None:
    total, signup, signin = overview.total, overview.by_flow["signup"], overview.by_flow["signin"]
    hours = CARD_WINDOW_HOURS
    live, backlog, completed, rate = st.columns(4, border=True)
    card(
        live,
        "Live sessions",
        f"{total.live:,}",
        "People in the middle of a sign-up or sign-in who still have time left (a session expires 2 hours "
        "after its first drawing).",
        by_flow(signup.live, signin.live),
    )
    card(
        backlog,
        "Awaiting cleanup",
        f"{total.backlog:,}",
        "Sessions that ran out of time before finishing. The hourly cleanup deletes their drawings and "
        "keeps a summary, so the other figures do not change when it runs.",
        by_flow(signup.backlog, signin.backlog),
    )
    card(
        completed,
        f"Completed, {hours} h",
        f"{total.completed_recent:,}",
        f"Sign-ups and sign-ins completed in the last {hours} hours, archived ones included.",
        by_flow(signup.completed_recent, signin.completed_recent),
    )
    card(
        rate,
        f"Completion, {hours} h",
        formatting.percent(total.completion_rate),
        f"Of the sessions started in the last {hours} hours that have finished, the share that completed. "
        "Finished: completed, or ran out of time. Sessions still in progress are not counted; cleaned-up "
        "and archived ones are.",
        f"{total.ended_completed:,} of {total.ended:,} finished  \n"
        + by_flow(formatting.percent(signup.completion_rate), formatting.percent(signin.completion_rate)),
    )


def card(where: DeltaGenerator, label: str, value: str, help: str, caption: str) -> None:
    """One figure card: the figure with its explanation, and a caption under it."""
    with where:
        st.metric(label, value, help=help)
        st.caption(caption)


def chart_card(
    title: str,
    caption: str,
    frame: pd.DataFrame,
    build: Callable[[pd.DataFrame], alt.Chart | alt.LayerChart],
    empty_message: str,
) -> None:
    with st.container(border=True):
        st.markdown(f"**{title}**")
        st.caption(caption)
        if frame.empty:
            st.info(empty_message, icon=":material/hourglass_empty:")
        else:
            st.altair_chart(build(frame), width="stretch")


@st.fragment(run_every=view.refresh_seconds())
@outage.section(refreshes=True)
def live_overview() -> None:
    reads = data.reads()
    hours = view.window_hours()
    overview = reads.overview(CARD_WINDOW_HOURS)
    metric_cards(overview)
    if overview.as_of is not None:
        st.caption(
            f"Live sessions: now. Completed and completion: the last {CARD_WINDOW_HOURS} h. Figures other "
            f"than live sessions, and the charts: as of {formatting.local_time(overview.as_of, '%H:%M:%S')} "
            "(recounted about once a minute)."
        )

    over_time = reads.active_over_time(hours, bucket_minutes=max(5, hours * 60 // 96))
    backlog = reads.expiry_backlog(BACKLOG_MAX_HOURS)
    left, right = st.columns(2)
    with left:
        chart_card(
            "Live sessions over time",
            f"By flow, {view.window_label()}.",
            over_time if over_time["live"].any() else over_time.iloc[0:0],
            lambda frame: charts.active_sessions_over_time(frame, hours, formatting.zone_name()),
            "No session was live in this period.",
        )
    with right:
        chart_card(
            "Expired, awaiting cleanup",
            "Sessions that ran out of time, by how long ago. The hourly cleanup removes them.",
            backlog,
            lambda frame: charts.expiry_backlog(frame, BACKLOG_MAX_HOURS),
            "Nothing waits for cleanup.",
        )

    funnel = reads.step_funnel(hours, "signup")
    chart_card(
        "Sign-up funnel: where people stop",
        f"Sign-ups started {view.window_label()} that reached each step, and their share of those that "
        "started.",
        funnel if funnel["sessions"].any() else funnel.iloc[0:0],
        charts.step_funnel,
        "No sign-up started in this period.",
    )
    chart_card(
        "Time spent per step",
        "Bar: median, black tick: 90th percentile, in seconds since the previous step was saved. Step 1 is "
        "not timed (a session starts when it is saved). Latest "
        f"{monitoring.STEP_TIME_SAMPLE:,} sessions started {view.window_label()}.",
        reads.step_durations(hours),
        charts.step_durations,
        "No step saved in this period.",
    )
    chart_card(
        "Steps per completed enrollment",
        f"Average steps of sessions started {view.window_label()} that completed; the black tick is the "
        "number of steps in the plan.",
        reads.avg_steps_per_flow(hours),
        charts.average_steps,
        "No enrollment completed in this period.",
    )
    st.caption(view.updated_note())


st.title("Overview", anchor=False)
live_overview()
