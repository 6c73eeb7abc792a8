"""Signature verification: DTW on pen timing, or on the shape when there is none (docs/verification.md)."""

from enrollment_core.verification.copies import DrawingPath, drawing_path
from enrollment_core.verification.features import has_timing, shape_features, timed_features
from enrollment_core.verification.profile import PROFILE_VERSION, Profile, build_profile, threshold_for
from enrollment_core.verification.replay import attempt_fingerprint, is_replay
from enrollment_core.verification.verifier import CHECKS, REASONS, Decision, verify

__all__ = [
    "CHECKS",
    "PROFILE_VERSION",
    "REASONS",
    "Decision",
    "DrawingPath",
    "Profile",
    "attempt_fingerprint",
    "build_profile",
    "drawing_path",
    "has_timing",
    "is_replay",
    "shape_features",
    "threshold_for",
    "timed_features",
    "verify",
]
