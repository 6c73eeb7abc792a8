"""How a drawing was drawn: the pen recorder's timed points, paired with the canvas's paths.

The canvas (Fabric.js) reports one path object per stroke, without times; the pen recorder
(pen_recorder.js) reports the strokes it saw, with every point's time. This module pairs them, keeps
the pairs through our Undo / Clear (which redraw the canvas), and writes them in the saved format:

    "strokes": [{"pointerType": "touch", "points": [{"x", "y", "time", "pressure"(, "tiltX", "tiltY")}]}]

one entry per path object, same order; x, y in canvas pixels; time in ms from the drawing's first
point. Pure functions and plain data: no Streamlit here.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

# Bounds on what a browser may send: those strokes.parse_strokes applies to the saved raw, one home.
from enrollment_core.strokes import MAX_ABS_COORD, MAX_ABS_TIME, MAX_POINTS, MAX_STROKES

# A path starts where the recorder's stroke starts, give or take what Fabric does to the point: it
# reads mouse positions as whole CSS pixels (the recorder's pointer events keep the fraction), so up
# to 1 px per axis, more in canvas pixels on a pad shown scaled down (1 / 0.85 on a 320 px phone),
# and nudges the first point by stroke width / 1000. Farther than this is another stroke.
START_TOLERANCE_PX = 2.5
# A stroke the recorder finished but the canvas has not reported yet is "on its way" for this long
# (the canvas sends ~0.2 s after the pen lifts); after that it is taken as one the canvas dropped.
IN_FLIGHT_SECONDS = 3.0
POINTER_TYPES = ("touch", "pen", "mouse")

Point = tuple[float, ...]  # x, y, time (absolute ms), pressure[, tiltX, tiltY]


@dataclass(frozen=True)
class TimedStroke:
    id: str
    pointer_type: str
    points: tuple[Point, ...]

    @property
    def start(self) -> tuple[float, float]:
        return self.points[0][0], self.points[0][1]


def _finite(value: Any, limit: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and abs(number) <= limit else None


def _point(raw: Any) -> Point | None:
    if not isinstance(raw, list) or len(raw) not in (4, 6):
        return None
    x, y = _finite(raw[0], MAX_ABS_COORD), _finite(raw[1], MAX_ABS_COORD)
    time, pressure = _finite(raw[2], MAX_ABS_TIME), _finite(raw[3], 1.0)
    tilts = [tilt for tilt in (_finite(v, 90.0) for v in raw[4:]) if tilt is not None]
    if x is None or y is None or time is None or pressure is None or len(tilts) != len(raw) - 4:
        return None
    return (x, y, time, max(pressure, 0.0), *tilts)


def recorded_strokes(value: Any, epoch: str) -> list[TimedStroke]:
    """The recorder's strokes of this epoch, checked: it is browser data, so anything malformed is
    dropped (a stroke with a bad point is dropped whole), never trusted and never an error."""
    if not isinstance(value, dict) or value.get("epoch") != epoch:
        return []  # nothing yet, or a list from before the last Undo / Clear
    strokes: list[TimedStroke] = []
    budget = MAX_POINTS
    raw_strokes = value.get("strokes")
    for raw in raw_strokes[:MAX_STROKES] if isinstance(raw_strokes, list) else []:
        if not isinstance(raw, dict):
            continue
        points_raw, kind, sid = raw.get("points"), raw.get("pointerType"), raw.get("id")
        if not isinstance(points_raw, list) or not points_raw or len(points_raw) > budget:
            continue
        points = [_point(p) for p in points_raw]
        if None in points or kind not in POINTER_TYPES or isinstance(sid, bool) or not isinstance(sid, int):
            continue
        budget -= len(points)
        strokes.append(TimedStroke(f"{epoch}/{sid}", kind, tuple(points)))  # type: ignore[arg-type]
    return strokes


def path_start(obj: Any) -> tuple[float, float] | None:
    """Where a Fabric path object starts (its first "M" command), or None for anything else."""
    if not isinstance(obj, dict) or str(obj.get("type", "")).lower() != "path":
        return None
    path = obj.get("path")
    first = path[0] if isinstance(path, list) and path else None
    if not isinstance(first, list) or len(first) != 3 or first[0] != "M":
        return None
    x, y = _finite(first[1], MAX_ABS_COORD), _finite(first[2], MAX_ABS_COORD)
    return None if x is None or y is None else (x, y)


def align(objects: list[Any], candidates: list[TimedStroke]) -> list[TimedStroke | None]:
    """For each canvas object in order, the recorded stroke that drew it: the next candidate (in
    drawing order) that starts where the path starts. Candidates the canvas has no path for (a stroke
    it dropped) are skipped; an object no candidate matches gets None."""
    paired: list[TimedStroke | None] = []
    next_candidate = 0
    for obj in objects:
        start = path_start(obj)
        match = None
        if start is not None:
            for k in range(next_candidate, len(candidates)):
                cx, cy = candidates[k].start
                if math.hypot(cx - start[0], cy - start[1]) <= START_TOLERANCE_PX:
                    match, next_candidate = candidates[k], k + 1
                    break
        paired.append(match)
    return paired


def saved_format(paired: list[TimedStroke]) -> list[dict[str, Any]]:
    """The "strokes" list saved with the drawing: times in ms from the drawing's first point, never
    decreasing, rounded to 0.1 ms; coordinates rounded to 0.01 px."""
    if not paired:
        return []
    origin = paired[0].points[0][2]
    latest = origin
    saved = []
    for stroke in paired:
        points = []
        for p in stroke.points:
            latest = max(latest, p[2])  # the recorder sends them in order; make it a guarantee
            point = {"x": round(p[0], 2), "y": round(p[1], 2), "time": round(latest - origin, 1),
                     "pressure": round(p[3], 3)}
            if len(p) == 6:
                point["tiltX"], point["tiltY"] = p[4], p[5]
            points.append(point)
        saved.append({"pointerType": stroke.pointer_type, "points": points})
    return saved


@dataclass(frozen=True)
class Timing:
    """What the pad's timing says about the drawing on screen."""

    strokes: list[dict[str, Any]] | None  # saved format, one per object; None if some object has none
    untimed: int  # objects without a recorded stroke
    in_flight: bool  # a stroke was recorded that the canvas has not reported yet


@dataclass
class PadTiming:
    """The timed strokes of one pad across reruns. Our Undo / Clear redraw the canvas from
    `initial_objects` under a new revision; the strokes paired with the objects that remain are kept
    here (`base`), and the recorder starts a new list under a new epoch."""

    pad_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # no stale list can match a new pad
    revision: int | None = None
    base: list[TimedStroke | None] = field(default_factory=list)
    last_objects: list[Any] = field(default_factory=list)
    last_paired: list[TimedStroke | None] = field(default_factory=list)
    first_seen: dict[str, float] = field(default_factory=dict)  # stroke id -> when Python first saw it

    def epoch(self, revision: int) -> str:
        return f"{self.pad_id}:{revision}"

    def redraw(self, initial_objects: list[Any] | None, revision: int) -> None:
        """Note the canvas's initial drawing for this revision (before the canvas is shown)."""
        if revision == self.revision:
            return
        self.revision = revision
        kept: list[TimedStroke | None] = []
        remaining = list(zip(self.last_objects, self.last_paired))
        for obj in initial_objects or []:  # Undo keeps a prefix; match by equality for any edit
            index = next((i for i, (old, _) in enumerate(remaining) if old == obj), None)
            kept.append(remaining.pop(index)[1] if index is not None else None)
        self.base = kept

    def update(self, objects: list[Any], recorded: Any, now: float) -> Timing:
        """Pair the canvas's objects with the base strokes and the recorder's new ones."""
        assert self.revision is not None, "redraw() first"
        new = recorded_strokes(recorded, self.epoch(self.revision))
        for stroke in new:
            self.first_seen.setdefault(stroke.id, now)
        base = [s for s in self.base if s is not None]
        candidates = base + new
        paired = align(objects, candidates)
        self.last_objects, self.last_paired = list(objects), paired
        used = {s.id for s in paired if s is not None}
        last_used = max((i for i, s in enumerate(candidates) if s.id in used), default=-1)
        in_flight = any(now - self.first_seen.get(s.id, now) < IN_FLIGHT_SECONDS
                        for s in candidates[last_used + 1:])
        untimed = sum(s is None for s in paired)
        complete = [s for s in paired if s is not None]
        return Timing(saved_format(complete) if not untimed else None, untimed, in_flight)
