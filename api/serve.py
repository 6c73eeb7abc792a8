"""Run the API as `./dev start` does: `python -m api.serve`.

    API_HOST (127.0.0.1), API_PORT (8000), API_WORKERS (one per CPU this process may use, at most
    MAX_DEFAULT_WORKERS), API_ACCESS_LOG (0: off; 1 logs a line per request): the registry's
    ApiServerSettings (enrollment_core/config.py), read once when the server starts

Each worker is a process of its own (its own interpreter lock, its own connection pool): with one
worker, a 2-core machine serves saves from one core, because a save's Python work (JSON, validation)
holds the interpreter lock. uvicorn runs on uvloop with httptools' HTTP parser (both installed by
requirements.txt): a third less CPU per request than asyncio and h11, measured; the parser's protocol
is api/server.py's, which cuts off slow requests (408) and answers unparseable ones in JSON.
The access log is off unless asked for: a fifth of the API's CPU per save went into formatting and
writing that line, and the proxy in front of the API usually logs requests anyway.
`./dev bench http` measures the server started exactly this way.
"""

from __future__ import annotations

import os
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from enrollment_core.config import ApiServerSettings, process_configuration

# The app's factory, called once in every worker process (each reads its settings there, not at import).
APP = "api.main:create_app"
# uvicorn's httptools protocol with a deadline for slow requests and JSON answers to bad HTTP (server.py),
# named as uvicorn imports it: every worker process imports it by this name.
PROTOCOL = "api.server:GuardedHttpToolsProtocol"
# Every worker has its own pool of up to DB_POOL_MAX_SIZE (10) connections: 6 workers and the two
# Streamlit apps stay within PostgreSQL's default max_connections (100). Set API_WORKERS to go beyond.
MAX_DEFAULT_WORKERS = 6


def default_workers() -> int:
    """One worker per CPU this process may run on (its affinity, not the host's count)."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))


def server_settings() -> ApiServerSettings:
    """How to run the server, from the environment; a value that cannot be used ends the command with
    the variable's name and the reason."""
    try:
        return process_configuration().api_server
    except ValueError as error:
        raise SystemExit(str(error)) from None


def workers_from_env() -> int:
    """API_WORKERS, else one per CPU (default_workers)."""
    return server_settings().workers or default_workers()


def access_log_from_env() -> bool:
    return server_settings().access_log


def tcp_listener(config: uvicorn.Config) -> socket.socket:
    """uvicorn's listening socket, declared as TCP. uvicorn binds its workers' socket with proto 0,
    accepted sockets inherit it, and asyncio turns TCP_NODELAY on only for sockets that say
    IPPROTO_TCP (uvicorn issue 3149): every keep-alive answer then waited ~40 ms for the client's
    delayed ACK (Nagle's algorithm): 44 ms per save at 1 client instead of 2. uvloop sets TCP_NODELAY
    on every connection anyway; this keeps the server right on either loop."""
    bound = config.bind_socket()
    listener = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    listener.set_inheritable(True)  # as bind_socket leaves it: the workers receive it
    return listener


def main() -> None:
    server = server_settings()
    host, port = server.host, server.port
    workers, access_log = workers_from_env(), access_log_from_env()
    if workers == 1:  # one process: the event loop binds the socket itself, as TCP
        uvicorn.run(APP, factory=True, host=host, port=port, access_log=access_log, http=PROTOCOL)
        return
    config = uvicorn.Config(
        APP, factory=True, host=host, port=port, workers=workers, access_log=access_log, http=PROTOCOL
    )
    Multiprocess(config, sockets=[tcp_listener(config)]).run()  # uvicorn.run's way, listener fixed


if __name__ == "__main__":
    main()
