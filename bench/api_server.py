"""Run the API on a real uvicorn server (for tests and benchmarks; here, not in api/, so that the API
package does not ship it, and tests import it from bench/ as they do the benchmarks).

    with serve(create_app(service)) as base_url:           # in a background thread
        httpx.post(f"{base_url}/api/check-username", json={"username": "john_doe"})
    with serve_command(database_url, 2, log_path) as (base_url, pid):   # as ./dev start runs it
    phones = Phones(base_url, 6).start(); ...; phones.stop()   # clients enrolling, retrying each step

A real server, not an in-process transport: the body limit, headers, chunked bodies and the client
address go through uvicorn exactly as in production.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI

from api.server import GuardedHttpToolsProtocol
from api.wire import save_drawing_json
from enrollment_core import step_plan
from enrollment_core.sample_drawings import sample_drawing

from .common import bench_query
from .processes import answers, free_port, server_process

# A phone enrolls a whole sign-up, as the plan has it.
SIGNUP_STEPS = step_plan.total_steps("signup")


@contextmanager
def serve(
    app: FastAPI, *, host: str = "127.0.0.1", startup_timeout: float = 30, **options: Any
) -> Iterator[str]:
    """Serve `app` until the block ends; yields the base URL. `options` go to uvicorn.Config (e.g.
    forwarded_allow_ips)."""
    options.setdefault("log_level", "warning")
    options.setdefault("http", GuardedHttpToolsProtocol)  # the production protocol (api/server.py)
    options.setdefault("proxy_headers", True)
    # Trust no proxy unless the caller says so: tests connect from 127.0.0.1, which uvicorn trusts by default.
    options.setdefault("forwarded_allow_ips", "")
    config = uvicorn.Config(app, host=host, port=free_port(host), lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the API server failed to start (see its log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the API server did not start within {startup_timeout} s")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def serve_command(
    database_url: str,
    workers: int,
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    startup_seconds: float = 90,
) -> Iterator[tuple[str, int]]:
    """`python -m api.serve` (what ./dev start runs) on a free port with `workers` workers on
    `database_url`, its output in `log_path`, `env` added to the environment; yields (base URL, pid).
    Ready when every worker has logged its start-up and /readyz answers; stopped as Ctrl-C stops it."""
    port = free_port()
    environment = {**os.environ, **(env or {}), "DATABASE_URL": database_url, "API_WORKERS": str(workers),
                   "API_PORT": str(port), "API_HOST": "127.0.0.1"}  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        started = log_path.read_text(errors="replace").count("Application startup complete")
        return started >= workers and answers(f"{base}/readyz")

    with server_process(
        [sys.executable, "-m", "api.serve"],
        log_path,
        env=environment,
        ready=ready,
        what="the API server",
        startup_seconds=startup_seconds,
        poll_seconds=0.2,
        stop_signal=signal.SIGINT,  # uvicorn's graceful stop: workers close their pools
        stop_seconds=30,
    ) as process:
        yield base, process.pid


@dataclass(frozen=True)
class Answer:
    sent: float  # time.monotonic()
    received: float
    status: int  # 0: no HTTP answer (the connection failed)
    retry_after: str | None = None


@dataclass
class Phones:
    """`count` clients, each enrolling people one after another through save-drawing and retrying each
    step until it is acknowledged, as the mobile client does (after `retry_wait` seconds, not
    Retry-After: faults are measured by how soon a retry succeeds). Records every answer and the body of
    every acknowledged step, by (session id, step)."""

    base_url: str
    count: int
    retry_wait: float = 0.05
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _running: list[Future[None]] = field(default_factory=list)
    _pool: ThreadPoolExecutor | None = None

    def start(self) -> Phones:
        self._pool = ThreadPoolExecutor(self.count, thread_name_prefix="phone")
        self._running = [self._pool.submit(self._enroll, n) for n in range(self.count)]
        return self

    def stop(self) -> None:
        """Stop after each phone's current request; raises what a phone raised (an unexpected answer)."""
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for phone in self._running:
            phone.result()

    def first_success_after(self, moment: float, timeout: float = 30) -> float | None:
        """When the first 2xx to a request sent at or after `moment` arrived (waits up to `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                times = [a.received for a in self.answers if a.status == 200 and a.sent >= moment]
            if times or time.monotonic() > deadline:
                return min(times, default=None)
            time.sleep(0.01)

    def not_stored_as_sent(self, database_url: str) -> list[tuple[str, int]]:
        """The acknowledged steps that the database does not hold with the drawing that was sent."""
        with psycopg.connect(database_url) as conn:
            stored = {
                (session_id, step): signature
                for session_id, step, signature in conn.execute(bench_query("stored_signatures"))
            }
        return [key for key, body in self.acknowledged.items() if stored.get(key) != body["signature"]]

    def _enroll(self, number: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=15) as http:
            person = 0
            while not self._stop.is_set():
                username, session_id, step = f"phone{number}_{person}_{os.getpid()}", None, 1
                while step <= SIGNUP_STEPS and not self._stop.is_set():
                    body = save_drawing_json(sample_drawing(username, step, session_id=session_id))
                    sent = time.monotonic()
                    try:
                        answer = http.post("/api/save-drawing", json=body)
                        status, retry_after = answer.status_code, answer.headers.get("retry-after")
                    except httpx.TransportError:
                        status, retry_after = 0, None
                    with self._lock:
                        self.answers.append(Answer(sent, time.monotonic(), status, retry_after))
                    if status == 200:
                        session_id = answer.json()["sessionId"]
                        with self._lock:
                            self.acknowledged[(session_id, step)] = body
                        step += 1
                    elif status in (0, 503):  # a fault: the same step again
                        time.sleep(self.retry_wait)
                    else:
                        raise AssertionError(f"unexpected answer {status}: {answer.text[:500]}")
                person += 1
