-- Named queries of the benchmarks (loaded by bench/common.py with enrollment_core.queries.load).
-- Data is generated set-based (INSERT ... SELECT FROM generate_series): a million sessions take about a
-- minute instead of hours of round trips. Images are a tiny placeholder PNG so that 5 M steps fit on
-- disk; the save benchmark uses real ~25 kB images.

-- name: generate_sessions
-- Sessions number %(first)s..%(last)s with their steps, in one statement (the steps' foreign keys are
-- checked at the end of the statement). The mix follows n: 40 %% sign-in, 60 %% sign-up; by
-- (n / 5) %% 20: 55 %% completed within the last 2 days, 15 %% in progress (live), 15 %% past expiry but
-- not yet cleaned up, 15 %% marked expired. With %(expired_only)s every session is past expiry
-- (the cleanup benchmark's backlog). Sign-up sessions not completed have 1..10 steps; completed ones
-- all 11; sign-in sessions 1. That is about 5.5 steps per session. step_count is set to the number of
-- steps inserted, as the service keeps it.
WITH numbered AS (
    SELECT n,
           CASE WHEN n %% 5 < 2 THEN 'signin' ELSE 'signup' END AS flow_type,
           CASE WHEN %(expired_only)s THEN (CASE WHEN n %% 2 = 0 THEN 'past_expiry' ELSE 'expired' END)
                WHEN (n / 5) %% 20 < 11 THEN 'completed'
                WHEN (n / 5) %% 20 < 14 THEN 'live'
                WHEN (n / 5) %% 20 < 17 THEN 'past_expiry'
                ELSE 'expired' END AS state,
           random() AS r
    FROM generate_series(%(first)s::int, %(last)s::int) AS n
), timed AS (
    SELECT n, flow_type, state,
           CASE WHEN flow_type = 'signin' THEN 1 WHEN state = 'completed' THEN 11
                ELSE 1 + (n * 7) %% 10 END AS steps,
           CASE state
               WHEN 'completed' THEN NOW() - r * INTERVAL '48 hours'
               -- at least 3 minutes ago: its steps (15 s apart) and updated_at are in the past
               WHEN 'live' THEN NOW() - INTERVAL '3 minutes' - r * make_interval(secs => %(ttl_seconds)s - 240)
               ELSE NOW() - make_interval(secs => %(ttl_seconds)s) - INTERVAL '1 minute' - r * INTERVAL '22 hours'
           END AS created_at
    FROM numbered
), sessions AS (
    INSERT INTO temp_enrollments
        (session_id, username, flow_type, status, device_info, metadata, created_at, updated_at, expires_at,
         completed_at, step_count)
    SELECT 'sess_bench' || lpad(n::text, 10, '0') || md5(n::text),
           'bench_user_' || n,
           flow_type,
           CASE state WHEN 'completed' THEN 'completed' WHEN 'expired' THEN 'expired' ELSE 'in_progress' END,
           'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) bench',
           jsonb_build_object('ip', '192.0.2.' || (n %% 254 + 1)),
           created_at,
           created_at + INTERVAL '3 minutes',
           created_at + make_interval(secs => %(ttl_seconds)s),
           CASE WHEN state = 'completed' THEN created_at + INTERVAL '3 minutes' END,
           steps
    FROM timed
    RETURNING id, flow_type, status, created_at, step_count
)
INSERT INTO temp_enrollment_steps
    (enrollment_id, step_number, step_type, instruction, signature_data, raw_data, metrics, content_hash,
     completed_at)
SELECT s.id, p.step_number, p.step_type, p.instruction,
       'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==',
       '{"version": "7.4.0", "objects": []}'::jsonb,
       jsonb_build_object('strokes', 1, 'points', 40 + s.id %% 50, 'duration_ms', 900 + s.id %% 2000),
       md5(s.id || ':' || p.step_number) || md5(p.step_number || ':' || s.id),
       s.created_at + p.step_number * INTERVAL '15 seconds'
FROM sessions s
JOIN enrollment_step_plan p ON p.flow_type = s.flow_type
WHERE p.step_number <= s.step_count;

-- name: remember_usernames
-- What the temp_enrollments_remember_usernames trigger does for every writer, done once after a bulk
-- load that skipped triggers (skip_foreign_key_triggers): the names of the sessions and summaries.
INSERT INTO session_usernames (username)
SELECT lower(username) FROM temp_enrollments
UNION
SELECT lower(username) FROM enrollment_archive
ON CONFLICT (username) DO NOTHING;

-- name: generate_archive
-- Summaries number %(first)s..%(last)s in enrollment_archive, as archive and cleanup leave them: each
-- of a past session of bench_user_n (the generated session's person, who also tried before), started
-- 2 to 30 days ago; 70 %% completed (moved by archive), 30 %% expired (removed by cleanup); 40 %% sign-in.
WITH numbered AS (
    SELECT n,
           CASE WHEN n %% 5 < 2 THEN 'signin' ELSE 'signup' END AS flow_type,
           CASE WHEN n %% 10 < 7 THEN 'completed' ELSE 'expired' END AS outcome,
           NOW() - INTERVAL '2 days' - random() * INTERVAL '28 days' AS created_at
    FROM generate_series(%(first)s::int, %(last)s::int) AS n
), sized AS (
    SELECT n, flow_type, outcome, created_at,
           CASE WHEN flow_type = 'signin' THEN 1 WHEN outcome = 'completed' THEN 11
                ELSE 1 + (n * 7) %% 10 END AS steps
    FROM numbered
)
INSERT INTO enrollment_archive
    (session_id, username, flow_type, step_count, created_at, completed_at, outcome, expires_at, ended_at,
     last_activity_at, step_seconds, archived_at)
SELECT 'sess_archived' || lpad(n::text, 10, '0') || md5(n::text),
       'bench_user_' || n,
       flow_type, steps, created_at,
       CASE WHEN outcome = 'completed' THEN created_at + INTERVAL '3 minutes' END,
       outcome,
       created_at + INTERVAL '2 hours',
       CASE WHEN outcome = 'completed' THEN created_at + INTERVAL '3 minutes'
            ELSE created_at + INTERVAL '2 hours' END,
       created_at + steps * INTERVAL '15 seconds',
       array_fill(15::numeric, ARRAY[steps]),
       created_at + INTERVAL '3 hours'
FROM sized;

-- name: vacuum_archive
VACUUM (ANALYZE) enrollment_archive;

-- name: vacuum_session_usernames
VACUUM (ANALYZE) session_usernames;

-- name: table_sizes
-- Rows (exact) and on-disk size of the two temporary tables, heap and indexes.
SELECT c.relname AS table_name,
       CASE c.relname WHEN 'temp_enrollments' THEN (SELECT count(*) FROM temp_enrollments)
                      ELSE (SELECT count(*) FROM temp_enrollment_steps) END AS row_count,
       pg_table_size(c.oid) AS table_bytes,
       pg_indexes_size(c.oid) AS index_bytes,
       pg_total_relation_size(c.oid) AS total_bytes
FROM pg_class c
WHERE c.relname IN ('temp_enrollments', 'temp_enrollment_steps') AND c.relkind = 'r'
ORDER BY c.relname;

-- name: sample_session
-- A real session (and its user) for queries that take a session id or username.
SELECT id, session_id, username FROM temp_enrollments WHERE status = 'completed' ORDER BY id LIMIT 1;

-- name: cleanup_in_one_call
-- The seed's maintenance call: the whole backlog in one statement, one transaction.
SELECT cleanup_expired_enrollments() AS removed;

-- name: expired_remaining
SELECT count(*) AS n FROM temp_enrollments WHERE status IN ('in_progress', 'expired') AND expires_at < NOW();

-- name: live_sessions
SELECT count(*) AS sessions,
       (SELECT count(*) FROM temp_enrollment_steps s JOIN temp_enrollments te ON te.id = s.enrollment_id
        WHERE te.expires_at > NOW()) AS steps
FROM temp_enrollments WHERE expires_at > NOW();

-- name: raw_first_step
-- The save benchmark's floor for step 1: the session row and the step row, in one statement (one round
-- trip, its own transaction), no checks.
WITH session AS (
    INSERT INTO temp_enrollments (session_id, username, flow_type, device_info, metadata, expires_at, step_count)
    VALUES (%(session_id)s, %(username)s, 'signup', NULL, %(metadata)s,
            NOW() + make_interval(secs => %(ttl_seconds)s), 1)
    RETURNING id
)
INSERT INTO temp_enrollment_steps
    (enrollment_id, step_number, step_type, instruction, signature_data, raw_data, metrics, content_hash)
SELECT id, %(step_number)s, %(step_type)s, %(instruction)s, %(signature_data)s, %(raw_data)s, %(metrics)s,
       %(content_hash)s
FROM session
RETURNING enrollment_id;

-- name: raw_step
-- The floor for a later step: the step row alone.
INSERT INTO temp_enrollment_steps
    (enrollment_id, step_number, step_type, instruction, signature_data, raw_data, metrics, content_hash)
VALUES (%(enrollment_id)s, %(step_number)s, %(step_type)s, %(instruction)s, %(signature_data)s, %(raw_data)s,
        %(metrics)s, %(content_hash)s)
RETURNING enrollment_id;

-- name: stored_signatures
-- Every stored step's drawing, to compare with what the phones were told was saved (api_server.Phones).
SELECT te.session_id, s.step_number, s.signature_data
FROM temp_enrollment_steps s
JOIN temp_enrollments te ON te.id = s.enrollment_id;

-- name: backend_pid
-- The PostgreSQL backend serving this connection (the cleanup bench reads its saver's waits by it).
SELECT pg_backend_pid() AS pid;

-- name: drop_database
-- A scratch database, whoever is still connected to it (psycopg.sql fills in the name where the braces
-- stand: CREATE and DROP DATABASE take no parameters).
DROP DATABASE IF EXISTS {name} WITH (FORCE);

-- name: create_database
CREATE DATABASE {name};

-- name: create_database_owned_by
CREATE DATABASE {name} OWNER {owner};

-- name: clone_database
-- FILE_COPY clones a multi-GB data set in seconds instead of generating it again.
CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY;

-- name: server_pids
-- The server's processes now: postmaster children (backends, WAL writer, checkpointer...).
SELECT pid FROM pg_stat_activity;

-- name: other_server_pids
-- The same but for this connection's own backend.
SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid();

-- name: backend_wait_event
-- What one backend waits for while it is active (nothing when it is not waiting).
SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %(pid)s AND state = 'active';

-- name: wal_totals
-- WAL bytes written so far, the WAL fsyncs and their milliseconds.
SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint,
       COALESCE(sum(fsyncs), 0)::bigint, COALESCE(sum(fsync_time), 0)::float8
FROM pg_stat_io WHERE object = 'wal';

-- name: explain_analyze
-- A statement's plan with its real timings and buffers (the statement fills in the braces).
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement};

-- name: skip_foreign_key_triggers
-- Like pg_restore --disable-triggers: generated rows are consistent by construction, so the per-row
-- foreign-key checks are skipped (4x faster). Needs a superuser.
SET session_replication_role = replica;

-- name: vacuum_sessions
VACUUM (ANALYZE) temp_enrollments;

-- name: vacuum_steps
VACUUM (ANALYZE) temp_enrollment_steps;

-- name: create_witness
-- A row written before the restart bench kills the server: it must still be there after each restart.
CREATE TABLE witness AS SELECT 'written before the kills' AS note;

-- name: read_witness
SELECT note FROM witness;
