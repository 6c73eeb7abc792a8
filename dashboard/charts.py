"""Altair chart builders: pure functions from the DataFrames of enrollment_core.monitoring to charts, in the
words staff read (dashboard.words). Callers show an empty state instead of calling these with an empty
frame."""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard import words

FLOW_ORDER = [words.flow("signup"), words.flow("signin")]
FLOW_COLORS = alt.Scale(domain=FLOW_ORDER, range=["#4c78a8", "#f58518"])
# Long enough for "Sign-up 11 · Draw a house" style labels on a phone and a wide screen alike.
STEP_LABEL_LIMIT = 240
# The funnel's rows: a bar under its step's name and figures, the bar taking this share of the row less.
FUNNEL_ROW_PX = 40
FUNNEL_ROW_GAP = 0.55


def _step_axis() -> alt.Axis:
    return alt.Axis(labelLimit=STEP_LABEL_LIMIT, labelOverlap=False)


def _with_flow_words(frame: pd.DataFrame) -> pd.DataFrame:
    data = frame.copy()
    data["flow"] = data["flow_type"].map(words.flow)
    return data


def _time_axis(hours: int) -> alt.Axis:
    """Hours of the day for a day or less, days beyond: one kind of label, never 'Mon 30 03 AM'."""
    if hours <= 24:
        return alt.Axis(format="%H:%M", labelOverlap=True, tickCount=6, title=None)
    return alt.Axis(
        format="%a %d %b", labelOverlap=True, tickCount={"interval": "day", "step": 1}, title=None
    )


def wall_clock(times: pd.Series, zone: str) -> pd.Series:
    """Times as the clock in `zone` reads them, labelled UTC: a chart on a UTC scale then shows that
    zone's clock, whatever the zone of the browser drawing it (Vega-Lite knows only local and UTC)."""
    local = pd.to_datetime(times, utc=True).dt.tz_convert(zone)
    return local.dt.tz_localize(None).dt.tz_localize("UTC")


def active_sessions_over_time(frame: pd.DataFrame, hours: int, zone: str = "UTC") -> alt.Chart:
    """Stacked area of live sessions per flow (columns at, flow_type, live), on the clock of `zone`."""
    data = _with_flow_words(frame)
    data["at"] = wall_clock(data["at"], zone)
    axis = _time_axis(hours)
    axis.title = f"Time ({zone})"
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_area(opacity=0.85, interpolate="step-after")
        .encode(
            x=alt.X("at:T", axis=axis, scale=alt.Scale(type="utc")),
            y=alt.Y("live:Q", title="Live sessions", stack="zero", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color("flow:N", title="Flow", scale=FLOW_COLORS, sort=FLOW_ORDER),
            order=alt.Order("flow:N", sort="descending"),
            tooltip=[
                alt.Tooltip("at:T", title=f"At ({zone})", format="%d %b %H:%M", formatType="utc"),
                alt.Tooltip("flow:N", title="Flow"),
                alt.Tooltip("live:Q", title="Live sessions"),
            ],
        )
        .properties(height=260)
    )
    return chart


def backlog_buckets(frame: pd.DataFrame, max_hours: int) -> pd.DataFrame:
    """One row per (hours since expiry, flow) for every hour 0..max_hours, empty hours included, so the
    axis never jumps (4-5 h straight to 8-9 h) and each bar has one segment per flow."""
    grid = pd.MultiIndex.from_product(
        [range(max_hours + 1), ["signup", "signin"]], names=["hours_overdue", "flow_type"]
    )
    counts = frame.groupby(["hours_overdue", "flow_type"])["sessions"].sum().reindex(grid, fill_value=0)
    data = counts.reset_index()
    data["flow"] = data["flow_type"].map(words.flow)
    data["overdue"] = [f"{h}+" if h >= max_hours else str(h) for h in data["hours_overdue"]]
    data["overdue_text"] = [
        f"{h} h or more ago" if h >= max_hours else f"{h}–{h + 1} h ago" for h in data["hours_overdue"]
    ]
    return data


def expiry_backlog(frame: pd.DataFrame, max_hours: int) -> alt.Chart:
    """Sessions awaiting cleanup by whole hours since they expired, stacked by flow (columns
    hours_overdue, flow_type, status, sessions)."""
    data = backlog_buckets(frame, max_hours)
    order = [str(h) for h in range(max_hours)] + [f"{max_hours}+"]
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar(strokeWidth=0)
        .encode(
            x=alt.X(
                "overdue:O",
                title="Hours since it expired",
                sort=order,
                axis=alt.Axis(labelAngle=0, labelOverlap=True),
            ),
            y=alt.Y("sessions:Q", title="Sessions", stack="zero", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color("flow:N", title="Flow", scale=FLOW_COLORS, sort=FLOW_ORDER),
            order=alt.Order("flow:N", sort="descending"),
            tooltip=[
                alt.Tooltip("overdue_text:N", title="Expired"),
                alt.Tooltip("flow:N", title="Flow"),
                alt.Tooltip("sessions:Q", title="Sessions"),
            ],
        )
        .properties(height=260)
    )
    return chart


def average_steps(frame: pd.DataFrame) -> alt.LayerChart:
    """Average steps of completed sessions per flow, with the plan's step count as a tick
    (columns flow_type, avg_steps, plan_steps)."""
    data = _with_flow_words(frame)
    base = alt.Chart(data).encode(y=alt.Y("flow:N", title=None, sort=FLOW_ORDER))
    top = max(float(data["plan_steps"].max()), float(data["avg_steps"].max())) + 1
    bars = base.mark_bar().encode(
        x=alt.X("avg_steps:Q", title="Steps", scale=alt.Scale(domain=[0, top]), axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("flow:N", scale=FLOW_COLORS, legend=None),
        tooltip=[
            alt.Tooltip("flow:N", title="Flow"),
            alt.Tooltip("avg_steps:Q", title="Average steps", format=".2f"),
            alt.Tooltip("plan_steps:Q", title="Steps in the plan"),
            alt.Tooltip("sessions:Q", title="Completed sessions"),
        ],
    )
    plan = base.mark_tick(color="black", thickness=2, size=30).encode(x="plan_steps:Q")
    labels = base.mark_text(align="left", dx=4).encode(
        x="avg_steps:Q", text=alt.Text("avg_steps:Q", format=".1f")
    )
    chart: alt.LayerChart = (bars + plan + labels).properties(height=120)
    return chart


def _step_rows(data: pd.DataFrame) -> tuple[alt.Chart, alt.Chart, list[str], float]:
    """A chart of one row per step (column step, in the frame's order), each row's text (column label)
    written above its bar: (the base to draw bars on, the labels' layer, the steps in order, a bar's
    height in px)."""
    order = list(data["step"])
    band = FUNNEL_ROW_PX * (1 - FUNNEL_ROW_GAP)
    base = alt.Chart(data).encode(
        y=alt.Y("step:N", title=None, sort=order, axis=None, scale=alt.Scale(paddingInner=FUNNEL_ROW_GAP))
    )
    labels = base.mark_text(align="left", baseline="bottom", dy=-(band / 2 + 2), fontSize=12).encode(
        x=alt.datum(0), text="label:N"
    )
    return base, labels, order, band


def step_funnel(frame: pd.DataFrame) -> alt.LayerChart:
    """Sessions that reached each step (columns step_number, instruction, sessions, share_of_started,
    lost_from_previous): where people drop off. Each step's name and figures are written above its bar,
    not beside it, so that neither is cut at any width (at 390 px the names beside the bars left the
    bars no room, and the figures after them were cut by the chart's edge)."""
    data = frame.copy()
    data["step"] = [f"{n}. {text}" for n, text in zip(data["step_number"], data["instruction"])]
    data["label"] = [
        f"{step}: {n} ({share:.0%})"
        for step, n, share in zip(data["step"], data["sessions"], data["share_of_started"])
    ]
    base, labels, _, _ = _step_rows(data)
    bars = base.mark_bar(color="#4c78a8").encode(
        x=alt.X(
            "sessions:Q",
            title="Sessions",
            scale=alt.Scale(domain=[0, float(data["sessions"].max())], nice=False),
            axis=alt.Axis(tickMinStep=1, format="d"),
        ),
        tooltip=[
            alt.Tooltip("step:N", title="Step"),
            alt.Tooltip("sessions:Q", title="Reached"),
            alt.Tooltip("share_of_started:Q", title="Of those who started", format=".0%"),
            alt.Tooltip("lost_from_previous:Q", title="Stopped before this step"),
        ],
    )
    chart: alt.LayerChart = (bars + labels).properties(height=FUNNEL_ROW_PX * len(data) + 40)
    return chart


def step_durations(frame: pd.DataFrame) -> alt.LayerChart:
    """Median time per step as bars with the 90th percentile as a tick (columns flow_type, step_number,
    instruction, samples, median_seconds, p90_seconds)."""
    data = _with_flow_words(frame)
    several_flows = data["flow"].nunique() > 1  # sign-in's one step is not timed: usually sign-up only
    data["step"] = [
        f"{flow} {number}. {text}" if several_flows else f"{number}. {text}"
        for flow, number, text in zip(data["flow"], data["step_number"], data["instruction"])
    ]
    data["label"] = [
        f"{step}: median {median:.0f} s, 90th percentile {p90:.0f} s"
        for step, median, p90 in zip(data["step"], data["median_seconds"], data["p90_seconds"])
    ]
    # As the funnel: each step's name and figures above its bar, never cut at any width.
    base, labels, order, band = _step_rows(data)
    tooltip = [
        alt.Tooltip("step:N", title="Step"),
        alt.Tooltip("median_seconds:Q", title="Median (s)", format=".1f"),
        alt.Tooltip("p90_seconds:Q", title="90th percentile (s)", format=".1f"),
        alt.Tooltip("samples:Q", title="Sessions"),
    ]
    x_scale = alt.Scale(domain=[0, float(data["p90_seconds"].max()) * 1.05], nice=True)
    bars = base.mark_bar().encode(
        x=alt.X("median_seconds:Q", title="Seconds", scale=x_scale, axis=alt.Axis(tickCount=8)),
        color=alt.Color(
            "flow:N",
            title="Flow",
            scale=FLOW_COLORS,
            sort=FLOW_ORDER,
            legend=alt.Legend(orient="top") if several_flows else None,
        ),
        tooltip=tooltip,
    )
    # A tick sits at its band's start unless told otherwise: at the middle, it crosses its bar.
    p90 = base.mark_tick(color="black", thickness=2, size=band).encode(
        x="p90_seconds:Q",
        y=alt.Y(
            "step:N", sort=order, axis=None, scale=alt.Scale(paddingInner=FUNNEL_ROW_GAP), bandPosition=0.5
        ),
        tooltip=tooltip,
    )
    chart: alt.LayerChart = (bars + p90 + labels).properties(height=FUNNEL_ROW_PX * len(data) + 50)
    return chart


def table_sizes(frame: pd.DataFrame) -> alt.Chart:
    """On-disk size per table split into images (TOAST), other data and indexes (columns holds,
    heap_bytes, toast_bytes, index_bytes)."""
    data = frame.melt(
        id_vars=["holds"],
        value_vars=["toast_bytes", "heap_bytes", "index_bytes"],
        var_name="part",
        value_name="bytes",
    )
    parts = {"toast_bytes": "Images", "heap_bytes": "Other data", "index_bytes": "Indexes"}
    data["part"] = data["part"].map(parts)
    data["megabytes"] = data["bytes"] / 1024 / 1024
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("holds:N", title=None, axis=alt.Axis(labelLimit=STEP_LABEL_LIMIT)),
            x=alt.X("megabytes:Q", title="MB on disk", stack="zero"),
            color=alt.Color("part:N", title="Part", sort=["Images", "Other data", "Indexes"]),
            tooltip=[
                alt.Tooltip("holds:N", title="Holds"),
                alt.Tooltip("part:N", title="Part"),
                alt.Tooltip("megabytes:Q", title="MB", format=".2f"),
            ],
        )
        .properties(height=160)
    )
    return chart
