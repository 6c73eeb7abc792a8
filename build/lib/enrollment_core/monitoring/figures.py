"""The dashboard's figures: the overview cards, the charts, the step funnel and the time per step.
Figures over many rows come from the snapshot for the periods it stores (snapshot.py), and are computed
live for other periods with the same SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from .. import step_plan
from ..queries import query
from .rows import Db, fetch, to_frame
from .snapshot import (
    BACKLOG_STORED_MAX_HOURS,
    CARD_WINDOW_HOURS,
    OVER_TIME_BUCKET_SECONDS,
    SNAPSHOT_WINDOWS_HOURS,
    STEP_TIME_SAMPLE,
    live,
    rows_as_of,
    stored,
)


@dataclass(frozen=True)
class FlowFigures:
    """The overview figures of one flow ('signup', 'signin') or of all ('all')."""

    flow_type: str
    live: int
    backlog_in_progress: int  # past expiry, status still 'in_progress' (the seed's definition)
    backlog_marked_expired: int  # past expiry, status 'expired'
    completed_recent: int  # completed within the window, archived ones included
    ended_completed: int  # started within the window and completed
    ended_abandoned: int  # started within the window, expired without completing, not yet cleaned up

    @property
    def backlog(self) -> int:
        """What cleanup would delete now: every never-completed session past its expiry."""
        return self.backlog_in_progress + self.backlog_marked_expired

    @property
    def ended(self) -> int:
        return self.ended_completed + self.ended_abandoned

    @property
    def completion_rate(self) -> float | None:
        """Completed / ended, for sessions started within the window; None when none has ended."""
        return self.ended_completed / self.ended if self.ended else None


@dataclass(frozen=True)
class Overview:
    window_hours: int
    by_flow: dict[str, FlowFigures]  # live: now; the other figures: as of `as_of`
    # The seed's expired_pending_cleanup query, verbatim (now): in_progress rows past expiry only.
    seed_expired_pending_cleanup: int
    as_of: datetime | None = None  # when the snapshot figures were computed

    @property
    def total(self) -> FlowFigures:
        flows = list(self.by_flow.values())
        return FlowFigures(
            "all",
            *(sum(getattr(f, name) for f in flows) for name in _COUNT_FIELDS),
        )


_COUNT_FIELDS = (
    "live",
    "backlog_in_progress",
    "backlog_marked_expired",
    "completed_recent",
    "ended_completed",
    "ended_abandoned",
)


def overview(db: Db, hours: int = 24) -> Overview:
    """The figures of the metric cards; "recent" means within the last `hours` hours."""
    params = {"hours": hours}
    if hours == CARD_WINDOW_HOURS:
        rows = stored(db, query("stored_overview_by_flow"), params)
    else:
        rows = live(db, query("snapshot_overview_by_flow"), params)
    live_now = {flow: 0 for flow in step_plan.FLOW_TYPES}
    live_now.update({r["flow_type"]: r["live"] for r in fetch(db, query("live_sessions_by_flow"))})
    seed_count = fetch(db, query("expired_pending_cleanup"))[0]["count"]
    by_flow = {
        r["flow_type"]: FlowFigures(
            r["flow_type"],
            *(live_now[r["flow_type"]] if name == "live" else r[name] for name in _COUNT_FIELDS),
        )
        for r in rows
    }
    return Overview(
        window_hours=hours,
        by_flow=by_flow,
        seed_expired_pending_cleanup=int(seed_count),
        as_of=rows_as_of(rows),
    )


# ------------------------------------------------------------------ charts


def active_over_time(db: Db, hours: int = 24, bucket_minutes: int = 15) -> pd.DataFrame:
    """Live sessions per flow at the end of each bucket: columns at, flow_type, live (and taken_at)."""
    params = {"hours": hours, "bucket_seconds": bucket_minutes * 60}
    if hours <= max(SNAPSHOT_WINDOWS_HOURS) and (bucket_minutes * 60) % OVER_TIME_BUCKET_SECONDS == 0:
        rows = stored(db, query("stored_active_sessions_over_time"), params)
    else:
        rows = live(db, query("snapshot_active_sessions_over_time"), params)
    return to_frame(rows, ["at", "flow_type", "live"])


def expiry_backlog(db: Db, max_hours: int = 24) -> pd.DataFrame:
    """The backlog by hours since expiry (capped at max_hours), flow and status:
    columns hours_overdue, flow_type, status, sessions."""
    if max_hours <= BACKLOG_STORED_MAX_HOURS:
        rows = stored(db, query("stored_expiry_backlog_by_age"), {"max_hours": max_hours})
    else:
        rows = live(db, query("snapshot_expiry_backlog_by_age"), {"max_hours": max_hours})
    return to_frame(rows, ["hours_overdue", "flow_type", "status", "sessions"])


def avg_steps_per_flow(db: Db, hours: int = 24) -> pd.DataFrame:
    """The design note's "average steps per enrollment type" for completed sessions started within the
    window (archived ones included, so archiving does not change it), with the plan's step count beside
    it: columns flow_type, avg_steps, sessions, plan_steps."""
    if hours in SNAPSHOT_WINDOWS_HOURS:
        rows = stored(db, query("stored_avg_steps_per_flow"), {"hours": hours})
    else:
        rows = live(db, query("snapshot_avg_steps_per_flow"), {"windows": [hours]})
    frame = to_frame(rows, ["flow_type", "avg_steps", "sessions"])
    frame["avg_steps"] = frame["avg_steps"].astype(float)
    frame["plan_steps"] = [step_plan.total_steps(flow) for flow in frame["flow_type"]]
    return frame


def step_funnel(db: Db, hours: int = 24, flow_type: step_plan.FlowType = "signup") -> pd.DataFrame:
    """How many sessions started within the window reached each step of the plan (every plan step is
    listed, with 0 when nobody reached it). Columns: step_number, step_type, instruction, sessions,
    share_of_started (0..1), lost_from_previous (sessions that stopped before this step)."""
    if hours in SNAPSHOT_WINDOWS_HOURS:
        rows = stored(db, query("stored_step_funnel"), {"hours": hours, "flow_type": flow_type})
    else:
        computed = live(db, query("snapshot_step_funnel"), {"windows": [hours]})
        rows = [r for r in computed if r["flow_type"] == flow_type]
    reached = {r["step_number"]: r["sessions"] for r in rows}
    plan = step_plan.steps_of(flow_type)
    started = reached.get(1, 0)
    frame = pd.DataFrame(
        {
            "step_number": [s.number for s in plan],
            "step_type": [s.type for s in plan],
            "instruction": [s.instruction for s in plan],
            "sessions": [reached.get(s.number, 0) for s in plan],
        }
    )
    frame["share_of_started"] = frame["sessions"] / started if started else 0.0
    frame["lost_from_previous"] = (frame["sessions"].shift(1) - frame["sessions"]).fillna(0).astype(int)
    return frame


def step_durations(db: Db, hours: int = 24, max_sessions: int = STEP_TIME_SAMPLE) -> pd.DataFrame:
    """Seconds spent per step (a step's completed_at minus the previous step's; step 1 from the session's
    created_at) over the latest `max_sessions` sessions started within the window. Columns: flow_type,
    step_number, instruction, samples, median_seconds, p90_seconds, mean_seconds."""
    params = {"hours": hours, "max_sessions": max_sessions}
    if hours in SNAPSHOT_WINDOWS_HOURS and max_sessions == STEP_TIME_SAMPLE:
        rows = stored(db, query("stored_step_durations"), params)
    else:
        rows = live(db, query("snapshot_step_durations"), params)
    frame = to_frame(
        rows, ["flow_type", "step_number", "samples", "median_seconds", "p90_seconds", "mean_seconds"]
    )
    frame.insert(
        2,
        "instruction",
        [_instruction(flow, number) for flow, number in zip(frame["flow_type"], frame["step_number"])],
    )
    return frame


def _instruction(flow_type: str, number: int) -> str:
    step = step_plan.step_of(flow_type, int(number)) if flow_type in step_plan.PLAN else None
    return step.instruction if step else f"step {number}"
