"""Recovery benchmark: PostgreSQL killed (kill -9) under load, brought back after an outage, and what
the API's clients meet meanwhile and after.

`python -m api.serve` (what `./dev start` runs, 2 workers) on an embedded server of the bench's own (in a
temporary directory: killing the shared one would break everything else on it), with phones enrolling
(bench.api_server.Phones: each step retried 50 ms after a failure until it is acknowledged). For each outage
length the postmaster is killed, the server started again after the outage (as `./dev start`'s supervisor
or `enrollment migrate` would), and the bench measures:

- recovery: from "the database accepts connections" to the first 2xx answer;
- the longest any request waited during the outage, and how many got 503 / no answer;
- acknowledged steps afterwards: every one stored once, with the content that was sent.

Two variants in the same run: the product's bounded waits (the defaults), and psycopg_pool's own
(`DB_POOL_TIMEOUT_SECONDS` 30, `DB_RECONNECT_SECONDS` 300: the reconnection back-off doubles from 1 s
without a cap), the baseline.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from enrollment_core import db_supervisor, embedded_postgres, migrations

from .api_server import Phones, serve_command
from .common import Results, fmt, table
from .http_save import load_average

VARIANTS = {
    "bounded": {},
    "psycopg_pool": {"DB_POOL_TIMEOUT_SECONDS": "30", "DB_RECONNECT_SECONDS": "300"},
}
PHONES = 8
WORKERS = 2


@dataclass
class Outage:
    variant: str
    outage_seconds: float
    recovery_seconds: float  # database accepting -> first 2xx; inf: none within the wait
    longest_wait_seconds: float  # the longest request sent during the outage
    answered_503: int
    no_answer: int
    acknowledged: int
    lost: int  # acknowledged but not stored as sent
    retry_after: list[str]


def measure(data_dir: Path, url: str, variant: str, outage: float, scratch: Path) -> Outage:
    env = {"RATE_LIMIT_SAVES_PER_MINUTE": "0", "RATE_LIMIT_SESSIONS_PER_HOUR": "0",
           "RATE_LIMIT_UPLOAD_BYTES_PER_HOUR": "0", **VARIANTS[variant]}  # fmt: skip
    with serve_command(url, WORKERS, scratch / f"api-{variant}-{outage:g}.log", env=env) as (base, _):
        phones = Phones(base, PHONES).start()
        try:
            time.sleep(2)
            embedded_postgres.crash(data_dir)
            killed = time.monotonic()
            time.sleep(outage)
            embedded_postgres.ensure_running(data_dir)  # as ./dev start's supervisor would
            db_supervisor.wait_until_answers(data_dir, 60)
            back = time.monotonic()
            first_ok = phones.first_success_after(back, timeout=60)
            time.sleep(1)
        finally:
            phones.stop()
    during = [a for a in phones.answers if killed <= a.sent < back]
    return Outage(
        variant, outage, (first_ok - back) if first_ok is not None else float("inf"),
        max((a.received - a.sent for a in during), default=0.0),
        sum(a.status == 503 for a in during), sum(a.status == 0 for a in during),
        len(phones.acknowledged), len(phones.not_stored_as_sent(url)),
        sorted({a.retry_after or "" for a in during}),
    )  # fmt: skip


def report(outages: list[Outage]) -> str:
    rows = [
        [o.variant, f"{o.outage_seconds:g}", fmt(o.recovery_seconds, 2), fmt(o.longest_wait_seconds, 1),
         o.answered_503, o.no_answer, o.acknowledged, o.lost]
        for o in outages
    ]  # fmt: skip
    lines = [table(["waits", "outage s", "accepting -> first 2xx s", "longest wait s", "503", "no answer",
                    "acknowledged", "lost"], rows)]  # fmt: skip
    for seconds in sorted({o.outage_seconds for o in outages}):
        pair = {o.variant: o for o in outages if o.outage_seconds == seconds}
        if len(pair) == 2 and pair["psycopg_pool"].recovery_seconds > 0:
            ratio = pair["bounded"].recovery_seconds / pair["psycopg_pool"].recovery_seconds
            lines.append(f"{seconds:g} s outage: recovery bounded / psycopg_pool = {ratio:.2f}x")
    return "\n".join(lines)


def run(*, quick: bool) -> Results:
    outages = [1.0] if quick else [8.0, 36.0]  # the two outages
    results = Results("recovery", quick)
    load_before = load_average()
    print(
        f"recovery benchmark: {PHONES} phones, {WORKERS} API workers, outages of "
        f"{', '.join(f'{s:g}' for s in outages)} s, {len(VARIANTS)} variants; "
        f"{os.cpu_count()} CPUs, load average {load_before} (1, 5, 15 min)"
    )
    measured: list[Outage] = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-rec-"))  # short: the server's socket lives in it
    data_dir = scratch / "pg"
    try:
        url = embedded_postgres.ensure_running(data_dir)
        migrations.migrate(url)
        for outage in outages:
            for variant in VARIANTS:
                measured.append(measure(data_dir, url, variant, outage, scratch))
                print(report(measured[-1:]).splitlines()[-1])
    finally:
        embedded_postgres.stop(data_dir)
        shutil.rmtree(scratch, ignore_errors=True)
    print(report(measured))
    print(f"load average before {load_before}, after {load_average()} (1, 5, 15 min)")
    results.data.update(outages=[asdict(o) for o in measured], phones=PHONES, workers=WORKERS)
    return results
