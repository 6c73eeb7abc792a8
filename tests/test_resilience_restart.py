"""PostgreSQL restarts in the middle of an enrollment: nothing saved is lost and the flow resumes.

These tests run their OWN embedded server (conftest.py own_server), because restarting the session-wide
server of conftest.py would break every other test running against it.
"""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

from enrollment_core import embedded_postgres
from enrollment_core.config import Settings
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.validation import parse_drawing_step
from tests.flows import service_on


def _saved_steps(url: str, session_id: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT s.step_number, s.content_hash FROM temp_enrollment_steps s"
            " JOIN temp_enrollments te ON te.id = s.enrollment_id WHERE te.session_id = %s"
            " ORDER BY s.step_number",
            (session_id,),
        ).fetchall()


def test_a_restart_mid_enrollment_loses_nothing_and_the_next_save_succeeds(own_server):
    data_dir, url = own_server
    # Every pooled connection is open (min_size = max_size) and so every one is broken by the restart:
    # the next save can only succeed if the pool's check notices and reconnects.
    settings = Settings(database_url=url, pool_min_size=3, pool_max_size=3)
    with service_on(url, settings, name="restart") as service:
        payloads = [sample_drawing("restart_user", n) for n in range(1, 12)]
        session_id = service.save_drawing(payloads[0]).session_id
        for payload in payloads[1:5]:
            service.save_drawing(replace(payload, session_id=session_id))
        before = _saved_steps(url, session_id)
        assert [n for n, _ in before] == [1, 2, 3, 4, 5]

        witness = psycopg.connect(url)  # opened like the pooled ones, used outside the pool
        assert embedded_postgres.restart(data_dir) == url
        with pytest.raises(psycopg.OperationalError):  # the restart really broke open connections
            witness.execute("SELECT 1")
        witness.close()

        # The flow resumes where it was: progress comes from the database, the next save succeeds.
        assert service.get_progress(session_id).next_step == 6
        result = service.save_drawing(replace(payloads[5], session_id=session_id))
        assert (result.progress.completed_steps, result.duplicate) == (6, False)
        # A client that did not hear the answer to step 5 before the restart re-sends it: a no-op.
        assert service.save_drawing(replace(payloads[4], session_id=session_id)).duplicate is True

        for payload in payloads[6:]:
            service.save_drawing(replace(payload, session_id=session_id))
        registration = service.register("restart_user", session_id)
        assert registration.drawings_copied == 11
        after = _saved_steps(url, session_id)
        assert after[:5] == before  # the steps saved before the restart, byte-identical (by hash)
        assert after == [(n, parse_drawing_step(p).content_hash) for n, p in enumerate(payloads, 1)]


def test_a_save_while_the_server_is_down_fails_cleanly_and_the_retry_succeeds(own_server):
    """A save while PostgreSQL is down gets a database error and stores nothing; the client's retry
    after the restart succeeds and the enrollment completes without duplicates."""
    data_dir, url = own_server
    settings = Settings(database_url=url, pool_min_size=1, pool_max_size=2)
    with service_on(url, settings, name="restart-race") as service:
        payloads = [sample_drawing("racer", n) for n in range(1, 12)]
        session_id = service.save_drawing(payloads[0]).session_id
        embedded_postgres.stop(data_dir)
        # The server is down: the save waits for a connection (DB_POOL_TIMEOUT_SECONDS), then fails
        # with an honest error (PoolTimeout is an OperationalError; the API maps it to 503) and saves
        # nothing.
        with pytest.raises(psycopg.OperationalError):
            service.save_drawing(replace(payloads[1], session_id=session_id))
        # restart(), not ensure_running(): in this process the server handle still believes it runs.
        embedded_postgres.restart(data_dir)
        for payload in payloads[1:]:  # the client retries step 2 and carries on
            service.save_drawing(replace(payload, session_id=session_id))
        assert [n for n, _ in _saved_steps(url, session_id)] == list(range(1, 12))
