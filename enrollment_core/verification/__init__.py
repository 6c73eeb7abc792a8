"""Signature verification: DTW on normalised, resampled pen trajectories (see docs/verification.md)."""

from enrollment_core.verification.features import signature_features
from enrollment_core.verification.profile import Profile, build_profile, threshold_for
from enrollment_core.verification.verifier import REASONS, Decision, verify

__all__ = ["REASONS", "Decision", "Profile", "build_profile", "signature_features", "threshold_for", "verify"]
