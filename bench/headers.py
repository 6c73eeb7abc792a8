"""Endless-header benchmark (issue 24, item 4): what 16 connections each streaming one header line that
never ends do to the API's normal requests and its workers' memory, with the header limit and without
it (the baseline, same run, same server build).

`python -m api.serve` (what `./dev start` runs) with 2 workers. A client sends normal username checks
one after another; first alone (quiet), then while the attackers stream 4 KiB every 5 ms each,
reconnecting whenever the server closes on them. The variants:

- limit: the product's defaults (API_MAX_HEADER_BYTES 16 KiB, API_MAX_HEADERS 100): 431 and close.
- no_limit: API_MAX_HEADER_BYTES 10^12, i.e. the server as it was: httptools joins the header's pieces
  one by one, quadratic in its length.

Reported per variant and round: normal requests per second quiet and attacked, the share answered
within 1 s, p50 / p99, the connections the server closed on the attackers, and the worker processes'
memory (RSS) before, during and after the attack; then the ratio attacked / quiet of the request rate.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

from .api_server import serve_command
from .common import Results, fmt, median, ms, percentile, table
from .http_save import load_average

VARIANTS = {"limit": {}, "no_limit": {"API_MAX_HEADER_BYTES": str(10**12)}}
ATTACKERS = 16
CHUNK = b"a" * 4096
CHUNK_EVERY_SECONDS = 0.005
ANSWERED_WITHIN_SECONDS = 1.0


def worker_rss_mb(server_pid: int) -> dict[int, float]:
    """Resident memory of each process under the server (its workers), in MiB."""
    return {c.pid: c.memory_info().rss / 2**20 for c in psutil.Process(server_pid).children(recursive=True)}


@contextmanager
def endless_headers(url: str, connections: int = ATTACKERS) -> Iterator[list[int]]:
    """`connections` clients, each streaming one header line that never ends, reconnecting whenever the
    server closes; yields a one-item list: how many connections were closed on them so far."""
    host, port = url.removeprefix("http://").split(":")
    stop = threading.Event()
    closed = [0]

    def attack() -> None:
        while not stop.is_set():
            try:
                with socket.create_connection((host, int(port)), timeout=5) as sock:
                    sock.sendall(b"POST /api/check-username HTTP/1.1\r\nHost: x\r\nX-Endless: ")
                    while not stop.is_set():
                        sock.sendall(CHUNK)
                        time.sleep(CHUNK_EVERY_SECONDS)
            except OSError:
                closed[0] += 1

    threads = [threading.Thread(target=attack, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    try:
        yield closed
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def timed_requests(url: str, seconds: float) -> list[float]:
    """Normal username checks, one after another for `seconds`: each one's time to answer (inf when it
    failed, was refused or took over 5 s)."""
    times = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=5) as http:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                ok = http.post("/api/check-username", json={"username": "normal_user"}).status_code == 200
            except httpx.HTTPError:
                ok = False
            times.append(time.monotonic() - started if ok else float("inf"))
    return times


@dataclass
class Cell:
    variant: str
    round: int
    quiet_per_second: float
    attacked_per_second: float
    within_1s_share: float
    attacked_p50_ms: float
    attacked_p99_ms: float
    closed_by_server: int
    rss_before_mb: float  # the largest worker's
    rss_during_mb: float
    rss_after_mb: float


def measure(url: str, pid: int, variant: str, round_: int, seconds: float) -> Cell:
    timed_requests(url, 1)  # both workers warm
    before = worker_rss_mb(pid)
    quiet = timed_requests(url, seconds)
    with endless_headers(url) as closed:
        time.sleep(1)
        attacked = timed_requests(url, seconds)
        during = worker_rss_mb(pid)
        closed_count = closed[0]
    time.sleep(1)
    after = worker_rss_mb(pid)
    return Cell(
        variant=variant,
        round=round_,
        quiet_per_second=len(quiet) / seconds,
        attacked_per_second=len(attacked) / seconds,
        within_1s_share=sum(t <= ANSWERED_WITHIN_SECONDS for t in attacked) / max(1, len(attacked)),
        attacked_p50_ms=ms(median(attacked)),
        attacked_p99_ms=ms(percentile(attacked, 99)),
        closed_by_server=closed_count,
        rss_before_mb=max(before.values()),
        rss_during_mb=max(during.values()),
        rss_after_mb=max(after.values()),
    )


def report(cells: list[Cell]) -> str:
    rows = [
        [c.variant, c.round + 1, fmt(c.quiet_per_second, 0), fmt(c.attacked_per_second, 0),
         f"{c.attacked_per_second / c.quiet_per_second:.0%}" if c.quiet_per_second else "-",
         f"{c.within_1s_share:.1%}", fmt(c.attacked_p50_ms), fmt(c.attacked_p99_ms), c.closed_by_server,
         f"{c.rss_before_mb:.0f} / {c.rss_during_mb:.0f} / {c.rss_after_mb:.0f}"]
        for c in cells
    ]  # fmt: skip
    headers = ["variant", "round", "quiet req/s", "attacked req/s", "attacked / quiet", "within 1 s",
               "p50 ms", "p99 ms", "closed by server", "worker RSS MiB before / during / after"]  # fmt: skip
    return table(headers, rows)


def run(url: str, *, quick: bool, rounds: int | None = None, seconds: float | None = None) -> Results:
    rounds = rounds or 1
    seconds = seconds or (1.0 if quick else 8.0)
    results = Results("headers", quick)
    load_before = load_average()
    print(
        f"endless-header benchmark: python -m api.serve, 2 workers; {ATTACKERS} connections streaming "
        f"{len(CHUNK)} bytes every {CHUNK_EVERY_SECONDS * 1000:g} ms; {rounds} round(s) x {seconds:g} s "
        f"quiet + {seconds:g} s attacked per variant; load average {load_before} (1, 5, 15 min)"
    )
    cells = []
    with tempfile.TemporaryDirectory(prefix="bench-headers-") as scratch:
        for round_ in range(rounds):
            for variant, env in VARIANTS.items():
                log = Path(scratch) / f"api-{variant}.log"
                settings = {"RATE_LIMIT_LOOKUPS_PER_HOUR": "0", **env}  # one client sends them all
                with serve_command(url, 2, log, env=settings) as (base, pid):
                    cells.append(measure(base, pid, variant, round_, seconds))
    print(report(cells))
    print(f"load average before {load_before}, after {load_average()} (1, 5, 15 min)")
    results.data.update(cells=[asdict(c) for c in cells], seconds=seconds, attackers=ATTACKERS)
    return results
