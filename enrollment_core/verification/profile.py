"""A user's verification profile: enrolled templates per method, how much the user varies, and the
user's own accept threshold; plus the enrolled samples' replay fingerprints."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from enrollment_core.strokes import MAX_STROKES, Stroke, is_near_empty
from enrollment_core.verification.distance import SHAPE_WINDOW, TIMED_WINDOW, dtw_distance
from enrollment_core.verification.features import (
    MAX_TIMED_SAMPLES,
    RESAMPLE_POINTS,
    SHAPE_FEATURES,
    TIMED_FEATURES,
    has_timing,
    shape_features,
    timed_features,
)
from enrollment_core.verification.replay import FINGERPRINT_BYTES, attempt_fingerprint

PROFILE_VERSION = 3  # bump when features/distances/threshold rule change: stored profiles must be rebuilt
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
    features: Callable[[list[Stroke]], np.ndarray]
    feature_names: tuple[str, ...]
    window: float
    floor: float
    accept_factor: float
    ceiling: float

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return dtw_distance(a, b, self.window)

    def threshold(self, spread: float) -> float:
        return min(self.accept_factor * (max(spread, 0.0) + self.floor), self.ceiling)

    def normalised(self, score: float, spread: float) -> float:
        """The score in units of the user's floored spread: comparable across users; below the
        ceiling, accepted exactly when at most accept_factor."""
        return score / (max(spread, 0.0) + self.floor)


# Units: mean Euclidean cost per aligned step of z-normalised features (timed: 8 features, SVC2004
# spreads 0.37-0.89); normalised position + unit direction (shape: spreads 0.09-0.25).
TIMED = Method("timed", timed_features, TIMED_FEATURES, TIMED_WINDOW,
               floor=0.20, accept_factor=1.02, ceiling=1.05)
SHAPE = Method("shape", shape_features, SHAPE_FEATURES, SHAPE_WINDOW,
               floor=0.085, accept_factor=0.85, ceiling=0.30)
METHODS = {m.name: m for m in (TIMED, SHAPE)}


@dataclass(frozen=True)
class Templates:
    """One method's enrolled feature sequences, the user's spread and the resulting threshold."""

    method: Method
    templates: tuple[np.ndarray, ...]
    spread: float
    threshold: float

    @classmethod
    def build(cls, method: Method, drawings: list[list[Stroke]]) -> Templates:
        templates = tuple(method.features(s) for s in drawings)
        spread = spread_of(method, templates)
        return cls(method, templates, spread, method.threshold(spread))

    def score(self, attempt: np.ndarray) -> float:
        """Mean DTW distance from the attempt to the templates (lower is more similar). The mean beat
        the minimum on SVC2004 U1-U20 for both methods."""
        return float(np.mean([self.method.distance(attempt, t) for t in self.templates]))

    def to_dict(self) -> dict[str, Any]:
        # 5 decimals is far below any meaningful difference and keeps the JSON small.
        return {"spread": self.spread, "threshold": self.threshold,
                "templates": [np.round(t, 5).tolist() for t in self.templates]}


def spread_of(method: Method, templates: tuple[np.ndarray, ...]) -> float:
    """The medoid's mean distance to the other templates (their leave-one-out distances' minimum).
    It beat the mean pairwise distance on U1-U20: one odd enrolment sample inflates a mean."""
    n = len(templates)
    pair = np.zeros((n, n))
    for i, j in itertools.combinations(range(n), 2):
        pair[i, j] = pair[j, i] = method.distance(templates[i], templates[j])
    return float((pair.sum(axis=1) / (n - 1)).min())


@dataclass(frozen=True)
class Profile:
    """What a sign-in is checked against: ``shape`` (all enrolled signatures), ``timed`` (those with
    pen timing, when at least MIN_ENROLLED have it, else None) and the enrolled samples' replay
    fingerprints (replay.attempt_fingerprint)."""

    shape: Templates
    timed: Templates | None
    fingerprints: tuple[bytes, ...]
    version: int = PROFILE_VERSION

    def for_method(self, name: str) -> Templates:
        templates = self.timed if name == "timed" else self.shape
        if templates is None:
            raise ValueError("profile: no timed enrolment")
        return templates

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "shape": self.shape.to_dict(),
            "timed": None if self.timed is None else self.timed.to_dict(),
            "fingerprints": [f.hex() for f in self.fingerprints],
        }

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
        timed = None if data.get("timed") is None else _templates(
            data["timed"], TIMED, (2, MAX_TIMED_SAMPLES + MAX_STROKES))
        raw = data.get("fingerprints")
        if not isinstance(raw, list) or not MIN_ENROLLED <= len(raw) <= MAX_ENROLLED:
            raise ValueError(f"profile: fingerprints must be a list of {MIN_ENROLLED}-{MAX_ENROLLED} strings")
        try:
            fingerprints = tuple(bytes.fromhex(f) for f in raw)
        except (TypeError, ValueError):
            raise ValueError("profile: fingerprints must be hex strings") from None
        if any(len(f) != FINGERPRINT_BYTES for f in fingerprints):
            raise ValueError(f"profile: a fingerprint is {FINGERPRINT_BYTES} bytes")
        return cls(shape, timed, fingerprints)


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
    return Templates(method, tuple(templates), values[0], values[1])


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
    timed = Templates.build(TIMED, timed_drawings) if len(timed_drawings) >= MIN_ENROLLED else None
    fingerprints = tuple(attempt_fingerprint(s) for s in enrolled)
    return Profile(Templates.build(SHAPE, enrolled), timed, fingerprints)
