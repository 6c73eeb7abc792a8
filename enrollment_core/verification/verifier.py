"""Decide whether a sign-in attempt matches the user's enrolled signatures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from enrollment_core.strokes import Stroke, is_near_empty
from enrollment_core.verification.features import has_timing
from enrollment_core.verification.profile import Profile, build_profile
from enrollment_core.verification.replay import Fingerprint, fingerprint, is_replay

REASONS = {
    "match": "matches your enrolled signature",
    "no_match": "does not match your enrolled signature",
    "replay": "identical to a signature already received (replay)",
    "empty": "the drawing is empty or too small to be a signature",
}
METHOD_NAMES = ("timed", "shape")


@dataclass(frozen=True)
class Decision:
    """Outcome of one verification.

    ``method`` says what was compared: "timed" (pen timing: position, velocity, acceleration and
    jerk over time) when the attempt and at least two enrolled signatures have timing, else "shape"
    (x, y and pen lifts in drawing order). ``score`` is the mean DTW distance from the attempt to the
    enrolled signatures in that method's units: LOWER means more similar; accepted when
    ``score <= threshold`` (the user's own threshold for that method). ``normalised_score`` is the
    score in units of the user's floored spread (comparable across users; the EER sweeps it).
    """

    accepted: bool
    score: float
    threshold: float
    reason: str
    reason_code: str  # one of REASONS
    normalised_score: float
    method: str  # one of METHOD_NAMES


def choose_method(profile: Profile, attempt_strokes: list[Stroke]) -> str:
    """"timed" when both sides have timing, else "shape" (what both have)."""
    return "timed" if profile.timed is not None and has_timing(attempt_strokes) else "shape"


def verify(profile_or_enrolled: Profile | list[list[Stroke]], attempt_strokes: list[Stroke],
           previous: Iterable[bytes | Fingerprint] = ()) -> Decision:
    """Verify an attempt against a Profile (or against enrolled signatures, building the profile).

    `previous` holds fingerprints (replay.attempt_fingerprint) of earlier sign-in attempts: an attempt
    that repeats one of them, or an enrolled sample, is refused as a replay before any matching.
    """
    profile = (profile_or_enrolled if isinstance(profile_or_enrolled, Profile)
               else build_profile(profile_or_enrolled))
    method = choose_method(profile, attempt_strokes)
    templates = profile.for_method(method)
    inf = float("inf")
    if is_near_empty(attempt_strokes):
        return Decision(False, inf, templates.threshold, REASONS["empty"], "empty", inf, method)
    if is_replay(fingerprint(attempt_strokes), [*profile.fingerprints, *previous]):
        # Checked before matching: a replay would otherwise be the best possible match.
        return Decision(False, 0.0, templates.threshold, REASONS["replay"], "replay", 0.0, method)
    score = templates.score(templates.method.features(attempt_strokes))
    accepted = score <= templates.threshold
    code = "match" if accepted else "no_match"
    return Decision(accepted, score, templates.threshold, REASONS[code], code,
                    templates.method.normalised(score, templates.spread), method)
