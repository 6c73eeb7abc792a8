"""Replay detection: is a drawing a copy of one seen before (an enrolled sample or an earlier sign-in)?

A person never draws the same signature twice point for point, so a near-identical repeat is a copy of
stored or intercepted data. Each drawing gets a small fixed-size *fingerprint* (FINGERPRINT_BYTES =
524 bytes) that can be stored per attempt; ``is_replay`` compares a new one with earlier ones.

Fingerprint (little-endian): 1 byte version, 1 byte flags (bit 0: timed), 2 bytes zero, then
float32 values:

* ``order`` (BINS x 2): the mean position of each of BINS consecutive equal-count runs of the
  drawing's points, normalised for position and size. A copy lines up run for run whatever its
  times; averaging removes per-point jitter. Another sampling rate moves the runs, though.
* ``timed`` (BINS x 2): the mean position over each of BINS equal spans of the drawing's time
  (first to last point; between strokes the pen is taken to move straight), normalised: where the
  pen was at each moment. Bins of absolute time do not depend on the sampling rate, and a time
  error stays local. NaN without timing.
* ``total_ms`` (first to last point) and ``speed`` (mean pen-down speed, normalised units per ms).
  NaN without timing.

Two drawings are a replay (``replay_ratio`` < 1) when

* their order positions are within ORDER_LIMIT (RMS, in units of the drawing's RMS radius): point
  for point the same drawing, whatever the times say; or
* both are timed, their total times are within DURATION_LIMIT_MS, and their timed positions are
  within TIMING_LIMIT_MS once the gap is turned into time: the median over the bins of the distance
  between the two positions, divided by the mean pen-down speed. Time for time the same drawing, at
  any sampling rate. Dividing by the speed puts fast and slow signers on one scale (a 5 ms time
  error moves a fast pen further); the median ignores the few bins where a copy re-sampled at
  another rate cuts a fast curve's corner, while two genuine signatures differ almost everywhere.

Calibrated on SVC2004 (all 40 users, 20 genuine signatures each; `evaluate` prints the figures and
docs/verification.md gives them): the closest pair of different genuine signatures of one user stays
above both limits, while copies with +-1 % coordinate jitter and +-5 ms time jitter, as they are or
re-sampled at 200 Hz, are caught. Re-sampled at 60-75 Hz, a fast signature's copy cuts its curves'
corners and is caught only most of the time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from enrollment_core.strokes import Stroke
from enrollment_core.verification.features import (
    MAX_TIMED_SAMPLES,
    SAMPLE_MS,
    Resampled,
    has_timing,
    ink_points,
    normalise,
    time_resample,
)

FINGERPRINT_VERSION = 1
FINGERPRINT_BINS = 32
_HEADER = 4
_FLOATS = 2 * FINGERPRINT_BINS * 2 + 2
FINGERPRINT_BYTES = _HEADER + 4 * _FLOATS  # 524
_TIMED_FLAG = 1

ORDER_LIMIT = 0.025  # RMS gap of the order positions, in units of the drawing's RMS radius
TIMING_LIMIT_MS = 7.75  # median gap of the timed positions divided by the mean pen-down speed
DURATION_LIMIT_MS = 40.0  # total times further apart than this are two different drawings


@dataclass(frozen=True)
class Fingerprint:
    """A decoded fingerprint: order (BINS, 2); timed (BINS, 2), total_ms and speed, or None each."""

    order: np.ndarray
    timed: np.ndarray | None = None
    total_ms: float | None = None
    speed: float | None = None  # normalised units per ms

    def to_bytes(self) -> bytes:
        timed = self.timed if self.timed is not None else np.full((FINGERPRINT_BINS, 2), np.nan)
        extras = [math.nan if v is None else v for v in (self.total_ms, self.speed)]
        values = np.concatenate([self.order.ravel(), timed.ravel(), extras]).astype("<f4")
        flags = _TIMED_FLAG if self.timed is not None else 0
        return bytes([FINGERPRINT_VERSION, flags, 0, 0]) + values.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Fingerprint:
        """Decode stored bytes; ValueError for anything that is not a fingerprint of this version."""
        data = bytes(data)
        if len(data) != FINGERPRINT_BYTES or data[0] != FINGERPRINT_VERSION or data[2:4] != b"\0\0":
            raise ValueError(f"fingerprint: want {FINGERPRINT_BYTES} bytes of version {FINGERPRINT_VERSION}")
        values = np.frombuffer(data, dtype="<f4", offset=_HEADER).astype(np.float64)
        n = FINGERPRINT_BINS * 2
        order, timed, extras = values[:n].reshape(-1, 2), values[n : 2 * n].reshape(-1, 2), values[2 * n :]
        if not np.isfinite(order).all():
            raise ValueError("fingerprint: order positions are not finite")
        if data[1] == 0:
            return cls(order)
        if data[1] != _TIMED_FLAG or not (np.isfinite(timed).all() and np.isfinite(extras).all()):
            raise ValueError("fingerprint: unknown flags or a timed part that is not finite")
        return cls(order, timed, float(extras[0]), float(extras[1]))


def _bin_means(points: np.ndarray) -> np.ndarray:
    """Mean of each of FINGERPRINT_BINS consecutive equal-count runs (points repeated if fewer)."""
    if len(points) < FINGERPRINT_BINS:
        points = points[np.linspace(0, len(points) - 1, FINGERPRINT_BINS).round().astype(int)]
    # The runs of np.array_split (the first len % BINS runs one point longer), summed at once.
    base, extra = divmod(len(points), FINGERPRINT_BINS)
    sizes = np.full(FINGERPRINT_BINS, base) + (np.arange(FINGERPRINT_BINS) < extra)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    means: np.ndarray = np.add.reduceat(points, starts, axis=0) / sizes[:, None]
    return means


def _pen_down_speed(strokes: list[Stroke], resampled: Resampled | None = None) -> float:
    """Mean pen-down speed in units of the drawing's RMS radius per ms, measured on the path
    re-sampled by time (so the sampling rate and per-point jitter matter little)."""
    xy, ids, period = resampled or time_resample(strokes)
    centred = xy - xy.mean(axis=0)
    radius = float(np.sqrt((centred**2).sum(axis=1).mean()))
    steps = np.hypot(*np.diff(xy, axis=0).T)
    steps[np.diff(ids) != 0] = 0.0  # a pen lift is not ink
    return float(steps.sum()) / (radius * period * len(xy)) if radius > 0 else 0.0


def fingerprint(strokes: list[Stroke], resampled: Resampled | None = None) -> Fingerprint:
    """The fingerprint of a drawing (an empty drawing gets zeros, which match only another empty one);
    `resampled`: time_resample(strokes), when already at hand."""
    points, _ = ink_points(strokes)
    if len(points) == 0:
        return Fingerprint(np.zeros((FINGERPRINT_BINS, 2)))
    order = normalise(_bin_means(points))
    if not has_timing(strokes):
        return Fingerprint(order)
    t = np.maximum.accumulate(np.concatenate([s[:, 2] for s in strokes if len(s)]))
    keep = np.concatenate([[True], np.diff(t) > 0])  # np.interp wants increasing times
    t, xy = t[keep] - t[0], points[keep]
    # Every SAMPLE_MS over the whole span, pen lifts included, but never more than MAX_TIMED_SAMPLES
    # points: times may span years (validation only bounds each value), and the grid would follow.
    samples = min(MAX_TIMED_SAMPLES, int(t[-1] / SAMPLE_MS) + 1)
    grid = np.linspace(0.0, t[-1], max(FINGERPRINT_BINS, samples))
    path = np.column_stack([np.interp(grid, t, xy[:, 0]), np.interp(grid, t, xy[:, 1])])
    return Fingerprint(order, normalise(_bin_means(path)), float(t[-1]), _pen_down_speed(strokes, resampled))


def attempt_fingerprint(strokes: list[Stroke]) -> bytes:
    """The fixed-size fingerprint (FINGERPRINT_BYTES bytes) to store with a sign-in attempt."""
    return fingerprint(strokes).to_bytes()


def _rms_gap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()))


def replay_ratio(a: Fingerprint, b: Fingerprint) -> float:
    """How far two drawings are from being one and the same, relative to the limits: below 1 is a
    replay (see the module docstring). The smaller of the order route's and the timed route's ratios;
    the timed route counts only when both are timed and their total times agree."""
    ratio = _rms_gap(a.order, b.order) / ORDER_LIMIT
    if (a.timed is not None and b.timed is not None and a.total_ms is not None and b.total_ms is not None
            and a.speed and b.speed):
        gap_ms = float(np.median(np.hypot(*(a.timed - b.timed).T))) / ((a.speed + b.speed) / 2)
        duration_ratio = abs(a.total_ms - b.total_ms) / DURATION_LIMIT_MS
        ratio = min(ratio, max(gap_ms / TIMING_LIMIT_MS, duration_ratio))
    return ratio


def is_replay(attempt: bytes | Fingerprint, previous: Iterable[bytes | Fingerprint]) -> bool:
    """True when the attempt is a near-identical repeat of any earlier fingerprint: point for point,
    or time for time when both have timing. Raises ValueError for bytes that are not a fingerprint."""
    new = attempt if isinstance(attempt, Fingerprint) else Fingerprint.from_bytes(attempt)
    olds = [old if isinstance(old, Fingerprint) else Fingerprint.from_bytes(old) for old in previous]
    if not olds:
        return False
    # replay_ratio for all at once (a sign-in checks 25 of them).
    orders = np.stack([o.order for o in olds])
    ratio = np.sqrt(((orders - new.order) ** 2).sum(axis=2).mean(axis=1)) / ORDER_LIMIT
    timed = [i for i, o in enumerate(olds) if o.timed is not None and o.total_ms is not None and o.speed]
    if new.timed is not None and new.total_ms is not None and new.speed and timed:
        stacked = np.stack([o.timed for o in (olds[i] for i in timed) if o.timed is not None])
        speeds = np.array([olds[i].speed for i in timed], dtype=np.float64)
        totals = np.array([olds[i].total_ms for i in timed], dtype=np.float64)
        gaps = np.median(np.hypot(*(stacked - new.timed).transpose(2, 0, 1)), axis=1)
        gap_ms = gaps / ((speeds + new.speed) / 2)
        timed_ratio = np.maximum(gap_ms / TIMING_LIMIT_MS, np.abs(totals - new.total_ms) / DURATION_LIMIT_MS)
        ratio[timed] = np.minimum(ratio[timed], timed_ratio)
    return bool((ratio < 1.0).any())
