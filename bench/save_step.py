"""Save-step benchmark: EnrollmentService.save_drawing against a raw INSERT of the same rows.

Both go through the same pool (sized for the clients, with the product's connection check) from
1, 4 and 16 threads. A client enrolls like a phone does: step 1 starts a session, steps 2..11 continue
it, then it starts over as a new user. The raw client writes exactly the rows save_drawing writes
(step 1: the session row and the step row; later steps: the step row), one statement and one
transaction each (one round trip, like save_drawing), with
no validation and no checks: the floor for a persisted save on this server. The two kinds alternate
within each round and rounds repeat; medians and ratios are reported because the machine is shared.
"""

from __future__ import annotations

import cProfile
import dataclasses
import io
import itertools
import math
import pstats
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from tqdm import tqdm

from enrollment_core.config import RateLimitSettings, Settings
from enrollment_core.database import Pool, execute_as_own_transaction, one
from enrollment_core.service import ClientInfo, EnrollmentService, new_session_id
from enrollment_core.validation import DrawingStep, parse_drawing_step

from . import datagen
from .common import (
    CpuMeter,
    Results,
    bench_query,
    fmt,
    median,
    ms,
    open_pool,
    percent_per_round,
    percentile,
    table,
)
from .payloads import StepSample, average_signature_chars, signup_samples

KINDS = ("save_drawing", "raw_insert")
# With --split: save_drawing minus its validation (payloads validated before the clock starts), so the
# gap between save_drawing and the raw INSERT splits into validation and database work.
SPLIT_KIND = "save_validated"
EXISTING_SESSIONS = 20_000  # stored before measuring (~110,000 steps), analysed
# Saves are rate-limited per client address: each bench client is a phone with its own address
# (198.18.0.0/15 is reserved for benchmarks), and the limits are set too high to refuse anything, so
# the bench measures what checking them costs (one statement per save), not refusals.
BENCH_LIMITS = RateLimitSettings(
    saves_per_minute=10**9, sessions_per_hour=10**9, upload_bytes_per_hour=10**15
)


def bench_client(offset: int) -> ClientInfo:
    return ClientInfo(user_agent="bench", ip=f"198.18.{offset // 250}.{offset % 250 + 1}")


_user_numbers = itertools.count()  # unique usernames across threads, rounds and kinds


@dataclass
class Cell:
    """One measurement: `clients` threads doing `kind` for `seconds`."""

    kind: str
    clients: int
    ops: int
    elapsed: float
    latencies: list[float]
    client_cpu: float = math.nan  # CPU seconds of this process (all client threads) during the cell
    server_cpu: float = math.nan  # CPU seconds of the PostgreSQL server's processes

    @property
    def client_cpu_ms(self) -> float:
        return 1000 * self.client_cpu / self.ops if self.ops else math.nan

    @property
    def server_cpu_ms(self) -> float:
        return 1000 * self.server_cpu / self.ops if self.ops else math.nan

    @property
    def rate(self) -> float:
        return self.ops / self.elapsed

    @property
    def p50_ms(self) -> float:
        return ms(percentile(self.latencies, 50))

    @property
    def p99_ms(self) -> float:
        return ms(percentile(self.latencies, 99))

    @property
    def max_ms(self) -> float:
        return ms(max(self.latencies)) if self.latencies else float("nan")


def _fresh_username() -> str:
    return f"bench{next(_user_numbers)}"


def save_client(
    service: EnrollmentService,
    samples: list[list[StepSample]],
    deadline: float,
    latencies: list[float],
    offset: int = 0,
    validated: bool = False,
) -> None:
    """Enroll users one after another through the service until the deadline (validated: skip the
    validation, using each sample's DrawingStep made before the run)."""
    client = bench_client(offset)
    for n in itertools.count(offset):
        username, session_id = _fresh_username(), None
        for sample in samples[n % len(samples)]:
            if time.perf_counter() >= deadline:
                return
            if validated:
                drawing = dataclasses.replace(sample.row, username=username, session_id=session_id)
                drawing.__dict__["content_hash"] = sample.row.content_hash  # the cached hash, not redone
                started = time.perf_counter()
                result = service.save_validated_drawing(drawing, client)
            else:
                command = dataclasses.replace(sample.payload, username=username, session_id=session_id)
                started = time.perf_counter()
                result = service.save_drawing(command, client)
            latencies.append(time.perf_counter() - started)
            session_id = result.session_id


def _serialised(text: bytes) -> Callable[[object], bytes]:
    """Jsonb's dumps for a value whose JSON text was made before the run."""
    return lambda _value: text


def raw_client(
    pool: Pool,
    samples: list[list[StepSample]],
    deadline: float,
    latencies: list[float],
    offset: int = 0,
    ttl_seconds: int = 7200,
) -> None:
    """Write the same rows as save_drawing with bare INSERTs (no validation, no checks), each step in one
    statement and one round trip (step 1: session and step row together), as save_drawing does."""
    for n in itertools.count(offset):
        username, enrollment_id = _fresh_username(), None
        for sample in samples[n % len(samples)]:
            if time.perf_counter() >= deadline:
                return
            row = sample.row
            params = {
                "enrollment_id": enrollment_id,
                "step_number": row.step,
                "step_type": row.type,
                "instruction": row.instruction,
                "signature_data": row.signature,
                # Serialised once, as save_drawing does, so that both pay the same JSON work.
                "raw_data": Jsonb(row.raw, dumps=_serialised(row.raw_json)),
                "metrics": Jsonb(row.metrics, dumps=_serialised(row.metrics_json)),
                "content_hash": row.content_hash,
            }
            if enrollment_id is None:
                params.update(
                    session_id=new_session_id(),
                    username=username,
                    metadata=Jsonb({"ip": None}),
                    ttl_seconds=ttl_seconds,
                )
            started = time.perf_counter()
            with pool.connection() as conn:
                sql = bench_query("raw_first_step") if enrollment_id is None else bench_query("raw_step")
                enrollment_id = one(execute_as_own_transaction(conn, sql, params))["enrollment_id"]
            latencies.append(time.perf_counter() - started)


def run_cell(
    kind: str,
    clients: int,
    seconds: float,
    pool: Pool,
    service: EnrollmentService,
    samples: list[list[StepSample]],
) -> Cell:
    """`clients` threads of one kind, started together, each running until the shared deadline."""
    per_thread: list[list[float]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(i: int) -> None:
        start.wait()
        if kind in ("save_drawing", SPLIT_KIND):
            save_client(service, samples, deadline[0], per_thread[i], offset=i, validated=kind == SPLIT_KIND)
        else:
            raw_client(pool, samples, deadline[0], per_thread[i], offset=i)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies = [x for lst in per_thread for x in lst]
    return Cell(kind, clients, len(latencies), elapsed, latencies)


def measure(
    url: str,
    clients_list: Sequence[int],
    rounds: int,
    seconds: float,
    samples: list[list[StepSample]],
    progress: bool = True,
    kinds_measured: Sequence[str] = KINDS,
) -> list[Cell]:
    """rounds x clients x kinds cells; the kinds' order alternates between rounds (ABBA...)."""
    cells: list[Cell] = []
    plan = [(r, c) for r in range(rounds) for c in clients_list]
    bar = tqdm(total=len(plan) * len(kinds_measured), desc="save bench", unit="cell", disable=not progress)
    pools = {c: open_pool(url, c, name=f"bench{c}") for c in clients_list}
    try:
        settings = Settings(database_url=url, rate_limits=BENCH_LIMITS)
        services = {c: EnrollmentService(pools[c], settings) for c in clients_list}
        for c in clients_list:  # warm-up: connections, caches, first-query planning
            run_cell("save_drawing", c, min(seconds, 1.0), pools[c], services[c], samples)
            run_cell("raw_insert", c, min(seconds, 1.0), pools[c], services[c], samples)
        meter = CpuMeter(url)  # after the warm-up, so every pooled connection's backend is counted
        for r, c in plan:
            kinds = kinds_measured if (r + clients_list.index(c)) % 2 == 0 else kinds_measured[::-1]
            for kind in kinds:
                bar.set_postfix_str(f"round {r + 1} {c} clients {kind}")
                client0, server0 = meter.read()
                cell = run_cell(kind, c, seconds, pools[c], services[c], samples)
                client1, server1 = meter.read()
                cell.client_cpu, cell.server_cpu = client1 - client0, server1 - server0
                cells.append(cell)
                bar.update()
    finally:
        bar.close()
        for p in pools.values():
            p.close()
    return cells


def summarize(flat: list[Cell], clients_list: Sequence[int]) -> list[dict[str, Any]]:
    """Per client count: medians over rounds of rate, p50, p99, and the median per-round ratio."""
    rows = []
    for clients in clients_list:
        save = [c for c in flat if c.clients == clients and c.kind == "save_drawing"]
        raw = [c for c in flat if c.clients == clients and c.kind == "raw_insert"]
        split = [c for c in flat if c.clients == clients and c.kind == SPLIT_KIND]
        ratios = [s.rate / r.rate for s, r in zip(save, raw)]
        rows.append(
            {
                "clients": clients,
                "save_rate": median([c.rate for c in save]),
                "raw_rate": median([c.rate for c in raw]),
                "ratio": median(ratios),
                "ratios": ratios,
                "save_p50_ms": median([c.p50_ms for c in save]),
                "save_p99_ms": median([c.p99_ms for c in save]),
                "save_max_ms": max(c.max_ms for c in save),
                "raw_p50_ms": median([c.p50_ms for c in raw]),
                "raw_p99_ms": median([c.p99_ms for c in raw]),
                "validated_ratio": median([v.rate / r.rate for v, r in zip(split, raw)]) if split else None,
                "save_client_cpu_ms": median([c.client_cpu_ms for c in save]),
                "save_server_cpu_ms": median([c.server_cpu_ms for c in save]),
                "raw_client_cpu_ms": median([c.client_cpu_ms for c in raw]),
                "raw_server_cpu_ms": median([c.server_cpu_ms for c in raw]),
                "save_ops": sum(c.ops for c in save),
                "raw_ops": sum(c.ops for c in raw),
            }
        )
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    return table(
        [
            "clients",
            "save/s",
            "raw INSERT/s",
            "ratio (per-round)",
            "save p50 ms",
            "save p99 ms",
            "raw p50 ms",
            "raw p99 ms",
            "CPU ms/op save: client + server",
            "raw: client + server",
            "save without validation / raw",
        ],
        [
            [
                r["clients"],
                fmt(r["save_rate"], 0),
                fmt(r["raw_rate"], 0),
                percent_per_round(r["ratio"], r["ratios"]),
                fmt(r["save_p50_ms"], 2),
                fmt(r["save_p99_ms"], 2),
                fmt(r["raw_p50_ms"], 2),
                fmt(r["raw_p99_ms"], 2),
                f"{fmt(r['save_client_cpu_ms'], 2)} + {fmt(r['save_server_cpu_ms'], 2)}",
                f"{fmt(r['raw_client_cpu_ms'], 2)} + {fmt(r['raw_server_cpu_ms'], 2)}",
                "(--split)" if r["validated_ratio"] is None else f"{fmt(100 * r['validated_ratio'], 0)} %",
            ]
            for r in rows
        ],
    )


def validation_cost(samples: list[list[StepSample]], repeat: int = 200) -> dict[str, float]:
    """Microseconds per call of the pure-Python work a save does before touching the database."""
    payloads = [s.payload for person in samples for s in person]
    steps = [s.row for person in samples for s in person]

    def per_call(fn: Callable[[], object], n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - started) / n * 1e6

    it_p, it_s = itertools.cycle(payloads), itertools.cycle(steps)
    return {
        "parse_drawing_step_us": per_call(lambda: parse_drawing_step(next(it_p)), repeat),
        # The function behind the cached property: the samples' hashes are cached after the first call.
        "content_hash_us": per_call(lambda: vars(DrawingStep)["content_hash"].func(next(it_s)), repeat),
    }


def profile_saves(url: str, samples: list[list[StepSample]], seconds: float) -> str:
    """cProfile of one client saving for `seconds`: where a save's time goes (top functions)."""
    pool = open_pool(url, 1, name="bench-profile")
    try:
        service = EnrollmentService(pool, Settings(database_url=url, rate_limits=BENCH_LIMITS))
        latencies: list[float] = []
        profiler = cProfile.Profile()
        profiler.enable()
        save_client(service, samples, time.perf_counter() + seconds, latencies)
        profiler.disable()
    finally:
        pool.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative")
    out.write(f"{len(latencies)} saves profiled\n")
    stats.print_stats(30)
    return out.getvalue()


def run(
    url: str,
    *,
    quick: bool,
    rounds: int | None = None,
    seconds: float | None = None,
    clients: Sequence[int] | None = None,
    profile: bool = False,
    existing: int | None = None,
    split: bool = False,
) -> Results:
    clients_list = list(clients or ([1, 2] if quick else [1, 4, 16]))
    rounds = rounds or (1 if quick else 3)
    seconds = seconds or (0.3 if quick else 5.0)
    existing = existing if existing is not None else (200 if quick else EXISTING_SESSIONS)
    samples = signup_samples(2 if quick else 4)
    results = Results("save", quick)
    print(
        f"save-step benchmark: {len(clients_list)} client counts x {rounds} rounds x {seconds:g} s per kind; "
        f"PNG data URL {average_signature_chars(samples) / 1000:.1f} kB on average; "
        f"{existing:,} sessions already stored"
    )
    # A database in service, not an empty one: on empty tables the first generic plans psycopg's
    # prepared statements get are made from "nearly empty" statistics and scan the steps table until
    # autovacuum's next ANALYZE (up to a minute later) -- real, but a fresh deployment's first minute.
    if existing:
        datagen.generate(url, 1, existing, progress=not quick, label="existing sessions")
    kinds = (*KINDS, SPLIT_KIND) if split else KINDS
    cells = measure(url, clients_list, rounds, seconds, samples, progress=not quick, kinds_measured=kinds)
    rows = summarize(cells, clients_list)
    costs = validation_cost(samples, repeat=20 if quick else 300)
    print(report(rows))
    print(
        f"pure-Python work per save (1 thread): parse_drawing_step {costs['parse_drawing_step_us']:.0f} us, "
        f"content_hash {costs['content_hash_us']:.0f} us"
    )
    results.data.update(
        rows=rows,
        costs=costs,
        rounds=rounds,
        seconds=seconds,
        signature_chars=average_signature_chars(samples),
        existing_sessions=existing,
    )
    if profile:
        text = profile_saves(url, samples, 1.0 if quick else 10.0)
        results.data["profile"] = text
        print(text)
    return results
