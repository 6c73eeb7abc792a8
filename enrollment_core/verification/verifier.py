"""Decide whether a sign-in attempt matches the user's enrolled signatures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enrollment_core.strokes import Stroke, is_near_empty
from enrollment_core.verification.distance import dtw_distance
from enrollment_core.verification.features import replay_fingerprint, signature_features
from enrollment_core.verification.profile import Profile, build_profile, normalised_score

# RMS gap between replay fingerprints (normalised units, ~ fraction of the signature's RMS radius)
# under which an attempt is a copy of a stored sample. On SVC2004 the closest pair of genuine
# signatures of the same user (40 users x 190 pairs) is at 0.040 (5th percentile of the per-user
# minimum 0.063); a copy with uniform per-point jitter of +-1 % of the drawing's size lands at
# 0.007-0.016. See docs/verification.md.
REPLAY_DISTANCE = 0.02

REASONS = {
    "match": "matches your enrolled signature",
    "no_match": "does not match your enrolled signature",
    "replay": "identical to a stored sample (replay)",
    "empty": "the drawing is empty or too small to be a signature",
}


@dataclass(frozen=True)
class Decision:
    """Outcome of one verification.

    ``score`` is the mean DTW distance from the attempt to the enrolled signatures: LOWER means
    more similar; the attempt is accepted when ``score <= threshold``. ``normalised_score`` is
    ``score / (profile.reference + REFERENCE_FLOOR)`` (comparable across users; used for the EER
    sweep; the product rule accepts when it is at most ACCEPT_FACTOR, below the ceiling).
    """

    accepted: bool
    score: float
    threshold: float
    reason: str
    reason_code: str  # one of REASONS
    normalised_score: float


def replay_distance(a: np.ndarray, b: np.ndarray) -> float:
    """RMS distance between two replay fingerprints (no warping: a copy is aligned by construction)."""
    return float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()))


def verify(profile_or_enrolled: Profile | list[list[Stroke]], attempt_strokes: list[Stroke]) -> Decision:
    """Verify an attempt against a Profile (or against enrolled signatures, building the profile)."""
    profile = (profile_or_enrolled if isinstance(profile_or_enrolled, Profile)
               else build_profile(profile_or_enrolled))
    inf = float("inf")
    if is_near_empty(attempt_strokes):
        return Decision(False, inf, profile.threshold, REASONS["empty"], "empty", inf)
    fingerprint = replay_fingerprint(attempt_strokes)
    if min(replay_distance(fingerprint, f) for f in profile.fingerprints) < REPLAY_DISTANCE:
        # Checked before matching: a replay would otherwise be the best possible match.
        return Decision(False, 0.0, profile.threshold, REASONS["replay"], "replay", 0.0)
    attempt = signature_features(attempt_strokes)
    score = float(np.mean([dtw_distance(attempt, t) for t in profile.templates]))
    normalised = normalised_score(score, profile.reference)
    accepted = score <= profile.threshold
    code = "match" if accepted else "no_match"
    return Decision(accepted, score, profile.threshold, REASONS[code], code, normalised)
