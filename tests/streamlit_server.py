"""For the browser tests: Debian's Chromium settings, and a Streamlit app run as `streamlit run` on a
free port for the length of a fixture."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browser download is not available here
# Without the background-networking flags Chromium keeps dialling hosts this machine cannot reach.
CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_app(
    script: str, env: dict[str, str], log_path: Path, startup_seconds: float = 90,
    toolbar_mode: str | None = "viewer",
) -> Iterator[str]:
    """Run `streamlit run <script>` (relative to the project root) and yield its URL once healthy;
    stop it afterwards. Startup is bounded; a failure shows the end of the app's log. `toolbar_mode`
    as ./dev start gives it (None: the app's own .streamlit/config.toml decides)."""
    port = free_port()
    toolbar = ["--client.toolbarMode", toolbar_mode] if toolbar_mode else []
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *toolbar],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + startup_seconds
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{script} did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
