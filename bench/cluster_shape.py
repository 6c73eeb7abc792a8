"""`./dev bench cluster`: what HAProxy and PgBouncer cost, and the figures of the capacity model
(docs/scaling.md), measured in one run on the cluster's PostgreSQL (./dev cluster; started if needed).

Two API servers, each one worker process (one core's worth), as `./dev start` runs them, on one
scratch database of the cluster's primary (which streams to the hot standby all along):

- direct:  wrk -> API :8750 -> PostgreSQL primary
- proxied: wrk -> HAProxy :8752 (deploy/haproxy.cfg.in) -> API :8751 -> PgBouncer (transaction
           pooling, DB_TRANSACTION_POOLING=1) -> PostgreSQL primary

Same bodies as `./dev bench http` (26 kB PNG saves, phones enrolling one after another, each wrk
connection a phone with its own address), the kinds alternating within each round (ABBA), rounds
repeated: on a shared machine only figures of the same run compare. The bench's HAProxy is the deploy
configuration with one change: it keeps the client's X-Forwarded-For (wrk gives each connection its own
address, as phones have), where the deployed one replaces it.

Per save it also reads: CPU of the API process, of PostgreSQL's processes, of HAProxy and PgBouncer;
WAL bytes (pg_current_wal_lsn) and WAL fsyncs (pg_stat_io), the inputs of PostgreSQL's ceiling here.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import psycopg
from psycopg import sql

from deploy import cluster
from enrollment_core import migrations

from .common import Results, bench_query, fmt, median, process_cpu_seconds, table
from .http_save import (
    BENCH_LIMITS_ENV,
    DatabaseCpu,
    body_tails,
    descendants,
    load_average,
    run_wrk,
    write_bodies,
)

DIRECT_PORT, PROXIED_PORT, HAPROXY_PORT = 8750, 8751, 8752
KINDS = ("direct", "proxied")


@dataclass
class Cell:
    kind: str
    clients: int
    ops: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    api_cpu: float
    db_cpu: float
    proxy_cpu: float  # HAProxy + PgBouncer (proxied only)
    wal_bytes: int
    wal_fsyncs: int
    refused: int
    first_refusal: str

    @property
    def rate(self) -> float:
        return self.ops / self.elapsed if self.elapsed else math.nan


# ---------------------------------------------------------------- the scratch database


@contextmanager
def scratch_database() -> Iterator[str]:
    """A migrated database on the cluster's primary, owned by the product's role; dropped afterwards."""
    name = f"bench_cluster_{os.getpid()}"
    with psycopg.connect(cluster.superuser_url(), autocommit=True) as admin:
        create = sql.SQL(bench_query("create_database_owned_by"))
        admin.execute(create.format(name=sql.Identifier(name), owner=sql.Identifier(cluster.APP_USER)))
    try:
        migrations.migrate(direct_url(name))
        yield name
    finally:
        with psycopg.connect(cluster.superuser_url(), autocommit=True) as admin:
            admin.execute(sql.SQL(bench_query("drop_database")).format(name=sql.Identifier(name)))


def direct_url(name: str) -> str:
    return cluster.primary_url().replace(f"/{cluster.DATABASE}?", f"/{name}?")


def pooled_url(name: str) -> str:
    return cluster.pooled_url().rsplit("/", 1)[0] + f"/{name}"


# ---------------------------------------------------------------- the processes


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path, ready_url: str) -> Iterator[int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=cluster.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not _answers(ready_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def api(port: int, database_url: str, pooled: bool, name: str, logs: Path) -> AbstractContextManager[int]:
    env = {**os.environ, **BENCH_LIMITS_ENV, "DATABASE_URL": database_url, "API_WORKERS": "1",
           "API_PORT": str(port), "API_HOST": "127.0.0.1", "FORWARDED_ALLOW_IPS": "127.0.0.1",
           "CLEANUP_INTERVAL_SECONDS": "86400"}  # fmt: skip
    if pooled:
        env.update(DB_TRANSACTION_POOLING="1", DATABASE_SESSION_URL=direct_url(name))
    else:
        for key in ("DB_TRANSACTION_POOLING", "DATABASE_SESSION_URL"):
            env.pop(key, None)
    return process([sys.executable, "-m", "api.serve"], env, logs / f"api-{port}.log",
                   f"http://127.0.0.1:{port}/readyz")  # fmt: skip


def haproxy_config(directory: Path) -> Path:
    """deploy/haproxy.cfg.in in front of the proxied API alone, on the bench's ports, keeping the
    client's X-Forwarded-For (see the module's docstring)."""
    template = (cluster.HERE / "haproxy.cfg.in").read_text()
    template = "\n".join(line for line in template.splitlines()
                         if line.strip() != "http-request del-header X-Forwarded-For") + "\n"  # fmt: skip
    cfg = directory / "haproxy.cfg"
    cfg.write_text(Template(template).substitute(
        HAPROXY_SOCKET=directory / "haproxy.sock", REQUEST_TIMEOUT="15000ms",
        API_FRONT_PORT=HAPROXY_PORT, APP_FRONT_PORT=HAPROXY_PORT + 1, DASHBOARD_FRONT_PORT=HAPROXY_PORT + 2,
        STATS_PORT=HAPROXY_PORT + 3, API_SERVERS=f"    server api1 127.0.0.1:{PROXIED_PORT} check",
        APP_SERVERS="", DASHBOARD_SERVERS="",
    ).replace("log stdout format raw local0 info", "# no request log in the benchmark"))  # fmt: skip
    return cfg


# ---------------------------------------------------------------- measuring


class Wal:
    """WAL written (bytes, from the insert position) and WAL fsyncs (pg_stat_io) of the primary."""

    def __init__(self) -> None:
        self.conn = psycopg.connect(cluster.superuser_url(), autocommit=True)

    def read(self) -> tuple[int, int]:
        bytes_, fsyncs, _ = self.totals()
        return bytes_, fsyncs

    def totals(self) -> tuple[int, int, float]:
        """WAL bytes written so far, WAL fsyncs and their milliseconds (as far as the processes have
        reported them: a busy backend reports at most once a second, an idle one within 10 s)."""
        row = self.conn.execute(bench_query("wal_totals")).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), float(row[2])


def cell(kind: str, base: str, api_pid: int, proxy_pids: list[int], meter: DatabaseCpu, wal: Wal,
         clients: int, seconds: float, bodies: Path, persons: int, steps: int) -> Cell:  # fmt: skip
    api_pids = descendants(api_pid)
    api0, proxy0, db0, (wal0, sync0) = (process_cpu_seconds(api_pids), process_cpu_seconds(proxy_pids),
                                        meter.read(), wal.read())  # fmt: skip
    figures = run_wrk(base, clients, seconds, bodies, persons, steps)
    api1, proxy1, db1, (wal1, sync1) = (process_cpu_seconds(api_pids), process_cpu_seconds(proxy_pids),
                                        meter.read(), wal.read())  # fmt: skip
    latency = figures["latency_us"]
    return Cell(
        kind, clients, figures["requests"], figures["duration_us"] / 1e6, latency["50"] / 1000,
        latency["99"] / 1000, figures["max_us"] / 1000, api1 - api0, meter.used(db0, db1), proxy1 - proxy0,
        wal1 - wal0, sync1 - sync0, figures["refused"] + figures["socket_errors"] + figures["timeouts"],
        figures["first_refusal"],
    )  # fmt: skip


def summarize(cells: list[Cell]) -> list[dict[str, Any]]:
    rows = []
    for clients in sorted({c.clients for c in cells}):
        by_kind = {k: [c for c in cells if c.clients == clients and c.kind == k] for k in KINDS}
        direct, proxied = by_kind["direct"], by_kind["proxied"]
        ratios = [p.rate / d.rate for d, p in zip(direct, proxied)]
        p99_added = [p.p99_ms - d.p99_ms for d, p in zip(direct, proxied)]
        row: dict[str, Any] = {"clients": clients, "ratio": median(ratios), "ratios": ratios,
                     "p99_added_ms": median(p99_added)}  # fmt: skip
        for kind, group in by_kind.items():
            ops = sum(c.ops for c in group)
            row[kind] = {
                "rate": median([c.rate for c in group]),
                "p50_ms": median([c.p50_ms for c in group]),
                "p99_ms": median([c.p99_ms for c in group]),
                "max_ms": max(c.max_ms for c in group),
                "api_cpu_ms_per_save": 1000 * sum(c.api_cpu for c in group) / ops,
                "db_cpu_ms_per_save": 1000 * sum(c.db_cpu for c in group) / ops,
                "proxy_cpu_ms_per_save": 1000 * sum(c.proxy_cpu for c in group) / ops,
                "wal_bytes_per_save": sum(c.wal_bytes for c in group) / ops,
                "wal_fsyncs_per_save": sum(c.wal_fsyncs for c in group) / ops,
                "refused": sum(c.refused for c in group),
            }
        rows.append(row)
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        for kind in KINDS:
            k = row[kind]
            lines.append([row["clients"], kind, fmt(k["rate"], 0), fmt(k["p50_ms"]), fmt(k["p99_ms"]),
                          fmt(k["api_cpu_ms_per_save"], 2), fmt(k["db_cpu_ms_per_save"], 2),
                          fmt(k["proxy_cpu_ms_per_save"], 2), fmt(k["wal_bytes_per_save"] / 1000, 1),
                          fmt(k["wal_fsyncs_per_save"], 2), k["refused"]])  # fmt: skip
        lines.append(["", "proxied/direct", f"{row['ratio']:.0%}", "", f"{row['p99_added_ms']:+.1f}",
                      "", "", "", "", "", ""])  # fmt: skip
    return table(["clients", "path", "saves/s", "p50 ms", "p99 ms", "API CPU ms", "PG CPU ms",
                  "HAProxy+PgB CPU ms", "WAL kB", "WAL fsyncs", "refused"], lines)  # fmt: skip


def run(*, quick: bool, rounds: int | None = None, seconds: float | None = None,
        clients: list[int] | None = None) -> Results:  # fmt: skip
    clients_list = clients or ([4] if quick else [1, 4, 16])
    rounds = rounds or (1 if quick else 3)
    seconds = seconds or (1.0 if quick else 5.0)
    tails = body_tails(2 if quick else 4)
    persons, steps = len(tails), len(tails[0])
    results = Results("cluster", quick)
    load_before = load_average()
    print(f"cluster benchmark: direct vs HAProxy + PgBouncer, 1 API worker each, clients "
          f"{clients_list} x {rounds} rounds x {seconds:g} s; {os.cpu_count()} CPUs, load average "
          f"{load_before} (1, 5, 15 min)")  # fmt: skip
    cells: list[Cell] = []
    with cluster.running_cluster(), scratch_database() as name, \
            tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:  # fmt: skip
        work = Path(scratch)
        write_bodies(tails, work)
        cfg = haproxy_config(work)
        with api(DIRECT_PORT, direct_url(name), False, name, work) as direct_pid, \
                api(PROXIED_PORT, pooled_url(name), True, name, work) as proxied_pid, \
                process([cluster.tool("haproxy"), "-f", str(cfg)], dict(os.environ), work / "haproxy.log",
                        f"http://127.0.0.1:{HAPROXY_PORT}/readyz") as haproxy_pid:  # fmt: skip
            pgbouncer_pid = cluster.pid_of("pgbouncer")
            proxy_pids = [haproxy_pid, *([pgbouncer_pid] if pgbouncer_pid else [])]
            meter, wal = DatabaseCpu(direct_url(name)), Wal()
            bases = {"direct": f"http://127.0.0.1:{DIRECT_PORT}", "proxied": f"http://127.0.0.1:{HAPROXY_PORT}"}
            pids = {"direct": direct_pid, "proxied": proxied_pid}
            for kind in KINDS:  # warm-up: connections, pools, caches, plans
                run_wrk(bases[kind], max(clients_list), min(seconds, 2.0), work, persons, steps)
            whole0 = wal.totals()
            for r in range(rounds):
                for i, c in enumerate(clients_list):
                    kinds = KINDS if (r + i) % 2 == 0 else KINDS[::-1]
                    for kind in kinds:
                        got = cell(kind, bases[kind], pids[kind], proxy_pids if kind == "proxied" else [],
                                   meter, wal, c, seconds, work, persons, steps)  # fmt: skip
                        print(f"  round {r + 1}, {c} clients, {kind}: {got.rate:.0f} saves/s, "
                              f"p99 {got.p99_ms:.1f} ms")  # fmt: skip
                        cells.append(got)
            time.sleep(11)  # every process has reported its WAL fsyncs (idle ones within 10 s)
            whole1 = wal.totals()
            meter.close()
            wal.conn.close()
    rows = summarize(cells)
    load_after = load_average()
    print(report(rows))
    saves = sum(c.ops for c in cells)
    fsyncs = whole1[1] - whole0[1]
    whole = {
        "saves": saves,
        "seconds": sum(c.elapsed for c in cells),
        "wal_bytes_per_save": (whole1[0] - whole0[0]) / saves,
        "wal_fsyncs_per_save": fsyncs / saves,
        "fsync_ms": (whole1[2] - whole0[2]) / fsyncs if fsyncs else math.nan,
    }
    print(f"whole run: {saves:,} saves in {whole['seconds']:.0f} s, "
          f"{whole['wal_bytes_per_save'] / 1000:.1f} kB of WAL and "
          f"{whole['wal_fsyncs_per_save']:.2f} WAL fsyncs per save, {whole['fsync_ms']:.2f} ms per fsync")
    print(f"load average before {load_before}, after {load_after} (1, 5, 15 min)")
    results.data.update(rows=rows, cells=[dataclasses.asdict(c) for c in cells], rounds=rounds,
                        seconds=seconds, load_average_before=load_before, load_average_after=load_after,
                        pool_size=cluster.POOL_SIZE, whole_run=whole)  # fmt: skip
    return results

