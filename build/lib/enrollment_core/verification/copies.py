"""Is a drawing a copy of a stored one, even re-sampled, jittered, sped up or thinned out?

A person never draws the same signature twice: two genuine signatures of one person differ in their
shape at the scale of a letter. A copy of stored data (an enrolled drawing shown to staff, an earlier
sign-in intercepted) differs from its original only by what an attacker's tools add: other sampling
(0.7-1.5x the points, corners cut), jitter of a few pixels, times stretched by 10 %, points dropped.
All of that is fine detail or a uniform change of speed. So each drawing is reduced to a short path
that keeps its shape and drops the fine detail (`DrawingPath`, `PATH_BYTES` bytes, stored with every
sign-in attempt), and two drawings are compared by DTW on those paths:

* **time route** (both timed): PATH_POINTS positions evenly spaced over the pen-down time, each
  stroke's time joined end to start and the whole divided by its own length, so a uniform change of
  speed changes nothing and re-sampling or dropped points change only the fine detail;
* **shape routes** (either untimed): evenly spaced along the ink's length, and evenly spaced over
  the point index; the closer of the two counts (jitter lengthens the ink, dropped points move the
  index: each route survives what the other does not).

Every path is low-passed (a Gaussian of LOWPASS_POINTS samples) and normalised to its centroid and
RMS radius. A drawing is a copy when its distance to a stored one is under the account's limit
(`copy_limit`): the smaller of an absolute limit and a share of the closest two enrolled drawings'
distance (the user's own variation: a very steady signer's limit is tighter). The limits were chosen
on SVC2004 U1-U20 (`evaluate --attacks`; docs/verification.md).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from enrollment_core.strokes import Stroke
from enrollment_core.verification.distance import dtw_distance
from enrollment_core.verification.features import _smooth, has_timing, ink_points, normalise, smooth_runs

PATH_VERSION = 1
PATH_POINTS = 128
LOWPASS_POINTS = 3.0  # Gaussian sigma, in path samples (2.3 % of the path)
PRE_SMOOTH_POINTS = 1.5  # sigma over the raw points before measuring the ink's length (jitter)
COPY_BAND = 0.05  # DTW band: a copy lines up with its original almost step for step
_HEADER = 4
_TIMED_FLAG = 1
PATH_BYTES = _HEADER + 3 * PATH_POINTS * 2 * 2  # three float16 paths: 1540 bytes

# Limits, in the DTW distance of the paths (mean cost per step in units of the drawing's RMS radius,
# x2). Chosen on SVC2004 U1-U20 (docs/verification.md): timed, the smallest absolute limit that caught
# every perturbed copy there (0.024; no genuine attempt came under half its user's closest enrolled
# pair); untimed, where genuine pairs and copies overlap, the largest limits that took at most 0.5 %
# of genuine attempts for copies.
TIMED_LIMIT = 0.024
TIMED_SHARE = 0.5
SHAPE_LIMIT = 0.035
SHAPE_SHARE = 0.6


@dataclass(frozen=True)
class DrawingPath:
    """A drawing reduced for copy detection: `arc` and `index` (PATH_POINTS, 2), `time` or None."""

    arc: np.ndarray
    index: np.ndarray
    time: np.ndarray | None = None

    def to_bytes(self) -> bytes:
        timed = self.time if self.time is not None else np.full((PATH_POINTS, 2), np.nan)
        values = np.concatenate([self.arc.ravel(), self.index.ravel(), timed.ravel()]).astype("<f2")
        return bytes([PATH_VERSION, _TIMED_FLAG if self.time is not None else 0, 0, 0]) + values.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> DrawingPath:
        """Decode stored bytes; ValueError for anything that is not a path of this version."""
        data = bytes(data)
        if len(data) != PATH_BYTES or data[0] != PATH_VERSION or data[1] not in (0, _TIMED_FLAG) \
                or data[2:4] != b"\0\0":
            raise ValueError(f"drawing path: want {PATH_BYTES} bytes of version {PATH_VERSION}")
        values = np.frombuffer(data, dtype="<f2", offset=_HEADER).astype(np.float64)
        values = values.reshape(3, PATH_POINTS, 2)
        used = values if data[1] else values[:2]
        if not np.isfinite(used).all():
            raise ValueError("drawing path: values are not finite")
        arc, index, timed = (np.ascontiguousarray(v) for v in values)
        return cls(arc, index, timed if data[1] else None)

    def distance(self, other: DrawingPath) -> float:
        """How far apart two drawings are once the fine detail and the speed are set aside."""
        if self.time is not None and other.time is not None:
            return _dtw(self.time, other.time)
        return min(_dtw(self.arc, other.arc), _dtw(self.index, other.index))


def _dtw(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * dtw_distance(a, b, COPY_BAND)


def _even(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """PATH_POINTS points at even steps of `positions` (non-decreasing), low-passed and normalised."""
    keep = np.concatenate([[True], np.diff(positions) > 0])
    positions, values = positions[keep], values[keep]
    if len(values) == 1 or positions[-1] <= 0:
        path = np.repeat(values[:1], PATH_POINTS, axis=0)
    else:
        grid = np.linspace(0.0, float(positions[-1]), PATH_POINTS)
        path = np.column_stack([np.interp(grid, positions, values[:, j]) for j in range(2)])
    return np.ascontiguousarray(normalise(_smooth(path, LOWPASS_POINTS)))


def drawing_path(strokes: list[Stroke]) -> DrawingPath:
    """The drawing's path for copy detection (zeros for an empty drawing)."""
    points, _ = ink_points(strokes)
    if len(points) == 0:
        zeros = np.zeros((PATH_POINTS, 2))
        return DrawingPath(zeros, zeros.copy())
    ids = np.repeat(np.arange(len(strokes)), [len(s) for s in strokes])
    sizes = np.bincount(ids, minlength=len(strokes))[ids]
    smooth = np.where((sizes > 2)[:, None], smooth_runs(points, ids, PRE_SMOOTH_POINTS), points)
    length = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(smooth, axis=0).T))])
    arc = _even(smooth, length)
    index = _even(points, np.arange(len(points), dtype=np.float64))
    if not has_timing(strokes):
        return DrawingPath(arc, index)
    clock, times = 0.0, []
    for s in strokes:
        if len(s):
            t = np.maximum.accumulate(s[:, 2] - s[0, 2]) + clock
            clock = float(t[-1])
            times.append(t)
    return DrawingPath(arc, index, _even(points, np.concatenate(times)))


def closest_pair(paths: Sequence[DrawingPath]) -> float:
    """The distance between the two closest of the enrolled drawings (how close this user's own
    re-drawings come); inf with fewer than two."""
    pairs = [a.distance(b) for a, b in itertools.combinations(paths, 2)]
    return min(pairs) if pairs else math.inf


def copy_limit(closest: float, timed: bool) -> float:
    """Distances under this are copies, for an account whose enrolled drawings are `closest` apart."""
    if timed:
        return min(TIMED_LIMIT, TIMED_SHARE * closest)
    return min(SHAPE_LIMIT, SHAPE_SHARE * closest)


def _route(a: DrawingPath, b: DrawingPath) -> list[tuple[np.ndarray, np.ndarray]]:
    if a.time is not None and b.time is not None:
        return [(a.time, b.time)]
    return [(a.arc, b.arc), (a.index, b.index)]


def _lower_bound(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """A lower bound of _dtw(query, c) for each candidate (k, PATH_POINTS, 2): every step of a warping
    path within the band pairs each point of one path with some point of the other at most `reach`
    steps away, so the path's cost is at least the larger of the two sums of nearest-within-reach
    distances (a Keogh-style bound, without DTW's cost)."""
    reach = max(1, math.ceil(COPY_BAND * PATH_POINTS))
    n = PATH_POINTS
    q = query[:, 0] + 1j * query[:, 1]  # points as complex numbers: one subtraction and abs per shift
    c = candidates[:, :, 0] + 1j * candidates[:, :, 1]
    best_q = np.full(c.shape, np.inf)
    best_c = np.full(c.shape, np.inf)
    for shift in range(-reach, reach + 1):
        lo, hi = max(0, -shift), min(n, n - shift)  # query i pairs with candidate i + shift
        d = np.abs(q[lo:hi] - c[:, lo + shift : hi + shift])
        np.minimum(best_q[:, lo:hi], d, out=best_q[:, lo:hi])
        np.minimum(best_c[:, lo + shift : hi + shift], d, out=best_c[:, lo + shift : hi + shift])
    bound: np.ndarray = 2.0 * np.maximum(best_q.sum(axis=1), best_c.sum(axis=1)) / (2 * n)
    return bound


def nearest(path: DrawingPath, stored: Sequence[DrawingPath], below: float = math.inf) -> float:
    """The smallest distance from `path` to a stored one; with `below`, exact only when it is under
    `below` (else some value >= below): DTW runs only where a cheap lower bound leaves it a chance,
    which keeps a sign-in's check of 25 stored drawings well under a millisecond."""
    best = math.inf
    pairs = [pair for s in stored for pair in _route(path, s)]
    if not pairs:
        return best
    bounds = np.empty(len(pairs))
    for query in {id(q): q for q, _ in pairs}.values():  # at most 3 routes: one stacked bound each
        rows = [k for k, (q, _) in enumerate(pairs) if q is query]
        bounds[rows] = _lower_bound(query, np.stack([pairs[k][1] for k in rows]))
    for k in np.argsort(bounds):
        if bounds[k] >= min(best, below):
            break
        best = min(best, _dtw(*pairs[k]))
    return best if best < below or below == math.inf else max(best, below)
