"""The database contract of the seed design note, checked in PostgreSQL itself."""

from __future__ import annotations

import threading

import psycopg
import pytest

from enrollment_core import migrations
from enrollment_core.queries import query

from .flows import draw_signup, expire

SEED_COLUMNS = {
    "temp_enrollments": {
        "id", "session_id", "username", "flow_type", "status", "device_info", "metadata",
        "created_at", "updated_at", "expires_at",
    },
    "temp_enrollment_steps": {
        "id", "enrollment_id", "step_number", "step_type", "instruction", "signature_data", "raw_data",
        "metrics", "completed_at",
    },
}  # fmt: skip


def _columns(db: psycopg.Connection, table: str) -> set[str]:
    rows = db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
    ).fetchall()
    return {r["column_name"] for r in rows}


@pytest.mark.parametrize("table", sorted(SEED_COLUMNS))
def test_tables_have_every_seed_column(db, table):
    assert SEED_COLUMNS[table] <= _columns(db, table)


def test_seed_indexes_exist_by_name(db):
    names = {r["indexname"] for r in db.execute("SELECT indexname FROM pg_indexes").fetchall()}
    assert {
        "idx_temp_enrollments_session_id",
        "idx_temp_enrollments_username",
        "idx_temp_enrollments_expires_at",
        "idx_users_username_lower",
    } <= names


def _insert_enrollment(db, session_id="sess_" + "a" * 32, **values):
    row = {"session_id": session_id, "username": "alice", "flow_type": "signup", **values}
    cols = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    return db.execute(
        f"INSERT INTO temp_enrollments ({cols}) VALUES ({marks}) RETURNING id", list(row.values())
    ).fetchone()["id"]


@pytest.mark.parametrize(
    ("column", "value"), [("flow_type", "signon"), ("status", "done"), ("status", None), ("flow_type", "")]
)
def test_allowed_values_are_constrained_in_the_database(db, column, value):
    with pytest.raises((psycopg.errors.CheckViolation, psycopg.errors.NotNullViolation)):
        _insert_enrollment(db, **{column: value})


def test_step_type_and_one_row_per_step_are_constrained(db):
    enrollment_id = _insert_enrollment(db)
    step = "INSERT INTO temp_enrollment_steps (enrollment_id, step_number, step_type, instruction,"
    step += " signature_data, content_hash) VALUES (%s, %s, %s, 'x', 'data:image/png;base64,AA', %s)"
    db.execute(step, (enrollment_id, 1, "signature", "0" * 64))
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(step, (enrollment_id, 2, "doodle", "0" * 64))
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(step, (enrollment_id, 1, "signature", "1" * 64))


def test_steps_are_deleted_with_their_enrollment(db, service):
    session_id = draw_signup(service, "alice", steps=3)
    db.execute("DELETE FROM temp_enrollments WHERE session_id = %s", (session_id,))
    assert db.execute("SELECT count(*) AS n FROM temp_enrollment_steps").fetchone()["n"] == 0


def test_usernames_are_unique_case_insensitively(db):
    db.execute("INSERT INTO users (username, enrollment_session_id) VALUES ('John_Doe', 's1')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("INSERT INTO users (username, enrollment_session_id) VALUES ('JOHN_doe', 's2')")


# ---------------------------------------------------------------- get_enrollment_progress


def test_progress_returns_exactly_the_seed_columns(db, service):
    session_id = draw_signup(service, "alice", steps=4)
    cur = db.execute("SELECT * FROM get_enrollment_progress(%s)", (session_id,))
    assert [c.name for c in cur.description] == [
        "total_steps", "completed_steps", "last_step_number",
        "last_step_type", "remaining_steps", "is_complete",
    ]  # fmt: skip
    assert cur.fetchone() == {
        "total_steps": 11,
        "completed_steps": 4,
        "last_step_number": 4,
        "last_step_type": "shape",
        "remaining_steps": 7,
        "is_complete": False,
    }


def test_progress_of_signin_and_of_unknown_sessions(db, service):
    from .flows import draw_signin, register_user

    register_user(service, "alice")
    signin = draw_signin(service, "alice")
    row = db.execute("SELECT * FROM get_enrollment_progress(%s)", (signin,)).fetchone()
    assert (row["total_steps"], row["completed_steps"], row["is_complete"]) == (1, 1, True)
    assert db.execute("SELECT * FROM get_enrollment_progress('sess_123')").fetchall() == []


# ---------------------------------------------------------------- complete_enrollment


def test_complete_enrollment_refuses_incomplete_then_completes_once(db, service):
    session_id = draw_signup(service, "alice", steps=10)
    first = db.execute("SELECT * FROM complete_enrollment(%s)", (session_id,)).fetchone()
    assert first["success"] is False and "10 of 11" in first["message"]
    from enrollment_core.sample_drawings import sample_drawing

    service.save_drawing(sample_drawing("alice", 11, session_id=session_id))
    done = db.execute("SELECT * FROM complete_enrollment(%s)", (session_id,)).fetchone()
    assert (done["success"], done["status"]) == (True, "completed")
    again = db.execute("SELECT * FROM complete_enrollment(%s)", (session_id,)).fetchone()
    assert (again["success"], again["status"]) == (False, "completed")
    row = db.execute("SELECT status, completed_at FROM temp_enrollments WHERE session_id = %s", (session_id,))
    assert row.fetchone()["completed_at"] is not None


def test_complete_enrollment_marks_an_expired_session(db, service):
    session_id = draw_signup(service, "alice")
    expire(db, session_id)
    outcome = db.execute("SELECT * FROM complete_enrollment(%s)", (session_id,)).fetchone()
    assert (outcome["success"], outcome["status"]) == (False, "expired")
    status = db.execute("SELECT status FROM temp_enrollments WHERE session_id = %s", (session_id,)).fetchone()
    assert status["status"] == "expired"


def _concurrently(n: int, target) -> list:
    """Run target(i) in n threads released at the same moment; return results (or exceptions)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as exc:  # collected and asserted by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_concurrent_complete_enrollment_succeeds_exactly_once(db_url, service):
    session_id = draw_signup(service, "alice")

    def complete(_: int) -> bool:
        with psycopg.connect(db_url) as conn:
            return conn.execute("SELECT success FROM complete_enrollment(%s)", (session_id,)).fetchone()[0]

    assert sorted(_concurrently(6, complete)) == [False] * 5 + [True]


# ---------------------------------------------------------------- cleanup_expired_enrollments


def test_cleanup_removes_only_expired_unfinished_sessions(db, service):
    expired = [draw_signup(service, f"user{i}", steps=2) for i in range(3)]
    active = draw_signup(service, "active", steps=2)
    done = draw_signup(service, "done")
    service.register("done", done)
    for session_id in [*expired, done]:
        expire(db, session_id)
    db.execute("UPDATE temp_enrollments SET status = 'expired' WHERE session_id = %s", (expired[0],))
    assert db.execute("SELECT cleanup_expired_enrollments() AS n").fetchone()["n"] == 3
    left = {r["session_id"] for r in db.execute("SELECT session_id FROM temp_enrollments").fetchall()}
    assert left == {active, done}
    assert db.execute("SELECT cleanup_expired_enrollments() AS n").fetchone()["n"] == 0


def test_concurrent_cleanups_remove_each_session_once(db_url, db, service):
    sessions = [draw_signup(service, f"user{i}", steps=1) for i in range(40)]
    for session_id in sessions:
        expire(db, session_id)

    def cleanup(_: int) -> int:
        with psycopg.connect(db_url) as conn:
            return conn.execute("SELECT cleanup_expired_enrollments(5)").fetchone()[0] + sum(
                conn.execute("SELECT cleanup_expired_enrollments(5)").fetchone()[0] for _ in range(20)
            )

    results = _concurrently(4, cleanup)
    assert sum(results) == 40
    assert db.execute("SELECT count(*) AS n FROM temp_enrollments").fetchone()["n"] == 0


# ---------------------------------------------------------------- monitoring queries


def test_seed_monitoring_queries_run_as_documented(db, service):
    active = draw_signup(service, "active", steps=3)
    stale = draw_signup(service, "stale", steps=2)
    expire(db, stale)
    done = draw_signup(service, "done")
    service.register("done", done)

    rows = db.execute(query("active_sessions")).fetchall()
    assert {(r["username"], r["steps_completed"]) for r in rows} == {("active", 3), ("stale", 2)}
    assert db.execute(query("expired_pending_cleanup")).fetchone()["count"] == 1
    averages = db.execute(query("avg_steps_per_flow")).fetchall()
    assert [(r["flow_type"], float(r["avg_steps"])) for r in averages] == [("signup", 11.0)]
    assert active


# ---------------------------------------------------------------- migrations


def test_migrating_twice_changes_nothing(db_url, db):
    before = db.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version").fetchall()
    assert migrations.migrate(db_url) == []
    after = db.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version").fetchall()
    assert before == after and len(after) == len(migrations.discover())


def test_an_edited_applied_migration_is_refused(db_url, tmp_path):
    for m in migrations.discover():
        (tmp_path / m.name).write_text(m.sql + ("\n-- edited" if m.version == "0001" else ""))
    with pytest.raises(migrations.MigrationError, match="do not edit applied migrations"):
        migrations.migrate(db_url, tmp_path)


def test_pending_migrations_apply_in_order_and_are_recorded(server_url, tmp_path):
    from .conftest import drop_test_database

    name = "t_fresh_migrate"
    drop_test_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        from psycopg.conninfo import make_conninfo

        url = make_conninfo(server_url, dbname=name)
        applied = migrations.migrate(url)
        assert applied == [m.name for m in migrations.discover()]
        with psycopg.connect(url) as conn:
            plan = conn.execute("SELECT flow_type, count(*) FROM enrollment_step_plan GROUP BY 1 ORDER BY 1")
            assert plan.fetchall() == [("signin", 1), ("signup", 11)]
    finally:
        drop_test_database(server_url, name)


def test_the_embedded_server_is_tuned_for_large_cleanups(pg_data_dir, db):
    """Kept from docs/performance.md: a 1 M-session cleanup stalls concurrent saves at the 1 GB default."""
    from enrollment_core.embedded_postgres import SERVER_SETTINGS

    if pg_data_dir is None:
        pytest.skip("TEST_DATABASE_URL: an outside server keeps its own settings")
    for name, value in SERVER_SETTINGS.items():
        assert db.execute("SELECT current_setting(%s) AS v", (name,)).fetchone()["v"] == value
