"""Test fixtures: a real PostgreSQL for the whole run, and a fresh database per test.

The server is the embedded one (started in a temporary directory and deleted afterwards) unless
TEST_DATABASE_URL points at another server. Each test gets its own database cloned from a migrated
template, so tests are isolated and can run in any order.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from enrollment_core import embedded_postgres, migrations
from enrollment_core.config import RateLimitSettings, Settings
from enrollment_core.service import EnrollmentService
from tests.flows import service_on

TEMPLATE_DB = "enrollment_test_template"

# Temporary directories (and so the embedded server's data directory) live inside this checkout, not in
# the machine's shared /tmp/pytest-of-<user>: there, a test run in another checkout on the same machine
# numbers, prunes and reuses the same directories, and took this run's database server down with it.
os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(Path(__file__).resolve().parent.parent / "var" / "tmp"))
(Path(os.environ["PYTEST_DEBUG_TEMPROOT"])).mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def pg_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    """The embedded server's data directory (None when TEST_DATABASE_URL is used)."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    data_dir = tmp_path_factory.mktemp("pg") / "data"
    yield data_dir
    embedded_postgres.stop(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server_url(pg_data_dir: Path | None) -> str:
    if pg_data_dir is None:
        return os.environ["TEST_DATABASE_URL"]
    return embedded_postgres.ensure_running(pg_data_dir)


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(server_url, autocommit=True)


@pytest.fixture(scope="session")
def template_url(server_url: str) -> str:
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
    url = make_conninfo(server_url, dbname=TEMPLATE_DB)
    migrations.migrate(url)
    return url


def create_test_database(server_url: str, template_url: str) -> tuple[str, str]:
    """A new database cloned from the migrated template: (name, conninfo)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE_DB)
            )
        )
    return name, make_conninfo(server_url, dbname=name)


def create_empty_database(server_url: str) -> tuple[str, str]:
    """A new database with no schema at all: (name, conninfo)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, make_conninfo(server_url, dbname=name)


def drop_test_database(server_url: str, name: str) -> None:
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def db_url(server_url: str, template_url: str) -> Iterator[str]:
    """Conninfo of a fresh, migrated database for this test only."""
    name, url = create_test_database(server_url, template_url)
    yield url
    drop_test_database(server_url, name)


@pytest.fixture
def settings(db_url: str) -> Settings:
    # No rate limits: tests of other behaviour send far more from one address than a person would.
    # The limits themselves are tested with their defaults and tight settings (tests/test_abuse_*.py).
    return Settings(
        database_url=db_url, pool_min_size=1, pool_max_size=8, rate_limits=RateLimitSettings.off()
    )


@pytest.fixture
def service(db_url: str, settings: Settings) -> Iterator[EnrollmentService]:
    with service_on(db_url, settings) as service:
        yield service


@pytest.fixture
def strict_service(db_url: str, settings: Settings) -> Iterator[EnrollmentService]:
    """Two rejected sign-ins in a row lock an address out of the account (the default is 5)."""
    with service_on(db_url, replace(settings, login_max_failures=2), name="test-strict") as service:
        yield service


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    """A plain autocommit connection to the test database, for assertions in SQL."""
    with psycopg.connect(db_url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        yield conn


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """An embedded PostgreSQL of this test's own, migrated: (data directory, URL). For tests that stop,
    restart or kill the server, which would break every other test on the session-wide one (also when
    TEST_DATABASE_URL names a server: that one is never touched)."""
    data_dir = tmp_path_factory.mktemp("pgr") / "data"  # short: the Unix socket lives in this directory
    url = embedded_postgres.ensure_running(data_dir)
    try:
        migrations.migrate(url)
        yield data_dir, url
    finally:
        embedded_postgres.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
