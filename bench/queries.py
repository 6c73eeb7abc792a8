"""Monitoring and dashboard queries, and table sizes, as the data grows (10 k -> 100 k -> 1 M sessions).

Timed at each size: the seed's three monitoring queries (sql/queries.sql, verbatim);
every query the dashboard runs on a refresh, with the parameters of its default view
(bench/dashboard_workload.py); the background snapshot refresh (monitoring.refresh_snapshot, run once a
minute) and each query it runs ("snapshot." names). Each query runs in a transaction that is rolled back.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.rows import dict_row

from enrollment_core import monitoring
from enrollment_core.config import Settings
from enrollment_core.database import Connection
from enrollment_core.maintenance import CLEANUP_JOB
from enrollment_core.queries import query
from enrollment_core.service import EnrollmentService

from . import dashboard_workload, datagen, save_step
from .common import RESULTS_DIR, Results, bench_query, fmt, human_bytes, ms, open_pool, table
from .payloads import signup_samples

MONITORING = ("active_sessions", "expired_pending_cleanup", "avg_steps_per_flow")  # the seed's three


def _monitoring_queries() -> list[tuple[str, str]]:
    """The seed's three monitoring queries, verbatim (each asked for by its literal name, which the
    used-query test sees)."""
    sqls = [query("active_sessions"), query("expired_pending_cleanup"), query("avg_steps_per_flow")]
    return list(zip(MONITORING, sqls, strict=True))


TARGET_MS = 50.0
_PARAM = re.compile(r"%\((\w+)\)s")


def timed_queries() -> list[tuple[str, str, dict[str, Any] | None, bool]]:
    """(name, sql, explicit parameters or None to guess, is a background query) of every timed query."""
    seed: list[tuple[str, str, dict[str, Any] | None, bool]]
    seed = [(name, sql, None, False) for name, sql in _monitoring_queries()]
    dashboard: list[tuple[str, str, dict[str, Any] | None, bool]] = [
        (f"dashboard.{q.name}", q.sql, q.params or {}, False) for q in dashboard_workload.dashboard_queries()
    ]
    snapshot: list[tuple[str, str, dict[str, Any] | None, bool]] = [
        (f"snapshot.{q.name}", q.sql, q.params or {}, True) for q in dashboard_workload.snapshot_queries()
    ]
    return seed + dashboard + snapshot


_RULES: list[tuple[str, Any]] = [  # (regex on the parameter name, value), first match wins
    (r"session_?id", "sample:session_id"),
    (r"job", CLEANUP_JOB),
    (r"user_?name|login", "sample:username"),
    (r"_seconds$|^seconds$|^ttl", 3600),
    (r"hours", 24),
    (r"minutes", 60),
    (r"days", 7),
    (r"^max_|limit|page_size|^top$|^rows$", 50),
    (r"offset", 0),
    (r"^page$", 1),
    (r"order|sort", "newest"),
    (r"flow", "signup"),
    (r"status", "in_progress"),
    (r"search|pattern|term|prefix|like|filter", "%user_1%"),
    (r"after|since|from|start|begin", "now-24h"),
    (r"before|until|end$|^to$|^now$", "now"),
    (r"(^|_)id$", "sample:id"),
]


def guess_parameter(name: str, sample: dict[str, Any]) -> Any:
    """A plausible value for a query parameter, from its name; None when there is no good guess."""
    now = datetime.now(UTC)
    for pattern, value in _RULES:
        if re.search(pattern, name.lower()):
            if value == "now":
                return now
            if value == "now-24h":
                return now - timedelta(hours=24)
            if isinstance(value, str) and value.startswith("sample:"):
                return sample[value.removeprefix("sample:")]
            return value
    return None


def is_read_only(sql: str) -> bool:
    """A SELECT (or WITH ... SELECT) that writes nothing: what a dashboard runs."""
    body = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return re.search(r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE)\b", body, re.IGNORECASE) is None


def parameters_for(sql: str, sample: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    names = sorted(set(_PARAM.findall(sql)))
    params = {n: guess_parameter(n, sample) for n in names}
    missing = [n for n, v in params.items() if v is None]
    if missing:
        return None, f"no value for parameter(s) {', '.join(missing)}"
    return params, None


def time_query(conn: Connection, sql: str, params: dict[str, Any], runs: int) -> dict[str, Any]:
    """Median wall time (client side: execute + fetch every row) over `runs`, after one warm-up."""
    times, rows = [], 0
    for i in range(runs + 1):
        started = time.perf_counter()
        with conn.transaction(force_rollback=True):
            rows = len(conn.execute(sql, params).fetchall())
        if i:
            times.append(time.perf_counter() - started)
        if i == 1 and times[0] > 5:  # a query this slow: one measurement is enough
            break
    return {"ms": ms(statistics.median(times)), "min_ms": ms(min(times)), "rows": rows, "runs": len(times)}


def explain(conn: Connection, sql: str, params: dict[str, Any]) -> str:
    with conn.transaction(force_rollback=True):
        explained = pgsql.SQL(bench_query("explain_analyze")).format(statement=pgsql.SQL(sql))
        plan = conn.execute(explained, params).fetchall()
    return "\n".join(next(iter(r.values())) for r in plan)


def measure_queries(url: str, runs: int) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Time every benchmark query; also the EXPLAIN ANALYZE of each. The snapshot is refreshed first
    (as the dashboard's background thread keeps it) and the refresh itself is timed."""
    figures: dict[str, dict[str, Any]] = {}
    plans: dict[str, str] = {}
    with psycopg.connect(url, row_factory=dict_row) as conn:
        refreshes = []
        for _ in range(2 if runs > 3 else 1):
            started = time.perf_counter()
            monitoring.refresh_snapshot(conn)
            conn.commit()
            refreshes.append(time.perf_counter() - started)
        figures["snapshot refresh (background, ~1/min)"] = {
            "ms": ms(statistics.median(refreshes)),
            "min_ms": ms(min(refreshes)),
            "rows": 0,
            "runs": len(refreshes),
            "background": True,
        }
        sample = conn.execute(bench_query("sample_session")).fetchone() or {
            "id": 0,
            "session_id": "sess_" + "0" * 32,
            "username": "nobody",
        }
        for name, sql, explicit, background in timed_queries():
            if explicit is None:
                params, problem = parameters_for(sql, sample)
                if problem or params is None:
                    figures[name] = {"skipped": problem or "no parameters"}
                    continue
            else:
                params = explicit
            try:
                figures[name] = time_query(conn, sql, params, 3 if background else runs)
                figures[name]["background"] = background
                plans[name] = explain(conn, sql, params)
            except psycopg.Error as exc:
                figures[name] = {"skipped": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
    return figures, plans


def save_latency(url: str, seconds: float) -> dict[str, float]:
    """save_drawing p50/p99 for one client on the loaded database."""
    pool = open_pool(url, 1, name="bench-growth")
    try:
        service = EnrollmentService(pool, Settings(database_url=url, rate_limits=save_step.BENCH_LIMITS))
        samples = signup_samples(1)
        save_step.run_cell("save_drawing", 1, min(seconds, 1.0), pool, service, samples)  # warm-up
        cell = save_step.run_cell("save_drawing", 1, seconds, pool, service, samples)
    finally:
        pool.close()
    return {"save_p50_ms": cell.p50_ms, "save_p99_ms": cell.p99_ms, "saves_per_s": cell.rate}


def run(
    url: str, *, quick: bool, sizes: list[int] | None = None, out: Path = RESULTS_DIR, archive: bool = False
) -> Results:
    """archive: beside the sessions, as many summaries in enrollment_archive (each person's past session),
    as a product that has run for a month holds; without it the archive is empty."""
    sizes = sorted(sizes or ([200, 1000] if quick else [10_000, 100_000, 1_000_000]))
    results = Results("queries", quick)
    queries = [name for name, *_ in timed_queries()]
    print(f"{len(queries)} queries ({', '.join(queries)}) at {', '.join(f'{s:,}' for s in sizes)} sessions")
    if archive:
        print("with as many archived summaries as sessions")
    levels: list[dict[str, Any]] = []
    plans_by_size: dict[int, dict[str, str]] = {}
    have = 0
    for size in sizes:
        generated = datagen.generate(url, have + 1, size, progress=not quick, label=f"{size:,} sessions")
        if archive:
            generated += datagen.generate_archive(url, have + 1, size)
        have = size
        tables = datagen.table_sizes(url)
        figures, plans = measure_queries(url, runs=3 if quick else 7)
        level = {
            "sessions": size,
            "generate_s": generated,
            "tables": tables,
            "queries": figures,
            **save_latency(url, 0.5 if quick else 3.0),
        }
        levels.append(level)
        plans_by_size[size] = plans
        print(
            f"\n{size:,} sessions, {tables['temp_enrollment_steps']['row_count']:,} steps "
            f"(+{generated:.1f} s to generate)"
        )
        print(query_table(figures))
    print("\nQueries by size (median ms)")
    print(queries_by_size_table(levels))
    print("\nGrowth")
    print(growth_table(levels))
    results.data.update(archive=archive, levels=levels, plans={str(k): v for k, v in plans_by_size.items()})
    write_plans(plans_by_size, quick, out)
    largest = plans_by_size[sizes[-1]]
    for name, figures in levels[-1]["queries"].items():
        if figures.get("ms", 0) > TARGET_MS and name in largest:
            print(f"\nPlan of {name} at {sizes[-1]:,} sessions ({fmt(figures['ms'])} ms > {TARGET_MS:g} ms):")
            print(largest[name])
    return results


def query_table(figures: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name, f in figures.items():
        if "skipped" in f:
            rows.append([name, "skipped", "", f["skipped"]])
        elif f.get("background"):
            rows.append([name, fmt(f["ms"], 2), f["rows"], "background (not on a page load)"])
        else:
            rows.append([name, fmt(f["ms"], 2), f["rows"], "ok" if f["ms"] < TARGET_MS else "over target"])
    return table(["query", "median ms", "rows", f"< {TARGET_MS:g} ms"], rows)


def growth_table(levels: list[dict[str, Any]]) -> str:
    """How the data, its size on disk and a save's latency grow, one row per size."""
    rows = []
    for lv in levels:
        t = lv["tables"]
        rows.append(
            [
                f"{lv['sessions']:,}",
                f"{t['temp_enrollment_steps']['row_count']:,}",
                human_bytes(t["temp_enrollments"]["total_bytes"]),
                human_bytes(t["temp_enrollment_steps"]["total_bytes"]),
                fmt(lv["generate_s"], 1),
                f"{fmt(lv['save_p50_ms'], 2)} / {fmt(lv['save_p99_ms'], 2)}",
                fmt(
                    max(
                        (
                            q["ms"]
                            for n, q in lv["queries"].items()
                            if "ms" in q and not q.get("background") and n not in MONITORING
                        ),
                        default=float("nan"),
                    ),
                    1,
                ),
            ]
        )
    headers = [
        "sessions",
        "steps",
        "sessions table+idx",
        "steps table+idx",
        "generate s",
        "save p50 / p99 ms (1 client)",
        "slowest dashboard query ms",
    ]
    return table(headers, rows)


def queries_by_size_table(levels: list[dict[str, Any]]) -> str:
    """Median ms of each query (rows) at each size (columns)."""
    names = [n for n in levels[-1]["queries"] if "ms" in levels[-1]["queries"][n]]
    rows = [[n, *[fmt(lv["queries"].get(n, {}).get("ms", float("nan")), 2) for lv in levels]] for n in names]
    return table(["query (median ms)", *[f"{lv['sessions']:,}" for lv in levels]], rows)


def write_plans(plans_by_size: dict[int, dict[str, str]], quick: bool, out: Path = RESULTS_DIR) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for size, plans in plans_by_size.items():
        path = out / f"plans-{size}{'-quick' if quick else ''}.txt"
        path.write_text("".join(f"== {n}\n{p}\n\n" for n, p in plans.items()), encoding="utf-8")
