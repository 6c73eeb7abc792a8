"""Run the API on a real uvicorn server in a background thread (for tests and local tools).

    with serve(create_app(service)) as base_url:
        httpx.post(f"{base_url}/api/check-username", json={"username": "john_doe"})

A real server, not an in-process transport: the body limit, headers, chunked bodies and the client
address go through uvicorn exactly as in production.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from .server import GuardedHttpToolsProtocol


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
