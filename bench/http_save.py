"""HTTP benchmark: save-drawing through the real API server against the service called in process.

- http: `python -m api.serve` (what `./dev start` runs: uvicorn, API_WORKERS worker processes), loaded
  by wrk (C; bench/save_drawing.lua), one keep-alive connection per client.
- in_process: as many processes as the server has workers, each with its own service opened as an API
  worker opens it, whose threads call service.save_drawing on the same request bodies, decoded from
  bytes by orjson (the fastest decoder there is), so JSON parsing is on both sides.

Both enroll like phones (step 1 starts a session, steps 2..11 continue it, then the next user), with the
same bodies (the save bench's 26 kB PNG data URLs, strokes and metrics), on the same database (20,000
sessions stored before, analysed), at the same client counts. The kinds alternate within each round,
rounds repeat, and the report gives medians and per-round ratios: the machine is shared, so only ratios
measured in the same run mean much. CPU per request is read from /proc for the app processes, the
PostgreSQL server and wrk itself: the load client must not be what limits the rate.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from tqdm import tqdm

from api import serve

if TYPE_CHECKING:  # imported at run time only after the worker set its environment
    from enrollment_core.service import EnrollmentService
from api.wire import save_drawing_command, save_drawing_json

from . import datagen
from .api_server import serve_command
from .common import (
    Results,
    bench_query,
    cpu_seconds_by_pid,
    fmt,
    median,
    ms,
    percent_per_round,
    percentile,
    process_cpu_seconds,
    table,
)
from .payloads import signup_samples
from .save_step import BENCH_LIMITS, bench_client

KINDS = ("http", "in_process")
EXISTING_SESSIONS = 20_000
LUA_SCRIPT = Path(__file__).with_name("save_drawing.lua")
WRK = "wrk"  # Debian's package; ./dev bench installs it
USER_AGENT = "bench-http (in process)"
PERCENTILES = ("p50", "p90", "p99")
_tags = itertools.count()  # keeps the usernames of each cell apart
# Both kinds run with BENCH_LIMITS (save_step.py): limits checked on every save, none ever refusing; each
# client is a phone with its own address (wrk sends it as X-Forwarded-For, which uvicorn trusts from
# 127.0.0.1 by default), so no two clients share a rate-limit row.
BENCH_LIMITS_ENV = {
    "RATE_LIMIT_SAVES_PER_MINUTE": str(BENCH_LIMITS.saves_per_minute),
    "RATE_LIMIT_SESSIONS_PER_HOUR": str(BENCH_LIMITS.sessions_per_hour),
    "RATE_LIMIT_UPLOAD_BYTES_PER_HOUR": str(BENCH_LIMITS.upload_bytes_per_hour),
}


@dataclass
class Cell:
    """One measurement: `clients` clients of one kind for `seconds`, against `workers` processes."""

    kind: str
    workers: int
    clients: int
    ops: int
    elapsed: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    app_cpu: float = math.nan  # CPU seconds of the server's (or the in-process) processes
    db_cpu: float = math.nan  # of the PostgreSQL server's processes
    load_cpu: float = math.nan  # of wrk (http only)
    refused: int = 0  # answers other than a saved step (must stay 0)
    first_refusal: str = ""

    @property
    def rate(self) -> float:
        return self.ops / self.elapsed if self.elapsed else math.nan

    def per_op_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.ops if self.ops else math.nan


# ---------------------------------------------------------------- request bodies


def body_tails(persons: int) -> list[list[bytes]]:
    """Per person and step (index 0 = step 1), the save-drawing body without its opening brace,
    username and sessionId: a client puts those in front (see request_body)."""
    tails = []
    for person in signup_samples(persons):
        steps = []
        for sample in person:
            payload = save_drawing_json(replace(sample.payload, username=None, session_id=None))
            steps.append(orjson.dumps(payload)[1:])
        tails.append(steps)
    return tails


def request_body(tail: bytes, username: str, session_id: str | None) -> bytes:
    """Exactly what save_drawing.lua sends."""
    head = b'{"username":"' + username.encode() + b'",'
    if session_id:
        head += b'"sessionId":"' + session_id.encode() + b'",'
    return head + tail


def write_bodies(tails: list[list[bytes]], directory: Path) -> None:
    for p, steps in enumerate(tails):
        for s, tail in enumerate(steps, start=1):
            (directory / f"{p}-{s}.json").write_bytes(tail)


# ---------------------------------------------------------------- the API server's processes


def descendants(pid: int) -> list[int]:
    """pid and every process below it (uvicorn's supervisor and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def run_wrk(
    base: str, clients: int, seconds: float, bodies: Path, persons: int, steps: int
) -> dict[str, Any]:
    """One wrk run; its figures (from save_drawing.lua's done()) plus its own CPU seconds."""
    command = [
        WRK, f"-t{clients}", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
        "-s", str(LUA_SCRIPT), base, "--", str(bodies), str(persons), str(steps), f"w{next(_tags)}",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in output.splitlines() if line.startswith("BENCH_JSON ")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output[-2000:]}")
    figures: dict[str, Any] = orjson.loads(lines[-1].removeprefix("BENCH_JSON "))
    figures["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return figures


# ---------------------------------------------------------------- the service in process


def _enroll(service: EnrollmentService, tails: list[list[bytes]], number: int, start_at: float,
            seconds: float, tag: str, latencies: list[float], refusals: list[str]) -> None:  # fmt: skip
    """Client `number`: enroll users one after another through the service, as save_drawing.lua does
    through the API."""
    from enrollment_core import EnrollmentError

    deadline, person = start_at + seconds, (number - 1) % len(tails)
    client = dataclasses.replace(bench_client(number - 1), user_agent=USER_AGENT)  # as wrk's connection
    time.sleep(max(0.0, start_at - time.monotonic()))
    for enrolled in itertools.count(1):
        username, session_id = f"{tag}t{number}n{enrolled}", None
        for tail in tails[person]:
            if time.monotonic() >= deadline:
                return
            body = request_body(tail, username, session_id)
            began = time.perf_counter()
            try:
                # As the API does: the JSON body decoded, then turned into the service's command.
                session_id = service.save_drawing(save_drawing_command(orjson.loads(body)), client).session_id
            except EnrollmentError as exc:
                refusals.append(f"{exc.code}: {exc.message}")
                break
            finally:
                latencies.append(time.perf_counter() - began)
        person = (person + 1) % len(tails)


def _in_process_worker(conn: Connection, database_url: str, tails: list[list[bytes]]) -> None:
    """One process like one API worker: its own service; on each order, one thread per client number
    saves steps from `start_at` for `seconds` (time.monotonic is one clock for every process)."""
    os.environ.update(BENCH_LIMITS_ENV, DATABASE_URL=database_url)
    from api.main import freeze_startup_objects
    from enrollment_core import open_service, process_configuration

    # As api.main's factory and lifespan open it (this process's settings, read after the update) ...
    service = open_service(process_configuration().settings, background_cleanup=True)
    freeze_startup_objects()  # ... and then keeps start-up objects out of garbage collections
    conn.send("ready")
    try:
        while (order := conn.recv()) is not None:
            numbers, start_at, seconds, tag = order
            latencies: list[list[float]] = [[] for _ in numbers]
            refusals: list[str] = []
            threads = [
                threading.Thread(
                    target=_enroll,
                    args=(service, tails, n, start_at, seconds, tag, latencies[i], refusals),
                )
                for i, n in enumerate(numbers)
            ]
            cpu0 = time.process_time()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            cpu, ended = time.process_time() - cpu0, time.monotonic()
            conn.send(([x for lst in latencies for x in lst], cpu, ended - start_at, refusals))
    finally:
        service.close()


class InProcess:
    """`workers` processes saving through their own service; clients spread over them round-robin,
    as the kernel spreads connections over uvicorn's workers."""

    def __init__(self, url: str, workers: int, tails: list[list[bytes]]) -> None:
        context = multiprocessing.get_context("spawn")  # nothing inherited: no pool, no thread state
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(workers):
            parent, child = context.Pipe()
            process = context.Process(target=_in_process_worker, args=(child, url, tails), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        for pipe in self.pipes:
            if not pipe.poll(120) or pipe.recv() != "ready":
                raise RuntimeError("an in-process worker did not start")

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def run(self, clients: int, seconds: float) -> tuple[list[float], float, float, list[str]]:
        """(latencies, CPU seconds of the processes, seconds from the start to the last answer,
        refusals)."""
        tag, start_at = f"p{next(_tags)}", time.monotonic() + 0.2  # time for every process to get it
        busy = []
        for w, pipe in enumerate(self.pipes):
            numbers = list(range(w + 1, clients + 1, len(self.pipes)))
            if numbers:
                pipe.send((numbers, start_at, seconds, tag))
                busy.append(pipe)
        latencies, cpu, elapsed, refusals = [], 0.0, 0.0, []
        for pipe in busy:
            lat, seconds_cpu, took, refused = pipe.recv()
            latencies += lat
            cpu += seconds_cpu
            elapsed = max(elapsed, took)
            refusals += refused
        return latencies, cpu, elapsed, refusals

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


# ---------------------------------------------------------------- measuring


class DatabaseCpu:
    """CPU seconds of the PostgreSQL server's processes, with the backends listed anew at each reading:
    the servers' pools open connections as the load grows, and a list made once would miss those."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)

    def read(self) -> dict[int, float]:
        rows = self.conn.execute(bench_query("other_server_pids"))
        return cpu_seconds_by_pid([pid for (pid,) in rows])

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        """CPU seconds between two readings; a backend born in between counts from its start."""
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def close(self) -> None:
        self.conn.close()


def http_cell(base: str, pid: int, meter: DatabaseCpu, workers: int, clients: int, seconds: float,
              bodies: Path, persons: int, steps: int) -> Cell:  # fmt: skip
    pids = descendants(pid)
    app0, db0 = process_cpu_seconds(pids), meter.read()
    figures = run_wrk(base, clients, seconds, bodies, persons, steps)
    app1, db1 = process_cpu_seconds(pids), meter.read()
    latency = figures["latency_us"]
    return Cell(
        "http", workers, clients, figures["requests"], figures["duration_us"] / 1e6,
        latency["50"] / 1000, latency["90"] / 1000, latency["99"] / 1000, figures["max_us"] / 1000,
        app_cpu=app1 - app0, db_cpu=meter.used(db0, db1), load_cpu=figures["cpu_seconds"],
        refused=figures["refused"] + figures["socket_errors"] + figures["timeouts"],
        first_refusal=figures["first_refusal"],
    )  # fmt: skip


def in_process_cell(pool: InProcess, meter: DatabaseCpu, workers: int, clients: int, seconds: float) -> Cell:
    db0 = meter.read()
    latencies, cpu, elapsed, refusals = pool.run(clients, seconds)
    db1 = meter.read()
    return Cell(
        "in_process", workers, clients, len(latencies), elapsed,
        ms(percentile(latencies, 50)), ms(percentile(latencies, 90)), ms(percentile(latencies, 99)),
        ms(max(latencies, default=math.nan)), app_cpu=cpu, db_cpu=meter.used(db0, db1), refused=len(refusals),
        first_refusal=refusals[0] if refusals else "",
    )  # fmt: skip


def measure_workers(
    url: str,
    workers: int,
    clients_list: Sequence[int],
    rounds: int,
    seconds: float,
    tails: list[list[bytes]],
    bodies: Path,
    log_dir: Path,
    progress: bool,
) -> list[Cell]:
    """Every cell for one worker count: rounds x clients x kinds, kinds in ABBA order."""
    persons, steps = len(tails), len(tails[0])
    cells: list[Cell] = []
    plan = [(r, c) for r in range(rounds) for c in clients_list]
    pool, meter = InProcess(url, workers, tails), DatabaseCpu(url)
    try:
        log_path = log_dir / f"api-{workers}-workers.log"
        with serve_command(url, workers, log_path, env=BENCH_LIMITS_ENV) as (base, pid):
            warm = max(clients_list)  # connections, pools, caches, plans of every process
            run_wrk(base, warm, max(1.0, min(seconds, 2.0)), bodies, persons, steps)
            pool.run(warm, min(seconds, 2.0))
            bar = tqdm(total=len(plan) * len(KINDS), desc=f"http bench, {workers} worker(s)", unit="cell",
                       disable=not progress)  # fmt: skip
            for r, c in plan:
                kinds = KINDS if (r + clients_list.index(c)) % 2 == 0 else KINDS[::-1]
                for kind in kinds:
                    bar.set_postfix_str(f"round {r + 1}, {c} clients, {kind}")
                    if kind == "http":
                        cell = http_cell(base, pid, meter, workers, c, seconds, bodies, persons, steps)
                    else:
                        cell = in_process_cell(pool, meter, workers, c, seconds)
                    if cell.refused:
                        print(f"\n!! {kind}, {c} clients: {cell.refused} refused, e.g. {cell.first_refusal}")
                    cells.append(cell)
                    bar.update()
            bar.close()
    finally:
        pool.close()
        meter.close()
    return cells


def summarize(cells: list[Cell]) -> list[dict[str, Any]]:
    """Per worker and client count: medians over rounds, and the median of the per-round ratios."""
    rows = []
    for workers, clients in sorted({(c.workers, c.clients) for c in cells}):
        mine = [c for c in cells if (c.workers, c.clients) == (workers, clients)]
        http = [c for c in mine if c.kind == "http"]
        local = [c for c in mine if c.kind == "in_process"]
        ratios = [h.rate / p.rate for h, p in zip(http, local) if p.rate]
        rows.append(
            {
                "workers": workers,
                "clients": clients,
                "http_rate": median([c.rate for c in http]),
                "in_process_rate": median([c.rate for c in local]),
                "ratio": median(ratios),
                "ratios": ratios,
                **{f"http_{p}_ms": median([getattr(c, f"{p}_ms") for c in http]) for p in PERCENTILES},
                **{f"in_process_{p}_ms": median([getattr(c, f"{p}_ms") for c in local]) for p in PERCENTILES},
                "http_max_ms": max((c.max_ms for c in http), default=math.nan),
                "http_app_cpu_ms": median([c.per_op_ms(c.app_cpu) for c in http]),
                "http_db_cpu_ms": median([c.per_op_ms(c.db_cpu) for c in http]),
                "wrk_cpu_ms": median([c.per_op_ms(c.load_cpu) for c in http]),
                "in_process_app_cpu_ms": median([c.per_op_ms(c.app_cpu) for c in local]),
                "in_process_db_cpu_ms": median([c.per_op_ms(c.db_cpu) for c in local]),
                "http_ops": sum(c.ops for c in http),
                "in_process_ops": sum(c.ops for c in local),
                "refused": sum(c.refused for c in mine),
            }
        )
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    return table(
        [
            "workers",
            "clients",
            "HTTP req/s",
            "in-process saves/s",
            "HTTP / in-process (per round)",
            "HTTP p50 / p90 / p99 ms",
            "in-process p50 / p99 ms",
            "CPU ms per save, HTTP: app + db",
            "in-process: app + db",
            "wrk CPU ms per request",
        ],
        [
            [
                r["workers"],
                r["clients"],
                fmt(r["http_rate"], 0),
                fmt(r["in_process_rate"], 0),
                percent_per_round(r["ratio"], r["ratios"]),
                f"{fmt(r['http_p50_ms'], 1)} / {fmt(r['http_p90_ms'], 1)} / {fmt(r['http_p99_ms'], 1)}",
                f"{fmt(r['in_process_p50_ms'], 1)} / {fmt(r['in_process_p99_ms'], 1)}",
                f"{fmt(r['http_app_cpu_ms'], 2)} + {fmt(r['http_db_cpu_ms'], 2)}",
                f"{fmt(r['in_process_app_cpu_ms'], 2)} + {fmt(r['in_process_db_cpu_ms'], 2)}",
                fmt(r["wrk_cpu_ms"], 3),
            ]
            for r in rows
        ],
    )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def run(
    url: str,
    *,
    quick: bool,
    rounds: int | None = None,
    seconds: float | None = None,
    clients: Sequence[int] | None = None,
    workers: Sequence[int] | None = None,
    existing: int | None = None,
) -> Results:
    if shutil.which(WRK) is None:
        raise SystemExit("wrk is not installed: ./dev bench installs it (Debian's package 'wrk')")
    clients_list = list(clients or ([1, 2] if quick else [1, 4, 16]))
    workers_list = list(workers or sorted({serve.default_workers(), 2}))
    rounds = rounds or (1 if quick else 3)
    seconds = seconds or (1.0 if quick else 5.0)
    existing = existing if existing is not None else (200 if quick else EXISTING_SESSIONS)
    tails = body_tails(2 if quick else 4)
    sizes = [len(tail) for steps in tails for tail in steps]
    results = Results("http", quick)
    load_before = load_average()
    print(
        f"http benchmark: {', '.join(map(str, workers_list))} worker(s) x {len(clients_list)} client counts "
        f"x {rounds} rounds x {seconds:g} s per kind; bodies {sum(sizes) / len(sizes) / 1000:.1f} kB on "
        f"average; {existing:,} sessions already stored; {os.cpu_count()} CPUs, load average "
        f"{load_before} (1, 5, 15 min)"
    )
    if existing:
        datagen.generate(url, 1, existing, progress=not quick, label="existing sessions")
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="bench-http-") as scratch:
        bodies = Path(scratch)
        write_bodies(tails, bodies)
        for w in workers_list:
            cells += measure_workers(url, w, clients_list, rounds, seconds, tails, bodies, bodies, not quick)
    rows = summarize(cells)
    load_after = load_average()
    print(report(rows))
    print(f"load average before {load_before}, after {load_after} (1, 5, 15 min)")
    results.data.update(
        rows=rows,
        cells=[dataclasses.asdict(c) for c in cells],
        rounds=rounds,
        seconds=seconds,
        existing_sessions=existing,
        load_average_before=load_before,
        load_average_after=load_after,
    )
    return results
