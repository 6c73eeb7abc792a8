"""Decide whether a sign-in attempt matches the user's enrolled signatures.

The client sends the drawing and its times, and may lie about both. Checks, in order (docs/verification.md):

1. an empty drawing is refused (``empty``);
2. an account enrolled with timing accepts only timed attempts (``untimed``: no downgrade to the weaker
   shape method), whose times must be those of a hand (``implausible_timing``: one constant speed, a
   speed or accelerations no hand reaches);
3. a copy of an enrolled drawing or of a recent attempt is refused (``replay``), exact or perturbed;
4. the comparison: for a timed account the attempt must match on its *rhythm* (its times stretched to
   the enrolled duration, so no claim about time can help), on its timing as drawn, and on its
   duration; the last two can only refuse. For an untimed account, the shape method.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from enrollment_core.strokes import Stroke, is_near_empty
from enrollment_core.verification.copies import DrawingPath, copy_limit, drawing_path, nearest
from enrollment_core.verification.features import (
    COARSE_SMOOTH_MS,
    FEATURE_WEIGHTS,
    NOISE_LIMIT,
    NOISE_RATIO,
    SMOOTH_MS,
    Resampled,
    has_timing,
    noise_energy,
    noise_level,
    pen_down_ms,
    rescale_pen_down,
    time_resample,
    timed_features,
    timing_problem,
)
from enrollment_core.verification.profile import (
    RHYTHM_FACTOR,
    RHYTHM_FACTOR_NOISY,
    Profile,
    Templates,
    build_profile,
)
from enrollment_core.verification.replay import Fingerprint, fingerprint, is_replay

# What the person signing is told (the app shows these words; the API returns them as `reason`).
REASONS = {
    "match": "matches your enrolled signature",
    "no_match": "does not match your enrolled signature",
    "replay": "a copy of a signature already received, not a new one (replay)",
    "empty": "the drawing is empty or too small to be a signature",
    "untimed": "the drawing came without its timing, which this account needs: sign again on the pad",
    "implausible_timing": "the drawing's timing is not that of a hand signing: sign again on the pad",
}
METHOD_NAMES = ("timed", "shape")
# Which check decided (Decision.check), for staff: the reason code alone does not say which of the
# comparisons refused an attempt, and the person signing is not told (it would guide a forger).
CHECKS = (
    "match",  # accepted: every check passed
    "empty",
    "untimed",  # a timed account, an attempt without times
    "constant_speed",  # times that keep one speed (made up from the distance travelled)
    "too_fast",  # times that need a speed or accelerations no hand reaches (e.g. compressed)
    "copy_enrolled",  # a copy of an enrolled drawing (exact or perturbed)
    "copy_recent",  # a copy of one of the account's recent attempts
    "rhythm",  # timed: shape and rhythm (relative to the drawing's own duration) do not match
    "timing",  # timed: the timing as drawn (absolute speed) does not match
    "duration",  # timed: pen-down time too far from the enrolled ones'
    "shape",  # untimed account: the shape does not match
)


@dataclass(frozen=True)
class Decision:
    """Outcome of one verification.

    ``method`` says what was compared: "timed" (pen timing: position, velocity, acceleration and
    jerk over time) when the account was enrolled with timing, else "shape" (x, y and pen lifts in
    drawing order). ``score`` is the deciding comparison's mean DTW distance to the enrolled
    signatures (LOWER means more similar) and ``threshold`` its limit: a comparison passes when
    ``score <= threshold``. ``normalised_score`` is the largest of every comparison's score / threshold
    (and the duration's deviation / its limit): accepted exactly when it is at most 1 and no earlier
    check refused. ``check`` names the check that decided (CHECKS).
    """

    accepted: bool
    score: float
    threshold: float
    reason: str
    reason_code: str  # one of REASONS
    normalised_score: float
    method: str  # one of METHOD_NAMES
    check: str = "match"  # one of CHECKS


def choose_method(profile: Profile, attempt_strokes: list[Stroke]) -> str:
    """"timed" for an account enrolled with timing (the attempt must then have it), else "shape"."""
    return "timed" if profile.timed is not None else "shape"


def _refuse(code: str, check: str, method: str, threshold: float, score: float = math.inf) -> Decision:
    normalised = 0.0 if code == "replay" else math.inf
    return Decision(False, score, threshold, REASONS[code], code, normalised, method, check)


def verify(profile_or_enrolled: Profile | list[list[Stroke]], attempt_strokes: list[Stroke],
           previous: Iterable[bytes | Fingerprint] = (),
           previous_paths: Iterable[bytes | DrawingPath] = (),
           attempt_path: DrawingPath | None = None) -> Decision:
    """Verify an attempt against a Profile (or against enrolled signatures, building the profile).

    `previous` holds fingerprints (replay.attempt_fingerprint) and `previous_paths` reduced paths
    (copies.drawing_path, as bytes or decoded) of the account's recent sign-in attempts: an attempt
    that repeats one of them or an enrolled sample, exactly or as a perturbed copy, is a replay.
    Stored values that do not decode are ValueError (as is_replay). `attempt_path`: the attempt's
    copies.drawing_path when the caller has it already (to store it).
    """
    profile = (profile_or_enrolled if isinstance(profile_or_enrolled, Profile)
               else build_profile(profile_or_enrolled))
    method = choose_method(profile, attempt_strokes)
    templates = profile.for_method(method)
    if is_near_empty(attempt_strokes):
        return _refuse("empty", "empty", method, templates.threshold)
    resampled = None
    if method == "timed":
        if not has_timing(attempt_strokes):
            return _refuse("untimed", "untimed", method, templates.threshold)
        resampled = time_resample(attempt_strokes)  # shared by the timing checks and the comparison
        problem = timing_problem(attempt_strokes, resampled)
        if problem is not None:
            return _refuse("implausible_timing", problem.replace(" ", "_"), method, templates.threshold)
    previous = list(previous)
    exact = fingerprint(attempt_strokes, resampled)
    if is_replay(exact, profile.decoded_fingerprints):
        return _refuse("replay", "copy_enrolled", method, templates.threshold, 0.0)
    if previous and is_replay(exact, previous):
        return _refuse("replay", "copy_recent", method, templates.threshold, 0.0)
    copy = _copy_of(profile, attempt_path or drawing_path(attempt_strokes), previous_paths, method)
    if copy is not None:
        return _refuse("replay", copy, method, templates.threshold, 0.0)
    if resampled is None:
        return _shape_decision(templates, attempt_strokes)
    return _timed_decision(profile, attempt_strokes, resampled)


def _copy_of(profile: Profile, path: DrawingPath, previous_paths: Iterable[bytes | DrawingPath],
             method: str) -> str | None:
    """"copy_enrolled" / "copy_recent" when the attempt is a (perturbed) copy of one, else None."""
    limit = copy_limit(profile.closest, timed=method == "timed")
    if nearest(path, profile.paths, below=limit) < limit:
        return "copy_enrolled"
    recent = [p if isinstance(p, DrawingPath) else DrawingPath.from_bytes(p) for p in previous_paths]
    if nearest(path, recent, below=limit) < limit:
        return "copy_recent"
    return None


def _shape_decision(templates: Templates, attempt: list[Stroke]) -> Decision:
    score = templates.score(templates.method.features(attempt))
    accepted = score <= templates.threshold
    code = "match" if accepted else "no_match"
    return Decision(accepted, score, templates.threshold, REASONS[code], code,
                    score / templates.threshold, "shape", "match" if accepted else "shape")


def _timed_decision(profile: Profile, attempt: list[Stroke], resampled: Resampled) -> Decision:
    """Three comparisons; all must pass. The rhythm one decides what a lying client can reach: its
    attempt is first stretched to the enrolled median pen-down time, so any claim about time gives
    the same result. The timing as drawn and the duration only ever add a reason to refuse (an
    honest forger is usually slower)."""
    noise = noise_level(attempt, resampled)
    noisy = max(noise, profile.noise) > NOISE_LIMIT or noise > NOISE_RATIO * profile.noise
    templates = profile.timed_coarse if noisy else profile.timed
    if templates is None:
        raise ValueError("profile: a timed profile needs both smoothings")
    # The templates' own smoothing and feature weights (profile.TIMED, TIMED_COARSE).
    smooth_ms, weights = (COARSE_SMOOTH_MS, None) if noisy else (SMOOTH_MS, FEATURE_WEIGHTS)
    rhythm_threshold = templates.threshold_at(RHYTHM_FACTOR_NOISY if noisy else RHYTHM_FACTOR)
    stretched = rescale_pen_down(attempt, profile.reference_ms)
    # Noisy drawings: the distance discounts the white noise the attempt shares with each template
    # (profile.Method.distance), estimated on the attempt as drawn for both comparisons.
    energy = noise_energy(attempt, COARSE_SMOOTH_MS, resampled, noise) if noisy else 0.0
    rhythm = templates.score(timed_features(stretched, smooth_ms, weights=weights), energy)
    timing = templates.score(timed_features(attempt, smooth_ms, resampled, weights), energy)
    duration = profile.duration_deviation(pen_down_ms(attempt))
    # (check, score, threshold, score / threshold): the largest ratio decides.
    ratios = [
        ("rhythm", rhythm, rhythm_threshold, rhythm / rhythm_threshold),
        ("timing", timing, templates.threshold, timing / templates.threshold),
        ("duration", timing, templates.threshold, duration),
    ]
    check, score, threshold, normalised = max(ratios, key=lambda r: r[3])
    accepted = normalised <= 1.0
    code = "match" if accepted else "no_match"
    return Decision(accepted, score, threshold, REASONS[code], code, normalised, "timed",
                    "match" if accepted else check)
