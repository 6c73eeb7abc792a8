"""Turn strokes into a fixed-length, position- and scale-free feature sequence for DTW.

Only x, y and pen-down are used: the Fabric canvas gives no timing, and a method that needs timing
would fail on exactly the client we ship.
"""

from __future__ import annotations

import numpy as np

from enrollment_core.strokes import Stroke

# Samples per signature after arc-length resampling. Resampling removes the client's sampling rate
# (canvas quadratic-curve points vs tablet samples at 100 Hz) and bounds the DTW cost.
RESAMPLE_POINTS = 256
# Weight of the direction features (unit tangent) against the normalised position features.
DIRECTION_WEIGHT = 1.0
FEATURE_DIM = 4  # x, y, cos(direction), sin(direction)


def ink_points(strokes: list[Stroke]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the strokes' x, y in drawing order; also return a flag marking stroke starts."""
    parts = [np.asarray(s, dtype=np.float64)[:, :2] for s in strokes if len(s)]
    if not parts:
        return np.empty((0, 2)), np.empty(0, dtype=bool)
    starts = np.zeros(sum(len(p) for p in parts), dtype=bool)
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    starts[offsets] = True
    return np.concatenate(parts), starts


def resample(points: np.ndarray, n: int = RESAMPLE_POINTS) -> np.ndarray:
    """Resample a polyline to n points evenly spaced along its arc length.

    Pen-up jumps between strokes are part of the polyline: where the next stroke starts relative to
    the previous one is characteristic of a signature, and it keeps the result a single sequence.
    """
    if len(points) == 0:
        return np.zeros((n, 2))
    seg = np.hypot(*np.diff(points, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] <= 0:
        return np.repeat(points[:1], n, axis=0)
    # Drop repeated points so the arc-length axis is strictly increasing for interpolation.
    keep = np.concatenate([[True], seg > 0])
    cum, pts = cum[keep], points[keep]
    target = np.linspace(0.0, cum[-1], n)
    return np.column_stack([np.interp(target, cum, pts[:, 0]), np.interp(target, cum, pts[:, 1])])


def normalise(points: np.ndarray) -> np.ndarray:
    """Translate to the centroid and divide by the RMS distance to it (size-free, robust to one
    long flourish more than a bounding-box scale would be)."""
    centred = points - points.mean(axis=0)
    scale = float(np.sqrt((centred**2).sum(axis=1).mean()))
    return centred / scale if scale > 0 else centred


def signature_features(strokes: list[Stroke]) -> np.ndarray:
    """Feature sequence (RESAMPLE_POINTS, FEATURE_DIM): normalised x, y and the unit direction of
    travel, C-contiguous float64 as dtaidistance's C code wants it."""
    points, _ = ink_points(strokes)
    xy = normalise(resample(points))
    step = np.gradient(xy, axis=0)
    length = np.hypot(step[:, 0], step[:, 1])
    direction = np.divide(step, length[:, None], out=np.zeros_like(step), where=length[:, None] > 0)
    return np.ascontiguousarray(np.column_stack([xy, DIRECTION_WEIGHT * direction]), dtype=np.float64)


# Bins for the replay fingerprint. Averaging ~7 raw points per bin (SVC2004 signatures have 86-784
# points) removes point-level jitter but keeps the low-frequency shape a real repeat always changes.
REPLAY_BINS = 32


def replay_fingerprint(strokes: list[Stroke]) -> np.ndarray:
    """(REPLAY_BINS, 2) normalised mean positions of consecutive equal-count runs of raw points.

    Unlike the DTW features this follows the raw point order and count, so it lines up exactly
    with a copy of stored data (even jittered or re-sampled) and never with a new drawing.
    """
    points, _ = ink_points(strokes)
    if len(points) == 0:
        return np.zeros((REPLAY_BINS, 2))
    if len(points) < REPLAY_BINS:
        points = points[np.linspace(0, len(points) - 1, REPLAY_BINS).round().astype(int)]
    means = np.array([b.mean(axis=0) for b in np.array_split(points, REPLAY_BINS)])
    return np.ascontiguousarray(normalise(means))
