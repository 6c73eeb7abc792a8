"""Verifier behaviour on real SVC2004 signatures (x, y, pen-down only), replay and profile handling."""

import json

import numpy as np
import pytest

from enrollment_core.verification import Profile, build_profile, svc2004, threshold_for, verify
from enrollment_core.verification.profile import THRESHOLD_CEILING, THRESHOLD_FLOOR

DATASET = svc2004.DEFAULT_DATASET
needs_dataset = pytest.mark.skipif(
    not (DATASET / "training").is_dir(),
    reason=f"SVC2004 Task 1 not found at {DATASET} (shared dataset, ../shared relative to the project root)",
)
# Every 5th user: a fixed spread over the set, not picked by how well they verify.
USERS = (1, 6, 11, 16, 21, 26, 31, 36)
ENROL = (1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def signatures() -> dict[int, dict[int, list[np.ndarray]]]:
    return {u: svc2004.load_user(DATASET, u) for u in USERS}


@pytest.fixture(scope="module")
def profiles(signatures: dict) -> dict[int, Profile]:
    return {u: build_profile([signatures[u][s] for s in ENROL]) for u in USERS}


@needs_dataset
def test_own_genuine_signatures_are_mostly_accepted(signatures: dict, profiles: dict) -> None:
    decisions = [verify(profiles[u], signatures[u][s]) for u in USERS for s in range(11, 21)]
    rate = np.mean([d.accepted for d in decisions])
    assert rate >= 0.80, f"only {rate:.0%} of held-out genuine signatures accepted"
    accepted = next(d for d in decisions if d.accepted)
    assert accepted.reason_code == "match" and accepted.score <= accepted.threshold


@needs_dataset
def test_other_users_signatures_are_rejected(signatures: dict, profiles: dict) -> None:
    decisions = [verify(profiles[u], signatures[v][s]) for u in USERS for v in USERS if v != u
                 for s in (12, 17)]
    rate = np.mean([not d.accepted for d in decisions])
    assert rate >= 0.90, f"only {rate:.0%} of random forgeries rejected"
    rejected = next(d for d in decisions if not d.accepted)
    assert rejected.reason_code == "no_match" and rejected.score > rejected.threshold


@needs_dataset
def test_skilled_forgeries_are_rejected_more_often_than_genuine(signatures: dict, profiles: dict) -> None:
    # Shape-only verification cannot stop most skilled forgers (docs/verification.md); it must
    # still separate them clearly from the genuine attempts.
    def rejected(samples: range) -> float:
        decisions = [verify(profiles[u], signatures[u][s]) for u in USERS for s in samples]
        return float(np.mean([not d.accepted for d in decisions]))

    skilled, genuine = rejected(range(21, 41)), rejected(range(11, 21))
    assert skilled >= 0.5 and skilled > genuine + 0.4


@needs_dataset
def test_replay_of_a_stored_sample_is_rejected(signatures: dict, profiles: dict) -> None:
    rng = np.random.default_rng(7)
    for u in USERS:
        stored = signatures[u][3]
        exact = verify(profiles[u], [s.copy() for s in stored])
        assert (exact.accepted, exact.reason_code) == (False, "replay")
        size = np.ptp(np.concatenate(stored)[:, :2], axis=0).max()
        jittered = [s + np.column_stack([rng.uniform(-0.005, 0.005, (len(s), 2)) * size, np.zeros(len(s))])
                    for s in stored]
        decision = verify(profiles[u], jittered)
        assert decision.reason_code == "replay" and not decision.accepted
        assert "replay" in decision.reason


@needs_dataset
def test_no_held_out_genuine_signature_is_taken_for_a_replay(signatures: dict, profiles: dict) -> None:
    codes = {verify(profiles[u], signatures[u][s]).reason_code for u in USERS for s in range(6, 21)}
    assert "replay" not in codes


@needs_dataset
def test_threshold_follows_enrolled_variability(signatures: dict, profiles: dict) -> None:
    refs = {u: p.reference for u, p in profiles.items()}
    steady, loose = min(refs, key=refs.get), max(refs, key=refs.get)
    assert profiles[steady].threshold < profiles[loose].threshold
    # Enrolling with a very different (forged) sample increases variability and so the threshold.
    mixed = build_profile([signatures[steady][s] for s in (1, 2, 3, 4)] + [signatures[steady][25]])
    assert mixed.reference > profiles[steady].reference
    assert mixed.threshold >= profiles[steady].threshold


def test_threshold_rule_has_floor_and_ceiling() -> None:
    assert threshold_for(0.0) == THRESHOLD_FLOOR
    assert threshold_for(100.0) == THRESHOLD_CEILING
    assert threshold_for(0.3) < threshold_for(0.4)


@needs_dataset
def test_profile_json_round_trip(signatures: dict, profiles: dict) -> None:
    profile = profiles[USERS[0]]
    text = profile.to_json()
    restored = Profile.from_json(text)
    assert restored.reference == pytest.approx(profile.reference)
    assert restored.threshold == pytest.approx(profile.threshold)
    attempt = signatures[USERS[0]][14]
    assert verify(restored, attempt).score == pytest.approx(verify(profile, attempt).score, abs=1e-4)
    assert json.loads(text)["version"] == profile.version


def test_profile_from_bad_json_raises_value_error() -> None:
    bad_templates = '{"version": 1, "templates": [[1, 2]], "fingerprints": []}'
    for bad in ("nope", "[]", '{"version": 999}', bad_templates):
        with pytest.raises(ValueError):
            Profile.from_json(bad)


@needs_dataset
def test_verify_accepts_enrolled_strokes_directly_and_refuses_blank(signatures: dict) -> None:
    enrolled = [signatures[USERS[0]][s] for s in ENROL]
    decision = verify(enrolled, signatures[USERS[0]][15])
    assert decision.threshold == build_profile(enrolled).threshold
    blank = verify(enrolled, [])
    assert (blank.accepted, blank.reason_code) == (False, "empty")


def test_build_profile_needs_two_real_samples() -> None:
    line = [np.array([[x, x * 0.5, np.nan] for x in range(0, 200, 5)], dtype=float)]
    with pytest.raises(ValueError):
        build_profile([line])
    with pytest.raises(ValueError):
        build_profile([line, []])


@needs_dataset
def test_rule_and_normalised_score_agree(signatures: dict, profiles: dict) -> None:
    # Below the ceiling, score <= threshold exactly when normalised_score <= ACCEPT_FACTOR: the EER
    # sweep and the product rule measure the same quantity.
    from enrollment_core.verification.profile import ACCEPT_FACTOR, REFERENCE_FLOOR

    for u in USERS:
        profile = profiles[u]
        assert profile.threshold == pytest.approx(
            min(ACCEPT_FACTOR * (profile.reference + REFERENCE_FLOOR), THRESHOLD_CEILING))
        for s in (12, 25):
            d = verify(profile, signatures[u][s])
            assert d.normalised_score == pytest.approx(d.score / (profile.reference + REFERENCE_FLOOR))
            if profile.threshold < THRESHOLD_CEILING:
                assert d.accepted == (d.normalised_score <= ACCEPT_FACTOR)
