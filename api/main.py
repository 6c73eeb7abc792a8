"""The HTTP API of signature enrollment: the seed's JSON contract, served by FastAPI.

    python -m api.serve        (what ./dev start runs: uvicorn, its workers and api/server.py's protocol)

The app (create_app, uvicorn's factory) opens the service (embedded PostgreSQL unless DATABASE_URL,
schema migrated) when the server starts, runs the hourly maintenance (cleanup of expired sessions,
archiving) while it runs, and closes both on shutdown.
Tests build their own app around a service on a test database: create_app(service).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from enrollment_core import EnrollmentService, open_service
from enrollment_core.config import Settings, process_configuration

from .errors import install_error_handlers
from .headers import SecurityHeaders
from .limits import MAX_BODY_BYTES, BodySizeLimit
from .load_shedding import InFlightLimit
from .routes import router, state_lifetime

DESCRIPTION = """\
Step-by-step signature enrollment kept server-side in PostgreSQL (sessions survive lost connections,
restarts and load balancing, and expire after {lifetime}).

Flow: check the username, save each drawing with `/api/save-drawing` (the first call returns the
`sessionId`), then complete with `/register` (signup) or `/login` (sign-in).
Every error answers `{"error": {"code", "message", "field"}}`; see docs/api.md.
"""


def freeze_startup_objects() -> None:
    """Keep the objects made at start-up (modules, the app, the pool) out of later garbage
    collections. A save's strokes make hundreds of small lists, so collections run all the time, and
    every so often a full one walked the ~100,000 start-up objects too: 114 and 250 ms pauses in 15 s
    of one worker's load (gc callbacks), each stalling every request in flight. Frozen, a full
    collection took 1.7 ms. Garbage made before the freeze is collected first, so none is kept."""
    gc.collect()
    gc.freeze()


def create_app(
    service: EnrollmentService | None = None,
    *,
    settings: Settings | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The API around `service`; without one, the app opens (and later closes) its own on startup, with
    `settings` (default: this process's, from the environment). uvicorn calls it as the app's factory
    (api.serve), once per worker process."""
    if service is not None:
        settings = service.settings
    elif settings is None:
        settings = process_configuration().settings
    own_settings = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if service is not None:  # injected (tests): its owner opens and closes it
            app.state.service = service
            app.state.readiness = service.readiness_probe()
            try:
                yield
            finally:
                await app.state.readiness.close()
            return
        # Opening may start the embedded database and migrate: blocking work, kept off the event loop.
        # background_cleanup: the hourly cleanup and archiving run while the API runs (once per interval
        # across all instances); close() stops them and closes the pool.
        own = await to_thread.run_sync(lambda: open_service(own_settings, background_cleanup=True))
        app.state.service = own
        app.state.readiness = own.readiness_probe()
        freeze_startup_objects()  # a server process from here on; tests (service given) keep theirs
        try:
            yield
        finally:
            await app.state.readiness.close()
            await to_thread.run_sync(own.close)

    app = FastAPI(
        title="Signature enrollment API",
        version="1.0.0",
        description=DESCRIPTION.replace("{lifetime}", settings.session_lifetime),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_body_bytes=max_body_bytes)
    # Outside the body limit: a shed request is answered before its body is read.
    app.add_middleware(InFlightLimit, max_in_flight=settings.max_in_flight)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so every answer carries the headers
    app.include_router(router)
    state_lifetime(app, settings)
    return app
