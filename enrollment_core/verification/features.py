"""Turn strokes into the feature sequences the verifier compares with DTW.

Two kinds, one per method (docs/verification.md):

* **timed** (the drawing has pen timing): the pen-down path re-sampled every 10 ms of pen-down time,
  then per point x, y and their first three time derivatives (velocity, acceleration, jerk), each
  z-normalised over the signature. Re-sampling by time removes the client's sampling rate (phones
  report ~60 Hz, tablets 100-200 Hz); z-normalisation removes the coordinate scale (canvas pixels or
  tablet units) and the direction of the y axis, and keeps the rhythm and the shape of the speed
  profile, which a skilled forger who copies the shape does not reproduce.
* **shape** (no timing, e.g. the canvas's JSON): RESAMPLE_POINTS points evenly spaced in drawing
  order (by time when known, else by point index), normalised for position and size, with the unit
  direction of travel.

Pen-up time is never interpolated: the canvas cannot see the pen in the air, so strokes are joined
end to start in both kinds.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from enrollment_core.strokes import Stroke

# --- timed ---------------------------------------------------------------------------------------

SAMPLE_MS = 10.0  # re-sampling period of the timed features (100 Hz)
# Longest re-sampled sequence: 20 s of pen-down time at 100 Hz. Longer drawings are re-sampled more
# coarsely, which bounds the DTW cost (n x band) whatever a client sends.
MAX_TIMED_SAMPLES = 2000
MIN_TIMED_SAMPLES = 10  # under 100 ms of pen-down time the timing says nothing: use the shape
# Gaussian smoothing of the positions before differentiating, in ms (sigma). Tuned on SVC2004 U1-U20
# (10 ms: 7.4 % skilled EER, 15 ms: 8.0 %, 20 ms: 9.0 %); checked on the same data re-sampled at
# 60 Hz with finger-like noise, where 10 and 15 ms tie (docs/verification.md).
SMOOTH_MS = 10.0
# The same for noisy drawings (see noise_level): 10 ms keeps the tremor that tells a careful forger
# from the owner, but it also passes a finger's position noise into the jerk; 20 ms removes that noise
# (SVC2004 with 1 px noise on a 300 px signature: genuine rejected 31 % at 10 ms, 12 % at 20 ms).
COARSE_SMOOTH_MS = 20.0
# A drawing is *noisy* when the RMS residual of a local cubic fit over 5 samples (50 ms) exceeds this,
# in units of the drawing's RMS radius: white position noise leaves such a residual, a hand's movement
# (tremor included) does not. SVC2004's 1 600 clean signatures stay under 0.0039 (the 99th
# percentile 0.0030); with 1 px noise on a 300 px signature every one is over 0.0065 (docs).
NOISE_LIMIT = 0.005
# ...or when the attempt's noise level is more than this times the enrolment's (median). At 60 Hz the
# path's interpolation between samples hides much of the noise from the limit above; relative to the
# same person's enrolment on a clean device, 1 px of noise still shows. 1.5 flags 1.2 % of SVC2004's
# clean genuine attempts and 1.0 % of its forgeries at 100 Hz (1.3: 9.5 %); at 60 Hz it finds 48 % of
# noisy attempts, where the absolute limit alone found none.
NOISE_RATIO = 1.5
# Share of a pair's expected white-noise energy (2 x the smaller noise_energy of the two) that the
# squared DTW distance actually gains, for the 20 ms comparison: fitted on SVC2004 U1-U20's enrolled
# pairs with and without 1 px noise (no forgery and no decision involved; 0.192, and 0.173 on
# U21-U40). Less than 1 because DTW aligns around part of the noise and averages Euclidean costs.
NOISE_DISTANCE_SHARE = 0.19
TIMED_FEATURES = ("x", "y", "vx", "vy", "ax", "ay", "jx", "jy")
# Weights of the feature groups (position, velocity, acceleration, jerk) in the clean (10 ms)
# comparison, applied after z-normalisation and scaled to a root mean square of 1 (so distances, the
# floor and the ceiling keep their unit). The jerk at 10 ms is where a careful forger's slow, shaky
# line differs from the owner's fluent one; the velocity's profile is the easiest part of the timing
# to imitate. Chosen on SVC2004 U1-U20 over 144 weightings (rhythm comparison's skilled EER: equal
# weights 9.5 %, these 8.0 %, round numbers amid a plateau of 7.9-8.6 %; U21-U40 11.5 % -> 10.0 %;
# docs/verification.md, "Third round"). Noisy drawings (20 ms) keep equal weights: noise lives in
# the jerk, and weighting it there lost.
GROUP_WEIGHTS = (1.0, 0.5, 0.5, 2.0)
_PER_FEATURE = np.repeat(np.asarray(GROUP_WEIGHTS), 2)
FEATURE_WEIGHTS: np.ndarray = _PER_FEATURE / np.sqrt(np.mean(_PER_FEATURE**2))
# A clock this coarse (half the steps inside strokes take no time) carries no rhythm: use the shape.
MAX_ZERO_STEP_FRACTION = 0.5

# --- shape ---------------------------------------------------------------------------------------

# Samples per signature after re-sampling. Re-sampling removes the client's sampling rate and bounds
# the DTW cost.
RESAMPLE_POINTS = 256
SHAPE_FEATURES = ("x", "y", "cos", "sin")  # normalised position, unit direction of travel


def ink_points(strokes: list[Stroke]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the strokes' x, y in drawing order; also return a flag marking stroke starts."""
    parts = [np.asarray(s, dtype=np.float64)[:, :2] for s in strokes if len(s)]
    if not parts:
        return np.empty((0, 2)), np.empty(0, dtype=bool)
    starts = np.zeros(sum(len(p) for p in parts), dtype=bool)
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    starts[offsets] = True
    return np.concatenate(parts), starts


def has_timing(strokes: list[Stroke]) -> bool:
    """Whether the drawing's timing is usable: every point has a time, the pen was down for at least
    MIN_TIMED_SAMPLES x SAMPLE_MS, and the clock ticks between most points of a stroke."""
    if not strokes or not all(np.isfinite(s[:, 2]).all() for s in strokes if len(s)):
        return False
    steps = [np.diff(s[:, 2]) for s in strokes if len(s) > 1]
    if not steps:
        return False
    dt = np.concatenate(steps)
    long_enough = float(dt.sum()) >= MIN_TIMED_SAMPLES * SAMPLE_MS
    return long_enough and float(np.mean(dt <= 0)) <= MAX_ZERO_STEP_FRACTION


def pen_down_ms(strokes: list[Stroke]) -> float:
    """Total pen-down time (each stroke's last time minus its first), ms; NaN without timing."""
    return float(sum(float(s[-1, 2] - s[0, 2]) for s in strokes if len(s)))


def rescale_pen_down(strokes: list[Stroke], duration_ms: float) -> list[Stroke]:
    """The same drawing with each stroke's times stretched so that the pen-down time is duration_ms:
    what is left of the timing is the rhythm relative to the drawing's own duration (a client that
    speeds up or slows down its times uniformly changes nothing)."""
    total = pen_down_ms(strokes)
    factor = duration_ms / total if total > 0 and math.isfinite(total) else 1.0
    return [np.column_stack([s[:, :2], s[0, 2] + (s[:, 2] - s[0, 2]) * factor]) if len(s) else s
            for s in strokes]


Resampled = tuple[np.ndarray, np.ndarray, float]  # time_resample's (xy, stroke ids, period)


def time_resample(strokes: list[Stroke]) -> Resampled:
    """Pen-down positions every `period` ms of each stroke's own time, the stroke index of each sample,
    and the period (SAMPLE_MS, or longer when the drawing would exceed MAX_TIMED_SAMPLES)."""
    runs = []
    for s in strokes:
        if not len(s):
            continue
        t = np.maximum.accumulate(s[:, 2])  # parse_strokes refuses backwards time; be safe anyway
        keep = np.concatenate([[True], np.diff(t) > 0])  # one sample per instant
        runs.append((t[keep] - t[0], s[keep, :2]))
    pen_down_ms = sum(float(t[-1]) for t, _ in runs)
    period = max(SAMPLE_MS, pen_down_ms / MAX_TIMED_SAMPLES)
    xy_parts, ids = [], []
    for k, (t, xy) in enumerate(runs):
        grid = np.arange(0.0, t[-1] + 1e-9, period) if len(t) > 1 else np.zeros(1)
        xy_parts.append(np.column_stack([np.interp(grid, t, xy[:, 0]), np.interp(grid, t, xy[:, 1])]))
        ids.append(np.full(len(grid), k))
    return np.concatenate(xy_parts), np.concatenate(ids), period


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 (edges repeat the end values), sigma in samples."""
    radius = int(3 * sigma + 0.5)
    if radius < 1 or len(values) < 2:
        return values
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(values[:1], radius, 0), values, np.repeat(values[-1:], radius, 0)])
    return np.column_stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(values.shape[1])])


def smooth_runs(values: np.ndarray, ids: np.ndarray, sigma: float) -> np.ndarray:
    """_smooth on each run of equal ids (each stroke on its own), in one convolution: every run is
    padded with its end values, so no run's smoothing reaches into another's."""
    radius = int(3 * sigma + 0.5)
    if radius < 1 or len(values) < 2:
        return values
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    starts = np.concatenate([[0], np.flatnonzero(np.diff(ids)) + 1])
    ends = np.append(starts[1:], len(ids))
    sizes = ends - starts
    # Source row of each padded row: radius x the run's first, the run, radius x its last.
    padded_sizes = sizes + 2 * radius
    offsets = np.concatenate([[0], np.cumsum(padded_sizes)[:-1]])
    within = np.arange(int(padded_sizes.sum())) - np.repeat(offsets, padded_sizes)
    run_start, run_size = np.repeat(starts, padded_sizes), np.repeat(sizes, padded_sizes)
    source = run_start + np.clip(within - radius, 0, run_size - 1)
    padded = values[source]
    out = np.column_stack([np.convolve(padded[:, j], kernel, mode="same") for j in range(values.shape[1])])
    keep = (within >= radius) & (within < radius + run_size)
    result: np.ndarray = out[keep]
    return result


def _derivative(values: np.ndarray, ids: np.ndarray, period_ms: float) -> np.ndarray:
    """Time derivative per stroke (per second); a one-sample stroke has none (0). The same as
    np.gradient on each stroke (central differences inside, one-sided at its ends), without a loop."""
    if len(values) < 2:
        return np.zeros_like(values)
    same = np.diff(ids) == 0  # samples i and i + 1 are in one stroke
    forward = np.where(same[:, None], np.diff(values, axis=0), 0.0)
    zero = np.zeros((1, values.shape[1]))
    to_next, from_prev = np.vstack([forward, zero]), np.vstack([zero, forward])
    has_next, has_prev = np.append(same, False)[:, None], np.insert(same, 0, False)[:, None]
    central = np.where(has_next & has_prev, (to_next + from_prev) / 2, to_next + from_prev)
    result: np.ndarray = central / (period_ms / 1000.0)
    return result


def _znormalise(features: np.ndarray) -> np.ndarray:
    spread = features.std(axis=0)
    spread[spread == 0] = 1.0
    normalised: np.ndarray = (features - features.mean(axis=0)) / spread
    return normalised


def timed_features(strokes: list[Stroke], smooth_ms: float = SMOOTH_MS,
                   resampled: Resampled | None = None,
                   weights: np.ndarray | None = FEATURE_WEIGHTS) -> np.ndarray:
    """(n, 8) sequence for DTW: x, y, velocity, acceleration and jerk, each z-normalised and then
    multiplied by `weights` (None: equal weights), from the pen-down path re-sampled by time
    (`resampled`: time_resample(strokes) when already at hand), smoothed by `smooth_ms` before
    differentiating. Needs has_timing(strokes); C-contiguous float64."""
    xy, ids, period = resampled or time_resample(strokes)
    xy = normalise(xy)  # derivatives in units of the signature's size per second
    sigma = smooth_ms / period
    smooth = smooth_runs(xy, ids, sigma)
    velocity = _derivative(smooth, ids, period)
    acceleration = _derivative(velocity, ids, period)
    jerk = _derivative(acceleration, ids, period)
    features = _znormalise(np.column_stack([xy, velocity, acceleration, jerk]))
    if weights is not None:
        features = features * weights
    return np.ascontiguousarray(features, dtype=np.float64)


def _runs(ids: np.ndarray) -> list[tuple[int, int]]:
    bounds = np.flatnonzero(np.diff(ids)) + 1
    return list(zip(np.concatenate([[0], bounds]).tolist(), np.concatenate([bounds, [len(ids)]]).tolist(),
                    strict=True))


# Savitzky-Golay weights of a cubic fitted over 5 samples, its value at the middle one.
_CUBIC_FIT_5 = np.array([-3.0, 12.0, 17.0, 12.0, -3.0]) / 35.0


def noise_level(strokes: list[Stroke], resampled: Resampled | None = None) -> float:
    """RMS residual of a local cubic fit (5 samples of the 10 ms path) in units of the drawing's RMS
    radius: white position noise (a finger on glass, a coarse sensor) leaves it, smooth movement does
    not. 0 for a drawing too short to tell. Needs has_timing(strokes)."""
    xy, ids, _ = resampled or time_resample(strokes)
    xy = normalise(xy)
    residuals = []
    for lo, hi in _runs(ids):
        if hi - lo >= 5:
            part = xy[lo:hi]
            fit = np.column_stack([np.convolve(part[:, j], _CUBIC_FIT_5, mode="valid") for j in range(2)])
            residuals.append(part[2:-2] - fit)
    if not residuals:
        return 0.0
    squared = (np.concatenate(residuals) ** 2).sum(axis=1)
    return float(np.sqrt(np.median(squared)))


@functools.lru_cache(maxsize=16)
def _noise_gains(sigma: float, period_ms: float) -> tuple[float, float, float]:
    """How much white position noise of unit variance passes into velocity, acceleration and jerk
    (variance): the squared norm of the impulse response of timed_features' smoothing and its central
    differences (positions are not smoothed: their gain is 1)."""
    radius = int(3 * sigma + 0.5)
    response = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2) if radius >= 1 else np.ones(1)
    response /= response.sum()
    step = np.array([0.5, 0.0, -0.5]) / (period_ms / 1000.0)
    gains = []
    for _ in range(3):
        response = np.convolve(response, step)
        gains.append(float((response**2).sum()))
    return gains[0], gains[1], gains[2]


def noise_energy(strokes: list[Stroke], smooth_ms: float = COARSE_SMOOTH_MS,
                 resampled: Resampled | None = None, level: float | None = None) -> float:
    """Expected squared norm of the part of each timed_features(..., smooth_ms, weights=None) vector
    that white position noise of the drawing's noise_level makes: the noise's variance through the
    smoothing and derivatives, over each feature's variance (the z-normalisation). Two drawings'
    shared noise adds about NOISE_DISTANCE_SHARE x (twice the smaller of theirs) to their squared
    distance. Needs has_timing(strokes)."""
    xy, ids, period = resampled or time_resample(strokes)
    if level is None:
        level = noise_level(strokes, (xy, ids, period))
    # noise_level is the median squared 2-D residual's root; for white noise of variance s^2 per
    # coordinate that residual is s^2 (1 - 17/35) times a chi-square with 2 degrees of freedom.
    variance = level**2 / (2 * math.log(2) * (1 - _CUBIC_FIT_5[2]))
    xy = normalise(xy)
    columns = [xy]
    derivative = smooth_runs(xy, ids, smooth_ms / period)
    for _ in range(3):
        derivative = _derivative(derivative, ids, period)
        columns.append(derivative)
    spread = np.column_stack(columns).var(axis=0)
    spread[spread == 0] = np.inf
    gains = np.repeat((1.0, *_noise_gains(smooth_ms / period, period)), 2)
    return float((variance * gains / spread).sum())


# --- is it a hand? -------------------------------------------------------------------------------

# A hand speeds up and slows down all the time: the coefficient of variation of the pen-down speed
# (on the 10 ms path, unsmoothed) is at least 0.367 in every one of SVC2004's 1 600 signatures,
# genuine or forged (0.386 re-sampled at 60 Hz). Times made up from the distance travelled (a picture
# traced with invented times: one constant speed) give at most 0.205. The limit lies between.
MIN_SPEED_VARIATION = 0.28
# The 99th percentile of the pen's acceleration, in RMS radii of the drawing per s^2 (20 ms
# smoothing), is at most 1 020 in SVC2004 (60 Hz: 983; with 1 px noise: 1 015). Twice that is not a
# hand: times compressed 2x (a forgery "sped up") reach 2 070.
MAX_ACCELERATION = 2000.0
# The same for speed (99th percentile, RMS radii per s, 20 ms smoothing): at most 44.9 in SVC2004
# (60 Hz: 44.7, 1 px noise: 44.9); twice that is not a hand. Speed catches strong compressions of time
# better than acceleration, which the smoothing caps (x0.3: acceleration 370, speed 3.3x).
MAX_SPEED = 90.0
_HAND_SMOOTH_MS = 20.0


def timing_problem(strokes: list[Stroke], resampled: Resampled | None = None) -> str | None:
    """Why the drawing's times are not those of a hand ("constant speed"; "too fast": a speed or an
    acceleration no hand reaches), or None. Needs has_timing(strokes)."""
    xy, ids, period = resampled or time_resample(strokes)
    xy = normalise(xy)
    raw_velocity = _derivative(xy, ids, period)
    speed = np.hypot(raw_velocity[:, 0], raw_velocity[:, 1])
    velocity = _derivative(smooth_runs(xy, ids, _HAND_SMOOTH_MS / period), ids, period)
    # The first and last 3 samples of a stroke: the smoothing repeats the end points there.
    inner = np.ones(len(ids), dtype=bool)
    for lo, hi in _runs(ids):
        inner[lo : lo + 3] = inner[max(lo, hi - 3) : hi] = False
    if inner.sum() < MIN_TIMED_SAMPLES:
        inner[:] = True
    mean_speed = float(speed.mean())
    if mean_speed > 0 and float(speed.std()) / mean_speed < MIN_SPEED_VARIATION:
        return "constant speed"
    smooth_speed = np.hypot(velocity[:, 0], velocity[:, 1])
    acceleration = np.hypot(*_derivative(velocity, ids, period).T)
    if (float(np.quantile(smooth_speed[inner], 0.99)) > MAX_SPEED
            or float(np.quantile(acceleration[inner], 0.99)) > MAX_ACCELERATION):
        return "too fast"
    return None


# --- shape ---------------------------------------------------------------------------------------


def drawing_order_resample(strokes: list[Stroke], n: int = RESAMPLE_POINTS) -> np.ndarray:
    """n points evenly spaced in drawing order: by pen-down time when the drawing has timing, else
    by point index (the canvas reports about one point per pointer event, so the index follows time
    roughly). The pen-up jump between strokes is one step. Time-ordered re-sampling beat arc-length
    re-sampling on SVC2004 U1-U20 (docs/verification.md)."""
    points, _ = ink_points(strokes)
    if len(points) == 0:
        return np.zeros((n, 2))
    if has_timing(strokes):
        xy, _, _ = time_resample(strokes)
    else:
        xy = points
    if len(xy) == 1:
        return np.repeat(xy, n, axis=0)
    position = np.linspace(0.0, len(xy) - 1, n)
    index = np.arange(len(xy))
    return np.column_stack([np.interp(position, index, xy[:, 0]), np.interp(position, index, xy[:, 1])])


def normalise(points: np.ndarray) -> np.ndarray:
    """Translate to the centroid and divide by the RMS distance to it (size-free, robust to one
    long flourish more than a bounding-box scale would be)."""
    centred = points - points.mean(axis=0)
    scale = float(np.sqrt((centred**2).sum(axis=1).mean()))
    result: np.ndarray = centred / scale if scale > 0 and math.isfinite(scale) else centred
    return result


def shape_features(strokes: list[Stroke]) -> np.ndarray:
    """(RESAMPLE_POINTS, 4) sequence for DTW: normalised x, y and the unit direction of travel,
    C-contiguous float64 as dtaidistance's C code wants it."""
    xy = normalise(drawing_order_resample(strokes))
    step = np.gradient(xy, axis=0)
    length = np.hypot(step[:, 0], step[:, 1])
    direction = np.divide(step, length[:, None], out=np.zeros_like(step), where=length[:, None] > 0)
    return np.ascontiguousarray(np.column_stack([xy, direction]), dtype=np.float64)
