"""Cleanup benchmark: remove a backlog of expired sessions (1 M by default, ~5 steps each) while a
client keeps saving steps, and measure the total time and the longest save meanwhile.

Three ways, each on an identical clone of the same generated backlog:
- batched: the product's path (maintenance.cleanup_expired -> cleanup_expired_enrollments(batch) in a
  loop, each batch its own short transaction);
- paced: the same loop resting pause_ratio x the batch's time after each batch (CLEANUP_PAUSE_RATIO);
- one call: the seed's `SELECT cleanup_expired_enrollments()`, the whole backlog in one transaction.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Self

import psycopg

from enrollment_core import migrations
from enrollment_core.config import Settings
from enrollment_core.database import allow_long_transaction, one
from enrollment_core.maintenance import cleanup_expired
from enrollment_core.service import EnrollmentService

from . import datagen
from .common import (
    Results,
    bench_query,
    create_database,
    drop_database,
    fmt,
    human_bytes,
    ms,
    open_pool,
    percentile,
    scratch_name,
    table,
)
from .payloads import StepSample, signup_samples
from .save_step import BENCH_LIMITS, save_client

MODES = ("batched", "paced", "one_call")
PACED_PAUSE_RATIO = 1.0  # the paced mode's rest after each batch, as a multiple of its time


class _Background:
    """Runs self._run in a daemon thread for the length of a with-block; _run loops until _stop is set."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Saver(_Background):
    """A client saving realistic steps back to back in a thread; records (start, seconds) of each save."""

    def __init__(self, url: str, samples: list[list[StepSample]]) -> None:
        super().__init__("saver")
        self.pool = open_pool(url, 1, name="bench-saver")
        self.service = EnrollmentService(self.pool, Settings(database_url=url, rate_limits=BENCH_LIMITS))
        self.samples = samples
        self.saves: list[tuple[float, float]] = []
        self.errors: list[str] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            latencies: list[float] = []
            began = time.perf_counter()
            try:  # short slices, so that each save's start time can be recovered
                save_client(self.service, self.samples, began + 0.2, latencies)
            except Exception as exc:  # a failed save is a finding, not a crash of the benchmark
                self.errors.append(f"{type(exc).__name__}: {exc}")
            t = began
            for latency in latencies:
                self.saves.append((t, latency))
                t += latency

    def backend_pid(self) -> int:
        """The PostgreSQL backend serving the saver (its pool holds one connection)."""
        with self.pool.connection() as conn:
            pid: int = one(conn.execute(bench_query("backend_pid")).fetchone())["pid"]
            return pid

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.pool.close()

    def during(self, start: float, end: float) -> list[float]:
        """Latencies of the saves that overlapped [start, end]."""
        return [lat for t, lat in self.saves if t < end and t + lat > start]


class WaitSampler(_Background):
    """Samples what the saver's backend is waiting on (pg_stat_activity), every few ms, to tell lock
    waits (the cleanup holding a row the save needs) from I/O waits (the disk shared with it)."""

    def __init__(self, url: str, pid: int, every_s: float = 0.005) -> None:
        super().__init__("wait-sampler")
        self.url, self.pid, self.every_s = url, pid, every_s
        self.samples: list[tuple[float, str | None]] = []  # (time, "type:event" or None when not waiting)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                row = conn.execute(bench_query("backend_wait_event"), {"pid": self.pid}).fetchone()
                event = f"{row[0]}:{row[1]}" if row and row[0] and row[0] != "Client" else None
                self.samples.append((time.perf_counter(), event))
                time.sleep(self.every_s)

    def summary(self, start: float, end: float) -> dict[str, Any]:
        """Samples per wait event between start and end, and the longest run of lock-wait samples."""
        window = [(t, e) for t, e in self.samples if start <= t <= end]
        counts: dict[str, int] = {}
        longest_lock = run_start = 0.0
        in_lock = False
        for t, event in window:
            if event:
                counts[event] = counts.get(event, 0) + 1
            if event and event.startswith("Lock:"):
                run_start = t if not in_lock else run_start
                in_lock = True
                longest_lock = max(longest_lock, t - run_start)
            else:
                in_lock = False
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:4]
        return {
            "samples": len(window),
            "lock_wait_samples": sum(n for e, n in counts.items() if e.startswith("Lock:")),
            "longest_lock_wait_ms": 1000 * longest_lock,
            "top_waits": top,
        }


def run_mode(
    url: str, mode: str, batch_size: int, quick: bool, samples: list[list[StepSample]], pause_ratio: float
) -> dict[str, Any]:
    pool = open_pool(url, 1, name="bench-cleanup")
    try:
        with Saver(url, samples) as saver, WaitSampler(url, saver.backend_pid()) as waits:
            time.sleep(0.5 if quick else 3.0)  # baseline: the saver alone
            baseline_end = time.perf_counter()
            started = time.perf_counter()
            if mode in ("paced", "batched"):  # the product's loop, with or without its rests
                removed = cleanup_expired(pool, batch_size, pause_ratio if mode == "paced" else 0.0)
            else:
                with pool.connection() as conn:
                    allow_long_transaction(conn, pool.limits)  # as the product's batches: maintenance limits
                    removed = one(conn.execute(bench_query("cleanup_in_one_call")).fetchone())["removed"]
            finished = time.perf_counter()
            time.sleep(0.3 if quick else 1.0)
        with pool.connection() as conn:
            remaining = one(conn.execute(bench_query("expired_remaining")).fetchone())["n"]
            live = one(conn.execute(bench_query("live_sessions")).fetchone())
    finally:
        pool.close()
    during = saver.during(started, finished)
    waited = waits.summary(started, finished)
    baseline = [lat for t, lat in saver.saves if t + lat <= baseline_end]
    return {
        "removed": removed,
        "remaining_expired": remaining,
        "seconds": finished - started,
        "sessions_per_s": removed / max(finished - started, 1e-9),
        "saves_during": len(during),
        "max_save_ms": ms(max(during, default=float("nan"))),
        "p99_save_ms": ms(percentile(during, 99)),
        "p999_save_ms": ms(percentile(during, 99.9)),
        "saves_over_100ms": sum(1 for lat in during if lat > 0.1),
        "p50_save_ms": ms(percentile(during, 50)),
        "baseline_max_ms": ms(max(baseline, default=float("nan"))),
        "baseline_p99_ms": ms(percentile(baseline, 99)),
        "baseline_p50_ms": ms(percentile(baseline, 50)),
        "saver_errors": saver.errors[:5],
        "saver_waits": waited,
        "live_sessions": live["sessions"],
        "live_steps": live["steps"],
    }


def run(
    server: str,
    *,
    quick: bool,
    expired: int | None = None,
    batch_size: int = Settings.cleanup_batch_size,
    keep: bool = False,
    pause_ratio: float = PACED_PAUSE_RATIO,
    modes: tuple[str, ...] = MODES,
) -> Results:
    expired = expired or (2000 if quick else 1_000_000)
    batch_size = min(batch_size, 500) if quick else batch_size
    results = Results("cleanup", quick)
    samples = signup_samples(1 if quick else 2)
    template = scratch_name("cleanup_template")
    url = create_database(server, template)
    figures: dict[str, Any] = {}
    try:
        migrations.migrate(url)
        generated = datagen.generate(
            url, 1, expired, expired_only=True, progress=not quick, label=f"{expired:,} expired sessions"
        )
        tables = datagen.table_sizes(url)
        print(
            f"backlog: {tables['temp_enrollments']['row_count']:,} expired sessions, "
            f"{tables['temp_enrollment_steps']['row_count']:,} steps, "
            f"{human_bytes(sum(t['total_bytes'] for t in tables.values()))} ({generated:.0f} s to generate)"
        )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")  # the clones start from a clean state; not part of either run
        for mode in modes:
            name = scratch_name(f"cleanup_{mode}")
            clone = create_database(server, name, template=template)
            try:
                print(f"cleanup, {mode} ...", flush=True)
                figures[mode] = run_mode(clone, mode, batch_size, quick, samples, pause_ratio)
            finally:
                if not keep:
                    drop_database(server, name)
    finally:
        if not keep:
            drop_database(server, template)
    print(report(figures, batch_size, pause_ratio))
    results.data.update(
        expired=expired,
        batch_size=batch_size,
        pause_ratio=pause_ratio,
        tables=tables,
        generate_s=generated,
        modes=figures,
    )
    return results


def report(figures: dict[str, Any], batch_size: int, pause_ratio: float) -> str:
    label = {
        "paced": f"paced ({batch_size:,} per transaction, rest {pause_ratio:g} x batch time)",
        "batched": f"batched ({batch_size:,} per transaction, no rest)",
        "one_call": "one call (one transaction)",
    }
    return table(
        [
            "cleanup",
            "removed",
            "total s",
            "sessions/s",
            "saves meanwhile",
            "max save ms",
            "saves > 100 ms",
            "p99.9 save ms",
            "p99 save ms",
            "p50 save ms",
            "saver alone: max / p99 ms",
            "saver errors",
            "saver waiting on a lock: samples / longest ms",
            "saver's waits (samples every 5 ms)",
        ],
        [
            [
                label[m],
                f"{f['removed']:,}",
                fmt(f["seconds"], 1),
                fmt(f["sessions_per_s"], 0),
                f["saves_during"],
                fmt(f["max_save_ms"]),
                f["saves_over_100ms"],
                fmt(f["p999_save_ms"]),
                fmt(f["p99_save_ms"]),
                fmt(f["p50_save_ms"]),
                f"{fmt(f['baseline_max_ms'])} / {fmt(f['baseline_p99_ms'])}",
                len(f["saver_errors"]),
                f"{f['saver_waits']['lock_wait_samples']} / {fmt(f['saver_waits']['longest_lock_wait_ms'])}",
                ", ".join(f"{e} {n}" for e, n in f["saver_waits"]["top_waits"]) or "none",
            ]
            for m, f in figures.items()
        ],
    )
