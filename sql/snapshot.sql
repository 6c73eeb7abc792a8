-- The dashboard's figures over many rows, computed together by enrollment_core.monitoring.refresh_snapshot
-- in one REPEATABLE READ transaction (one NOW(), one consistent view of the tables) and stored in
-- dashboard_snapshots, one row per key. The dashboard reads them back from there (sql/dashboard.sql), so
-- each refresh of a page costs a primary-key lookup instead of scans of hundreds of thousands of rows.
-- The figures are exact as of the snapshot's taken_at, which the dashboard shows.
-- Definitions (live, backlog, ended) are those of sql/dashboard.sql's header.
--
-- Figures about the past count temp_enrollments + enrollment_archive: archive and cleanup fold every
-- session they remove into enrollment_archive first (outcome 'completed' or 'expired'), so running them
-- changes none of these figures. Only the present-state ones (the backlog, what cleanup and archive
-- would do) change, by definition.

-- name: snapshot_overview_by_flow
-- One row per flow: live sessions, the backlog (split by status), sessions completed in the last
-- %(hours)s hours, and the sessions started in that window that have ended (completed, or expired without
-- completing), for the completion rate. Archived and cleaned-up sessions count from their summaries.
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
    -- Sessions started in the window (idx_temp_enrollments_created_at), plus their summaries
    -- (idx_enrollment_archive_created_at).
    SELECT flow_type,
           count(*) FILTER (WHERE status = 'completed') AS started_completed,
           count(*) FILTER (WHERE status <> 'completed' AND expires_at <= NOW()) AS started_abandoned
    FROM temp_enrollments
    WHERE created_at >= NOW() - make_interval(hours => %(hours)s)
    GROUP BY flow_type
    UNION ALL
    SELECT flow_type, count(*) FILTER (WHERE outcome = 'completed'), count(*) FILTER (WHERE outcome = 'expired')
    FROM enrollment_archive
    WHERE created_at >= NOW() - make_interval(hours => %(hours)s)
    GROUP BY flow_type
),
completed AS (
    -- The expires_at condition is implied (a session completes before it expires); it lets the query
    -- read a range of idx_temp_enrollments_expires_all instead of the whole table. A completed
    -- session's summary ended when it completed (idx_enrollment_archive_ended_at).
    SELECT flow_type, count(*) AS n
    FROM temp_enrollments
    WHERE status = 'completed' AND completed_at >= NOW() - make_interval(hours => %(hours)s)
      AND expires_at > NOW() - make_interval(hours => %(hours)s)
    GROUP BY flow_type
    UNION ALL
    SELECT flow_type, count(*)
    FROM enrollment_archive
    WHERE outcome = 'completed' AND ended_at >= NOW() - make_interval(hours => %(hours)s)
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

-- name: snapshot_active_sessions_over_time
-- Live sessions per flow at the end of each %(bucket_seconds)s bucket over the last %(hours)s hours.
-- A session is live from created_at until it completes or expires. Computed from start/end events and a
-- running sum (one pass over the sessions of the window) instead of joining every bucket to every
-- session. Sessions that archive or cleanup removed count from their summaries (which ended when they
-- completed or expired), so the past does not change when they run.
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
    SELECT a.flow_type, a.created_at, a.ended_at
    FROM enrollment_archive a, params
    WHERE a.ended_at > params.t0
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

-- name: snapshot_expiry_backlog_by_age
-- The backlog (what cleanup would delete now) by how many whole hours ago it expired (capped at
-- %(max_hours)s; the snapshot stores a year, the dashboard caps again), flow and status.
SELECT LEAST(floor(EXTRACT(EPOCH FROM NOW() - expires_at) / 3600), %(max_hours)s)::int AS hours_overdue,
       flow_type, status, count(*)::int AS sessions
FROM temp_enrollments
WHERE status IN ('in_progress', 'expired') AND expires_at < NOW()
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- name: snapshot_step_funnel
-- How many sessions of each flow, started in the last %(windows)s hours (one result per window), reached
-- each step: sessions with step_count >= k (steps are saved in order, so step_count = the last step
-- reached), archived and cleaned-up sessions included (from their summaries). One pass over the sessions of the largest window: each session
-- is counted in the smallest window that contains it, then windows add up the smaller ones.
WITH windows AS (
    SELECT unnest(%(windows)s::int[]) AS hours
),
sessions AS (
    SELECT flow_type, created_at, step_count
    FROM temp_enrollments
    WHERE created_at >= NOW() - make_interval(hours => (SELECT max(hours) FROM windows))
    UNION ALL
    SELECT flow_type, created_at, step_count
    FROM enrollment_archive
    WHERE created_at >= NOW() - make_interval(hours => (SELECT max(hours) FROM windows))
),
histogram AS (
    SELECT (SELECT min(w.hours) FROM windows w WHERE s.created_at >= NOW() - make_interval(hours => w.hours))
               AS within_hours,
           s.flow_type, s.step_count, count(*) AS n
    FROM sessions s
    GROUP BY 1, 2, 3
)
SELECT w.hours, h.flow_type, k AS step_number, sum(h.n)::int AS sessions
FROM windows w
JOIN histogram h ON h.within_hours <= w.hours
CROSS JOIN LATERAL generate_series(1, h.step_count) k
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- name: snapshot_step_durations
-- Time spent on each step: a step's completed_at minus the previous step's, over the latest
-- %(max_sessions)s sessions started in the last %(hours)s hours (a sample that keeps the query's cost flat
-- however busy the window was; medians need no more), sessions in the temporary tables and summaries
-- alike (ordered by start, then session id, so the sample is the same before and after a cleanup).
-- Step 1 is left out: a session starts when its first drawing is saved, so nothing times it. Reads
-- (enrollment_id, step_number, completed_at) from idx_temp_enrollment_steps_progress, never the images;
-- a summary carries its seconds per step, computed the same way when it was folded.
WITH sampled AS (
    (SELECT te.id, NULL::numeric[] AS step_seconds, te.flow_type, te.created_at, te.session_id
     FROM temp_enrollments te
     WHERE te.created_at >= NOW() - make_interval(hours => %(hours)s)
     ORDER BY te.created_at DESC, te.session_id DESC
     LIMIT %(max_sessions)s)
    UNION ALL
    (SELECT NULL, a.step_seconds, a.flow_type, a.created_at, a.session_id
     FROM enrollment_archive a
     WHERE a.created_at >= NOW() - make_interval(hours => %(hours)s)
     ORDER BY a.created_at DESC, a.session_id DESC
     LIMIT %(max_sessions)s)
    ORDER BY created_at DESC, session_id DESC
    LIMIT %(max_sessions)s
),
timed AS (
    SELECT sm.flow_type, s.step_number,
           EXTRACT(EPOCH FROM s.completed_at - COALESCE(
               lag(s.completed_at) OVER (PARTITION BY s.enrollment_id ORDER BY s.step_number),
               sm.created_at)) AS seconds
    FROM sampled sm
    JOIN temp_enrollment_steps s ON s.enrollment_id = sm.id
    UNION ALL
    SELECT sm.flow_type, u.step_number::int, u.seconds
    FROM sampled sm
    CROSS JOIN LATERAL unnest(sm.step_seconds) WITH ORDINALITY AS u(seconds, step_number)
)
SELECT flow_type, step_number, count(*)::int AS samples,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)::float8 AS median_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds)::float8 AS p90_seconds,
       avg(seconds)::float8 AS mean_seconds
FROM timed
WHERE step_number > 1
GROUP BY flow_type, step_number
ORDER BY flow_type DESC, step_number;

-- name: snapshot_avg_steps_per_flow
-- The design note's average steps per enrollment type, for completed sessions started in the last
-- %(windows)s hours (one result per window): from step_count instead of joining the steps (the same
-- figures: step_count is kept equal to the number of saved steps), archived sessions included, so that
-- archive does not change it. As the funnel: each session counts in the smallest window that contains
-- it, then windows add up the smaller ones (one pass over the sessions of the largest window).
WITH windows AS (
    SELECT unnest(%(windows)s::int[]) AS hours
),
completed AS (
    SELECT flow_type, created_at, step_count
    FROM temp_enrollments
    WHERE status = 'completed'
      AND created_at >= NOW() - make_interval(hours => (SELECT max(hours) FROM windows))
    UNION ALL
    SELECT flow_type, created_at, step_count
    FROM enrollment_archive
    WHERE outcome = 'completed'
      AND created_at >= NOW() - make_interval(hours => (SELECT max(hours) FROM windows))
),
by_window AS (
    SELECT (SELECT min(w.hours) FROM windows w WHERE c.created_at >= NOW() - make_interval(hours => w.hours))
               AS within_hours,
           c.flow_type, sum(c.step_count) AS steps, count(*) AS sessions
    FROM completed c
    GROUP BY 1, 2
)
SELECT w.hours, b.flow_type, (sum(b.steps)::numeric / sum(b.sessions))::float8 AS avg_steps,
       sum(b.sessions)::int AS sessions
FROM windows w
JOIN by_window b ON b.within_hours <= w.hours
GROUP BY w.hours, b.flow_type
ORDER BY w.hours, b.flow_type DESC;

-- name: snapshot_maintenance_status
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
