"""`python -m bench [name ...] [--quick]` (or `./dev bench ...`): run benchmarks on scratch databases
(created and dropped by the bench) on the embedded server, or on the server of DATABASE_URL /
--server-url. Without a name, all of them run one after another.

save      save_drawing vs raw INSERT at 1/4/16 clients: rate, p50/p99, ratio
queries   monitoring + dashboard queries and table size as the data grows 10k -> 100k -> 1M sessions
cleanup   cleanup of 1M expired sessions, batched vs one call, and the longest concurrent save meanwhile
http      save-drawing through the API server (uvicorn + wrk) vs the service in process, 1/4/16 clients
overload  the API at 1x and 2x the requests it takes at once: load shedding vs queueing, p99, health probes
headers   16 connections streaming endless headers: normal requests and worker memory, header limit vs none
recovery  PostgreSQL killed under load: what the API's clients meet, first 2xx after it is back (own server)
app       the enrollment app in headless Chromium: tap Save -> next step's pad drawn, p50 / p90
verify    time of one sign-in verification, timed and shape (needs no database)
restart   kill -9 of the embedded server under ./dev start's supervisor -> accepting connections again
          (runs its own embedded server)
cluster   saves through HAProxy + PgBouncer vs direct, CPU, WAL bytes and fsyncs per save, on the
          PostgreSQL of ./dev cluster (started if needed; docs/scaling.md). Only when named.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path
from typing import TypedDict

from enrollment_core.config import PROJECT_ROOT, Settings

from . import (
    app_roundtrip,
    cleanup,
    cluster_shape,
    db_restart,
    headers,
    http_save,
    overload,
    queries,
    recovery,
    save_step,
    verify,
)
from .common import RESULTS_DIR, scratch_database, server_url

BENCHMARKS = (
    "save", "queries", "cleanup", "http", "overload", "headers", "recovery", "app", "verify", "restart"
)  # fmt: skip
# Run only when named: it needs ./dev cluster's HAProxy, PgBouncer and PostgreSQL servers.
ON_REQUEST = ("cluster",)


def _sizes(text: str) -> list[int]:
    return [int(float(part)) for part in text.replace("_", "").split(",") if part]


class Timing(TypedDict):
    """The arguments every timed bench's run() takes: --quick, --rounds, --seconds."""

    quick: bool
    rounds: int | None
    seconds: float | None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "names",
        nargs="*",
        choices=[*BENCHMARKS, *ON_REQUEST, []],
        metavar="name",
        help=f"which benchmarks ({', '.join(BENCHMARKS + ON_REQUEST)}); default: all but cluster",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes and short runs: a smoke test")
    parser.add_argument(
        "--server-url",
        help="server for the scratch databases (default: DATABASE_URL's server, else the embedded one)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help="where to write figures and plans (default var/bench)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases (to inspect them)")
    save = parser.add_argument_group("save, http")
    save.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    save.add_argument("--seconds", type=float, help="seconds per measurement (default 5)")
    save.add_argument("--clients", type=_sizes, help="client counts, e.g. 1,4,16")
    save.add_argument(
        "--workers", type=_sizes, help="http: API worker processes, e.g. 1,2 (default: ./dev start's and 2)"
    )
    save.add_argument("--profile", action="store_true", help="also cProfile a single client's saves")
    save.add_argument(
        "--split",
        action="store_true",
        help="also save with validation done beforehand: how much of the gap is validation",
    )
    save.add_argument(
        "--existing", type=int, help="sessions stored (and analysed) before measuring (default 20000)"
    )
    app = parser.add_argument_group("app")
    app.add_argument("--enrollments", type=int, help="full 11-step enrollments to time (default 3)")
    data = parser.add_argument_group("queries / cleanup")
    data.add_argument("--sizes", type=_sizes, help="session counts for queries, e.g. 10k as 10000,100000")
    data.add_argument("--expired", type=int, help="expired sessions for cleanup (default 1000000)")
    data.add_argument(
        "--archive",
        action="store_true",
        help="queries: also as many archived summaries as sessions (default: an empty archive)",
    )
    data.add_argument(
        "--batch-size",
        type=int,
        default=Settings.cleanup_batch_size,
        help=f"cleanup batch size (default {Settings.cleanup_batch_size})",
    )
    data.add_argument(
        "--pause-ratio",
        type=float,
        default=cleanup.PACED_PAUSE_RATIO,
        help="cleanup, paced mode: rest after each batch, as a multiple of its time (default %(default)s)",
    )
    data.add_argument(
        "--modes", default="batched,paced,one_call", help="cleanup modes (batched,paced,one_call)"
    )
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)

    logging.basicConfig(level=logging.WARNING)
    # verify needs no database; recovery and restart run a server of their own (they kill it); cluster
    # uses ./dev cluster's.
    own_server = {"verify", "recovery", "restart", "cluster"}
    server = server_url(args.server_url) if set(names) - own_server else "(none needed)"
    print(f"server: {server}   disk free: {shutil.disk_usage(PROJECT_ROOT).free / 1e9:.0f} GB")
    timing: Timing = {"quick": args.quick, "rounds": args.rounds, "seconds": args.seconds}
    for name in names:
        started = time.perf_counter()
        print(f"\n=== {name}{' (quick)' if args.quick else ''} ===")
        if name == "save":
            with scratch_database(server, "save", keep=args.keep) as url:
                results = save_step.run(
                    url,
                    **timing,
                    clients=args.clients,
                    profile=args.profile,
                    existing=args.existing,
                    split=args.split,
                )
        elif name == "http":
            with scratch_database(server, "http", keep=args.keep) as url:
                results = http_save.run(
                    url, **timing, clients=args.clients, workers=args.workers, existing=args.existing
                )
        elif name == "overload":
            with scratch_database(server, "overload", keep=args.keep) as url:
                results = overload.run(url, **timing)
        elif name == "headers":
            with scratch_database(server, "headers", keep=args.keep) as url:
                results = headers.run(url, **timing)
        elif name == "app":
            with scratch_database(server, "app", keep=args.keep) as url:
                results = app_roundtrip.run(url, quick=args.quick, enrollments=args.enrollments)
        elif name == "recovery":
            results = recovery.run(quick=args.quick)
        elif name == "verify":
            results = verify.run(quick=args.quick)
        elif name == "restart":
            results = db_restart.run(quick=args.quick)
        elif name == "cluster":
            results = cluster_shape.run(**timing, clients=args.clients)
        elif name == "queries":
            with scratch_database(server, "queries", keep=args.keep) as url:
                results = queries.run(
                    url, quick=args.quick, sizes=args.sizes, out=args.out, archive=args.archive
                )
        else:
            results = cleanup.run(
                server,
                quick=args.quick,
                expired=args.expired,
                batch_size=args.batch_size,
                keep=args.keep,
                pause_ratio=args.pause_ratio,
                modes=tuple(m for m in args.modes.split(",") if m),
            )
        results.data["seconds_total"] = time.perf_counter() - started
        print(f"({name}: {results.data['seconds_total']:.0f} s; figures saved to {results.save(args.out)})")
    return 0
