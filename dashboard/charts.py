"""Altair chart builders: pure functions from the DataFrames of enrollment_core.monitoring to charts.
Callers show an empty state instead of calling these with an empty frame."""

from __future__ import annotations

import altair as alt
import pandas as pd

FLOW_COLORS = alt.Scale(domain=["signup", "signin"], range=["#4c78a8", "#f58518"])
STATUS_COLORS = alt.Scale(domain=["in_progress", "expired"], range=["#e45756", "#9d755d"])


def active_sessions_over_time(frame: pd.DataFrame) -> alt.Chart:
    """Stacked area of live sessions per flow (columns at, flow_type, live)."""
    return (
        alt.Chart(frame)
        .mark_area(opacity=0.85, interpolate="step-after")
        .encode(
            x=alt.X("at:T", title=None),
            y=alt.Y("live:Q", title="Live sessions", stack="zero", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color("flow_type:N", title="Flow", scale=FLOW_COLORS),
            tooltip=[
                alt.Tooltip("at:T", title="At", format="%H:%M"),
                alt.Tooltip("flow_type:N", title="Flow"),
                alt.Tooltip("live:Q", title="Live sessions"),
            ],
        )
        .properties(height=260)
    )


def expiry_backlog(frame: pd.DataFrame, max_hours: int) -> alt.Chart:
    """Backlog by hours since expiry, stacked by status (columns hours_overdue, flow_type, status,
    sessions)."""
    data = frame.copy()
    data["overdue"] = [f"{h}+ h" if h >= max_hours else f"{h}–{h + 1} h" for h in data["hours_overdue"]]
    order = [f"{h}–{h + 1} h" for h in range(max_hours)] + [f"{max_hours}+ h"]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("overdue:N", title="Expired this long ago", sort=order, axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                "sum(sessions):Q", title="Sessions awaiting cleanup", axis=alt.Axis(tickMinStep=1, format="d")
            ),
            color=alt.Color("status:N", title="Status", scale=STATUS_COLORS),
            tooltip=[
                alt.Tooltip("overdue:N", title="Expired"),
                alt.Tooltip("flow_type:N", title="Flow"),
                alt.Tooltip("status:N", title="Status"),
                alt.Tooltip("sum(sessions):Q", title="Sessions"),
            ],
        )
        .properties(height=260)
    )


def average_steps(frame: pd.DataFrame) -> alt.LayerChart:
    """Average steps of completed sessions per flow, with the plan's step count as a tick
    (columns flow_type, avg_steps, plan_steps)."""
    base = alt.Chart(frame).encode(y=alt.Y("flow_type:N", title=None, sort=["signup", "signin"]))
    bars = base.mark_bar().encode(
        x=alt.X("avg_steps:Q", title="Average steps per completed enrollment"),
        color=alt.Color("flow_type:N", scale=FLOW_COLORS, legend=None),
        tooltip=[
            alt.Tooltip("flow_type:N", title="Flow"),
            alt.Tooltip("avg_steps:Q", title="Average steps", format=".2f"),
            alt.Tooltip("plan_steps:Q", title="Steps in the plan"),
        ],
    )
    plan = base.mark_tick(color="black", thickness=2, size=30).encode(x="plan_steps:Q")
    labels = base.mark_text(align="left", dx=4).encode(
        x="avg_steps:Q", text=alt.Text("avg_steps:Q", format=".1f")
    )
    return (bars + plan + labels).properties(height=140)


def step_funnel(frame: pd.DataFrame) -> alt.LayerChart:
    """Sessions that reached each step (columns step_number, instruction, sessions, share_of_started,
    lost_from_previous): where people drop off."""
    data = frame.copy()
    data["step"] = [f"{n:>2}. {text}" for n, text in zip(data["step_number"], data["instruction"])]
    data["label"] = [f"{n} ({share:.0%})" for n, share in zip(data["sessions"], data["share_of_started"])]
    order = list(data["step"])
    base = alt.Chart(data).encode(
        y=alt.Y("step:N", title=None, sort=order, axis=alt.Axis(labelLimit=260, labelOverlap=False))
    )
    bars = base.mark_bar(color="#4c78a8").encode(
        x=alt.X("sessions:Q", title="Sessions that reached the step"),
        tooltip=[
            alt.Tooltip("step:N", title="Step"),
            alt.Tooltip("sessions:Q", title="Reached"),
            alt.Tooltip("share_of_started:Q", title="Of those who started", format=".0%"),
            alt.Tooltip("lost_from_previous:Q", title="Stopped before this step"),
        ],
    )
    labels = base.mark_text(align="left", dx=4).encode(x="sessions:Q", text="label:N")
    return (bars + labels).properties(height=28 * len(data) + 20)


def step_durations(frame: pd.DataFrame) -> alt.LayerChart:
    """Median time per step as bars with the 90th percentile as a tick (columns flow_type, step_number,
    instruction, samples, median_seconds, p90_seconds)."""
    data = frame.copy()
    data["step"] = [
        f"{flow} {n:>2}. {text}"
        for flow, n, text in zip(data["flow_type"], data["step_number"], data["instruction"])
    ]
    order = list(data["step"])
    base = alt.Chart(data).encode(
        y=alt.Y("step:N", title=None, sort=order, axis=alt.Axis(labelLimit=300, labelOverlap=False))
    )
    tooltip = [
        alt.Tooltip("step:N", title="Step"),
        alt.Tooltip("median_seconds:Q", title="Median (s)", format=".1f"),
        alt.Tooltip("p90_seconds:Q", title="90th percentile (s)", format=".1f"),
        alt.Tooltip("samples:Q", title="Sessions"),
    ]
    bars = base.mark_bar().encode(
        x=alt.X("median_seconds:Q", title="Seconds on the step (bar: median, tick: 90th percentile)"),
        color=alt.Color("flow_type:N", title="Flow", scale=FLOW_COLORS),
        tooltip=tooltip,
    )
    p90 = base.mark_tick(color="black", thickness=2).encode(x="p90_seconds:Q", tooltip=tooltip)
    return (bars + p90).properties(height=26 * len(data) + 20)


def table_sizes(frame: pd.DataFrame) -> alt.Chart:
    """On-disk size per table split into heap, TOAST (images) and indexes (columns table_name,
    heap_bytes, toast_bytes, index_bytes)."""
    data = frame.melt(
        id_vars=["table_name"],
        value_vars=["heap_bytes", "toast_bytes", "index_bytes"],
        var_name="part",
        value_name="bytes",
    )
    data["part"] = data["part"].map({"heap_bytes": "rows", "toast_bytes": "TOAST", "index_bytes": "indexes"})
    data["megabytes"] = data["bytes"] / 1024 / 1024
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("table_name:N", title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("megabytes:Q", title="MB on disk", stack="zero"),
            color=alt.Color("part:N", title="Part"),
            tooltip=[
                alt.Tooltip("table_name:N", title="Table"),
                alt.Tooltip("part:N", title="Part"),
                alt.Tooltip("megabytes:Q", title="MB", format=".2f"),
            ],
        )
        .properties(height=150)
    )
