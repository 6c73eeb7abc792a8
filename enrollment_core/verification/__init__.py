"""Signature verification: DTW on pen timing, or on the shape when there is none (docs/verification.md)."""

from enrollment_core.verification.features import has_timing, shape_features, timed_features
from enrollment_core.verification.profile import Profile, build_profile, threshold_for
from enrollment_core.verification.replay import attempt_fingerprint, is_replay
from enrollment_core.verification.verifier import REASONS, Decision, verify

__all__ = [
    "REASONS",
    "Decision",
    "Profile",
    "attempt_fingerprint",
    "build_profile",
    "has_timing",
    "is_replay",
    "shape_features",
    "threshold_for",
    "timed_features",
    "verify",
]
