"""A small migration runner: applies sql/migrations/NNNN_name.sql (the top-level sql/; installed, the
package data of enrollment_core.sql) in order, once each,
and records them.

Safe to run from several processes at once (an advisory lock serialises runners) and idempotent: a
second run applies nothing. An applied file whose content has changed is refused, because editing
history silently diverges databases; write a new migration instead.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from .queries import query, sql_dir
from .step_plan import PLAN

log = logging.getLogger(__name__)

MIGRATIONS_DIR = sql_dir() / "migrations"
# Arbitrary constant shared by all runners: pg_advisory_lock key for "a migration is running".
MIGRATION_LOCK_KEY = 7_263_110_001
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lowercase_name.sql")
        migrations.append(Migration(match.group(1), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number: {versions}")
    return migrations


def migrate(conninfo: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations and sync the step plan; return the names of the files applied."""
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(query("advisory_lock"), {"key": MIGRATION_LOCK_KEY})
        try:
            conn.execute(query("create_schema_migrations"))
            done = {
                version: (name, checksum)
                for version, name, checksum in conn.execute(query("applied_migrations"))
            }
            for migration in discover(directory):
                if migration.version in done:
                    name, checksum = done[migration.version]
                    if checksum != migration.checksum:
                        raise MigrationError(
                            f"{migration.name} was applied as {name} with other content; "
                            "do not edit applied migrations, add a new one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    recorded = {"version": migration.version, "name": migration.name}
                    conn.execute(query("record_migration"), {**recorded, "checksum": migration.checksum})
                log.info("applied migration %s", migration.name)
                applied_now.append(migration.name)
            _sync_step_plan(conn)
        finally:
            conn.execute(query("advisory_unlock"), {"key": MIGRATION_LOCK_KEY})
    return applied_now


def _sync_step_plan(conn: psycopg.Connection) -> None:
    """Mirror step_plan.PLAN into enrollment_step_plan, writing only rows that differ."""
    rows = [
        {"flow_type": flow, "step_number": s.number, "step_type": s.type, "instruction": s.instruction}
        for flow, steps in PLAN.items()
        for s in steps
    ]
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(query("upsert_step_plan_step"), rows)
        keep = [f"{row['flow_type']}:{row['step_number']}" for row in rows]
        conn.execute(query("delete_other_step_plan_steps"), {"keep": keep})
