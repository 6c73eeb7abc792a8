"""One EnrollmentService (and so one connection pool) per process, for the Streamlit apps.

Not st.cache_resource: any visitor can send Streamlit's "clear caches" message, without signing in.
Without on_release, every clear left the old pool open and the next run opened another (100 clears
reached PostgreSQL's "too many clients"); with on_release, one visitor's clear closed the pool under
everyone else's running queries (the staff's too). Held here, nothing a visitor sends reaches it: the
service is opened once, and closed only when the process asks (close()) or when its settings key changes
(a test pointing DATABASE_URL at another database), never two at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

from .service import EnrollmentService


class SharedService:
    """The process's service, opened on first use by `opener` (its key: what it was opened for)."""

    def __init__(self, opener: Callable[[Hashable], EnrollmentService]) -> None:
        self._opener = opener
        self._lock = threading.Lock()
        self._key: Hashable = None
        self._service: EnrollmentService | None = None

    def is_open(self, key: Hashable) -> bool:
        """Whether get(key) answers at once (without opening a pool, which may take seconds)."""
        return self._service is not None and self._key == key

    def get(self, key: Hashable) -> EnrollmentService:
        """The open service for `key`; opens it (once, whatever the number of sessions asking at the same
        time) and closes one opened for another key first. Raises what opening raises (the database
        unreachable: DATABASE_UNAVAILABLE), and the next call tries again."""
        service = self._service
        if service is not None and self._key == key:
            return service
        with self._lock:
            if self._service is not None and self._key == key:
                return self._service
            self._close_locked()
            self._service = self._opener(key)
            self._key = key
            return self._service

    def close(self) -> None:
        """Close the service (its pool and background work); the next get() opens a new one."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        service, self._service, self._key = self._service, None, None
        if service is not None:
            service.close()
