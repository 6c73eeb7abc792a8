"""How `./dev start` runs the API (api/serve.py): worker count and access log from the environment,
and a listening socket whose connections send answers at once (TCP_NODELAY)."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
import uvicorn

from api import serve


def test_accepted_connections_get_tcp_nodelay_on_asyncio() -> None:
    """uvicorn's own socket for workers leaves Nagle's algorithm on under asyncio (each keep-alive
    answer then waits ~40 ms for the client's delayed ACK); the socket api.serve hands them does not."""

    async def nodelay_of_accepted(listener: socket.socket) -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        try:
            return await asyncio.wait_for(accepted, 10)
        finally:
            writer.close()
            server.close()

    config = uvicorn.Config(serve.APP, host="127.0.0.1", port=0, workers=2)
    assert asyncio.run(nodelay_of_accepted(serve.tcp_listener(config))) == 1
    assert asyncio.run(nodelay_of_accepted(config.bind_socket())) == 0  # why the fix exists


def test_workers_default_to_the_cpus_and_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_WORKERS", raising=False)
    cpus = len(os.sched_getaffinity(0))
    assert serve.workers_from_env() == max(1, min(cpus, serve.MAX_DEFAULT_WORKERS))
    monkeypatch.setenv("API_WORKERS", "3")
    assert serve.workers_from_env() == 3
    for bad in ("0", "two", "-1", "1.5"):
        monkeypatch.setenv("API_WORKERS", bad)
        with pytest.raises(SystemExit, match=r"API_WORKERS must be (an integer|at least 1)"):
            serve.workers_from_env()


def test_access_log_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_ACCESS_LOG", raising=False)
    assert serve.access_log_from_env() is False
    for on in ("1", "true", "yes", "on"):
        monkeypatch.setenv("API_ACCESS_LOG", on)
        assert serve.access_log_from_env() is True
    monkeypatch.setenv("API_ACCESS_LOG", "sometimes")
    with pytest.raises(SystemExit, match="API_ACCESS_LOG must be 0 or 1"):
        serve.access_log_from_env()
