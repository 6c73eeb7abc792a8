"""A user's verification profile: enrolled feature templates and the user's own decision threshold."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from enrollment_core.strokes import Stroke, is_near_empty
from enrollment_core.verification.distance import dtw_distance
from enrollment_core.verification.features import (
    FEATURE_DIM,
    REPLAY_BINS,
    RESAMPLE_POINTS,
    replay_fingerprint,
    signature_features,
)

PROFILE_VERSION = 2  # bump when features/distances/threshold rule change: stored profiles must be rebuilt
MIN_ENROLLED = 2  # pairwise variability needs at least two samples (the product asks for 3-5)
MAX_ENROLLED = 20

# Per-user threshold = ACCEPT_FACTOR x (reference + REFERENCE_FLOOR), capped at THRESHOLD_CEILING,
# where reference = mean DTW distance between the user's enrolled signatures (their variability).
# Both constants were tuned on SVC2004 users U1-U20 only and checked on U21-U40 (docs/verification.md):
# - REFERENCE_FLOOR is added to the variability before scaling: a very consistent enroller (5 near
#   identical samples) still varies by about this much from day to day, so dividing by their tiny
#   reference alone would reject them; it is the global floor (minimum threshold = factor x floor).
#   0.25 minimised the skilled-forgery EER on U1-U20 (18.0 % -> 16.0 %).
# - ACCEPT_FACTOR sets the operating point: it rejects 10 % of genuine attempts on U1-U20.
# - THRESHOLD_CEILING keeps a sloppy enrolment from accepting any scribble: below the smallest
#   random-forgery score on U1-U20 (0.65).
REFERENCE_FLOOR = 0.25
ACCEPT_FACTOR = 0.70
THRESHOLD_CEILING = 0.60
THRESHOLD_FLOOR = ACCEPT_FACTOR * REFERENCE_FLOOR  # the threshold of a user who never varies


@dataclass(frozen=True)
class Profile:
    """Enrolled templates (each RESAMPLE_POINTS x FEATURE_DIM), their replay fingerprints (each
    REPLAY_BINS x 2) and the derived per-user threshold.

    ``reference`` is the mean pairwise DTW distance among the enrolled signatures (how much this
    user varies); ``threshold`` is the accept limit for the mean distance of an attempt to them.
    """

    templates: tuple[np.ndarray, ...]
    fingerprints: tuple[np.ndarray, ...]
    reference: float
    threshold: float
    version: int = PROFILE_VERSION

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "reference": self.reference,
            "threshold": self.threshold,
            # 6 decimals is far below any meaningful difference and keeps the JSON small.
            "templates": [np.round(t, 6).tolist() for t in self.templates],
            "fingerprints": [np.round(f, 6).tolist() for f in self.fingerprints],
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
        templates = _arrays(data.get("templates"), "templates", (RESAMPLE_POINTS, FEATURE_DIM))
        fingerprints = _arrays(data.get("fingerprints"), "fingerprints", (REPLAY_BINS, 2))
        if len(fingerprints) != len(templates):
            raise ValueError("profile: one fingerprint per template is required")
        values = []
        for key in ("reference", "threshold"):
            v = data.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"profile: {key} must be a non-negative number")
            values.append(float(v))
        return cls(templates, fingerprints, values[0], values[1])


def _arrays(raw: Any, key: str, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    if not isinstance(raw, list) or not MIN_ENROLLED <= len(raw) <= MAX_ENROLLED:
        raise ValueError(f"profile: {key} must be a list of {MIN_ENROLLED}-{MAX_ENROLLED} arrays")
    out = []
    for i, item in enumerate(raw):
        try:
            arr = np.asarray(item, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"profile: {key}[{i}] is not numeric") from None
        if arr.shape != shape or not np.isfinite(arr).all():
            raise ValueError(f"profile: {key}[{i}] has shape {arr.shape} (want {shape}) or non-finite values")
        out.append(np.ascontiguousarray(arr))
    return tuple(out)


def threshold_for(reference: float) -> float:
    """The per-user accept threshold for a given enrolment variability (mean pairwise DTW distance)."""
    return min(ACCEPT_FACTOR * (max(reference, 0.0) + REFERENCE_FLOOR), THRESHOLD_CEILING)


def normalised_score(score: float, reference: float) -> float:
    """The attempt's distance in units of this user's floored variability: comparable across users,
    and below the threshold exactly when it is at most ACCEPT_FACTOR (unless the ceiling applies)."""
    return score / (max(reference, 0.0) + REFERENCE_FLOOR)


def build_profile(enrolled: list[list[Stroke]]) -> Profile:
    """Build a profile from 2-20 enrolled signatures (each a list of strokes). Raises ValueError."""
    if not MIN_ENROLLED <= len(enrolled) <= MAX_ENROLLED:
        raise ValueError(f"need {MIN_ENROLLED}-{MAX_ENROLLED} enrolled signatures, got {len(enrolled)}")
    for i, strokes in enumerate(enrolled):
        if is_near_empty(strokes):
            raise ValueError(f"enrolled signature {i} is (nearly) empty")
    templates = tuple(signature_features(s) for s in enrolled)
    pairwise = [dtw_distance(a, b) for a, b in itertools.combinations(templates, 2)]
    reference = float(np.mean(pairwise))
    fingerprints = tuple(replay_fingerprint(s) for s in enrolled)
    return Profile(templates, fingerprints, reference, threshold_for(reference))
