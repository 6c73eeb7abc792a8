"""What every benchmark needs: a scratch database, pools, percentiles, tables and saved results."""

from __future__ import annotations

import json
import math
import os
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from enrollment_core import embedded_postgres, migrations
from enrollment_core.config import PROJECT_ROOT, Settings, process_configuration
from enrollment_core.database import Pool, create_pool
from enrollment_core.queries import load_file

BENCH_SQL = Path(__file__).with_name("bench.sql")
RESULTS_DIR = PROJECT_ROOT / "var" / "bench"


def bench_query(name: str) -> str:
    """A named query of bench/bench.sql (the data generators and size probes)."""
    return load_file(BENCH_SQL)[name]


def server_url(explicit: str | None = None) -> str:
    """The server that hosts scratch databases: --server-url, else DATABASE_URL's server, else the
    embedded one (started if needed)."""
    if explicit:
        return explicit
    settings = process_configuration().settings
    if settings.database_url:
        return settings.database_url
    return embedded_postgres.ensure_running(settings.embedded_data_dir)


def _admin(url: str) -> psycopg.Connection:
    # The maintenance database: CREATE/DROP DATABASE cannot run inside the database they affect.
    return psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True)


def create_database(server: str, name: str, template: str | None = None) -> str:
    with _admin(server) as conn:
        conn.execute(sql.SQL(bench_query("drop_database")).format(name=sql.Identifier(name)))
        if template:
            clone = sql.SQL(bench_query("clone_database"))
            conn.execute(clone.format(name=sql.Identifier(name), template=sql.Identifier(template)))
        else:
            conn.execute(sql.SQL(bench_query("create_database")).format(name=sql.Identifier(name)))
    return make_conninfo(server, dbname=name)


def drop_database(server: str, name: str) -> None:
    with _admin(server) as conn:
        conn.execute(sql.SQL(bench_query("drop_database")).format(name=sql.Identifier(name)))


def scratch_name(kind: str) -> str:
    return f"bench_{kind}_{uuid.uuid4().hex[:8]}"


@contextmanager
def scratch_database(server: str, kind: str, keep: bool = False) -> Iterator[str]:
    """A new, migrated database for one benchmark, dropped afterwards (also on Ctrl-C)."""
    name = scratch_name(kind)
    url = create_database(server, name)
    try:
        migrations.migrate(url)
        yield url
    finally:
        if keep:
            print(f"kept scratch database {name}: {url}")
        else:
            drop_database(server, name)


def database_name(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


def open_pool(url: str, size: int, name: str = "bench") -> Pool:
    """The product's pool (create_pool, with its connection check), sized for `size` clients."""
    return create_pool(url, Settings(database_url=url, pool_min_size=size, pool_max_size=size), name=name)


# ---------------------------------------------------------------- figures


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of values; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def ms(seconds: float) -> float:
    return seconds * 1000.0


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def percent_per_round(ratio: float, ratios: list[float]) -> str:
    """A ratio (the rounds' median) in percent, then each round's: "98 % (97, 98, 101)"."""
    return f"{fmt(100 * ratio, 0)} % ({', '.join(fmt(100 * x, 0) for x in ratios)})"


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table (pastes straight into docs/performance.md)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


@dataclass
class Results:
    """Figures of one benchmark run, saved as JSON next to the printed tables."""

    name: str
    quick: bool
    started: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: Path = RESULTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.started))
        path = directory / f"{self.name}{'-quick' if self.quick else ''}-{stamp}.json"
        payload = {"name": self.name, "quick": self.quick, "started": self.started, "cpus": os.cpu_count()}
        path.write_text(json.dumps(payload | self.data, indent=2, default=str), encoding="utf-8")
        return path


def cpu_seconds_by_pid(pids: Sequence[int]) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each of these processes that still runs, from /proc."""
    seconds = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return seconds


def process_cpu_seconds(pids: Sequence[int]) -> float:
    """CPU seconds used so far by these processes together; NaN if none is left."""
    seconds = cpu_seconds_by_pid(pids)
    return sum(seconds.values()) if seconds else math.nan


class CpuMeter:
    """CPU seconds used by this process and by the PostgreSQL server's processes (read from /proc,
    so only when the server runs on this machine; else the server side is NaN). On a CPU-bound
    machine the CPU per operation, not the wall time, says where a difference comes from."""

    def __init__(self, url: str) -> None:
        with psycopg.connect(url) as conn:
            self.pids = [row[0] for row in conn.execute(bench_query("server_pids"))]

    def server_seconds(self) -> float:
        return process_cpu_seconds(self.pids)

    def read(self) -> tuple[float, float]:
        """(this process, server) CPU seconds so far."""
        return time.process_time(), self.server_seconds()
