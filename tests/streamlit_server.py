"""For the browser tests: Debian's Chromium settings, and a Streamlit app run as `streamlit run` on a
free port for the length of a fixture."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.processes import answers, free_port, server_process

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


@contextmanager
def streamlit_app(
    script: str, env: dict[str, str], log_path: Path, startup_seconds: float = 90,
    toolbar_mode: str | None = "viewer",
) -> Iterator[str]:
    """Run `streamlit run <script>` (relative to the project root) and yield its URL once healthy;
    stop it afterwards. Startup is bounded; a failure shows the end of the app's log. `toolbar_mode`
    as ./dev start gives it (None: the app's own .streamlit/config.toml decides)."""
    url = f"http://127.0.0.1:{(port := free_port())}"
    toolbar = ["--client.toolbarMode", toolbar_mode] if toolbar_mode else []
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               *toolbar]  # fmt: skip
    with server_process(
        command,
        log_path,
        env=env,
        ready=lambda: answers(f"{url}/_stcore/health"),
        what=script,
        startup_seconds=startup_seconds,
    ):
        yield url
