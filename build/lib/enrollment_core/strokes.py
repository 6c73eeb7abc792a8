"""Parse raw drawing data (canvas or signature_pad JSON) into strokes, and cheap drawing metrics.

A *stroke* is one pen-down run: an ``(N, 3)`` float64 array of ``x, y, t`` in drawing order, where
``t`` is in milliseconds, or NaN when the client sends no timing (the Fabric.js canvas never does).
A drawing is a ``list`` of strokes; a pen lift separates consecutive strokes.

Accepted raw formats (as a Python object, or as JSON text/bytes):

1. streamlit-drawable-canvas (Fabric.js) ``json_data``: ``{"objects": [{"type": "path",
   "path": [["M", x, y], ["Q", cx, cy, x, y], ..., ["L", x, y]]}, ...]}``. Fabric keeps the
   free-drawing path in absolute canvas pixels (``left``/``top``/``pathOffset`` only position the
   rendered object), so the path coordinates are used as is. ``type`` is "path" (Fabric <= 5) or
   "Path" (Fabric 6+). Objects of other types (rect, circle,
   line, text...) are not pen strokes and are ignored.
2. signature_pad ``toData()``: ``[{"points": [{"x", "y", "time", "pressure"}, ...]}, ...]``, the
   older list-of-point-lists variant, either one wrapped as ``{"strokes": ...}``, and
   ``{"strokes": [[[x, y, t], ...], ...]}`` (``t`` optional). ``time`` is in ms (from the first
   point, or epoch ms) and must not go backwards within a stroke. Per-point ``pressure``, ``tiltX``
   and ``tiltY`` and per-stroke ``pointerType`` are accepted (numbers must be finite) and not used.
3. Both at once, as the enrollment app saves a drawing: the canvas JSON of 1. with the same drawing's
   timed points under ``"strokes"`` in the shape of 2. The timed strokes are returned (the canvas
   keeps no time); both parts are validated, and the limits count the whole document.

Anything else raises :class:`InvalidRawData` (a ``ValueError``) whose message names the offending
element. Size limits keep hostile input cheap to reject.
"""

from __future__ import annotations

import json
import math
from itertools import accumulate, chain
from operator import itemgetter
from typing import Any

import numpy as np

Stroke = np.ndarray  # (N, 3) float64: x, y, t(ms or NaN)

# Limits for untrusted input: a real signature has a few dozen strokes and a few thousand points.
MAX_STROKES = 200
MAX_POINTS = 20_000
RAW_MAX_BYTES = 1_000_000  # raw stroke data as compact JSON: the save's limit too (validation)
MAX_ABS_COORD = 1e6  # pixels / tablet units; larger values are garbage and would overflow metrics
MAX_ABS_TIME = 1e14  # ms; epoch milliseconds are ~1.7e12

# Near-empty drawing thresholds (canvas pixels): a tap or a tiny scribble is not a signature.
MIN_POINTS = 10
MIN_PATH_LENGTH = 30.0
MIN_EXTENT = 15.0  # larger side of the bounding box

# A turn sharper than this between consecutive segments counts as a direction change.
DIRECTION_CHANGE_DEG = 45.0
# Segments shorter than this (pixels) carry no reliable direction and are skipped for angles.
MIN_SEGMENT_FOR_ANGLE = 1e-6

_FABRIC_ARITY = {"M": 2, "L": 2, "Q": 4, "C": 6}
_REAL = frozenset((float, int))  # exact types of a coordinate (bool is an int subclass, and excluded)
_PEN_EXTRAS = ("pressure", "tiltX", "tiltY")  # signature_pad / pointer-event extras per point


class InvalidRawData(ValueError):
    """Raw drawing data is not in an accepted format or exceeds the limits."""


class _Budget:
    """Counts points across strokes so the total limit is enforced while parsing."""

    def __init__(self) -> None:
        self.points = 0
        self.strokes = 0  # strokes of the document's other part (the canvas's, when both are sent)

    def take(self, n: int, where: str) -> None:
        self.points += n
        if self.points > MAX_POINTS:
            raise InvalidRawData(f"raw: too many points (more than {MAX_POINTS}) at {where}")


def _number(value: Any, where: str, limit: float = MAX_ABS_COORD) -> float:
    # bool is an int subclass; a True coordinate is a client bug, not a number.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRawData(f"raw: {where} is not a number")
    try:
        f = float(value)
    except OverflowError:  # huge Python ints
        raise InvalidRawData(f"raw: {where} is out of range") from None
    if not math.isfinite(f):
        raise InvalidRawData(f"raw: {where} is not finite")
    if abs(f) > limit:
        raise InvalidRawData(f"raw: {where} is out of range (|value| > {limit:g})")
    return f


def _optional_time(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    return _number(value, where, MAX_ABS_TIME)


def _add_stroke(strokes: list[Stroke], points: list[tuple[float, float, float]], where: str) -> None:
    if not points:
        return  # an empty stroke carries no ink; dropping it is harmless
    if len(strokes) >= MAX_STROKES:
        raise InvalidRawData(f"raw: too many strokes (more than {MAX_STROKES}) at {where}")
    strokes.append(np.asarray(points, dtype=np.float64).reshape(-1, 3))


# --- Fabric.js (streamlit-drawable-canvas) -----------------------------------------------------------


def _parse_fabric(raw: dict[str, Any], budget: _Budget) -> list[Stroke]:
    objects = raw["objects"]
    if not isinstance(objects, list):
        raise InvalidRawData("raw: objects is not a list")
    strokes: list[Stroke] = []
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise InvalidRawData(f"raw: objects[{i}] is not an object")
        kind = obj.get("type")
        if not isinstance(kind, str):
            raise InvalidRawData(f"raw: objects[{i}].type is missing or not a string")
        if kind.lower() != "path":  # Fabric 7 (canvas 0.13) says "Path", older Fabric "path"
            continue  # shapes/text are not pen strokes
        path = obj.get("path")
        if not isinstance(path, list):
            raise InvalidRawData(f"raw: objects[{i}].path is not a list")
        _parse_fabric_path(path, f"objects[{i}].path", strokes, budget)
    return strokes


def _coords(args: list[Any], where: str, j: int) -> list[float]:
    """The numbers of one path command that failed the plain-number check: each through _number,
    which converts other number types or raises, naming the offending element."""
    return [_number(v, f"{where}[{j}][{k + 1}]") for k, v in enumerate(args)]


def _add_xy_stroke(strokes: list[Stroke], xs: list[float], ys: list[float], where: str) -> None:
    """A stroke without timing (t = NaN), from its x and y lists (faster than a list of tuples)."""
    if not xs:
        return
    if len(strokes) >= MAX_STROKES:
        raise InvalidRawData(f"raw: too many strokes (more than {MAX_STROKES}) at {where}")
    stroke = np.empty((len(xs), 3))
    stroke[:, 0], stroke[:, 1], stroke[:, 2] = xs, ys, math.nan
    strokes.append(stroke)


def _parse_fabric_path(path: list[Any], where: str, strokes: list[Stroke], budget: _Budget) -> None:
    # Plain numbers in range are checked inline (a path has hundreds); anything else goes through
    # _coords, which names the offending element.
    xs: list[float] = []
    ys: list[float] = []
    lo, hi = -MAX_ABS_COORD, MAX_ABS_COORD
    for j, cmd in enumerate(path):
        if type(cmd) is not list or not cmd or type(cmd[0]) is not str:
            raise InvalidRawData(f"raw: {where}[{j}] is not a path command like ['L', x, y]")
        op = cmd[0]
        arity = _FABRIC_ARITY.get(op)
        if arity is None:
            raise InvalidRawData(f"raw: {where}[{j}] has unsupported path command {op[:10]!r}")
        if len(cmd) != arity + 1:
            raise InvalidRawData(f"raw: {where}[{j}] ({op}) needs {arity} numbers, got {len(cmd) - 1}")
        args = cmd[1:]
        if not all(type(v) in _REAL and lo <= v <= hi for v in args):  # NaN fails the range test
            args = _coords(args, where, j)
        if op == "M":
            budget.take(len(xs), where)
            _add_xy_stroke(strokes, xs, ys, where)  # a new sub-path is a pen lift
            xs, ys = [args[0]], [args[1]]
            continue
        if not xs:
            raise InvalidRawData(f"raw: {where}[{j}] ({op}) comes before any 'M' command")
        x0, y0 = xs[-1], ys[-1]
        if op == "Q":
            # Sample the curve at its midpoint and end point: PencilBrush emits one Q per input
            # point, so this is already denser than what the user's finger produced.
            cx, cy, x, y = args
            xs += (0.25 * x0 + 0.5 * cx + 0.25 * x, x)
            ys += (0.25 * y0 + 0.5 * cy + 0.25 * y, y)
        elif op == "C":
            c1x, c1y, c2x, c2y, x, y = args
            xs += (0.125 * x0 + 0.375 * c1x + 0.375 * c2x + 0.125 * x, x)
            ys += (0.125 * y0 + 0.375 * c1y + 0.375 * c2y + 0.125 * y, y)
        else:  # L
            xs.append(args[0])
            ys.append(args[1])
        if budget.points + len(xs) > MAX_POINTS:  # stop a hostile path early
            budget.take(len(xs), where)  # raises
    budget.take(len(xs), where)
    _add_xy_stroke(strokes, xs, ys, where)


# --- signature_pad and plain lists ---------------------------------------------------------------


def _parse_point(p: Any, where: str) -> tuple[float, float, float]:
    if isinstance(p, dict):
        if "x" not in p or "y" not in p:
            raise InvalidRawData(f"raw: {where} has no x/y")
        for key in _PEN_EXTRAS:  # not used, but stored: they must be numbers too
            if p.get(key) is not None:
                _number(p[key], f"{where}.{key}")
        return (_number(p["x"], f"{where}.x"), _number(p["y"], f"{where}.y"),
                _optional_time(p.get("time"), f"{where}.time"))
    if isinstance(p, list) and len(p) in (2, 3):
        t = _optional_time(p[2], f"{where}[2]") if len(p) == 3 else math.nan
        return (_number(p[0], f"{where}[0]"), _number(p[1], f"{where}[1]"), t)
    raise InvalidRawData(f"raw: {where} is not a point ({{x, y, time}} or [x, y, t])")


def _parse_stroke_list(groups: Any, where: str, budget: _Budget) -> list[Stroke]:
    if not isinstance(groups, list):
        raise InvalidRawData(f"raw: {where} is not a list of strokes")
    strokes: list[Stroke] = []
    for i, group in enumerate(groups):
        here = f"{where}[{i}]"
        if isinstance(group, dict):  # signature_pad >= 3: {"points": [...], "penColor": ...}
            points = group.get("points")
            here += ".points"
        else:  # signature_pad 2 / plain [[x, y, t], ...]
            points = group
        if not isinstance(points, list):
            raise InvalidRawData(f"raw: {here} is not a list of points")
        if budget.strokes + len(strokes) >= MAX_STROKES:
            raise InvalidRawData(f"raw: too many strokes (more than {MAX_STROKES}) at {here}")
        budget.take(len(points), here)
        _add_stroke(strokes, [_parse_point(p, f"{here}[{k}]") for k, p in enumerate(points)], here)
        if len(points) > 1:  # the stroke just added
            _check_time_order(strokes[-1][:, 2], points, here)
    return strokes


def _check_time_order(t: np.ndarray, points: list[Any], where: str) -> None:
    """Refuse a stroke whose time goes backwards (points without time are skipped)."""
    latest = np.fmax.accumulate(t)  # the latest time so far; fmax ignores NaN
    back = np.flatnonzero(t[1:] < latest[:-1])  # NaN compares False
    if len(back):
        k = int(back[0]) + 1
        name = f"{where}[{k}].time" if isinstance(points[k], dict) else f"{where}[{k}][2]"
        raise InvalidRawData(f"raw: {name} goes backwards")


def parse_strokes(raw: Any) -> list[Stroke]:
    """Parse raw drawing data into strokes (see the module docstring for the accepted formats).

    Returns a possibly empty list of ``(N, 3)`` float64 arrays (x, y, t). Raises InvalidRawData.
    """
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) > RAW_MAX_BYTES:
            raise InvalidRawData(f"raw: JSON text larger than {RAW_MAX_BYTES} bytes")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRawData("raw: bytes are not UTF-8 JSON") from None
    if isinstance(raw, str):
        if len(raw) > RAW_MAX_BYTES:
            raise InvalidRawData(f"raw: JSON text larger than {RAW_MAX_BYTES} bytes")
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise InvalidRawData(f"raw: not valid JSON ({type(exc).__name__})") from None
    budget = _Budget()
    if isinstance(raw, dict):
        if "objects" in raw and "strokes" in raw:  # the app's drawing: the canvas and its timed points
            drawn = _parse_fabric(raw, budget)
            budget.strokes = len(drawn)
            timed = _parse_stroke_list(raw["strokes"], "strokes", budget)
            return timed or drawn  # no timed points (a recorder that missed the drawing): the canvas's
        if "objects" in raw:
            return _parse_fabric(raw, budget)
        if "strokes" in raw:
            return _parse_stroke_list(raw["strokes"], "strokes", budget)
        raise InvalidRawData("raw: object has neither 'objects' (canvas) nor 'strokes'")
    if isinstance(raw, list):
        return _parse_stroke_list(raw, "raw", budget)
    raise InvalidRawData(f"raw: expected a JSON object or list, got {type(raw).__name__}")


# --- metrics -----------------------------------------------------------------------------------------


def _all_points(strokes: list[Stroke]) -> np.ndarray:
    if not strokes:
        return np.empty((0, 3))
    return np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1, 3) for s in strokes])


def _has_timing(strokes: list[Stroke]) -> bool:
    return bool(strokes) and all(np.isfinite(s[:, 2]).all() for s in strokes)


def compute_metrics(strokes: list[Stroke]) -> dict[str, Any]:
    """Cheap, JSON-serialisable drawing metrics (units: input pixels and milliseconds).

    Keys: stroke_count, point_count, pen_lift_count (stroke_count - 1), path_length (pen-down ink
    only; pen-up moves are not counted), bbox {min_x, min_y, max_x, max_y, width, height},
    aspect_ratio (width / height, null if height is 0), centroid {x, y} (centre of the ink, length-weighted;
    mean of the points when there is no ink length),
    total_turning_deg (sum of absolute turning angles between consecutive segments, a curvature
    summary), direction_changes (turns sharper than DIRECTION_CHANGE_DEG), has_timing,
    duration_ms (first to last timestamp), pen_down_ms (sum of stroke durations),
    mean_speed / max_speed (px per ms over pen-down segments). Timing values are null without timing.
    Point counts depend on the client's sampling, so compare them only between the same client.
    """
    pts = _all_points(strokes)
    n = len(pts)
    path_length = 0.0
    turning = 0.0
    direction_changes = 0
    ink_moment = np.zeros(2)  # sum of segment midpoints weighted by segment length
    max_speed: float | None = None
    pen_down_ms = 0.0
    cos_limit = math.cos(math.radians(DIRECTION_CHANGE_DEG))
    for s in strokes:
        seg = np.diff(s[:, :2], axis=0)
        lengths = np.hypot(seg[:, 0], seg[:, 1])
        path_length += float(lengths.sum())
        ink_moment += ((s[1:, :2] + s[:-1, :2]) * 0.5 * lengths[:, None]).sum(axis=0)
        moving = seg[lengths > MIN_SEGMENT_FOR_ANGLE]
        if len(moving) >= 2:
            u = moving / np.hypot(moving[:, 0], moving[:, 1])[:, None]
            cos = np.clip((u[1:] * u[:-1]).sum(axis=1), -1.0, 1.0)
            turning += float(np.degrees(np.arccos(cos)).sum())
            direction_changes += int((cos < cos_limit).sum())
        if len(s) >= 2 and np.isfinite(s[:, 2]).all():
            dt = np.diff(s[:, 2])
            pen_down_ms += float(s[-1, 2] - s[0, 2])
            ok = dt > 0
            if ok.any():
                stroke_max = float((lengths[ok] / dt[ok]).max())
                max_speed = stroke_max if max_speed is None else max(max_speed, stroke_max)

    if n:
        min_x, min_y = (float(v) for v in pts[:, :2].min(axis=0))
        max_x, max_y = (float(v) for v in pts[:, :2].max(axis=0))
        # Centre of the ink (length-weighted), so it does not depend on the client's sampling rate.
        centre = ink_moment / path_length if path_length > 0 else pts[:, :2].mean(axis=0)
        cx, cy = float(centre[0]), float(centre[1])
    else:
        min_x = min_y = max_x = max_y = cx = cy = 0.0
    width, height = max_x - min_x, max_y - min_y

    timing = _has_timing(strokes)
    duration = float(pts[:, 2].max() - pts[:, 2].min()) if timing else None
    mean_speed = path_length / pen_down_ms if timing and pen_down_ms > 0 else None
    return {
        "stroke_count": len(strokes),
        "point_count": n,
        "pen_lift_count": max(len(strokes) - 1, 0),
        "path_length": path_length,
        "bbox": {"min_x": min_x, "min_y": min_y, "max_x": max_x, "max_y": max_y,
                 "width": width, "height": height},
        "aspect_ratio": width / height if height > 0 else None,
        "centroid": {"x": cx, "y": cy},
        "total_turning_deg": turning,
        "direction_changes": direction_changes,
        "has_timing": timing,
        "duration_ms": duration,
        "pen_down_ms": pen_down_ms if timing else None,
        "mean_speed": mean_speed,
        "max_speed": max_speed if timing else None,
    }


def is_near_empty(strokes: list[Stroke]) -> bool:
    """True for drawings too small to be a signature/shape: fewer than MIN_POINTS points,
    less than MIN_PATH_LENGTH of ink, or a bounding box whose larger side is under MIN_EXTENT."""
    pts = _all_points(strokes)
    if len(pts) < MIN_POINTS:
        return True
    xy = pts[:, :2]
    extent = float((xy.max(axis=0) - xy.min(axis=0)).max())
    if extent < MIN_EXTENT:
        return True
    # Ink length on all points at once: segments between strokes are pen lifts, not ink, so they are
    # zeroed.
    segments = np.hypot(*np.diff(xy, axis=0).T)
    segments[np.cumsum([len(s) for s in strokes])[:-1] - 1] = 0.0
    return float(segments.sum()) < MIN_PATH_LENGTH


# --- the save's check, fast for the canvas's own drawings --------------------------------------------

_XY = itemgetter(1, 2)
_INNER = itemgetter(slice(1, -1))
_SAMPLED_POINTS = 24  # end points for the first, cheapest try of the near-empty bounds


def _pencil_paths(raw: Any) -> list[list[Any]] | None:
    """The paths of a canvas drawing made only of pen paths that start with M and end with L (what
    PencilBrush draws), or None for any other shape of data."""
    objects = raw.get("objects") if type(raw) is dict else None
    if type(objects) is not list or "strokes" in raw:  # timed points too: parse_strokes reads those
        return None
    paths = []
    for obj in objects:
        if type(obj) is not dict:
            return None
        kind = obj.get("type")
        if kind == "path" or kind == "Path":
            path = obj.get("path")
            if type(path) is not list or len(path) < 2:
                return None
            paths.append(path)
        elif type(kind) is not str or kind.lower() == "path":
            return None
    return paths if 0 < len(paths) <= MAX_STROKES else None


def _pencil_near_empty(raw: Any) -> bool | None:
    """raw_is_near_empty for a PencilBrush drawing -- every path ["M", x, y], ["Q", cx, cy, x, y]...,
    ["L", x, y], every number a plain int/float within MAX_ABS_COORD -- without building strokes: a few
    C-level passes over all commands instead of a Python loop per command (every save checks one).

    Exact by bounds: the curves' end points are some of the drawing's points, so the box of any of them
    is no larger than the drawing's and the ink through them, path by path, no longer (triangle
    inequality); when both clear the thresholds the drawing is not near-empty. Every k-th end point is
    tried first (about _SAMPLED_POINTS of them), then all. None -- any other data, a bad element, or a
    drawing near the thresholds -- sends the caller to parse_strokes and is_near_empty, which also
    name what is wrong."""
    paths = _pencil_paths(raw)
    if paths is None:
        return None
    heads, tails = [p[0] for p in paths], [p[-1] for p in paths]
    curves = list(chain.from_iterable(map(_INNER, paths)))
    ends = heads + tails
    try:
        if (
            not curves
            or set(map(type, ends)) != {list}
            or set(map(len, ends)) != {3}
            or set(map(itemgetter(0), heads)) != {"M"}
            or set(map(itemgetter(0), tails)) != {"L"}
            or set(map(type, curves)) != {list}
            or set(map(len, curves)) != {5}
        ):
            return None
        numbers = list(chain.from_iterable(curves))  # "Q", cx, cy, x, y for each curve
        if set(numbers[::5]) != {"Q"}:
            return None
    except TypeError:  # an unhashable command name, e.g. [["M"], 1, 2]
        return None
    del numbers[::5]
    numbers += chain.from_iterable(map(_XY, heads))
    numbers += chain.from_iterable(map(_XY, tails))
    # Exact types first: a bool or a numeric string is not a coordinate (hypot would take True as 1).
    if not set(map(type, numbers)) <= _REAL:
        return None
    n_curves = len(curves)
    points = 2 * n_curves + 2 * len(paths)  # M, then a midpoint and an end point per curve, then L
    if points > MAX_POINTS:
        return None
    # Range and NaN in one C pass: hypot is at least the largest |number|, and NaN or inf if one is.
    # Python's builtins, not numpy: in a server, between two requests, numpy's code leaves the
    # processor's caches and each call costs several times what it does in a loop (measured in the
    # save benchmark: this check took 131 us per save with numpy, 79 now); numpy also lets go of the
    # interpreter lock on arrays over 500 numbers, and taking it back costs a thread switch.
    try:
        if not math.hypot(*numbers) <= MAX_ABS_COORD * (1 - 1e-9):  # a margin for rounding
            return None
    except OverflowError:  # an int beyond any float
        return None
    if points < MIN_POINTS:
        return True
    k = n_curves // _SAMPLED_POINTS
    if k > 1 and _end_points_clear(numbers, n_curves, paths, k):
        return False
    return False if _end_points_clear(numbers, n_curves, paths, 1) else None


def _end_points_clear(numbers: list[Any], n_curves: int, paths: list[list[Any]], k: int) -> bool:
    """Whether every k-th curve end point (numbers: cx, cy, x, y of each curve, all paths' in a row)
    already spans MIN_EXTENT and draws more than MIN_PATH_LENGTH of ink."""
    xs = numbers[2 : 4 * n_curves : 4 * k]
    ys = numbers[3 : 4 * n_curves : 4 * k]
    if max(max(xs) - min(xs), max(ys) - min(ys)) < MIN_EXTENT:
        return False
    xy = list(zip(xs, ys))
    steps = list(map(math.dist, xy, xy[1:]))
    # A step over the end of a path includes a pen lift, which is not ink: it is left out.
    for first in accumulate(len(p) - 2 for p in paths[:-1]):  # each next path's first curve
        step = (first - 1) // k  # the step from the sample at or before the path's last curve
        if 0 < first < n_curves and step < len(steps):
            steps[step] = 0.0
    return sum(steps) > MIN_PATH_LENGTH * (1 + 1e-9)  # a margin for rounding


def raw_is_near_empty(raw: Any) -> bool:
    """is_near_empty(parse_strokes(raw)), raising InvalidRawData the same way: the check every save
    makes, with a fast path for the canvas's own drawings (see _pencil_near_empty)."""
    fast = _pencil_near_empty(raw)
    return is_near_empty(parse_strokes(raw)) if fast is None else fast
