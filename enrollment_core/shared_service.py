"""One of a thing per process, for the Streamlit apps: the EnrollmentService (and so one connection
pool), the console's standby reads, its snapshot thread; anything with close().

Not st.cache_resource: any visitor can send Streamlit's "clear caches" message, without signing in.
Without on_release, every clear left the old pool open and the next run opened another (100 clears
reached PostgreSQL's "too many clients"); with on_release, one visitor's clear closed the pool under
everyone else's running queries (the staff's too). Held here, nothing a visitor sends reaches it: the
thing is opened once, and closed only when the process asks (close()) or when its key changes (a test
pointing DATABASE_URL at another database), never two at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar


class Closeable(Protocol):
    def close(self) -> None: ...


_C = TypeVar("_C", bound=Closeable)


class SharedService(Generic[_C]):
    """The process's one `_C`, opened on first use by `opener` (its key: what it was opened for)."""

    def __init__(self, opener: Callable[[Hashable], _C]) -> None:
        self._opener = opener
        self._lock = threading.Lock()
        self._key: Hashable = None
        self._held: _C | None = None

    def is_open(self, key: Hashable) -> bool:
        """Whether get(key) answers at once (without opening, which may take seconds)."""
        return self._held is not None and self._key == key

    def get(self, key: Hashable) -> _C:
        """The open one for `key`; opens it (once, whatever the number of sessions asking at the same
        time) and closes one opened for another key first. Raises what opening raises (the database
        unreachable: DATABASE_UNAVAILABLE), and the next call tries again."""
        held = self._held
        if held is not None and self._key == key:
            return held
        with self._lock:
            if self._held is not None and self._key == key:
                return self._held
            self._close_locked()
            self._held = self._opener(key)
            self._key = key
            return self._held

    def close(self) -> None:
        """Close it (a service: its pool and background work); the next get() opens a new one."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        held, self._held, self._key = self._held, None, None
        if held is not None:
            held.close()
