"""The supervisor of `./dev start` (enrollment_core/db_supervisor.py) keeps the embedded PostgreSQL alive.

Every test runs its OWN embedded server in a temporary directory (also when TEST_DATABASE_URL is set):
killing the session-wide server of conftest.py would break every other test running against it. The
supervisor runs as ./dev start runs it, a process of its own, checking every 0.1 s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest

from enrollment_core import db_supervisor, embedded_postgres
from enrollment_core.config import PROJECT_ROOT, Settings
from enrollment_core.db_supervisor import State

INTERVAL = 0.1
BOUND_SECONDS = 10.0  # from kill -9 to accepting connections again (measured: about 1 s)


@pytest.fixture(scope="module")
def module_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("sv") / "data"  # short: the Unix socket lives in this directory
    try:
        yield data_dir
    finally:
        embedded_postgres.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def own_server(module_data_dir: Path) -> tuple[Path, str]:
    """This module's server (initialised once), running: whatever the test before did to it."""
    return module_data_dir, embedded_postgres.ensure_running(module_data_dir)


@dataclass
class Supervised:
    data_dir: Path
    url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, count: int = 1, timeout: float = BOUND_SECONDS) -> str:
        """The log once `pattern` (a regular expression) occurs `count` times in it."""
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, log := self.log())) < count:
            assert self.process.poll() is None, f"the supervisor exited:\n{log}"
            assert time.monotonic() < deadline, f"{pattern!r} x{count} not logged within {timeout} s:\n{log}"
            time.sleep(0.02)
        return log

    def checks(self) -> int:
        return self.log().count("check: ")

    def wait_for_checks(self, more: int) -> str:
        """The log once the supervisor has checked the server `more` more times (timeout: 10x their time)."""
        return self.wait_for_log("check: ", self.checks() + more, timeout=max(10.0, 10 * more * INTERVAL))


@pytest.fixture
def supervised(own_server: tuple[Path, str]) -> Iterator[Supervised]:
    data_dir, url = own_server
    log_path = data_dir.parent / "supervisor.log"
    with db_supervisor.supervisor_process(data_dir, log_path, interval=INTERVAL, verbose=True) as process:
        yield Supervised(data_dir, url, log_path, process)
    assert process.returncode == 0, log_path.read_text()  # SIGTERM ends it cleanly
    assert "supervisor stopped; the embedded PostgreSQL keeps running" in log_path.read_text()


def _postmaster_pid(data_dir: Path) -> int:
    postmaster = embedded_postgres.read_postmaster(data_dir)
    assert postmaster is not None and postmaster.process == "running"
    return postmaster.pid


def _kill_postmaster(data_dir: Path) -> int:
    return embedded_postgres.crash(data_dir)


def test_a_killed_server_is_restarted_with_its_data_and_the_log_says_so(supervised):
    with psycopg.connect(supervised.url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS witness")
        conn.execute("CREATE TABLE witness (note text)")
        conn.execute("INSERT INTO witness VALUES ('written before the crash')")
    supervised.wait_for_log("embedded PostgreSQL answers")

    killed = _kill_postmaster(supervised.data_dir)
    took = db_supervisor.wait_until_answers(supervised.data_dir, BOUND_SECONDS, other_than=killed)
    print(f"kill -9 -> accepting connections again: {took:.2f} s")

    with psycopg.connect(supervised.url) as conn:
        assert conn.execute("SELECT note FROM witness").fetchall() == [("written before the crash",)]
    log = supervised.wait_for_log(rf"embedded PostgreSQL exited \(pid {killed}\); restarted in [\d.]+ s")
    assert re.search(rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING .*exited \(pid {killed}, ", log, re.M)
    assert _postmaster_pid(supervised.data_dir) != killed

    # Restarted once, not twice: the new server (and its crash recovery) is left alone afterwards.
    log = supervised.wait_for_checks(10)
    assert log.count("restarting it") == 1 and log.count("restarted in") == 1, log

    # And again: every exit is noticed, not only the first.
    killed_again = _kill_postmaster(supervised.data_dir)
    db_supervisor.wait_until_answers(supervised.data_dir, BOUND_SECONDS, other_than=killed_again)
    supervised.wait_for_log(rf"embedded PostgreSQL exited \(pid {killed_again}\); restarted in")


def test_a_server_that_answers_is_left_alone(supervised):
    pid = _postmaster_pid(supervised.data_dir)
    log = supervised.wait_for_checks(20)
    assert log.count(f"check: answers (pid {pid})") >= 20
    assert "exited" not in log and "restarting it" not in log and "restarted in" not in log, log
    assert _postmaster_pid(supervised.data_dir) == pid


def test_a_deliberate_stop_is_not_undone_and_a_later_start_is_supervised_again(supervised):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "ENROLLMENT_PGDATA": str(supervised.data_dir),
    }
    stopped = subprocess.run(
        [sys.executable, "-m", "enrollment_core", "db-stop"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert stopped.returncode == 0, stopped.stderr
    supervised.wait_for_log("stopped on purpose")
    log = supervised.wait_for_checks(10)
    assert "restarting it" not in log and "restarted in" not in log, log
    assert db_supervisor.check(supervised.data_dir).state is State.STOPPED_ON_PURPOSE

    embedded_postgres.ensure_running(supervised.data_dir)  # anything that starts it (an app, migrate)
    pid = _postmaster_pid(supervised.data_dir)
    supervised.wait_for_log(rf"embedded PostgreSQL answers \(pid {pid}\)")
    _kill_postmaster(supervised.data_dir)
    db_supervisor.wait_until_answers(supervised.data_dir, BOUND_SECONDS, other_than=pid)
    supervised.wait_for_log(rf"exited \(pid {pid}\); restarted in")


def test_a_failed_restart_is_logged_and_retried_with_a_growing_wait(own_server, caplog):
    """The supervisor in this process, with a start that fails twice (as PostgreSQL refuses to start
    while a backend of the dead server is still attached to its shared memory) before it works."""
    data_dir, url = own_server
    attempts: list[float] = []

    def flaky_start(path: Path) -> str:
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            raise RuntimeError("refused for this test")
        return embedded_postgres.ensure_running(path)

    stop = threading.Event()
    thread = threading.Thread(
        target=db_supervisor.supervise, args=(data_dir, 0.05, stop), kwargs={"start": flaky_start}
    )
    caplog.set_level("INFO", logger="enrollment_core.db_supervisor")
    thread.start()
    try:
        killed = _kill_postmaster(data_dir)
        db_supervisor.wait_until_answers(data_dir, BOUND_SECONDS, other_than=killed)
        deadline = time.monotonic() + BOUND_SECONDS
        while "restarted in" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(timeout=BOUND_SECONDS)
    assert not thread.is_alive()
    assert "attempt 1): RuntimeError: refused for this test; trying again in 0.05 s" in caplog.text
    assert "attempt 2): RuntimeError: refused for this test; trying again in 0.1 s" in caplog.text
    assert f"exited (pid {killed}); restarted in" in caplog.text and "at attempt 3" in caplog.text
    assert len(attempts) == 3
    assert attempts[1] - attempts[0] >= 0.05 and attempts[2] - attempts[1] >= 0.1
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_back_off_doubles_from_the_interval_up_to_a_few_seconds():
    assert [db_supervisor.backoff_seconds(0.5, n) for n in range(1, 7)] == [0.5, 1, 2, 4, 5, 5]
    assert db_supervisor.backoff_seconds(10.0, 3) == 10.0  # never faster than the checks themselves


def test_a_server_starting_or_recovering_is_busy_not_dead(own_server, tmp_path_factory):
    """A postmaster that is alive but not ready (replaying its WAL after a crash, or started by another
    process) is waited for: its lock file says "starting". Checked on a copy of the running server's
    postmaster.pid whose status says so, in a directory without the server's socket."""
    data_dir, _ = own_server
    lock_file = (data_dir / "postmaster.pid").read_text().splitlines()
    pid = int(lock_file[0])
    fake = tmp_path_factory.mktemp("fk")
    for status, expected in (
        ("starting", State.BUSY),
        ("stopping", State.BUSY),
        ("ready", State.NOT_ANSWERING),
    ):
        (fake / "postmaster.pid").write_text(
            "\n".join([*lock_file[:4], str(fake), *lock_file[5:7], status]) + "\n"
        )
        health = db_supervisor.check(fake)
        assert (health.state, health.pid) == (expected, pid), health
    assert "No such file or directory" in health.detail, health.detail  # why it did not answer
    assert db_supervisor.check(data_dir).state is State.ANSWERS


def test_a_lock_file_of_a_dead_postmaster_means_exited(own_server, tmp_path_factory):
    data_dir, _ = own_server
    lock_file = (data_dir / "postmaster.pid").read_text().splitlines()
    fake = tmp_path_factory.mktemp("fk")
    assert db_supervisor.check(fake) == db_supervisor.Health(State.EXITED, None, "no postmaster.pid")
    finished = subprocess.Popen(["true"])
    finished.wait(timeout=10)  # reaped: its pid names no process
    (fake / "postmaster.pid").write_text("\n".join([str(finished.pid), *lock_file[1:]]) + "\n")
    assert db_supervisor.check(fake) == db_supervisor.Health(State.EXITED, finished.pid, "postmaster gone")
    # A pid that lives on in another process (reused) is not the postmaster either.
    (fake / "postmaster.pid").write_text("\n".join([str(os.getpid()), *lock_file[1:]]) + "\n")
    assert db_supervisor.check(fake).state is State.EXITED


def test_a_zombie_postmaster_does_not_block_the_restart(own_server):
    """kill -9 leaves the postmaster a zombie until its parent reaps it (PID 1 here: after 1-2 s; in a
    container whose PID 1 reaps nothing: never). PostgreSQL refuses to start while its lock files
    name a pid that exists, and pgserver takes the zombie for a running server: ensure_running removes
    the lock files of a zombie postmaster. Here the zombie is a child of this test, left unreaped."""
    data_dir, url = own_server
    lock_file = (data_dir / "postmaster.pid").read_text().splitlines()
    embedded_postgres.stop(data_dir)
    zombie = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + BOUND_SECONDS
        while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # The lock files as a postmaster killed with -9 leaves them, naming the zombie.
        (data_dir / "postmaster.pid").write_text("\n".join([str(zombie.pid), *lock_file[1:]]) + "\n")
        socket_lock = Path(lock_file[4]) / f".s.PGSQL.{lock_file[3]}.lock"
        socket_lock.write_text(f"{zombie.pid}\n{data_dir}\n")
        assert db_supervisor.check(data_dir) == db_supervisor.Health(
            State.STOPPED_ON_PURPOSE, zombie.pid, "postmaster zombie"
        )

        assert embedded_postgres.ensure_running(data_dir) == url
        assert _postmaster_pid(data_dir) != zombie.pid
        assert db_supervisor.check(data_dir).state is State.ANSWERS
    finally:
        zombie.wait(timeout=10)


def test_supervise_db_refuses_when_database_url_is_set():
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    done = subprocess.run(
        [sys.executable, "-m", "enrollment_core", "supervise-db"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "DATABASE_URL is set: no embedded server to supervise" in done.stderr


def test_the_check_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("DB_CHECK_INTERVAL_SECONDS", raising=False)
    assert Settings.from_env().db_check_interval_seconds == 0.5
    monkeypatch.setenv("DB_CHECK_INTERVAL_SECONDS", "2.5")
    assert Settings.from_env().db_check_interval_seconds == 2.5
    monkeypatch.setenv("DB_CHECK_INTERVAL_SECONDS", "0")
    with pytest.raises(ValueError, match="DB_CHECK_INTERVAL_SECONDS must be at least 0.05, got 0.0"):
        Settings.from_env()
