"""Overload benchmark: the API at 1x and 2x the requests it takes at once, with load shedding and
without it (the baseline, same run, same server build).

"At once" is API_WORKERS x API_MAX_IN_FLIGHT (2 x 32 = 64 by default). `python -m api.serve` (what
`./dev start` runs) is loaded by wrk as in `./dev bench http` (bench/save_drawing.lua: every connection a
phone enrolling people one after another; a refused step makes it start a new person). Meanwhile a
prober asks /healthz and /readyz every 100 ms, as a load balancer would.

- shedding: the product's defaults (API_MAX_IN_FLIGHT, DB_POOL_MAX_WAITING, DB_POOL_TIMEOUT_SECONDS).
- queueing: those limits off (API_MAX_IN_FLIGHT 1,000,000, DB_POOL_MAX_WAITING 0 = no limit,
  DB_POOL_TIMEOUT_SECONDS 30 = psycopg_pool's default): every request waits its turn.

Reported per variant and client count: saves per second, the share refused (503), latency p50 / p99 /
max of every answer, and the probes' p50 / p99; then the ratio shedding / queueing of each, per round.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from enrollment_core.config import Settings

from .api_server import serve_command
from .common import Results, fmt, median, ms, percentile, table
from .http_save import BENCH_LIMITS_ENV, body_tails, load_average, run_wrk, write_bodies

VARIANTS = {
    "shedding": {},
    "queueing": {"API_MAX_IN_FLIGHT": "1000000", "DB_POOL_MAX_WAITING": "0", "DB_POOL_TIMEOUT_SECONDS": "30"},
}
PROBE_EVERY_SECONDS = 0.1


@dataclass
class Cell:
    variant: str
    round: int
    clients: int
    saves_per_second: float
    refused_share: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    healthz_p50_ms: float
    healthz_p99_ms: float
    readyz_p50_ms: float
    readyz_p99_ms: float
    readyz_not_ready: int


class Prober:
    """GET /healthz and /readyz in turn, each with a 10 s timeout, until stopped; their latencies."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.latencies: dict[str, list[float]] = {"/healthz": [], "/readyz": []}
        self.not_ready = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(PROBE_EVERY_SECONDS):
            for path, latencies in self.latencies.items():
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(f"{self.base}{path}", timeout=10):
                        pass
                except urllib.error.HTTPError:
                    self.not_ready += path == "/readyz"
                except OSError:
                    latencies.append(math.inf)  # no answer within 10 s
                    continue
                latencies.append(time.perf_counter() - started)


def measure(base: str, variant: str, round_: int, clients: int, seconds: float, bodies: Path,
            persons: int, steps: int) -> Cell:  # fmt: skip
    with Prober(base) as prober:
        figures = run_wrk(base, clients, seconds, bodies, persons, steps)
    requests, duration = figures["requests"], figures["duration_us"] / 1e6
    latency = figures["latency_us"]
    refused = figures["refused"] + figures["socket_errors"] + figures["timeouts"]
    health, ready = prober.latencies["/healthz"], prober.latencies["/readyz"]
    return Cell(
        variant, round_, clients, (requests - refused) / duration, refused / max(requests, 1),
        latency["50"] / 1000, latency["99"] / 1000, figures["max_us"] / 1000,
        ms(percentile(health, 50)), ms(percentile(health, 99)),
        ms(percentile(ready, 50)), ms(percentile(ready, 99)), prober.not_ready,
    )  # fmt: skip


def report(cells: list[Cell]) -> str:
    rows = []
    for variant in VARIANTS:
        for clients in sorted({c.clients for c in cells}):
            mine = [c for c in cells if c.variant == variant and c.clients == clients]

            def mid(name: str, digits: int = 1, cells: list[Cell] = mine) -> str:
                return fmt(median([getattr(c, name) for c in cells]), digits)

            rows.append([
                variant, clients, mid("saves_per_second", 0),
                f"{100 * median([c.refused_share for c in mine]):.0f} %",
                mid("p50_ms"), mid("p99_ms"), mid("max_ms", 0),
                f"{mid('healthz_p50_ms')} / {mid('healthz_p99_ms')}",
                f"{mid('readyz_p50_ms')} / {mid('readyz_p99_ms')}",
            ])  # fmt: skip
    lines = [table(["variant", "clients", "saves/s", "refused", "p50 ms", "p99 ms", "max ms",
                    "/healthz p50 / p99 ms", "/readyz p50 / p99 ms"], rows)]  # fmt: skip
    ratios = []
    for clients in sorted({c.clients for c in cells}):
        for round_ in sorted({c.round for c in cells}):
            pair = {c.variant: c for c in cells if c.clients == clients and c.round == round_}
            if len(pair) == 2:
                shed, queued = pair["shedding"], pair["queueing"]
                ratios.append([clients, round_ + 1] + [
                    f"{getattr(shed, name) / getattr(queued, name):.2f}x"
                    for name in ("p99_ms", "max_ms", "saves_per_second", "healthz_p99_ms")
                ])  # fmt: skip
    lines.append("\nshedding / queueing, same round:")
    lines.append(table(["clients", "round", "p99", "max", "saves/s", "/healthz p99"], ratios))
    return "\n".join(lines)


def run(url: str, *, quick: bool, rounds: int | None = None, seconds: float | None = None,
        workers: int | None = None) -> Results:  # fmt: skip
    workers = workers or 2
    rounds = rounds or (1 if quick else 3)
    seconds = seconds or (1.0 if quick else 8.0)
    # Quick: a limit of 2 per worker, so that 2x is small enough for a smoke run.
    in_flight = 2 if quick else Settings().max_in_flight
    at_once = workers * in_flight
    clients_list = [at_once, 2 * at_once]
    tails = body_tails(2 if quick else 4)
    results = Results("overload", quick)
    load_before = load_average()
    print(
        f"overload benchmark: {workers} workers x {in_flight} requests at once = {at_once}; "
        f"{', '.join(map(str, clients_list))} clients x {rounds} rounds x {seconds:g} s per variant; "
        f"{os.cpu_count()} CPUs, load average {load_before} (1, 5, 15 min)"
    )
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="bench-overload-") as scratch:
        bodies = Path(scratch)
        write_bodies(tails, bodies)
        for round_ in range(rounds):
            for variant, env in VARIANTS.items():
                settings = {**BENCH_LIMITS_ENV, "API_MAX_IN_FLIGHT": str(in_flight), **env}
                log = bodies / f"api-{variant}.log"
                with serve_command(url, workers, log, env=settings) as (base, _):
                    for clients in clients_list:
                        cells.append(measure(base, variant, round_, clients, seconds, bodies, len(tails), 11))
    print(report(cells))
    print(f"load average before {load_before}, after {load_average()} (1, 5, 15 min)")
    results.data.update(
        cells=[asdict(c) for c in cells], workers=workers, in_flight=in_flight, seconds=seconds
    )
    return results
