"""kill -9 of the embedded PostgreSQL under the supervisor of ./dev start -> accepting connections again:
`./dev bench restart [--quick]`.

Runs its own embedded server in a temporary data directory (never the one of ./dev start, nor the
server of DATABASE_URL) with a table of one row, and the supervisor as ./dev start runs it
(`python -m enrollment_core supervise-db`, checking every DB_CHECK_INTERVAL_SECONDS, 0.5 s by default).
Each round waits until the supervisor has seen the server answer, kills the postmaster with SIGKILL
(the kills spread evenly over the supervisor's check cycle) and polls (every 10 ms, a connection each
time) until a new postmaster accepts connections; the row must still be there. The total is noticing
(up to one check interval) + the restart, which the supervisor logs itself ("restarted in X s", from
noticing to answering).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import psycopg

from enrollment_core import db_supervisor, embedded_postgres
from enrollment_core.config import PROJECT_ROOT, process_configuration

from .common import Results, bench_query, fmt, median, table

BOUND_SECONDS = 60.0


def _wait_for_log(log_path: Path, pattern: str, count: int) -> str:
    deadline = time.monotonic() + BOUND_SECONDS
    while len(re.findall(pattern, log := log_path.read_text(errors="replace"))) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pattern!r} x{count} not in the supervisor's log:\n{log[-3000:]}")
        time.sleep(0.02)
    return log


def run(quick: bool = False, kills: int | None = None) -> Results:
    results = Results("restart", quick)
    kills = kills or (2 if quick else 7)
    interval = process_configuration().settings.db_check_interval_seconds
    # Short: the server's Unix socket lives in the data directory.
    (PROJECT_ROOT / "var" / "tmp").mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="rs", dir=PROJECT_ROOT / "var" / "tmp"))
    data_dir, log_path = base / "data", base / "supervisor.log"
    url = embedded_postgres.ensure_running(data_dir)
    seconds: list[float] = []
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(bench_query("create_witness"))
        with db_supervisor.supervisor_process(data_dir, log_path):
            for round_number in range(kills):
                # The supervisor has seen this server answer (at its start, or after its restart).
                _wait_for_log(log_path, r"answers \(pid|restarted in", round_number + 1)
                # Kills spread over the check cycle: noticing takes from ~0 to one interval.
                time.sleep(interval * (1 + (round_number + 0.5) / kills))
                killed = embedded_postgres.crash(data_dir)
                took = db_supervisor.wait_until_answers(data_dir, BOUND_SECONDS, other_than=killed)
                with psycopg.connect(url) as conn:
                    kept = conn.execute(bench_query("read_witness")).fetchall()
                assert kept == [("written before the kills",)], kept
                seconds.append(took)
            log = _wait_for_log(log_path, r"restarted in", kills)
    finally:
        embedded_postgres.stop(data_dir)
        shutil.rmtree(base, ignore_errors=True)
    restarts = [float(s) for s in re.findall(r"restarted in ([\d.]+) s", log)]
    data = {
        "data_dir": str(data_dir),  # removed at the end
        "check_interval_s": interval,
        "kills": kills,
        "seconds": seconds,
        "median_s": median(seconds),
        "max_s": max(seconds),
        "supervisor_restart_s": restarts,
        "load_average": os.getloadavg(),
    }
    print(f"supervisor checking every {interval:g} s; {kills} kills; load average {os.getloadavg()[0]:.1f}")
    print(
        table(
            ["kill -9 -> accepting connections", "median s", "min s", "max s", "noticed -> restarted (s)"],
            [[f"{kills} kills", fmt(median(seconds), 2), fmt(min(seconds), 2), fmt(max(seconds), 2),
              ", ".join(f"{s:.1f}" for s in restarts)]],
        )
    )  # fmt: skip
    results.data.update(data)
    return results
