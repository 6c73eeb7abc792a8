-- Statements about the server and the connection rather than the data: advisory locks, a transaction's
-- settings, the migration runner's bookkeeping and the embedded server's settings (loaded by
-- enrollment_core.queries like the others; the data's queries are in queries.sql, dashboard.sql and
-- snapshot.sql).

-- name: try_advisory_lock
-- A session-level advisory lock if it is free (the cleanup runner: one instance runs it at a time);
-- ok says whether it was taken. Released by advisory_unlock or when the session ends.
SELECT pg_try_advisory_lock(%(key)s) AS ok;

-- name: advisory_lock
-- Wait for a session-level advisory lock (the migration runner: one instance migrates at a time).
SELECT pg_advisory_lock(%(key)s);

-- name: advisory_unlock
SELECT pg_advisory_unlock(%(key)s);

-- name: advisory_xact_lock
-- Wait for a transaction-level advisory lock (the snapshot refresh: one at a time); released at commit.
SELECT pg_advisory_xact_lock(%(key)s);

-- name: try_advisory_xact_lock
-- The same lock if it is free; ok says whether it was taken.
SELECT pg_try_advisory_xact_lock(%(key)s) AS ok;

-- name: repeatable_read
-- The transaction sees one consistent view of the tables (the snapshot's figures agree with each other).
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;

-- name: commit_without_waiting_for_wal
-- This transaction's commit does not wait for its WAL to reach the disk (the cleanup's batches: a crash
-- could only undo the last ones, which the next run deletes again).
SET LOCAL synchronous_commit = off;

-- name: database_now
-- The database's clock (a block's time left is counted on it, as the block was set).
SELECT NOW() AS now;

-- name: create_schema_migrations
-- The migration runner's own table: which migration files were applied, and their checksums.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   CHAR(64) NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW());

-- name: applied_migrations
SELECT version, name, checksum FROM schema_migrations;

-- name: record_migration
INSERT INTO schema_migrations (version, name, checksum) VALUES (%(version)s, %(name)s, %(checksum)s);

-- name: upsert_step_plan_step
-- One step of step_plan.PLAN mirrored into enrollment_step_plan, written only when it differs.
INSERT INTO enrollment_step_plan AS p (flow_type, step_number, step_type, instruction)
VALUES (%(flow_type)s, %(step_number)s, %(step_type)s, %(instruction)s)
ON CONFLICT (flow_type, step_number) DO UPDATE
SET step_type = EXCLUDED.step_type, instruction = EXCLUDED.instruction
WHERE (p.step_type, p.instruction) IS DISTINCT FROM (EXCLUDED.step_type, EXCLUDED.instruction);

-- name: delete_other_step_plan_steps
-- The steps the plan no longer has (keep: 'flow:number' of every step it has).
DELETE FROM enrollment_step_plan WHERE flow_type || ':' || step_number <> ALL(%(keep)s);

-- name: server_setting_is
SELECT current_setting(%(name)s) = %(value)s AS same;

-- name: alter_system_setting
-- ALTER SYSTEM takes no parameters: psycopg.sql fills in the setting's name as an identifier and its
-- value as a literal, where the braces stand.
ALTER SYSTEM SET {name} = {value};

-- name: reload_configuration
SELECT pg_reload_conf();
