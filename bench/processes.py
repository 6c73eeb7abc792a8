"""A server process for a test or a benchmark, started and stopped the one way: `python -m api.serve`
(bench/api_server.py) and `streamlit run` (bench/app_roundtrip.py, tests/streamlit_server.py)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from enrollment_core.config import PROJECT_ROOT


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    """Whether `url` answers 200 now (a health check)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@contextmanager
def server_process(
    command: list[str],
    log_path: Path,
    *,
    env: Mapping[str, str],
    ready: Callable[[], bool],
    what: str,
    startup_seconds: float = 90,
    poll_seconds: float = 0.3,
    stop_signal: int = signal.SIGTERM,
    stop_seconds: float = 15,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` from the project root, its output in `log_path`; yield the process once `ready()`
    says so. Startup is bounded: a process that exits or is not ready in time raises RuntimeError with
    the end of its log. Afterwards `stop_signal`, then a kill if it has not ended within stop_seconds."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + startup_seconds
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(poll_seconds)
        yield process
    finally:
        process.send_signal(stop_signal)
        try:
            process.wait(timeout=stop_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=stop_seconds)
