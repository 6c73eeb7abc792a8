"""sql/schema.sql is the schema a fresh install has: migrating an empty database from
0001 gives exactly what that file creates (tables, columns, defaults, constraints, indexes, storage
options, sequences, functions with their bodies, triggers, views). A migration that forgets to update
the file, or a file edited without a migration, fails here."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from enrollment_core import migrations
from enrollment_core.queries import sql_dir
from tests.conftest import create_empty_database, drop_test_database

# Everything in the public schema that makes up the database's behaviour, one text per object.
CATALOG = """
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') AS item, a.attnum AS position
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'v', 'm', 'p') AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'table ' || c.relname || ' ' || c.relkind::text || ' '
       || coalesce(array_to_string(c.reloptions, ','), ''), 0
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'S')
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid), 0
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'index ' || pg_get_indexdef(indexrelid), 0
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'function ' || p.oid::regprocedure || ' returns ' || pg_get_function_result(p.oid) || ' '
       || p.provolatile::text || ' ' || md5(p.prosrc), 0
FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(oid), 0 FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'view ' || c.relname || ' ' || md5(pg_get_viewdef(c.oid)), 0
FROM pg_class c WHERE c.relkind IN ('v', 'm') AND c.relnamespace = 'public'::regnamespace
"""


def schema_of(url: str) -> list[str]:
    """The database's schema as sorted lines, the migration runner's own bookkeeping left out."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute(CATALOG).fetchall()
    lines = [f"{r['item']} @{r['position']}" for r in rows]
    return sorted(line for line in lines if "schema_migrations" not in line)


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    name, url = create_empty_database(server_url)
    yield url
    drop_test_database(server_url, name)


empty_database_2 = empty_database


def test_migrating_from_empty_gives_exactly_schema_sql(empty_database: str, empty_database_2: str) -> None:
    migrations.migrate(empty_database)
    with psycopg.connect(empty_database_2, autocommit=True) as conn:
        conn.execute((sql_dir() / "schema.sql").read_text(encoding="utf-8"))
    migrated, declared = schema_of(empty_database), schema_of(empty_database_2)
    assert len(migrated) > 100
    only_migrated = [line for line in migrated if line not in declared]
    only_declared = [line for line in declared if line not in migrated]
    assert (only_migrated, only_declared) == ([], []), "schema.sql differs from what the migrations build"
