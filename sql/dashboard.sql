-- Named queries of the operations dashboard (dashboard/), loaded by enrollment_core/monitoring.py.
-- Each starts with "-- name: <name>"; the comment lines after it describe it. Parameters use psycopg's
-- %(name)s style. The seed's own monitoring queries (active_sessions, expired_pending_cleanup,
-- avg_steps_per_flow) stay in sql/queries.sql and are used from there.
--
-- Definitions used throughout (the dashboard shows them in its help texts):
--   live session       status 'in_progress' and expires_at > NOW()
--   backlog            past expires_at and never completed: status 'in_progress' (the seed's
--                      expired_pending_cleanup counts only these) or 'expired' (marked by a late save or
--                      complete_enrollment); exactly what cleanup_expired_enrollments() deletes
--   ended session      completed, or past its expiry without completing (abandoned)
-- Every query is bounded: it reads either an index range (live sessions, the backlog, a time window) or
-- index-only data of the steps table, never the steps' images (signature_data, raw_data).

-- ============================== overview cards ==============================

-- name: overview_by_flow
-- One row per flow: live sessions, the backlog (split by status), sessions completed in the last
-- %(hours)s hours (archived ones included), and the sessions started in that window that have ended,
-- for the completion rate. Sessions removed by cleanup no longer exist and are not counted.
WITH flows(flow_type) AS (VALUES ('signup'), ('signin')),
live AS (
    SELECT flow_type, count(*) AS n
    FROM temp_enrollments
    WHERE status = 'in_progress' AND expires_at > NOW()
    GROUP BY flow_type
),
backlog AS (
    SELECT flow_type,
           count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
           count(*) FILTER (WHERE status = 'expired') AS marked_expired
    FROM temp_enrollments
    WHERE status IN ('in_progress', 'expired') AND expires_at < NOW()
    GROUP BY flow_type
),
recent AS (
    -- Sessions started in the window (idx_temp_enrollments_created_at), plus archived ones.
    SELECT flow_type,
           count(*) FILTER (WHERE status = 'completed') AS started_completed,
           count(*) FILTER (WHERE status <> 'completed' AND expires_at <= NOW()) AS started_abandoned
    FROM temp_enrollments
    WHERE created_at >= NOW() - make_interval(hours => %(hours)s)
    GROUP BY flow_type
    UNION ALL
    SELECT flow_type, count(*), 0
    FROM enrollment_archive
    WHERE created_at >= NOW() - make_interval(hours => %(hours)s)
    GROUP BY flow_type
),
completed AS (
    -- The expires_at condition is implied (a session completes before it expires); it lets the query
    -- read a range of idx_temp_enrollments_expires_all instead of the whole table.
    SELECT flow_type, count(*) AS n
    FROM temp_enrollments
    WHERE status = 'completed' AND completed_at >= NOW() - make_interval(hours => %(hours)s)
      AND expires_at > NOW() - make_interval(hours => %(hours)s)
    GROUP BY flow_type
    UNION ALL
    SELECT flow_type, count(*)
    FROM enrollment_archive
    WHERE completed_at >= NOW() - make_interval(hours => %(hours)s)
    GROUP BY flow_type
)
SELECT f.flow_type,
       COALESCE(l.n, 0)::int AS live,
       COALESCE(b.in_progress, 0)::int AS backlog_in_progress,
       COALESCE(b.marked_expired, 0)::int AS backlog_marked_expired,
       COALESCE((SELECT sum(c.n) FROM completed c WHERE c.flow_type = f.flow_type), 0)::int AS completed_recent,
       COALESCE((SELECT sum(r.started_completed) FROM recent r WHERE r.flow_type = f.flow_type), 0)::int
           AS ended_completed,
       COALESCE((SELECT sum(r.started_abandoned) FROM recent r WHERE r.flow_type = f.flow_type), 0)::int
           AS ended_abandoned
FROM flows f
LEFT JOIN live l ON l.flow_type = f.flow_type
LEFT JOIN backlog b ON b.flow_type = f.flow_type
ORDER BY f.flow_type DESC;

-- ============================== charts ==============================

-- name: active_sessions_over_time
-- Live sessions per flow at the end of each %(bucket_seconds)s bucket over the last %(hours)s hours.
-- A session is live from created_at until it completes or expires. Computed from start/end events and a
-- running sum (one pass over the sessions of the window) instead of joining every bucket to every
-- session. History comes from the rows still in the tables: sessions that cleanup has removed are gone.
WITH params AS (
    SELECT make_interval(secs => %(bucket_seconds)s) AS step,
           date_bin(make_interval(secs => %(bucket_seconds)s), NOW() - make_interval(hours => %(hours)s),
                    TIMESTAMPTZ '2000-01-01') AS t0
),
spans AS (
    -- Live at some moment of the window: it ends after the window starts (idx_temp_enrollments_expires_all).
    SELECT te.flow_type, te.created_at AS started, LEAST(te.expires_at, te.completed_at) AS ended
    FROM temp_enrollments te, params
    WHERE te.expires_at > params.t0 AND te.created_at <= NOW()
    UNION ALL
    SELECT a.flow_type, a.created_at, a.completed_at
    FROM enrollment_archive a, params
    WHERE a.completed_at > params.t0
),
events AS (
    SELECT flow_type, GREATEST(date_bin(params.step, started, params.t0), params.t0) AS bucket, 1 AS delta
    FROM spans, params
    UNION ALL
    SELECT flow_type, GREATEST(date_bin(params.step, ended, params.t0), params.t0), -1
    FROM spans, params
    WHERE ended <= NOW()
),
per_bucket AS (
    SELECT flow_type, bucket, sum(delta) AS delta FROM events GROUP BY flow_type, bucket
),
grid AS (
    SELECT g AS bucket, f.flow_type
    FROM params, generate_series(params.t0, NOW(), params.step) g, (VALUES ('signup'), ('signin')) f(flow_type)
)
SELECT LEAST(grid.bucket + params.step, NOW()) AS at, grid.flow_type,
       (sum(COALESCE(pb.delta, 0)) OVER (PARTITION BY grid.flow_type ORDER BY grid.bucket))::int AS live
FROM grid
CROSS JOIN params
LEFT JOIN per_bucket pb ON pb.flow_type = grid.flow_type AND pb.bucket = grid.bucket
ORDER BY at, grid.flow_type;

-- name: expiry_backlog_by_age
-- The backlog (what cleanup would delete now) by how many whole hours ago it expired (capped at
-- %(max_hours)s), flow and status. Reads the partial index on expires_at.
SELECT LEAST(floor(EXTRACT(EPOCH FROM NOW() - expires_at) / 3600), %(max_hours)s)::int AS hours_overdue,
       flow_type, status, count(*)::int AS sessions
FROM temp_enrollments
WHERE status IN ('in_progress', 'expired') AND expires_at < NOW()
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- name: step_funnel
-- How many sessions of a flow, started in the last %(hours)s hours, reached each step. Steps are saved
-- in order, so "has a row for step k" means "reached step k". Reads (enrollment_id, step_number) from
-- an index only; archived sessions reached every step they have (step_count).
SELECT step_number, count(*)::int AS sessions
FROM (
    SELECT s.step_number
    FROM temp_enrollments te
    JOIN temp_enrollment_steps s ON s.enrollment_id = te.id
    WHERE te.flow_type = %(flow_type)s AND te.created_at >= NOW() - make_interval(hours => %(hours)s)
    UNION ALL
    SELECT g
    FROM enrollment_archive a, generate_series(1, a.step_count) g
    WHERE a.flow_type = %(flow_type)s AND a.created_at >= NOW() - make_interval(hours => %(hours)s)
) reached
GROUP BY step_number
ORDER BY step_number;

-- name: step_durations
-- Time spent on each step: a step's completed_at minus the previous step's (step 1: minus the session's
-- created_at), over the latest %(max_sessions)s sessions started in the last %(hours)s hours (a sample
-- that keeps the query's cost flat however busy the window was; medians need no more). Reads
-- (enrollment_id, step_number, completed_at) from idx_temp_enrollment_steps_progress, never the images.
WITH sampled AS (
    SELECT id, flow_type, created_at
    FROM temp_enrollments
    WHERE created_at >= NOW() - make_interval(hours => %(hours)s)
    ORDER BY created_at DESC
    LIMIT %(max_sessions)s
),
timed AS (
    SELECT te.flow_type, s.step_number,
           EXTRACT(EPOCH FROM s.completed_at - COALESCE(
               lag(s.completed_at) OVER (PARTITION BY s.enrollment_id ORDER BY s.step_number),
               te.created_at)) AS seconds
    FROM sampled te
    JOIN temp_enrollment_steps s ON s.enrollment_id = te.id
)
SELECT flow_type, step_number, count(*)::int AS samples,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)::float8 AS median_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds)::float8 AS p90_seconds,
       avg(seconds)::float8 AS mean_seconds
FROM timed
GROUP BY flow_type, step_number
ORDER BY flow_type DESC, step_number;

-- ============================== sessions list and drill-down ==============================

-- name: in_progress_sessions_page
-- The seed's "active sessions" list, bounded: status 'in_progress', expiring in
-- (%(expires_after)s, %(expires_before)s] (live: (NOW(), infinity]; past expiry: (-infinity, NOW()]),
-- optional flow and username filter (case-insensitive substring), ordered by %(order_by)s ('newest',
-- 'oldest' or 'expiring'), at most %(limit)s rows. total_matching counts every matching row. Steps are
-- counted only for the rows returned (on the steps' unique index).
WITH matching AS (
    SELECT te.id, te.session_id, te.username, te.flow_type, te.created_at, te.updated_at, te.expires_at,
           row_number() OVER (ORDER BY
               CASE WHEN %(order_by)s = 'expiring' THEN te.expires_at END ASC,
               CASE WHEN %(order_by)s = 'oldest' THEN te.created_at END ASC,
               te.created_at DESC, te.id DESC) AS position,
           count(*) OVER () AS total_matching
    FROM temp_enrollments te
    WHERE te.status = 'in_progress'
      AND te.expires_at > %(expires_after)s AND te.expires_at <= %(expires_before)s
      AND (%(flow_type)s::text IS NULL OR te.flow_type = %(flow_type)s::text)
      AND (%(username)s::text IS NULL OR strpos(lower(te.username), lower(%(username)s::text)) > 0)
)
SELECT m.session_id, m.username, m.flow_type,
       (SELECT count(*) FROM temp_enrollment_steps s WHERE s.enrollment_id = m.id)::int AS steps_completed,
       m.created_at, m.updated_at, m.expires_at,
       EXTRACT(EPOCH FROM m.expires_at - NOW())::float8 AS expires_in_seconds,
       m.total_matching::int AS total_matching
FROM matching m
WHERE m.position <= %(limit)s
ORDER BY m.position;

-- name: session_header
-- One session of any status, for the drill-down.
SELECT id, session_id, username, flow_type, status, device_info, metadata, created_at, updated_at,
       expires_at, completed_at, expires_at <= NOW() AS is_expired
FROM temp_enrollments
WHERE session_id = %(session_id)s;

-- name: session_steps
-- Every saved step of one session with its image and metrics (raw stroke data left out: it is large and
-- not shown), and the time spent on it (previous step's completed_at, or the session's created_at).
SELECT s.step_number, s.step_type, s.instruction, s.signature_data, s.metrics, s.completed_at,
       EXTRACT(EPOCH FROM s.completed_at - COALESCE(
           lag(s.completed_at) OVER (ORDER BY s.step_number), te.created_at))::float8 AS seconds_spent
FROM temp_enrollments te
JOIN temp_enrollment_steps s ON s.enrollment_id = te.id
WHERE te.session_id = %(session_id)s
ORDER BY s.step_number;

-- ============================== maintenance ==============================

-- name: table_sizes
-- Row counts (exact) and on-disk size of the enrollment tables: heap, TOAST (the images), indexes.
SELECT t.table_name, t.row_count::bigint AS row_count,
       pg_total_relation_size(t.rel) AS total_bytes,
       pg_relation_size(t.rel) AS heap_bytes,
       pg_total_relation_size(t.rel) - pg_relation_size(t.rel) - pg_indexes_size(t.rel) AS toast_bytes,
       pg_indexes_size(t.rel) AS index_bytes
FROM (
    SELECT 'temp_enrollments' AS table_name, 'temp_enrollments'::regclass AS rel,
           (SELECT count(*) FROM temp_enrollments) AS row_count
    UNION ALL
    SELECT 'temp_enrollment_steps', 'temp_enrollment_steps'::regclass,
           (SELECT count(*) FROM temp_enrollment_steps)
    UNION ALL
    SELECT 'enrollment_archive', 'enrollment_archive'::regclass, (SELECT count(*) FROM enrollment_archive)
) t
ORDER BY t.table_name DESC;

-- name: maintenance_status
-- What cleanup and archive would do now, and when the periodic cleanup last ran.
SELECT
    (SELECT count(*) FROM temp_enrollments
     WHERE status IN ('in_progress', 'expired') AND expires_at < NOW())::int AS cleanup_candidates,
    (SELECT count(*) FROM temp_enrollments
     WHERE status = 'completed'
       AND completed_at < NOW() - make_interval(secs => %(archive_older_than_seconds)s))::int
        AS archive_candidates,
    (SELECT last_run_at FROM maintenance_runs WHERE job = %(cleanup_job)s) AS last_cleanup_at,
    (SELECT last_result FROM maintenance_runs WHERE job = %(cleanup_job)s) AS last_cleanup_result;

-- ============================== benchmark data (dashboard/bench_queries.py) ==============================

-- name: bench_insert_sessions
-- %(sessions)s synthetic sessions with a realistic mix (20 %% live, 25 %% completed, 45 %% abandoned
-- in_progress past expiry, 10 %% marked 'expired') over the last 7 days. metadata.steps says how many
-- steps bench_insert_steps gives each. Deterministic after SELECT setseed(...) on the same connection.
WITH drawn AS (
    SELECT g, random() AS r_kind, random() AS r_flow, random() AS r_age, random() AS r_steps
    FROM generate_series(1, %(sessions)s) g
),
shaped AS (
    SELECT g,
           CASE WHEN r_flow < 0.8 THEN 'signup' ELSE 'signin' END AS flow_type,
           CASE WHEN r_kind < 0.20 THEN 'live' WHEN r_kind < 0.45 THEN 'completed'
                WHEN r_kind < 0.90 THEN 'abandoned' ELSE 'marked_expired' END AS kind,
           r_age, r_steps
    FROM drawn
),
timed AS (
    SELECT g, flow_type, kind,
           CASE kind
               -- live: started 5..115 minutes ago, so that its steps are in the past and it has not expired
               WHEN 'live' THEN NOW() - make_interval(secs => 300 + r_age * 6600)
               WHEN 'completed' THEN NOW() - make_interval(secs => 600 + r_age * 7 * 86400)
               ELSE NOW() - make_interval(secs => 7500 + r_age * 7 * 86400)
           END AS created_at,
           CASE WHEN flow_type = 'signin' THEN 1
                WHEN kind = 'completed' THEN 11
                ELSE 1 + floor(r_steps * 10)::int END AS steps
    FROM shaped
)
INSERT INTO temp_enrollments
    (session_id, username, flow_type, status, device_info, metadata, created_at, updated_at, expires_at,
     completed_at)
SELECT 'sess_bench' || lpad(g::text, 32, '0'), 'bench_user_' || g, flow_type,
       CASE kind WHEN 'completed' THEN 'completed' WHEN 'marked_expired' THEN 'expired'
                 ELSE 'in_progress' END,
       'bench', jsonb_build_object('bench', true, 'steps', steps),
       created_at, created_at + make_interval(secs => steps * 25), created_at + INTERVAL '2 hours',
       CASE WHEN kind = 'completed' THEN created_at + make_interval(secs => steps * 25 + 30) END
FROM timed
ORDER BY created_at;  -- rows land in time order, as in production (index/heap correlation)

-- name: bench_insert_steps
-- The steps of the bench sessions (metadata.steps each, plan order), all with the same placeholder image.
-- Step k is saved 25*k s after the start plus up to 20 s, so times increase with k.
INSERT INTO temp_enrollment_steps
    (enrollment_id, step_number, step_type, instruction, signature_data, raw_data, metrics, content_hash,
     completed_at)
SELECT te.id, p.step_number, p.step_type, p.instruction, %(image)s, '{"bench": true}'::jsonb,
       jsonb_build_object('stroke_count', 1 + mod(p.step_number, 3)),
       md5(te.id || ':' || p.step_number) || md5(p.step_number || ':' || te.id),
       te.created_at + make_interval(secs => 25 * p.step_number + 20 * random())
FROM temp_enrollments te
JOIN enrollment_step_plan p
  ON p.flow_type = te.flow_type AND p.step_number <= (te.metadata ->> 'steps')::int
WHERE te.session_id LIKE 'sess_bench%%'
ORDER BY te.created_at, p.step_number;
