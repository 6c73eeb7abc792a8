"""Time of one sign-in verification: `./dev bench verify [--quick]` (no database).

Target: under 20 ms per attempt against 5 enrolled signatures (issue 13). Measured per attempt,
median and p99 of wall time, for timed drawings (the timed method) and for the same drawings without
their times (the shape method, the product's previous method and this run's baseline: the timed
method's cost is also printed as a ratio to it). Also timed: building a profile from 5 signatures
(the service does that at every sign-in until profiles are stored) and the replay fingerprint.

Attempts: SVC2004 genuine signatures and skilled forgeries against their user's profile when the
shared data set is there (evaluation only), else synthetic signatures (sample_drawings) with a
60 Hz clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from enrollment_core import sample_drawings
from enrollment_core.verification import attempt_fingerprint, build_profile, svc2004, verify

from .common import Results, fmt, median, ms, percentile, table

TARGET_MS = 20.0


def _svc2004_cases(users: int) -> list[tuple[list[Any], list[Any]]]:
    """(5 enrolled, attempts) per user: S1-S5, then S11-S20 and S21-S30."""
    cases = []
    for user in svc2004.USERS[:users]:
        drawings = svc2004.load_user(svc2004.DEFAULT_DATASET, user)
        cases.append(([drawings[s] for s in range(1, 6)], [drawings[s] for s in range(11, 31)]))
    return cases


def _synthetic_cases(users: int) -> list[tuple[list[Any], list[Any]]]:
    def timed(person: str, sample: int) -> list[np.ndarray]:
        parts = sample_drawings.signature_strokes(person, sample)
        clock, out = 0.0, []
        for part in parts:
            t = clock + np.arange(len(part)) * 1000.0 / 60
            out.append(np.column_stack([np.asarray(part, dtype=float), t]))
            clock = float(t[-1]) + 150.0  # a pen lift
        return out

    people = [f"bench-person-{i}" for i in range(users)]
    return [([timed(p, s) for s in range(5)], [timed(p, s) for s in range(5, 25)]) for p in people]


def _times(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(ms(time.perf_counter() - started))
    return out


def run(quick: bool = False) -> Results:
    results = Results("verify", quick)
    users, repeats = (3, 2) if quick else (40, 3)
    have_data = (svc2004.DEFAULT_DATASET / "training").is_dir()
    cases = _svc2004_cases(users) if have_data else _synthetic_cases(users)
    source = "SVC2004 (S1-S5 enrolled; S11-S30 tried)" if have_data else "synthetic signatures, 60 Hz clock"
    print(f"attempts: {source}; {users} users, {repeats} repeats each")
    rows, data = [], {}
    for view in ("timed", "shape"):
        verify_ms, build_ms, fingerprint_ms, methods = [], [], [], set()
        for enrolled, attempts in cases:
            if view == "shape":
                enrolled = [svc2004.without_time(d) for d in enrolled]
                attempts = [svc2004.without_time(d) for d in attempts]
            build_ms += _times(lambda e=enrolled: build_profile(e), repeats)
            profile = build_profile(enrolled)
            for attempt in attempts:
                methods.add(verify(profile, attempt).method)
                verify_ms += _times(lambda a=attempt, p=profile: verify(p, a), repeats)
                fingerprint_ms += _times(lambda a=attempt: attempt_fingerprint(a), 1)
        data[view] = {
            "methods": sorted(methods),
            "attempts": len(verify_ms),
            "verify_ms": {"p50": median(verify_ms), "p99": percentile(verify_ms, 99)},
            "build_profile_ms": {"p50": median(build_ms), "p99": percentile(build_ms, 99)},
            "fingerprint_ms": {"p50": median(fingerprint_ms), "p99": percentile(fingerprint_ms, 99)},
        }
        d = data[view]
        rows.append([f"{view} ({'/'.join(d['methods'])})", d["attempts"], fmt(d["verify_ms"]["p50"], 2),
                     fmt(d["verify_ms"]["p99"], 2), fmt(d["build_profile_ms"]["p50"], 2),
                     fmt(d["fingerprint_ms"]["p50"], 2)])
    ratio = data["timed"]["verify_ms"]["p50"] / data["shape"]["verify_ms"]["p50"]
    data["timed_vs_shape_p50"] = ratio
    data["target_ms"] = TARGET_MS
    data["met"] = all(data[v]["verify_ms"]["p99"] < TARGET_MS for v in ("timed", "shape"))
    print(table(["drawings (method)", "attempts", "verify p50 ms", "verify p99 ms", "build profile p50 ms",
                 "fingerprint p50 ms"], rows))
    print(f"timed / shape (baseline, same run): {ratio:.2f}x per attempt at the median; "
          f"target p99 < {TARGET_MS:g} ms per attempt: {'met' if data['met'] else 'NOT met'}")
    results.data.update(data)
    return results
