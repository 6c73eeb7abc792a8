"""Measure the verifier on SVC2004 Task 1 with the competition's protocol.

Run: ``python -m enrollment_core.verification.evaluate [--dataset PATH] [--users N]``

Per user: enrol S1-S5 (genuine), test S11-S20 as genuine, S21-S40 as skilled forgeries and 10 random
forgeries (one genuine signature of each of 10 other users, fixed seed). Only x, y and pen-down are
used, as the canvas gives. Reports the EER of a global threshold swept over the per-user normalised
score (Decision.normalised_score) and FAR/FRR at the product's own decision rule (Decision.accepted),
for all 40 users (the published protocol) and for the tuning / held-out halves: the method's
constants were chosen on U1-U20 only, so U21-U40 shows how they carry over to unseen people.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enrollment_core.verification import svc2004
from enrollment_core.verification.profile import build_profile
from enrollment_core.verification.verifier import Decision, verify

ENROL_SAMPLES = (1, 2, 3, 4, 5)
GENUINE_TESTS = tuple(range(11, 21))
RANDOM_FORGERIES_PER_USER = 10
SEED = 2004
DEV_USERS = tuple(range(1, 21))  # constants are tuned on these users only
HELD_OUT_USERS = tuple(range(21, 41))  # ...and checked on these


@dataclass
class Scores:
    """Decisions of one attempt class (genuine, skilled, random) over all evaluated users."""

    normalised: list[float] = field(default_factory=list)
    accepted: list[bool] = field(default_factory=list)
    users: list[int] = field(default_factory=list)  # the claimed identity of each attempt

    def add(self, decision: Decision, user: int) -> None:
        self.normalised.append(decision.normalised_score)
        self.accepted.append(decision.accepted)
        self.users.append(user)

    def subset(self, users: tuple[int, ...]) -> Scores:
        keep = [i for i, u in enumerate(self.users) if u in users]
        return Scores([self.normalised[i] for i in keep], [self.accepted[i] for i in keep],
                      [self.users[i] for i in keep])

    def accept_rate(self) -> float:
        return float(np.mean(self.accepted)) if self.accepted else float("nan")


def equal_error_rate(genuine: list[float], impostor: list[float]) -> tuple[float, float]:
    """(EER, threshold) for scores where LOWER means genuine; accept when score <= threshold.

    Sweeps every observed score as threshold and takes the point where FAR and FRR are closest,
    reporting their mean (the usual discrete EER estimate).
    """
    gen, imp = np.sort(np.asarray(genuine)), np.sort(np.asarray(impostor))
    thresholds = np.unique(np.concatenate([gen, imp]))
    frr = 1.0 - np.searchsorted(gen, thresholds, side="right") / len(gen)
    far = np.searchsorted(imp, thresholds, side="right") / len(imp)
    i = int(np.argmin(np.abs(far - frr)))
    return float((far[i] + frr[i]) / 2), float(thresholds[i])


def run_protocol(dataset: Path, users: tuple[int, ...] = svc2004.USERS,
                 seed: int = SEED) -> dict[str, Scores]:
    """Verify every protocol attempt; random forgeries come from all 40 users whatever `users` is."""
    svc2004.check_dataset(dataset)
    rng = np.random.default_rng(seed)
    results = {"genuine": Scores(), "skilled": Scores(), "random": Scores()}
    for user in users:
        signatures = svc2004.load_user(dataset, user)
        profile = build_profile([signatures[s] for s in ENROL_SAMPLES])
        for s in GENUINE_TESTS:
            results["genuine"].add(verify(profile, signatures[s]), user)
        for s in svc2004.SKILLED_FORGERIES:
            results["skilled"].add(verify(profile, signatures[s]), user)
        others = rng.choice([u for u in svc2004.USERS if u != user], RANDOM_FORGERIES_PER_USER, replace=False)
        for other in others:
            sample = int(rng.integers(1, 21))
            results["random"].add(verify(profile, svc2004.load_signature(dataset, int(other), sample)), user)
    return results


def summarise(results: dict[str, Scores],
              users: tuple[int, ...] | None = None) -> dict[str, dict[str, float]]:
    """EER (global threshold on the normalised score) and FAR/FRR at the product rule, per forgery kind,
    over the attempts on `users`' profiles (all evaluated users by default)."""
    if users is not None:
        results = {kind: scores.subset(users) for kind, scores in results.items()}
    genuine = results["genuine"]
    frr_rule = 1.0 - genuine.accept_rate()
    summary = {}
    for kind in ("skilled", "random"):
        eer, threshold = equal_error_rate(genuine.normalised, results[kind].normalised)
        summary[kind] = {
            "eer": eer,
            "eer_threshold": threshold,
            "far_at_rule": results[kind].accept_rate(),
            "frr_at_rule": frr_rule,
            "attempts": len(results[kind].accepted),
        }
    summary["genuine"] = {"attempts": len(genuine.accepted)}
    return summary


def time_verification(dataset: Path, users: tuple[int, ...], repeats: int = 5) -> float:
    """Median wall time (ms) of one verify() against a stored 5-sample profile, parsing excluded."""
    timings = []
    for user in users:
        signatures = svc2004.load_user(dataset, user)
        profile = build_profile([signatures[s] for s in ENROL_SAMPLES])
        for s in GENUINE_TESTS + svc2004.SKILLED_FORGERIES[:10]:
            for _ in range(repeats):
                start = time.perf_counter()
                verify(profile, signatures[s])
                timings.append((time.perf_counter() - start) * 1000)
    return float(np.median(timings))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=svc2004.DEFAULT_DATASET,
                        help=f"SVC2004 Task 1 folder (default: {svc2004.DEFAULT_DATASET})")
    parser.add_argument("--users", type=int, default=len(svc2004.USERS), help="evaluate users U1..UN only")
    args = parser.parse_args(argv)
    users = tuple(range(1, max(1, min(args.users, len(svc2004.USERS))) + 1))
    try:
        svc2004.check_dataset(args.dataset)
    except svc2004.DatasetMissing as exc:
        print(f"error: {exc}. Pass --dataset PATH.", file=sys.stderr)
        return 2

    start = time.perf_counter()
    results = run_protocol(args.dataset, users)
    elapsed = time.perf_counter() - start
    print(f"SVC2004 Task 1, {len(users)} users, enrol S1-S5, x/y/pen-down only (seed {SEED})")
    splits = [(f"all {len(users)} users", users)]
    if set(users) == set(svc2004.USERS):
        splits += [("tuning U1-U20", DEV_USERS), ("held-out U21-U40", HELD_OUT_USERS)]
    print(f"{'users':<18}{'forgeries':<10}{'attempts':>9}{'EER':>8}{'FAR@rule':>10}{'FRR@rule':>10}")
    for label, split in splits:
        summary = summarise(results, split)
        for kind in ("skilled", "random"):
            row = summary[kind]
            print(f"{label:<18}{kind:<10}{row['attempts']:>9}{row['eer']:>8.1%}{row['far_at_rule']:>10.1%}"
                  f"{row['frr_at_rule']:>10.1%}")
    summary = summarise(results)
    print(f"genuine attempts: {summary['genuine']['attempts']}; EER thresholds on the normalised score "
          f"(all users): skilled {summary['skilled']['eer_threshold']:.3f}, "
          f"random {summary['random']['eer_threshold']:.3f}")
    print(f"protocol run time: {elapsed:.1f} s")
    median_ms = time_verification(args.dataset, users[:5])
    print(f"verify() vs 5 enrolled: median {median_ms:.2f} ms per attempt (wall time, this machine)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
