"""A user's verification profile: enrolled templates per method, how much the user varies, and the
user's own accept threshold; the enrolled drawings' durations and noise; and what the replay and copy
checks compare with (fingerprints and reduced paths of the enrolled drawings).

A profile is built once, at enrolment, and stored (`to_bytes`, a few tens of kB); a sign-in only reads
it (`from_bytes`, well under a millisecond)."""

from __future__ import annotations

import functools
import itertools
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enrollment_core.strokes import MAX_STROKES, Stroke, is_near_empty
from enrollment_core.verification.copies import PATH_BYTES, DrawingPath, closest_pair, drawing_path
from enrollment_core.verification.distance import SHAPE_WINDOW, TIMED_WINDOW, dtw_distance
from enrollment_core.verification.features import (
    COARSE_SMOOTH_MS,
    MAX_TIMED_SAMPLES,
    NOISE_DISTANCE_SHARE,
    RESAMPLE_POINTS,
    SHAPE_FEATURES,
    TIMED_FEATURES,
    has_timing,
    noise_energy,
    noise_level,
    pen_down_ms,
    shape_features,
    timed_features,
)
from enrollment_core.verification.replay import FINGERPRINT_BYTES, Fingerprint, attempt_fingerprint

PROFILE_VERSION = 6  # bump when features/distances/threshold rule change: stored profiles must be rebuilt
MIN_ENROLLED = 2  # the spread needs at least two samples (the product asks for 5)
MAX_ENROLLED = 20


@dataclass(frozen=True)
class Method:
    """One way of comparing signatures, with its operating rule.

    A user's *spread* is how far the most typical enrolled signature (the medoid) lies, on average,
    from the user's other ones: the user's own scale for distances. An attempt's score (its mean DTW
    distance to the enrolled templates) is divided by ``spread + floor``; it is accepted when that is
    at most ``accept_factor``, and never above ``ceiling`` in raw distance.

    * ``floor`` is a global minimum variability: five near-identical enrolment samples do not mean the
      person will sign as steadily on another day. Chosen for the lowest skilled-forgery EER on
      SVC2004 U1-U20.
    * ``accept_factor`` is the operating point, chosen on U1-U20 (docs/verification.md).
    * ``ceiling`` keeps a sloppy enrolment (very different samples, a huge spread) from accepting
      anyone: 0.95 x the smallest random-forgery score on U1-U20 (timed 1.10, shape 0.32), rounded.
      It never binds on U1-U20; on U21-U40 it binds for one very variable signer.
    """

    name: str
    features: Callable[[list[Stroke]], np.ndarray] = field(compare=False)
    feature_names: tuple[str, ...]
    window: float
    floor: float
    accept_factor: float
    ceiling: float
    # Whether the distance discounts the white noise two drawings share (features.noise_energy):
    # only the 20 ms comparison, which noisy drawings get.
    noise_corrected: bool = False

    def distance(self, a: np.ndarray, b: np.ndarray, noise_a: float = 0.0, noise_b: float = 0.0) -> float:
        """DTW distance; for a noise-corrected method, less the share of it the noise both drawings
        carry (their noise_energy, the smaller of the two) explains: without it, noise on both sides
        inflates every distance, the user's spread included, and pulls forgeries' normalised scores
        towards the threshold."""
        distance = dtw_distance(a, b, self.window)
        if not self.noise_corrected:
            return distance
        shared = 2.0 * min(noise_a, noise_b)
        return math.sqrt(max(distance * distance - NOISE_DISTANCE_SHARE * shared, 0.0))

    def threshold(self, spread: float) -> float:
        return min(self.accept_factor * (max(spread, 0.0) + self.floor), self.ceiling)

    def normalised(self, score: float, spread: float) -> float:
        """The score in units of the user's floored spread: comparable across users; below the
        ceiling, accepted exactly when at most accept_factor."""
        return score / (max(spread, 0.0) + self.floor)


# Units: mean Euclidean cost per aligned step of z-normalised features (timed: 8 features, SVC2004
# spreads 0.37-0.89); normalised position + unit direction (shape: spreads 0.09-0.25).
# The timed method's accept_factor is that of the timing as drawn (it can only refuse; the rhythm has
# its own below): 1.05 on clean drawings, chosen on U1-U20 with the rhythm's factor (docs, "Third round").
TIMED = Method("timed", timed_features, TIMED_FEATURES, TIMED_WINDOW,
               floor=0.20, accept_factor=1.05, ceiling=1.05)
# The same comparison for noisy drawings (features.NOISE_LIMIT): positions smoothed over 20 ms, the
# feature groups equally weighted, the issue-23 factors (1.00) unchanged.
TIMED_COARSE = Method("timed", functools.partial(timed_features, smooth_ms=COARSE_SMOOTH_MS, weights=None),
                      TIMED_FEATURES, TIMED_WINDOW, floor=0.20, accept_factor=1.0, ceiling=1.05,
                      noise_corrected=True)
SHAPE = Method("shape", shape_features, SHAPE_FEATURES, SHAPE_WINDOW,
               floor=0.085, accept_factor=0.85, ceiling=0.30)
METHODS = {m.name: m for m in (TIMED, SHAPE)}

# The timed decision's other constants (docs/verification.md, "Timed method"); tuned on SVC2004 U1-U20.
# Accept factor of the *rhythm* comparison, in which the attempt's pen-down time is first stretched to
# the enrolled drawings' median: no claim about time can improve it. Clean drawings (weighted
# features): 0.97, the U1-U20 operating point with genuine rejections <= 8 % and the lowest time
# attacks; noisy drawings (20 ms, equal weights): 1.00 as before.
RHYTHM_FACTOR = 0.97
RHYTHM_FACTOR_NOISY = 1.0
# The pen-down time may differ from the enrolled ones' mean (in log) by DURATION_Z x their standard
# deviation, the latter at least DURATION_MIN_SD (five samples can agree by chance): ln 1.35 for a
# perfectly steady signer. Only ever a reason to refuse.
DURATION_Z = 3.0
DURATION_MIN_SD = 0.10


@dataclass(frozen=True)
class Templates:
    """One method's enrolled feature sequences, the user's spread and the resulting threshold."""

    method: Method
    templates: tuple[np.ndarray, ...]
    spread: float
    threshold: float
    noise: tuple[float, ...] = ()  # each template's features.noise_energy (noise-corrected methods)

    @classmethod
    def build(cls, method: Method, drawings: list[list[Stroke]]) -> Templates:
        templates = tuple(method.features(s) for s in drawings)
        noise = tuple(noise_energy(s) for s in drawings) if method.noise_corrected else ()
        spread = spread_of(method, templates, noise)
        return cls(method, templates, spread, method.threshold(spread), noise)

    def threshold_at(self, factor: float) -> float:
        """The raw threshold for another accept factor (same floor and ceiling)."""
        return min(factor * (max(self.spread, 0.0) + self.method.floor), self.method.ceiling)

    def score(self, attempt: np.ndarray, noise: float = 0.0) -> float:
        """Mean DTW distance from the attempt to the templates (lower is more similar); `noise`: the
        attempt's features.noise_energy, for a noise-corrected method. The mean beat the minimum on
        SVC2004 U1-U20 for both methods."""
        noises = self.noise or (0.0,) * len(self.templates)
        return float(np.mean([self.method.distance(attempt, t, noise, n)
                              for t, n in zip(self.templates, noises, strict=True)]))

    def to_dict(self) -> dict[str, Any]:
        # 5 decimals is far below any meaningful difference and keeps the JSON small.
        return {"spread": self.spread, "threshold": self.threshold, "noise": list(self.noise),
                "templates": [np.round(t, 5).tolist() for t in self.templates]}


def spread_of(method: Method, templates: tuple[np.ndarray, ...], noise: tuple[float, ...] = ()) -> float:
    """The medoid's mean distance to the other templates (their leave-one-out distances' minimum).
    It beat the mean pairwise distance on U1-U20: one odd enrolment sample inflates a mean. `noise`:
    the templates' noise_energy, for a noise-corrected method."""
    n = len(templates)
    noises = noise or (0.0,) * n
    pair = np.zeros((n, n))
    for i, j in itertools.combinations(range(n), 2):
        pair[i, j] = pair[j, i] = method.distance(templates[i], templates[j], noises[i], noises[j])
    return float((pair.sum(axis=1) / (n - 1)).min())


@dataclass(frozen=True)
class Profile:
    """What a sign-in is checked against: ``shape`` (all enrolled signatures), ``timed`` (those with
    pen timing, when at least MIN_ENROLLED have it, else None; ``timed_coarse`` the same smoothed for
    noisy drawings), the timed ones' pen-down ``durations`` (ms) and median ``noise``
    (features.noise_level), and for the replay checks the enrolled samples' ``fingerprints``
    (replay.attempt_fingerprint), reduced ``paths`` (copies.drawing_path) and the ``closest`` two
    paths' distance."""

    shape: Templates
    timed: Templates | None
    fingerprints: tuple[bytes, ...]
    timed_coarse: Templates | None = None
    durations: tuple[float, ...] = ()
    noise: float = 0.0
    paths: tuple[DrawingPath, ...] = ()
    closest: float = math.inf
    version: int = PROFILE_VERSION

    def for_method(self, name: str) -> Templates:
        templates = self.timed if name == "timed" else self.shape
        if templates is None:
            raise ValueError("profile: no timed enrolment")
        return templates

    @functools.cached_property
    def decoded_fingerprints(self) -> tuple[Fingerprint, ...]:
        """The enrolled fingerprints decoded once (a profile checks many attempts in evaluations)."""
        return tuple(Fingerprint.from_bytes(f) for f in self.fingerprints)

    @property
    def reference_ms(self) -> float:
        """The pen-down time the rhythm comparison stretches an attempt to: the enrolled median."""
        return float(np.median(self.durations)) if self.durations else math.nan

    def duration_deviation(self, duration_ms: float) -> float:
        """How far a pen-down time lies from the enrolled ones, in units of the allowed deviation
        (1 is the limit): |ln d - mean ln d_i| / (DURATION_Z x max(sd ln d_i, DURATION_MIN_SD))."""
        if not self.durations or not duration_ms > 0 or not math.isfinite(duration_ms):
            return math.inf
        logs = np.log(np.asarray(self.durations))
        sd = float(logs.std(ddof=1)) if len(logs) > 1 else 0.0
        allowed = DURATION_Z * math.hypot(sd, DURATION_MIN_SD)
        return abs(math.log(duration_ms) - float(logs.mean())) / allowed

    # --- storage -------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {**self._header(), "shape": self.shape.to_dict(),
                "timed": None if self.timed is None else self.timed.to_dict(),
                "timed_coarse": None if self.timed_coarse is None else self.timed_coarse.to_dict(),
                "paths": [p.to_bytes().hex() for p in self.paths]}

    def _header(self) -> dict[str, Any]:
        return {"version": self.version, "fingerprints": [f.hex() for f in self.fingerprints],
                "durations": list(self.durations), "noise": self.noise,
                "closest": self.closest if math.isfinite(self.closest) else None}

    def to_bytes(self) -> bytes:
        """The compact stored form: a JSON header, then the templates as little-endian float32 and the
        paths' bytes. Read back by from_bytes in well under a millisecond (JSON numbers would take ms)."""
        header = self._header()
        arrays: list[np.ndarray] = []
        for key in ("shape", "timed", "timed_coarse"):
            templates = getattr(self, key)
            if templates is None:
                header[key] = None
                continue
            header[key] = {"spread": templates.spread, "threshold": templates.threshold,
                           "noise": list(templates.noise), "lengths": [len(t) for t in templates.templates]}
            arrays += templates.templates
        header["paths"] = len(self.paths)
        head = json.dumps(header).encode()
        blob = b"".join(np.asarray(a, dtype="<f4").tobytes() for a in arrays)
        paths = b"".join(p.to_bytes() for p in self.paths)
        return _MAGIC + struct.pack("<I", len(head)) + head + blob + paths

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Profile:
        """Decode to_bytes's form; ValueError for anything else (an older version included: rebuild)."""
        data = bytes(data)
        if len(data) < len(_MAGIC) + 4 or not data.startswith(_MAGIC):
            raise ValueError("profile: not a stored profile")
        (size,) = struct.unpack_from("<I", data, len(_MAGIC))
        start = len(_MAGIC) + 4
        try:
            header = json.loads(data[start : start + size])
        except (ValueError, RecursionError):
            raise ValueError("profile: header is not valid JSON") from None
        if not isinstance(header, dict):
            raise ValueError("profile: header is not an object")
        offset, parts = start + size, dict[str, dict[str, Any] | None]()
        for key, method in (("shape", SHAPE), ("timed", TIMED), ("timed_coarse", TIMED_COARSE)):
            raw = header.get(key)
            if raw is None:
                parts[key] = None
                continue
            lengths = raw.get("lengths") if isinstance(raw, dict) else None
            if not isinstance(lengths, list) or not all(isinstance(n, int) and 0 < n <= MAX_TIMED_SAMPLES
                                                          + MAX_STROKES for n in lengths):
                raise ValueError(f"profile: {key}.lengths must be a list of sequence lengths")
            dim = len(method.feature_names)
            templates = []
            for n in lengths:
                end = offset + 4 * n * dim
                if end > len(data):
                    raise ValueError("profile: truncated")
                values = np.frombuffer(data, "<f4", n * dim, offset).astype(np.float64)
                templates.append(values.reshape(n, dim))
                offset = end
            parts[key] = {"spread": raw.get("spread"), "threshold": raw.get("threshold"),
                          "noise": raw.get("noise"), "templates": templates}
        count = header.get("paths")
        if not isinstance(count, int) or count < 0 or len(data) != offset + count * PATH_BYTES:
            raise ValueError("profile: paths do not match the stored length")
        header["paths"] = [data[offset + i * PATH_BYTES : offset + (i + 1) * PATH_BYTES]
                           for i in range(count)]
        return cls.from_dict({**header, **parts})

    @classmethod
    def from_json(cls, text: str | bytes) -> Profile:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise ValueError("profile: not valid JSON") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Profile:
        if not isinstance(data, dict):
            raise ValueError("profile: expected a JSON object")  # noqa: TRY004 - one error type for bad data
        if data.get("version") != PROFILE_VERSION:
            raise ValueError(f"profile: version {data.get('version')!r} is not {PROFILE_VERSION}; rebuild it")
        shape = _templates(data.get("shape"), SHAPE, (RESAMPLE_POINTS, RESAMPLE_POINTS))
        timed_lengths = (2, MAX_TIMED_SAMPLES + MAX_STROKES)
        timed = None if data.get("timed") is None else _templates(data["timed"], TIMED, timed_lengths)
        coarse = None if data.get("timed_coarse") is None else _templates(
            data["timed_coarse"], TIMED_COARSE, timed_lengths)
        if (timed is None) != (coarse is None):
            raise ValueError("profile: timed and timed_coarse come together")
        raw = data.get("fingerprints")
        if not isinstance(raw, list) or not MIN_ENROLLED <= len(raw) <= MAX_ENROLLED:
            raise ValueError(f"profile: fingerprints must be a list of {MIN_ENROLLED}-{MAX_ENROLLED} strings")
        try:
            fingerprints = tuple(bytes.fromhex(f) for f in raw)
            paths = tuple(DrawingPath.from_bytes(bytes.fromhex(p) if isinstance(p, str) else p)
                          for p in data.get("paths") or ())
        except (TypeError, ValueError):
            raise ValueError("profile: fingerprints and paths must be hex strings of their size") from None
        if any(len(f) != FINGERPRINT_BYTES for f in fingerprints):
            raise ValueError(f"profile: a fingerprint is {FINGERPRINT_BYTES} bytes")
        durations = data.get("durations")
        if not isinstance(durations, list) or len(durations) > MAX_ENROLLED or not all(
                _non_negative(d) for d in durations) or (timed is not None and len(durations) < MIN_ENROLLED):
            raise ValueError("profile: durations must be a list of non-negative numbers")
        noise, closest = data.get("noise"), data.get("closest")
        if noise is None or not _non_negative(noise) or not (closest is None or _non_negative(closest)):
            raise ValueError("profile: noise and closest must be non-negative numbers")
        return cls(shape, timed, fingerprints, coarse, tuple(float(d) for d in durations), float(noise),
                   paths, math.inf if closest is None else float(closest))


_MAGIC = b"SVP\x04"  # signature verification profile, version 4


def _non_negative(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v >= 0


def _templates(raw: Any, method: Method, lengths: tuple[int, int]) -> Templates:
    where = f"profile: {method.name}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be an object")
    items = raw.get("templates")
    if not isinstance(items, list) or not MIN_ENROLLED <= len(items) <= MAX_ENROLLED:
        raise ValueError(f"{where}.templates must be a list of {MIN_ENROLLED}-{MAX_ENROLLED} arrays")
    templates = []
    for i, item in enumerate(items):
        try:
            arr = np.asarray(item, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{where}.templates[{i}] is not numeric") from None
        dim = len(method.feature_names)
        if (arr.ndim != 2 or arr.shape[1] != dim or not lengths[0] <= arr.shape[0] <= lengths[1]
                or not np.isfinite(arr).all()):
            raise ValueError(f"{where}.templates[{i}] has shape {arr.shape} (want {lengths[0]}-{lengths[1]}"
                             f" x {dim}) or non-finite values")
        templates.append(np.ascontiguousarray(arr))
    values = []
    for key in ("spread", "threshold"):
        v = raw.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{where}.{key} must be a non-negative number")
        values.append(float(v))
    noise = raw.get("noise") or []
    if not isinstance(noise, list) or not all(_non_negative(v) for v in noise) or (
            len(noise) != (len(templates) if method.noise_corrected else 0)):
        want = "one non-negative number per template" if method.noise_corrected else "empty"
        raise ValueError(f"{where}.noise must be a list: {want}")
    return Templates(method, tuple(templates), values[0], values[1], tuple(float(v) for v in noise))


def threshold_for(spread: float, method: str = "timed") -> float:
    """The per-user accept threshold (raw score units) for a given spread."""
    return METHODS[method].threshold(spread)


def build_profile(enrolled: list[list[Stroke]]) -> Profile:
    """Build a profile from 2-20 enrolled signatures (each a list of strokes). Raises ValueError.

    Every signature enters the shape templates; those with pen timing also the timed ones (used
    when at least MIN_ENROLLED have it, so a timed attempt is compared with what both have)."""
    if not MIN_ENROLLED <= len(enrolled) <= MAX_ENROLLED:
        raise ValueError(f"need {MIN_ENROLLED}-{MAX_ENROLLED} enrolled signatures, got {len(enrolled)}")
    for i, strokes in enumerate(enrolled):
        if is_near_empty(strokes):
            raise ValueError(f"enrolled signature {i} is (nearly) empty")
    timed_drawings = [s for s in enrolled if has_timing(s)]
    fingerprints = tuple(attempt_fingerprint(s) for s in enrolled)
    paths = tuple(drawing_path(s) for s in enrolled)
    shape = Templates.build(SHAPE, enrolled)
    if len(timed_drawings) < MIN_ENROLLED:
        return Profile(shape, None, fingerprints, paths=paths, closest=closest_pair(paths))
    timed_paths = [p for p in paths if p.time is not None]
    return Profile(
        shape, Templates.build(TIMED, timed_drawings), fingerprints,
        timed_coarse=Templates.build(TIMED_COARSE, timed_drawings),
        durations=tuple(pen_down_ms(s) for s in timed_drawings),
        noise=float(np.median([noise_level(s) for s in timed_drawings])),
        paths=paths, closest=closest_pair(timed_paths))
