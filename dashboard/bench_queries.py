"""Time every dashboard query on a large scratch database, without and with the dashboard's indexes.

    .venv/bin/python -m dashboard.bench_queries [--sessions 100000] [--runs 7] [--keep]

Creates (or, with --reuse, re-uses) the database `dashboard_bench` on the configured server
(DATABASE_URL, else the embedded PostgreSQL), migrates it, fills it with synthetic sessions
(enrollment_core.monitoring.generate_bench_sessions: INSERT ... SELECT generate_series), VACUUM ANALYZEs,
then for each query prints the median of several runs and what its plan reads, first with the indexes of
sql/migrations/0005_dashboard_indexes.sql dropped (inside a transaction that is rolled back), then with
them. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from enrollment_core import migrations, monitoring
from enrollment_core.config import Settings
from enrollment_core.database import database_url

DASHBOARD_MIGRATION = migrations.MIGRATIONS_DIR / "0005_dashboard_indexes.sql"


def dashboard_index_names() -> list[str]:
    if not DASHBOARD_MIGRATION.exists():
        return []
    return re.findall(r"CREATE\s+INDEX\s+(?:IF NOT EXISTS\s+)?(\w+)", DASHBOARD_MIGRATION.read_text(), re.I)


def prepare(server_url: str, name: str, sessions: int, reuse: bool) -> str:
    with psycopg.connect(server_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not reuse:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        if not exists or not reuse:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            exists = None
    url = make_conninfo(server_url, dbname=name)
    migrations.migrate(url)
    if not exists:
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            n_sessions, n_steps = monitoring.generate_bench_sessions(conn, sessions)
            print(
                f"generated {n_sessions} sessions, {n_steps} steps in {time.perf_counter() - started:.1f} s"
            )
        with psycopg.connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            conn.execute("VACUUM ANALYZE")
            print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
    return url


def plan_notes(plan: dict[str, Any]) -> str:
    """What a plan reads: its scans (with heap fetches for index-only scans) and shared buffers."""
    scans: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        kind = node["Node Type"]
        if "Scan" in kind and "Relation Name" in node:
            text = f"{kind} {node['Relation Name']}"
            if "Index Name" in node:
                text += f" [{node['Index Name']}]"
            if kind == "Index Only Scan":
                text += f" heap fetches {node.get('Heap Fetches', 0)}"
            text += f" rows {node.get('Actual Rows', 0) * node.get('Actual Loops', 1):.0f}"
            scans.append(text)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    top = plan["Plan"]
    buffers = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
    return f"buffers {buffers} ({buffers * 8 // 1024} MiB); " + "; ".join(scans)


def measure(conn: psycopg.Connection, runs: int) -> dict[str, tuple[float, str]]:
    results = {}
    monitoring.refresh_snapshot(conn)  # what the dashboard's background thread keeps fresh
    for q in monitoring.dashboard_queries():  # warm-up: both variants start with the same cache
        conn.execute(q.sql, q.params).fetchall()
    for q in monitoring.dashboard_queries():
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            conn.execute(q.sql, q.params).fetchall()
            timings.append((time.perf_counter() - started) * 1000)
        explained = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + q.sql, q.params).fetchone()
        plan = explained["QUERY PLAN"][0]
        results[q.name] = (statistics.median(timings), plan_notes(plan))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7, help="runs per query; the median is reported")
    parser.add_argument("--database", default="dashboard_bench")
    parser.add_argument("--reuse", action="store_true", help="keep the data of a previous run")
    parser.add_argument("--keep", action="store_true", help="do not drop the scratch database afterwards")
    args = parser.parse_args(argv)

    server = database_url(Settings.from_env())
    url = prepare(server, args.database, args.sessions, args.reuse)
    indexes = dashboard_index_names()
    with psycopg.connect(url, row_factory=dict_row) as conn:
        with conn.transaction(force_rollback=True):
            for index in indexes:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
            before = measure(conn, args.runs)
        after = measure(conn, args.runs)
    print(f"\nmedian of {args.runs} runs; 'before' = without {', '.join(indexes) or '(no 0005 indexes)'}\n")
    for name in after:
        print(f"{name}\n  before {before[name][0]:8.1f} ms  {before[name][1]}")
        print(f"  after  {after[name][0]:8.1f} ms  {after[name][1]}")
    if not args.keep:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(args.database)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
