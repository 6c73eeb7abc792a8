"""The charts' data and axes (issue 15, item 6): every hour of the backlog drawn with one segment per
flow, one kind of time label, flows and steps in plain words, room for the funnel's labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from dashboard import charts


def test_backlog_has_every_hour_and_one_segment_per_flow() -> None:
    frame = pd.DataFrame(
        [
            {"hours_overdue": 0, "flow_type": "signup", "status": "in_progress", "sessions": 2},
            {"hours_overdue": 0, "flow_type": "signup", "status": "expired", "sessions": 1},  # same bar
            {"hours_overdue": 4, "flow_type": "signin", "status": "in_progress", "sessions": 1},
            {"hours_overdue": 8, "flow_type": "signup", "status": "in_progress", "sessions": 3},
            {"hours_overdue": 24, "flow_type": "signup", "status": "expired", "sessions": 5},
        ]
    )
    data = charts.backlog_buckets(frame, 24)
    assert len(data) == 25 * 2  # hours 0..24+, both flows, empty ones included: no jump from 4 to 8
    assert not data.duplicated(["hours_overdue", "flow"]).any()  # no stacked same-colour segments
    by_hour = data.groupby("overdue")["sessions"].sum()
    assert (by_hour["0"], by_hour["4"], by_hour["5"], by_hour["8"], by_hour["24+"]) == (3, 1, 0, 3, 5)
    assert set(data["flow"]) == {"Sign-up", "Sign-in"}
    assert data.loc[data["hours_overdue"] == 3, "overdue_text"].iloc[0] == "3–4 h ago"
    spec = charts.expiry_backlog(frame, 24).to_dict()
    assert spec["mark"]["strokeWidth"] == 0 and spec["encoding"]["x"]["axis"]["labelAngle"] == 0


def test_time_labels_are_one_kind_per_period() -> None:
    now = datetime.now(UTC)
    frame = pd.DataFrame(
        [
            {"at": now - timedelta(minutes=15 * k), "flow_type": flow, "live": k}
            for k in range(8)
            for flow in ("signup", "signin")
        ]
    )
    day = charts.active_sessions_over_time(frame, 24).to_dict()["encoding"]["x"]["axis"]
    assert day["title"] == "Time (UTC)"
    week = charts.active_sessions_over_time(frame, 168).to_dict()["encoding"]["x"]["axis"]
    assert day["format"] == "%H:%M" and week["format"] == "%a %d %b"
    assert day["labelOverlap"] and week["labelOverlap"]


def test_time_per_step_reads_without_a_legend_for_one_flow_and_ticks_its_seconds() -> None:
    frame = pd.DataFrame(
        {
            "flow_type": ["signup", "signup"],
            "step_number": [2, 3],
            "instruction": ["Sign your name again, as you usually do", "Draw a circle"],
            "samples": [10, 9],
            "median_seconds": [12.0, 8.0],
            "p90_seconds": [150.0, 40.0],
            "mean_seconds": [30.0, 12.0],
        }
    )
    spec = charts.step_durations(frame).to_dict()
    bars, ticks, labels = spec["layer"]
    assert bars["encoding"]["color"]["legend"] is None  # one flow: no legend to read
    assert bars["encoding"]["x"]["title"] == "Seconds" and bars["encoding"]["x"]["axis"]["tickCount"] == 8
    assert bars["encoding"]["x"]["scale"]["domain"] == [0, 150.0 * 1.05]  # the 90th percentile fits
    rows = spec["datasets"][spec["data"]["name"]]
    assert [row["step"] for row in rows] == ["2. Sign your name again, as you usually do", "3. Draw a circle"]
    # Each step's name and figures written above its bar (no axis labels to cut at 390 px).
    assert bars["encoding"]["y"]["axis"] is None and labels["encoding"]["text"]["field"] == "label"
    assert (
        rows[0]["label"] == "2. Sign your name again, as you usually do: median 12 s, 90th percentile 150 s"
    )
    both = pd.concat([frame, frame.assign(flow_type="signin")])
    assert charts.step_durations(both).to_dict()["layer"][0]["encoding"]["color"]["legend"] == {
        "orient": "top"
    }


def test_funnel_writes_each_step_and_its_figures_above_its_bar() -> None:
    frame = pd.DataFrame(
        {
            "step_number": [1, 2],
            "instruction": ["Sign your name", "Draw a circle"],
            "sessions": [40, 30],
            "share_of_started": [1.0, 0.75],
            "lost_from_previous": [0, 10],
        }
    )
    spec = charts.step_funnel(frame).to_dict()
    bars, labels = spec["layer"]
    x = bars["encoding"]["x"]
    assert x["scale"]["domain"] == [0, 40] and x["title"] == "Sessions"
    # Above the bar, from the axis's start: never beside the bar, where a narrow chart cut it off.
    assert bars["encoding"]["y"]["axis"] is None
    assert labels["mark"]["align"] == "left" and labels["mark"]["baseline"] == "bottom"
    assert labels["encoding"]["x"] == {"datum": 0}
    rows = spec["datasets"][spec["data"]["name"]]
    assert [row["label"] for row in rows] == ["1. Sign your name: 40 (100%)", "2. Draw a circle: 30 (75%)"]


def test_live_sessions_over_time_reads_the_clock_of_the_chosen_zone() -> None:
    """Vega-Lite draws times in the browser's zone or in UTC: the chart gets the chosen zone's clock on a
    UTC scale, so 10:00 UTC reads 11:00 in Paris in winter, whatever the browser's zone."""
    frame = pd.DataFrame(
        {"at": [datetime(2026, 12, 5, 10, 0, tzinfo=UTC)], "flow_type": ["signup"], "live": [3]}
    )
    spec = charts.active_sessions_over_time(frame, 24, "Europe/Paris").to_dict()
    assert spec["encoding"]["x"]["scale"] == {"type": "utc"}
    assert spec["encoding"]["x"]["axis"]["title"] == "Time (Europe/Paris)"
    assert spec["datasets"][spec["data"]["name"]][0]["at"].startswith("2026-12-05T11:00:00")
    assert spec["encoding"]["tooltip"][0]["formatType"] == "utc"
