"""Many clients at once, duplicate submissions racing each other, and two server processes on one
database: every enrollment ends complete and consistent, with no duplicate and no lost step (checked
in SQL). Bounded: 20 users x 11 steps, each step sent twice at the same moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

from enrollment_core.config import PROJECT_ROOT, DatabaseLimits, Settings
from enrollment_core.database import create_pool
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import EnrollmentService
from enrollment_core.step_plan import total_steps
from enrollment_core.validation import parse_drawing_step

USERS = 20
STEPS = total_steps("signup")

# One row per (session, step) that should exist; compared with what is stored.
CONSISTENCY_SQL = """
SELECT te.username, te.session_id, te.status, count(s.id) AS steps,
       count(DISTINCT s.step_number) AS distinct_steps, min(s.step_number) AS first_step,
       max(s.step_number) AS last_step, array_agg(s.content_hash ORDER BY s.step_number) AS hashes
FROM temp_enrollments te LEFT JOIN temp_enrollment_steps s ON s.enrollment_id = te.id
GROUP BY te.id ORDER BY te.username
"""


def _expected_hashes(username: str) -> list[str]:
    return [parse_drawing_step(sample_drawing(username, n)).content_hash for n in range(1, STEPS + 1)]


def _assert_every_enrollment_complete_and_exact(db, usernames: list[str]) -> None:
    rows = db.execute(CONSISTENCY_SQL).fetchall()
    assert [r["username"] for r in rows] == sorted(usernames)  # one session per user: none duplicated
    for r in rows:
        assert (r["steps"], r["distinct_steps"], r["first_step"], r["last_step"]) == (STEPS, STEPS, 1, STEPS)
        assert r["hashes"] == _expected_hashes(r["username"])  # the very drawings sent, none lost
    dupes = db.execute(
        "SELECT count(*) AS n FROM (SELECT enrollment_id, step_number FROM temp_enrollment_steps"
        " GROUP BY 1, 2 HAVING count(*) > 1) d"
    ).fetchone()["n"]
    assert dupes == 0


def _twice_at_once(send) -> tuple:
    """Send the same request from two threads released together (a double tap, a client retry)."""
    barrier = threading.Barrier(2)
    out: list = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = send()
        except Exception as exc:  # asserted by the caller
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tuple(out)


def test_twenty_users_enrolling_at_once_with_every_step_sent_twice(db_url, db):
    # All 40 threads may wait for a connection at once: this is about correctness under concurrency,
    # not load shedding (tests/test_faults.py), so none is turned away.
    limits = DatabaseLimits(pool_max_waiting=2 * USERS)
    settings = Settings(database_url=db_url, pool_min_size=4, pool_max_size=12, database_limits=limits)
    pool = create_pool(db_url, settings, name="crowd")
    service = EnrollmentService(pool, settings)
    usernames = [f"crowd_{i:02d}" for i in range(USERS)]
    problems: list[str] = []

    def enroll(username: str) -> None:
        first = _twice_at_once(lambda: service.save_drawing(sample_drawing(username, 1)))
        if any(isinstance(r, Exception) for r in first):
            problems.append(f"{username} step 1: {first}")
            return
        # Both answers name the same session: one created it, the other was recognised as a retry.
        if len({r.session_id for r in first}) != 1 or sorted(r.created for r in first) != [False, True]:
            problems.append(f"{username} step 1 answered {first}")
        session_id = first[0].session_id
        for n in range(2, STEPS + 1):
            payload = sample_drawing(username, n, session_id=session_id)
            pair = _twice_at_once(lambda p=payload: service.save_drawing(p))
            if any(isinstance(r, Exception) for r in pair):
                problems.append(f"{username} step {n}: {pair}")
                return
            if sorted(r.duplicate for r in pair) != [False, True]:  # exactly one of them wrote the row
                problems.append(f"{username} step {n}: duplicates {[r.duplicate for r in pair]}")
        service.register(username, session_id)

    try:
        threads = [threading.Thread(target=enroll, args=(u,)) for u in usernames]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "an enrollment hung"
    finally:
        pool.close()
    assert problems == []
    _assert_every_enrollment_complete_and_exact(db, usernames)
    assert {r["status"] for r in db.execute("SELECT status FROM temp_enrollments").fetchall()} == {
        "completed"
    }
    copied = db.execute("SELECT count(*) AS n FROM user_enrolled_drawings").fetchone()["n"]
    assert copied == USERS * STEPS


# The other "server": its own process, pool and service, saving the same steps of the same sessions.
OTHER_SERVER = textwrap.dedent(
    """
    import json, os, sys
    from enrollment_core.config import DatabaseLimits, Settings
    from enrollment_core.database import create_pool
    from enrollment_core.sample_drawings import sample_drawing
    from enrollment_core.service import EnrollmentService

    sessions = json.loads(sys.argv[1])
    url = os.environ["DATABASE_URL"]
    settings = Settings(database_url=url, pool_min_size=1, pool_max_size=2)
    pool = create_pool(url, settings, name="other-server")
    service = EnrollmentService(pool, settings)
    print("ready", flush=True)
    sys.stdin.readline()  # go
    created = duplicates = 0
    for n in range(2, 12):
        for username, session_id in reversed(sessions):  # the opposite order to the parent's
            result = service.save_drawing(sample_drawing(username, n, session_id=session_id))
            created += not result.duplicate
            duplicates += result.duplicate
    pool.close()
    print(json.dumps({"created": created, "duplicates": duplicates}), flush=True)
    """
)


def test_two_server_processes_saving_the_same_sessions(db_url, db, service):
    usernames = [f"lb_{i:02d}" for i in range(8)]
    sessions = [[u, service.save_drawing(sample_drawing(u, 1)).session_id] for u in usernames]
    env = os.environ | {"DATABASE_URL": db_url}
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_SERVER, json.dumps(sessions)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
    )
    try:
        assert other.stdout.readline().strip() == "ready"
        other.stdin.write("go\n")
        other.stdin.flush()
        created = duplicates = 0
        for n in range(2, STEPS + 1):  # step by step, like load-balanced requests of the same clients
            for username, session_id in sessions:
                result = service.save_drawing(sample_drawing(username, n, session_id=session_id))
                created += not result.duplicate
                duplicates += result.duplicate
        out, _ = other.communicate(timeout=120)
    finally:
        if other.poll() is None:
            other.kill()
    assert other.returncode == 0
    theirs = json.loads(out.strip().splitlines()[-1])
    # Each step was sent once by each process and written exactly once, by whichever came first.
    assert created + theirs["created"] == len(sessions) * (STEPS - 1)
    assert duplicates + theirs["duplicates"] == len(sessions) * (STEPS - 1)
    _assert_every_enrollment_complete_and_exact(db, usernames)
