"""Measure the verifier on SVC2004 Task 1 with the competition's protocol.

Run: ``python -m enrollment_core.verification.evaluate [--dataset PATH] [--users N] [--untimed]
[--rate HZ] [--sweep F,...] [--replay] [--attacks]``

Per user: enrol S1-S5 (genuine), test S11-S20 (the second session) as genuine, S21-S40 as skilled
forgeries and 10 random forgeries (one genuine signature of each of 10 other users, fixed seed).
Pen-down points only (the canvas and touch screens do not see the pen in the air); with their times
(the timed method), or without (``--untimed``: x, y and pen lifts, the shape method). ``--rate``
re-samples every signature at that rate first, as a phone (~60 Hz) would have recorded it.

Reports the EER of a global threshold swept over the per-user normalised score
(Decision.normalised_score) and FAR/FRR at the product's own decision rule (Decision.accepted), for
all 40 users (the published protocol) and for the tuning / held-out halves: the method's constants
were chosen on U1-U20 only, so U21-U40 shows how they carry over to unseen people. ``--replay``
also checks the replay limits on every pair of genuine signatures and on jittered copies.
``--attacks`` prints one row per attack of a client that lies (issue 23): forgeries sent untimed, with
an enrolled signature's times, rescaled in time; perturbed copies of enrolled drawings and of recent
attempts; genuine attempts and forgeries with finger-like position noise (see ATTACKS).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enrollment_core.strokes import Stroke
from enrollment_core.verification import copies, replay, svc2004
from enrollment_core.verification.features import (
    COARSE_SMOOTH_MS,
    GROUP_WEIGHTS,
    NOISE_DISTANCE_SHARE,
    SMOOTH_MS,
)
from enrollment_core.verification.profile import (
    DURATION_MIN_SD,
    DURATION_Z,
    METHODS,
    RHYTHM_FACTOR,
    RHYTHM_FACTOR_NOISY,
    build_profile,
)
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
    codes: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    def add(self, decision: Decision, user: int) -> None:
        self.normalised.append(decision.normalised_score)
        self.accepted.append(decision.accepted)
        self.users.append(user)
        self.codes.append(decision.reason_code)
        self.methods.append(decision.method)

    def subset(self, users: tuple[int, ...]) -> Scores:
        keep = [i for i, u in enumerate(self.users) if u in users]
        return Scores(
            [self.normalised[i] for i in keep],
            [self.accepted[i] for i in keep],
            [self.users[i] for i in keep],
            [self.codes[i] for i in keep],
            [self.methods[i] for i in keep],
        )

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


def resample_at(strokes: list[Stroke], hz: float) -> list[Stroke]:
    """Each stroke re-sampled at `hz` from its first point (times rounded to the ms, as browsers
    report them): what a device with that sampling rate would have recorded of the same movement."""
    out = []
    for s in strokes:
        t = s[:, 2]
        keep = np.concatenate([[True], np.diff(t) > 0])
        t, xy = t[keep], s[keep, :2]
        grid = np.arange(t[0], t[-1] + 1e-9, 1000.0 / hz) if len(t) > 1 else t
        x, y = np.interp(grid, t, xy[:, 0]), np.interp(grid, t, xy[:, 1])
        out.append(np.column_stack([x, y, np.round(grid)]))
    return out


@dataclass(frozen=True)
class Loader:
    """Reads signatures as the evaluation wants them (timed or not, re-sampled or not), cached."""

    dataset: Path
    timed: bool = True
    rate: float | None = None
    cache: dict[tuple[int, int], list[Stroke]] = field(default_factory=dict)

    def signature(self, user: int, sample: int) -> list[Stroke]:
        key = (user, sample)
        if key not in self.cache:
            strokes = svc2004.load_signature(self.dataset, user, sample)
            if self.rate:
                strokes = resample_at(strokes, self.rate)
            self.cache[key] = strokes if self.timed else svc2004.without_time(strokes)
        return self.cache[key]


def run_protocol(dataset: Path, users: tuple[int, ...] = svc2004.USERS, seed: int = SEED,
                 timed: bool = True, rate: float | None = None) -> dict[str, Scores]:
    """Verify every protocol attempt; random forgeries come from all 40 users whatever `users` is."""
    svc2004.check_dataset(dataset)
    load = Loader(dataset, timed, rate)
    rng = np.random.default_rng(seed)
    results = {"genuine": Scores(), "skilled": Scores(), "random": Scores()}
    for user in users:
        profile = build_profile([load.signature(user, s) for s in ENROL_SAMPLES])
        for s in GENUINE_TESTS:
            results["genuine"].add(verify(profile, load.signature(user, s)), user)
        for s in svc2004.SKILLED_FORGERIES:
            results["skilled"].add(verify(profile, load.signature(user, s)), user)
        others = rng.choice([u for u in svc2004.USERS if u != user], RANDOM_FORGERIES_PER_USER, replace=False)
        for other in others:
            sample = int(rng.integers(1, 21))
            results["random"].add(verify(profile, load.signature(int(other), sample)), user)
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


def time_verification(dataset: Path, users: tuple[int, ...], timed: bool = True, repeats: int = 5) -> float:
    """Median wall time (ms) of one verify() against a stored 5-sample profile, parsing excluded."""
    load = Loader(dataset, timed)
    timings = []
    for user in users:
        profile = build_profile([load.signature(user, s) for s in ENROL_SAMPLES])
        for s in GENUINE_TESTS + svc2004.SKILLED_FORGERIES[:10]:
            attempt = load.signature(user, s)
            for _ in range(repeats):
                start = time.perf_counter()
                verify(profile, attempt)
                timings.append((time.perf_counter() - start) * 1000)
    return float(np.median(timings))


# --- replay limits ---------------------------------------------------------------------------------


def jittered_copy(strokes: list[Stroke], rng: np.random.Generator, coord: float = 0.01, ms: float = 5.0,
                  rate: float | None = None) -> list[Stroke]:
    """A replay an attacker could send: optionally re-sampled at `rate`, every coordinate moved by up
    to +-`coord` of the drawing's size and every time by up to +-`ms` (kept in order, as the parser
    requires)."""
    size = float(np.ptp(np.concatenate(strokes)[:, :2], axis=0).max())
    timed = bool(np.isfinite(np.concatenate(strokes)[:, 2]).all())
    copy = resample_at(strokes, rate) if rate and timed else [s.copy() for s in strokes]
    for s in copy:
        s[:, :2] += rng.uniform(-coord, coord, (len(s), 2)) * size
        if timed:
            s[:, 2] = np.sort(s[:, 2] + rng.uniform(-ms, ms, len(s)))
    return copy


def replay_calibration(dataset: Path, rates: tuple[float | None, ...] = (None, 200.0, 75.0, 60.0),
                       seed: int = SEED) -> dict[str, float]:
    """The replay limits against SVC2004: the smallest replay ratio between two different genuine
    signatures of one user (timed and untimed; must stay >= 1), and the share of jittered copies
    caught (ratio < 1) per re-sampling rate. All 40 users, S1-S20."""
    rng = np.random.default_rng(seed)
    closest = {"timed": np.inf, "untimed": np.inf}
    caught: dict[str, list[bool]] = {}
    for user in svc2004.USERS:
        drawings = {s: svc2004.load_signature(dataset, user, s) for s in svc2004.GENUINE}
        prints = {s: replay.fingerprint(d) for s, d in drawings.items()}
        untimed = {s: replay.fingerprint(svc2004.without_time(d)) for s, d in drawings.items()}
        for a, b in itertools.combinations(svc2004.GENUINE, 2):
            closest["timed"] = min(closest["timed"], replay.replay_ratio(prints[a], prints[b]))
            closest["untimed"] = min(closest["untimed"], replay.replay_ratio(untimed[a], untimed[b]))
        for s, d in drawings.items():
            for rate in rates:
                copy = replay.fingerprint(jittered_copy(d, rng, rate=rate))
                caught.setdefault(f"timed copies{f' at {rate:g} Hz' if rate else ''}", []).append(
                    replay.replay_ratio(copy, prints[s]) < 1)
            copy = replay.fingerprint(jittered_copy(svc2004.without_time(d), rng))
            caught.setdefault("untimed copies", []).append(replay.replay_ratio(copy, untimed[s]) < 1)
    report = {f"closest genuine pair ({k})": v for k, v in closest.items()}
    report |= {f"{k} caught": float(np.mean(v)) for k, v in caught.items()}
    return report


# --- attacks (issue 23) ------------------------------------------------------------------------------

NOISE_PX = 1.0  # Gaussian position noise, in pixels of a signature drawn 300 px wide
COPY_KINDS = ("resampled", "jitter", "time", "dropped", "all")
# Each row: (key, label, what is measured). "accepted": share of attempts accepted (forgeries and
# copies: lower is better); "rejected": share of genuine attempts refused; "replay": share refused as
# replays.
ATTACKS = (
    ("skilled", "honest skilled forgeries (FAR at the rule)", "accepted"),
    ("genuine", "genuine rejected at the rule", "rejected"),
    ("random", "random forgeries accepted", "accepted"),
    ("untimed", "forgery sent untimed", "accepted"),
    ("enrolled_times", "forgery with an enrolled signature's times", "accepted"),
    ("mean_duration", "forgery's times rescaled to the enrolled mean duration", "accepted"),
    ("x0.8", "forgery's times x0.8", "accepted"),
    ("x0.65", "forgery's times x0.65", "accepted"),
    ("x0.5", "forgery's times x0.5", "accepted"),
    ("any4", "any of untimed, x0.8, x0.65, x0.5 (4 tries)", "accepted"),
    ("constant_speed", "forgery given times of one constant speed", "accepted"),
    *((f"copy_{k}", f"copies of enrolled drawings, {k}, timed", "accepted") for k in COPY_KINDS),
    *((f"copy_untimed_{k}", f"copies of enrolled drawings, {k}, untimed", "accepted") for k in COPY_KINDS),
    ("copy_recent", "perturbed copies of a recent attempt (stored form), all perturbations", "accepted"),
    ("genuine_replay", "genuine attempts refused as replays", "replay"),
    ("genuine_noise", f"genuine rejected with {NOISE_PX:g} px noise on attempts", "rejected"),
    ("skilled_noise_both", f"skilled FAR with {NOISE_PX:g} px noise on enrolment and attempts", "accepted"),
    ("genuine_noise_both", f"genuine rejected with {NOISE_PX:g} px noise on enrolment and attempts",
     "rejected"),
    ("skilled_noise_added", f"forgery with {NOISE_PX:g} px noise added (clean enrolment)", "accepted"),
    ("shape_copy_all", "untimed account (shape method): copies, all perturbations, untimed", "accepted"),
    ("shape_genuine", "untimed account (shape method): genuine rejected", "rejected"),
    ("shape_skilled", "untimed account (shape method): skilled forgeries accepted", "accepted"),
)


def with_noise(strokes: list[Stroke], rng: np.random.Generator, px: float = NOISE_PX) -> list[Stroke]:
    """Gaussian noise of `px` pixels on every coordinate, for the drawing scaled to 300 px wide."""
    sigma = px * float(np.ptp(np.concatenate(strokes)[:, 0])) / 300.0
    return [np.column_stack([s[:, :2] + rng.normal(0.0, sigma, (len(s), 2)), s[:, 2]]) for s in strokes]


def scale_time(strokes: list[Stroke], factor: float) -> list[Stroke]:
    """The same drawing with every time (pen lifts included) multiplied by `factor` from the start."""
    t0 = strokes[0][0, 2]
    return [np.column_stack([s[:, :2], t0 + (s[:, 2] - t0) * factor]) for s in strokes]


def total_ms(strokes: list[Stroke]) -> float:
    return float(strokes[-1][-1, 2] - strokes[0][0, 2])


def with_times_of(strokes: list[Stroke], donor: list[Stroke]) -> list[Stroke]:
    """The drawing's points given the donor's times, point k of n taking the donor's time at k / n."""
    n = sum(len(s) for s in strokes)
    donor_t = np.concatenate([s[:, 2] for s in donor])
    times = np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(donor_t)), donor_t)
    out, k = [], 0
    for s in strokes:
        out.append(np.column_stack([s[:, :2], times[k : k + len(s)]]))
        k += len(s)
    return out


def constant_speed(strokes: list[Stroke]) -> list[Stroke]:
    """The drawing given made-up times: one constant speed (its own mean pen-down speed), 100 ms pen lifts."""
    length = sum(float(np.hypot(*np.diff(s[:, :2], axis=0).T).sum()) for s in strokes)
    speed = length / max(sum(float(s[-1, 2] - s[0, 2]) for s in strokes), 1.0)
    out, clock = [], 0.0
    for s in strokes:
        t = clock + np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(s[:, :2], axis=0).T))]) / speed
        t = np.maximum(t, clock + np.arange(len(s)) * 1e-3)  # a still pen still moves the clock
        out.append(np.column_stack([s[:, :2], t]))
        clock = float(t[-1]) + 100.0
    return out


def perturbed_copy(strokes: list[Stroke], rng: np.random.Generator, kind: str,
                   timed: bool = True) -> list[Stroke]:
    """A copy an attacker could send (issue 23): "resampled" to 0.7-1.5x the points with time x0.9-1.1;
    "jitter" of 1-3 px (300 px wide); "time" x0.9-1.1; "dropped" 10 % of the points; "all" of them."""
    px = float(np.ptp(np.concatenate(strokes)[:, 0])) / 300.0
    out = [s.copy() for s in strokes]
    if kind in ("resampled", "all"):
        factor = rng.uniform(0.7, 1.5)
        resampled = []
        for s in out:
            n = max(2, round(len(s) * factor))
            position, index = np.linspace(0, len(s) - 1, n), np.arange(len(s))
            resampled.append(np.column_stack([np.interp(position, index, s[:, j]) for j in range(3)]))
        out = scale_time(resampled, rng.uniform(0.9, 1.1))
    if kind == "time":
        out = scale_time(out, rng.uniform(0.9, 1.1))
    if kind in ("dropped", "all"):
        thinned = []
        for s in out:
            keep = rng.random(len(s)) >= 0.1
            keep[0] = keep[-1] = True
            thinned.append(s[keep])
        out = thinned
    if kind in ("jitter", "all"):
        sigma = rng.uniform(1.0, 3.0) * px
        out = [np.column_stack([s[:, :2] + rng.normal(0.0, sigma, (len(s), 2)), s[:, 2]]) for s in out]
    return out if timed else svc2004.without_time(out)


def run_attacks(dataset: Path, users: tuple[int, ...] = svc2004.USERS, seed: int = SEED,
                ) -> tuple[dict[str, Scores], dict[str, list[tuple[int, bool]]]]:
    """Every attack of ATTACKS on every user: the protocol's own Scores (genuine, skilled, random: for
    the EER) and, per attack key, (user, counted) pairs where `counted` is what the row measures."""
    svc2004.check_dataset(dataset)
    rng = np.random.default_rng(seed)
    load = Loader(dataset)
    scores = {"genuine": Scores(), "skilled": Scores(), "random": Scores()}
    rows: dict[str, list[tuple[int, bool]]] = {key: [] for key, _, _ in ATTACKS}

    def add(key: str, user: int, decision: Decision) -> None:
        measure = next(m for k, _, m in ATTACKS if k == key)
        value = {"accepted": decision.accepted, "rejected": not decision.accepted,
                 "replay": decision.reason_code == "replay"}[measure]
        rows[key].append((user, value))

    for user in users:
        enrolled = [load.signature(user, s) for s in ENROL_SAMPLES]
        profile = build_profile(enrolled)
        mean_total = float(np.mean([total_ms(e) for e in enrolled]))
        stored: list[bytes] = []  # the recent attempts' paths, as the service stores them
        for s in GENUINE_TESTS:
            attempt = load.signature(user, s)
            decision = verify(profile, attempt)
            scores["genuine"].add(decision, user)
            add("genuine", user, decision)
            add("genuine_replay", user, verify(profile, attempt, previous_paths=stored))
            if stored:
                copy = perturbed_copy(load.signature(user, s - 1), rng, "all")
                add("copy_recent", user, verify(profile, copy, previous_paths=stored))
            stored.append(copies.drawing_path(attempt).to_bytes())
            add("genuine_noise", user, verify(profile, with_noise(attempt, rng)))
        for s in svc2004.SKILLED_FORGERIES:
            forgery = load.signature(user, s)
            decision = verify(profile, forgery)
            scores["skilled"].add(decision, user)
            add("skilled", user, decision)
            tries = [verify(profile, svc2004.without_time(forgery))]
            add("untimed", user, tries[0])
            add("enrolled_times", user, verify(profile, with_times_of(forgery, enrolled[s % len(enrolled)])))
            add("mean_duration", user, verify(profile, scale_time(forgery, mean_total / total_ms(forgery))))
            for factor in (0.8, 0.65, 0.5):
                tries.append(verify(profile, scale_time(forgery, factor)))
                add(f"x{factor:g}", user, tries[-1])
            rows["any4"].append((user, any(d.accepted for d in tries)))
            add("constant_speed", user, verify(profile, constant_speed(forgery)))
            add("skilled_noise_added", user, verify(profile, with_noise(forgery, rng)))
        others = rng.choice([u for u in svc2004.USERS if u != user], RANDOM_FORGERIES_PER_USER, replace=False)
        for other in others:
            decision = verify(profile, load.signature(int(other), int(rng.integers(1, 21))))
            scores["random"].add(decision, user)
            add("random", user, decision)
        for drawing in enrolled:
            for kind in COPY_KINDS:
                add(f"copy_{kind}", user, verify(profile, perturbed_copy(drawing, rng, kind)))
                untimed = perturbed_copy(drawing, rng, kind, timed=False)
                add(f"copy_untimed_{kind}", user, verify(profile, untimed))
        noisy_profile = build_profile([with_noise(e, rng) for e in enrolled])
        for s in svc2004.SKILLED_FORGERIES:
            add("skilled_noise_both", user, verify(noisy_profile, with_noise(load.signature(user, s), rng)))
        for s in GENUINE_TESTS:
            add("genuine_noise_both", user, verify(noisy_profile, with_noise(load.signature(user, s), rng)))
        shape_profile = build_profile([svc2004.without_time(e) for e in enrolled])
        for drawing in enrolled:
            untimed = perturbed_copy(drawing, rng, "all", timed=False)
            add("shape_copy_all", user, verify(shape_profile, untimed))
        for s in GENUINE_TESTS:
            add("shape_genuine", user, verify(shape_profile, svc2004.without_time(load.signature(user, s))))
        for s in svc2004.SKILLED_FORGERIES:
            add("shape_skilled", user, verify(shape_profile, svc2004.without_time(load.signature(user, s))))
    return scores, rows


def print_attacks(scores: dict[str, Scores], rows: dict[str, list[tuple[int, bool]]],
                  splits: list[tuple[str, tuple[int, ...]]]) -> None:
    """One named row per attack, a column per split (share of attempts, see ATTACKS)."""
    width = max(len(label) for _, label, _ in ATTACKS) + 2
    print(f"{'attack or figure':<{width}}" + "".join(f"{name:>18}" for name, _ in splits))
    eers = []
    for _, split in splits:
        part = {kind: s.subset(split) for kind, s in scores.items()}
        eers.append(equal_error_rate(part["genuine"].normalised, part["skilled"].normalised)[0])
    print(f"{'skilled EER (normalised score)':<{width}}" + "".join(f"{e:>18.1%}" for e in eers))
    for key, label, _ in ATTACKS:
        cells = []
        for _, split in splits:
            values = [v for u, v in rows[key] if u in split]
            cells.append(f"{np.mean(values):>12.1%} ({len(values):>3})" if values else f"{'-':>18}")
        print(f"{label:<{width}}" + "".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=svc2004.DEFAULT_DATASET,
                        help=f"SVC2004 Task 1 folder (default: {svc2004.DEFAULT_DATASET})")
    parser.add_argument("--users", type=int, default=len(svc2004.USERS), help="evaluate users U1..UN only")
    parser.add_argument("--untimed", action="store_true",
                        help="drop the times: x, y and pen lifts only (the shape method, as for the canvas)")
    parser.add_argument("--rate", type=float, help="re-sample every signature at this rate (Hz) first")
    parser.add_argument("--replay", action="store_true", help="also check the replay limits")
    parser.add_argument("--attacks", action="store_true",
                        help="also print one row per attack of a lying client (issue 23), per split")
    parser.add_argument("--sweep", type=lambda text: [float(v) for v in text.split(",")],
                        help="also print FRR / skilled FAR per split with every limit multiplied by these "
                             "factors (1 is the rule), e.g. 0.98,1.02")
    args = parser.parse_args(argv)
    users = tuple(range(1, max(1, min(args.users, len(svc2004.USERS))) + 1))
    try:
        svc2004.check_dataset(args.dataset)
    except svc2004.DatasetMissing as exc:
        print(f"error: {exc}. Pass --dataset PATH.", file=sys.stderr)
        return 2

    timed = not args.untimed
    start = time.perf_counter()
    results = run_protocol(args.dataset, users, timed=timed, rate=args.rate)
    elapsed = time.perf_counter() - start
    view = "x/y/time/pen-down" if timed else "x/y/pen-down only"
    rate = f", re-sampled at {args.rate:g} Hz" if args.rate else ""
    print(f"SVC2004 Task 1, {len(users)} users, enrol S1-S5, {view}{rate} (seed {SEED})")
    used = Counter(m for scores in results.values() for m in scores.methods)
    for name, count in sorted(used.items()):
        method = METHODS[name]
        print(f"features: {name} method ({count} attempts): {', '.join(method.feature_names)}; DTW band "
              f"{method.window:.0%}; accept score / (spread + {method.floor:g}) <= {method.accept_factor:g}")
        if name == "timed":
            print(f"  timed rule: the rhythm (attempt stretched to the enrolled median pen-down time) <= "
                  f"{RHYTHM_FACTOR:g} x (spread + {method.floor:g}), the timing as drawn <= "
                  f"{method.accept_factor:g} x (spread + {method.floor:g}), pen-down time within "
                  f"{DURATION_Z:g} standard deviations"
                  f" (at least {DURATION_MIN_SD:g} in ln) of the enrolled; feature groups (position, "
                  f"velocity, acceleration, jerk) weighted {'/'.join(f'{w:g}' for w in GROUP_WEIGHTS)}; "
                  f"noisy drawings: {COARSE_SMOOTH_MS:g} ms smoothing instead of {SMOOTH_MS:g} ms, equal "
                  f"weights, both limits {RHYTHM_FACTOR_NOISY:g} x (spread + {method.floor:g}), each "
                  f"squared distance less {NOISE_DISTANCE_SHARE:g} x the white noise both drawings share")
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
    replays = {kind: scores.codes.count("replay") for kind, scores in results.items()}
    print(f"genuine attempts: {summary['genuine']['attempts']}; EER thresholds on the normalised score "
          f"(all users): skilled {summary['skilled']['eer_threshold']:.3f}, "
          f"random {summary['random']['eer_threshold']:.3f}; taken for replays: "
          + ", ".join(f"{kind} {n}" for kind, n in replays.items()))
    print(f"protocol run time: {elapsed:.1f} s")
    median_ms = time_verification(args.dataset, users[:5], timed)
    print(f"verify() vs 5 enrolled: median {median_ms:.2f} ms per attempt (wall time, this machine; "
          f"median and p99: ./dev bench verify)")
    if args.sweep and set(users) == set(svc2004.USERS):
        print("x the rule    | FRR / FAR skilled:  " + "  |  ".join(label for label, _ in splits))
        for factor in args.sweep:
            cells = []
            for _, split in splits:
                part = {kind: scores.subset(split) for kind, scores in results.items()}
                frr = np.mean(np.asarray(part["genuine"].normalised) > factor)
                far = np.mean(np.asarray(part["skilled"].normalised) <= factor)
                cells.append(f"{frr:6.1%} / {far:6.1%}")
            print(f"{factor:13.3f} | " + "  |  ".join(cells))
    if args.attacks:
        start = time.perf_counter()
        attack_scores, attack_rows = run_attacks(args.dataset, users)
        print(f"\nattacks (share of attempts; attempts in brackets; {time.perf_counter() - start:.0f} s):")
        print_attacks(attack_scores, attack_rows, splits)
    if args.replay:
        for name, value in replay_calibration(args.dataset).items():
            shown = f"{value:.2f} x the limit" if name.startswith("closest") else f"{value:.1%}"
            print(f"replay: {name}: {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
