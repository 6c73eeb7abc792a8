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
--   summary          the row enrollment_archive keeps of a session that archive (completed) or cleanup
--                    (expired) removed from the temporary tables: figures about the past count
--                    temp_enrollments + enrollment_archive, so archive and cleanup do not change them
-- Every query here is bounded (an index range, a LIMIT, one session, one person) and takes milliseconds
-- at 1 M sessions. Figures that aggregate hundreds of thousands of rows (cards, charts, funnel, what
-- cleanup and archive would do) are computed by sql/snapshot.sql about once a minute and read back from
-- dashboard_snapshots by key (stored_*); the dashboard shows the time they describe.

-- ============================== snapshots and live figures ==============================

-- name: store_snapshot
INSERT INTO dashboard_snapshots AS s (key, taken_at, rows)
VALUES (%(snapshot_key)s, NOW(), %(rows)s)
ON CONFLICT (key) DO UPDATE SET taken_at = EXCLUDED.taken_at, rows = EXCLUDED.rows;

-- name: snapshot_age
-- When the stored figures were computed (refresh_snapshot stores every key in one transaction).
SELECT taken_at, EXTRACT(EPOCH FROM NOW() - taken_at)::float8 AS age_seconds
FROM dashboard_snapshots
WHERE key = 'refreshed';

-- name: stored_overview_by_flow
-- The overview cards' figures for a %(hours)s-hour window, as of taken_at (sql/snapshot.sql has the
-- definitions); the live column is replaced by live_sessions_by_flow, which is current.
SELECT s.taken_at, r.*
FROM dashboard_snapshots s,
     jsonb_to_recordset(s.rows) AS r(flow_type text, live int, backlog_in_progress int,
                                     backlog_marked_expired int, completed_recent int, ended_completed int,
                                     ended_abandoned int)
WHERE s.key = 'overview_by_flow:' || %(hours)s::int
ORDER BY r.flow_type DESC;

-- name: stored_active_sessions_over_time
-- Live sessions per flow at the end of each %(bucket_seconds)s bucket over the last %(hours)s hours, as of
-- taken_at. The snapshot has 5-minute buckets over its longest window; bucket ends are multiples of the
-- bucket size since 2000-01-01 (date_bin), so a coarser bucket's values are exactly the 5-minute values
-- at its ends, and the last point is the snapshot's NOW() in both.
WITH snap AS (
    SELECT s.taken_at, s.rows, make_interval(secs => %(bucket_seconds)s) AS step
    FROM dashboard_snapshots s
    WHERE s.key = 'active_sessions_over_time'
)
SELECT snap.taken_at, r.at, r.flow_type, r.live
FROM snap, jsonb_to_recordset(snap.rows) AS r(at timestamptz, flow_type text, live int)
WHERE r.at > date_bin(snap.step, snap.taken_at - make_interval(hours => %(hours)s), TIMESTAMPTZ '2000-01-01')
  AND (r.at = snap.taken_at OR date_bin(snap.step, r.at, TIMESTAMPTZ '2000-01-01') = r.at)
ORDER BY r.at, r.flow_type;

-- name: stored_expiry_backlog_by_age
-- The backlog by whole hours since expiry (capped at %(max_hours)s), flow and status, as of taken_at. The
-- snapshot caps at a year; capping again at a smaller cap gives the same as capping once.
SELECT s.taken_at, LEAST(r.hours_overdue, %(max_hours)s)::int AS hours_overdue, r.flow_type, r.status,
       sum(r.sessions)::int AS sessions
FROM dashboard_snapshots s,
     jsonb_to_recordset(s.rows) AS r(hours_overdue int, flow_type text, status text, sessions int)
WHERE s.key = 'expiry_backlog_by_age'
GROUP BY 1, 2, 3, 4
ORDER BY 2, 3, 4;

-- name: stored_step_funnel
-- Sessions of a flow started in the last %(hours)s hours that reached each step, as of taken_at.
SELECT s.taken_at, r.step_number, r.sessions
FROM dashboard_snapshots s,
     jsonb_to_recordset(s.rows) AS r(hours int, flow_type text, step_number int, sessions int)
WHERE s.key = 'step_funnel' AND r.hours = %(hours)s AND r.flow_type = %(flow_type)s
ORDER BY r.step_number;

-- name: stored_avg_steps_per_flow
-- Average steps per completed enrollment, by flow, of sessions started in the last %(hours)s hours
-- (archived ones included), as of taken_at.
SELECT s.taken_at, r.flow_type, r.avg_steps, r.sessions
FROM dashboard_snapshots s,
     jsonb_to_recordset(s.rows) AS r(hours int, flow_type text, avg_steps float8, sessions int)
WHERE s.key = 'avg_steps_per_flow' AND r.hours = %(hours)s
ORDER BY r.flow_type DESC;

-- name: stored_maintenance_status
-- What cleanup and archive (completed sessions older than %(archive_older_than_seconds)s s) would do, as of
-- taken_at, and when the periodic cleanup last ran (read now).
SELECT s.taken_at, r.cleanup_candidates, r.archive_candidates,
       (SELECT last_run_at FROM maintenance_runs WHERE job = %(cleanup_job)s) AS last_cleanup_at,
       (SELECT last_result FROM maintenance_runs WHERE job = %(cleanup_job)s) AS last_cleanup_result
FROM dashboard_snapshots s,
     jsonb_to_recordset(s.rows) AS r(cleanup_candidates int, archive_candidates int)
WHERE s.key = 'maintenance_status:' || %(archive_older_than_seconds)s::int;

-- name: live_sessions_by_flow
-- Live sessions per flow, now: an index-only count of idx_temp_enrollments_in_progress's future range.
SELECT flow_type, count(*)::int AS live
FROM temp_enrollments
WHERE status = 'in_progress' AND expires_at > NOW()
GROUP BY flow_type;

-- ============================== charts ==============================

-- name: stored_step_durations
-- Time spent on each step over the latest sessions started in the last %(hours)s hours, as of taken_at
-- (sql/snapshot.sql has the definition).
SELECT s.taken_at, r.*
FROM dashboard_snapshots s,
     jsonb_to_recordset(s.rows) AS r(flow_type text, step_number int, samples int, median_seconds float8,
                                     p90_seconds float8, mean_seconds float8)
WHERE s.key = 'step_durations:' || %(hours)s::int || ':' || %(max_sessions)s::int
ORDER BY r.flow_type DESC, r.step_number;

-- ============================== sessions list and drill-down ==============================

-- fragment: in_progress_columns
-- The columns of the in_progress_sessions_* lists (temp_enrollments te); steps_completed is the row's
-- step_count.
te.session_id, te.username, te.flow_type, te.step_count AS steps_completed,
       te.created_at, te.updated_at, te.expires_at,
       EXTRACT(EPOCH FROM te.expires_at - NOW())::float8 AS expires_in_seconds

-- fragment: in_progress_matches
-- The filters of the in_progress_sessions_* queries (temp_enrollments te), described at
-- in_progress_sessions_newest.
te.status = 'in_progress'
  AND te.expires_at > %(expires_after)s AND te.expires_at <= %(expires_before)s
  AND (%(flow_type)s::text IS NULL OR te.flow_type = %(flow_type)s::text)
  AND (%(username)s::text IS NULL OR strpos(lower(te.username), lower(%(username)s::text)) > 0)
  AND te.created_at >= %(started_from)s AND te.created_at < %(started_before)s

-- name: in_progress_sessions_newest
-- The seed's "active sessions" list, bounded: status 'in_progress', expiring in
-- (%(expires_after)s, %(expires_before)s] (live: (NOW(), infinity]; past expiry: (-infinity, NOW()]),
-- started in [%(started_from)s, %(started_before)s), optional flow and username filter (case-insensitive
-- substring), newest first, at most %(limit)s rows.
-- Reads idx_temp_enrollments_in_progress_created in order and stops at the LIMIT. steps_completed is
-- the row's step_count. One query per order, so that each can walk its index in that order.
SELECT {{in_progress_columns}}
FROM temp_enrollments te
WHERE {{in_progress_matches}}
ORDER BY te.created_at DESC, te.id DESC
LIMIT %(limit)s;

-- name: in_progress_sessions_oldest
-- As in_progress_sessions_newest, oldest first. The oldest in-progress sessions are the overdue ones, so
-- walking the created_at index would read every overdue row before the first live one; instead the
-- matching ids come from idx_temp_enrollments_in_progress (index-only: every filter column is in it)
-- and only the %(limit)s oldest rows are read. "+ INTERVAL '0 s'" keeps the planner from walking the
-- created_at index for its order (165 ms at 1 M instead of ~35).
WITH matching AS MATERIALIZED (
    SELECT te.id, te.created_at
    FROM temp_enrollments te
    WHERE {{in_progress_matches}}
    ORDER BY te.created_at + INTERVAL '0 s', te.id
    LIMIT %(limit)s
)
SELECT {{in_progress_columns}}
FROM matching m
JOIN temp_enrollments te ON te.id = m.id
ORDER BY m.created_at, m.id;

-- name: in_progress_sessions_expiring
-- As in_progress_sessions_newest, the soonest expiry first (idx_temp_enrollments_in_progress in order).
SELECT {{in_progress_columns}}
FROM temp_enrollments te
WHERE {{in_progress_matches}}
ORDER BY te.expires_at, te.id
LIMIT %(limit)s;

-- name: in_progress_sessions_count
-- How many sessions match the page's filters, counted up to %(count_limit)s (the page says "more than"
-- beyond it): an exact count of 150 k live sessions alone takes ~25 ms at 1 M sessions.
SELECT count(*)::int AS matching
FROM (
    SELECT 1
    FROM temp_enrollments te
    WHERE {{in_progress_matches}}
    LIMIT %(count_limit)s
) capped;

-- fragment: started_live_columns
-- The columns of sessions_started_* for a row of temp_enrollments te.
te.session_id, te.username, te.flow_type, te.status, te.expires_at <= NOW() AS is_expired,
           false AS summary_only, te.step_count, te.created_at, te.updated_at AS last_activity_at,
           te.expires_at, te.completed_at, NULL::timestamptz AS removed_at

-- fragment: started_live_matches
-- The filters of sessions_started_* on temp_enrollments te, described at sessions_started_newest.
te.created_at >= %(started_from)s AND te.created_at < %(started_before)s
      AND CASE WHEN te.status = 'completed' THEN %(completed)s
               WHEN te.status = 'in_progress' AND te.expires_at > NOW() THEN %(live)s
               ELSE %(expired)s END
      AND (%(flow_type)s::text IS NULL OR te.flow_type = %(flow_type)s::text)
      AND (%(username)s::text IS NULL OR strpos(lower(te.username), lower(%(username)s::text)) > 0)
      AND (%(username)s::text IS NULL OR length(%(username)s::text) < 3
           OR username_grams(te.username) @> username_search_grams(%(username)s::text))

-- fragment: started_summary_columns
-- The same columns for a summary of enrollment_archive a.
a.session_id, a.username, a.flow_type, a.outcome, true, true, a.step_count, a.created_at,
           a.last_activity_at, a.expires_at, a.completed_at, a.archived_at

-- fragment: started_summary_matches
-- The same filters on enrollment_archive a.
a.created_at >= %(started_from)s AND a.created_at < %(started_before)s
      AND CASE WHEN a.outcome = 'completed' THEN %(completed)s ELSE %(expired)s END
      AND (%(flow_type)s::text IS NULL OR a.flow_type = %(flow_type)s::text)
      AND (%(username)s::text IS NULL OR strpos(lower(a.username), lower(%(username)s::text)) > 0)
      AND (%(username)s::text IS NULL OR length(%(username)s::text) < 3
           OR lower(a.username) = ANY (ARRAY(
                  SELECT n.username FROM session_usernames n
                  WHERE username_grams(n.username) @> username_search_grams(%(username)s::text)
                    AND strpos(n.username, lower(%(username)s::text)) > 0)))

-- name: sessions_started_newest
-- Sessions of every kind started in [%(started_from)s, %(started_before)s), newest first, at most
-- %(limit)s: those in the temporary tables (live, completed, ran out of time) and the summaries archive
-- and cleanup left of those they removed (summary_only). %(live)s, %(completed)s and %(expired)s say
-- which kinds; expired = ran out of time before completing (waiting for cleanup, or cleaned up). Optional
-- flow and username filter (case-insensitive substring). Each half walks its created_at index
-- backwards (idx_temp_enrollments_created_at, idx_enrollment_archive_created_at) and stops at the LIMIT;
-- with a username of 3 characters or more, the planner may start from the names holding its trigrams
-- instead (the username_grams GIN indexes; for the summaries, the names sessions were started with,
-- session_usernames), when few do.
(
    SELECT {{started_live_columns}}
    FROM temp_enrollments te
    WHERE {{started_live_matches}}
    ORDER BY te.created_at DESC, te.id DESC
    LIMIT %(limit)s
) UNION ALL (
    SELECT {{started_summary_columns}}
    FROM enrollment_archive a
    WHERE {{started_summary_matches}}
    ORDER BY a.created_at DESC
    LIMIT %(limit)s
)
ORDER BY created_at DESC, session_id
LIMIT %(limit)s;

-- name: sessions_started_oldest
-- As sessions_started_newest, oldest first.
(
    SELECT {{started_live_columns}}
    FROM temp_enrollments te
    WHERE {{started_live_matches}}
    ORDER BY te.created_at, te.id
    LIMIT %(limit)s
) UNION ALL (
    SELECT {{started_summary_columns}}
    FROM enrollment_archive a
    WHERE {{started_summary_matches}}
    ORDER BY a.created_at
    LIMIT %(limit)s
)
ORDER BY created_at , session_id
LIMIT %(limit)s;

-- name: sessions_started_count
-- How many sessions match sessions_started_*'s filters, counted up to %(count_limit)s in each half (the
-- page says "more than" beyond it).
SELECT (SELECT count(*) FROM (
    SELECT 1
    FROM temp_enrollments te
    WHERE {{started_live_matches}}
    LIMIT %(count_limit)s) capped)
     + (SELECT count(*) FROM (
    SELECT 1
    FROM enrollment_archive a
    WHERE {{started_summary_matches}}
    LIMIT %(count_limit)s) capped)::int AS matching;

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
-- Rows and on-disk size of the enrollment tables: heap, TOAST (the images), indexes. Rows are counted
-- exactly while a table is small (under 64 MB: milliseconds); above that they are PostgreSQL's estimate
-- (reltuples scaled to the table's current size, as the planner does: an exact count of 5 M steps takes
-- ~400 ms), and row_count_is_estimate says so.
WITH t AS (
    SELECT c.relname::text AS table_name, c.oid AS rel, c.reltuples, c.relpages,
           pg_relation_size(c.oid) AS heap_bytes
    FROM pg_class c
    WHERE c.oid IN ('temp_enrollments'::regclass, 'temp_enrollment_steps'::regclass,
                    'enrollment_archive'::regclass)
)
SELECT t.table_name,
       CASE WHEN NOT estimated THEN
                CASE t.table_name
                    WHEN 'temp_enrollments' THEN (SELECT count(*) FROM temp_enrollments)
                    WHEN 'temp_enrollment_steps' THEN (SELECT count(*) FROM temp_enrollment_steps)
                    ELSE (SELECT count(*) FROM enrollment_archive) END
            ELSE round(t.reltuples / t.relpages * (t.heap_bytes / current_setting('block_size')::int))
       END::bigint AS row_count,
       estimated AS row_count_is_estimate,
       pg_total_relation_size(t.rel) AS total_bytes,
       t.heap_bytes,
       pg_total_relation_size(t.rel) - t.heap_bytes - pg_indexes_size(t.rel) AS toast_bytes,
       pg_indexes_size(t.rel) AS index_bytes
FROM t
CROSS JOIN LATERAL (
    SELECT t.heap_bytes >= 64 * 1024 * 1024 AND t.reltuples >= 0 AND t.relpages > 0 AS estimated
) e
ORDER BY t.table_name DESC;

-- ============================== people ==============================

-- name: session_owner
-- Whose session this is, whatever became of it: in the temporary tables, summarised in the archive, or
-- known only from the sign-in attempt it was (primary keys and unique indexes only).
SELECT username FROM temp_enrollments WHERE session_id = %(session_id)s
UNION ALL
SELECT username FROM enrollment_archive WHERE session_id = %(session_id)s
UNION ALL
SELECT u.username FROM login_attempts la JOIN users u ON u.id = la.user_id WHERE la.session_id = %(session_id)s
LIMIT 1;

-- name: session_summary
-- The summary archive or cleanup left of a session they removed (primary key), in the fields of
-- monitoring.people.SessionSummary.
SELECT session_id, username, flow_type, outcome, step_count, created_at, ended_at, archived_at AS removed_at
FROM enrollment_archive
WHERE session_id = %(session_id)s;

-- name: people_matching
-- People whose username holds %(part)s (case-insensitive; a search under 3 characters matches the start
-- of a name), from the accounts, the sessions and the summaries: at most %(candidates)s names from each
-- (the GIN indexes on username_grams; the summaries' through session_usernames), grouped by name,
-- exact and then starting matches first, at most %(limit)s. has_account: a registered user; last_seen:
-- their latest session's start (or sign-up).
WITH found AS (
    (SELECT u.username, true AS has_account, u.created_at AS seen_at
     FROM users u
     WHERE username_grams(u.username) @> username_search_grams(%(part)s)
       AND CASE WHEN length(%(part)s) < 3 THEN starts_with(lower(u.username), lower(%(part)s))
                ELSE strpos(lower(u.username), lower(%(part)s)) > 0 END
     LIMIT %(candidates)s)
    UNION ALL
    (SELECT te.username, false, te.created_at
     FROM temp_enrollments te
     WHERE username_grams(te.username) @> username_search_grams(%(part)s)
       AND CASE WHEN length(%(part)s) < 3 THEN starts_with(lower(te.username), lower(%(part)s))
                ELSE strpos(lower(te.username), lower(%(part)s)) > 0 END
     LIMIT %(candidates)s)
    UNION ALL
    (SELECT a.username, false, a.created_at
     FROM session_usernames n
     JOIN enrollment_archive a ON lower(a.username) = n.username
     WHERE username_grams(n.username) @> username_search_grams(%(part)s)
       AND CASE WHEN length(%(part)s) < 3 THEN starts_with(n.username, lower(%(part)s))
                ELSE strpos(n.username, lower(%(part)s)) > 0 END
     LIMIT %(candidates)s)
)
SELECT (array_agg(username ORDER BY has_account DESC, seen_at DESC))[1] AS username,
       bool_or(has_account) AS has_account, max(seen_at) AS last_seen
FROM found
GROUP BY lower(username)
ORDER BY lower(username) = lower(%(part)s) DESC, starts_with(lower(username), lower(%(part)s)) DESC,
         lower(username)
LIMIT %(limit)s;

-- name: person_account
-- A registered user by username, case-insensitive (idx_users_username_lower), with the number of
-- drawings they enrolled, in the fields of monitoring.people.Account.
SELECT u.id AS user_id, u.username, u.created_at, u.enrollment_session_id,
       (SELECT count(*) FROM user_enrolled_drawings d WHERE d.user_id = u.id)::int AS enrolled_drawings
FROM users u
WHERE lower(u.username) = lower(%(username)s);

-- name: person_enrolled_drawings
-- A user's enrolled drawings (what sign-in compares against: the signatures), with their images.
SELECT step_number, step_type, instruction, signature_data, metrics, captured_at
FROM user_enrolled_drawings
WHERE user_id = %(user_id)s
ORDER BY step_number;

-- name: person_sessions
-- Every enrollment session of a username (case-insensitive), any status, newest first, at most
-- %(limit)s: those in the temporary tables (idx_temp_enrollments_username) and the summaries of those
-- archive or cleanup removed (idx_enrollment_archive_username). status is the stored one ('in_progress',
-- 'completed', 'expired'); is_expired says a session in progress has run out of time.
SELECT * FROM (
    SELECT te.session_id, te.username, te.flow_type, te.status, te.expires_at <= NOW() AS is_expired,
           te.step_count, te.created_at, te.updated_at AS last_activity_at, te.expires_at, te.completed_at,
           false AS summary_only, NULL::timestamptz AS removed_at
    FROM temp_enrollments te
    WHERE lower(te.username) = lower(%(username)s)
    UNION ALL
    SELECT a.session_id, a.username, a.flow_type, a.outcome, true, a.step_count, a.created_at,
           a.last_activity_at, a.expires_at, a.completed_at, true, a.archived_at
    FROM enrollment_archive a
    WHERE lower(a.username) = lower(%(username)s)
) sessions
ORDER BY created_at DESC, session_id
LIMIT %(limit)s;

-- name: person_sign_in_attempts
-- A user's sign-in attempts, newest first, at most %(limit)s (idx_login_attempts_user_time), and whether
-- the attempt's drawing (step 1 of its sign-in session) is still kept, or only the session's summary.
SELECT la.id, la.attempted_at, la.session_id, la.accepted, la.reason_code, la.decided_by, la.score,
       la.threshold, la.ip, la.user_agent,
       EXISTS (SELECT 1 FROM temp_enrollments te WHERE te.session_id = la.session_id) AS drawing_kept,
       EXISTS (SELECT 1 FROM enrollment_archive a WHERE a.session_id = la.session_id) AS summarised
FROM login_attempts la
WHERE la.user_id = %(user_id)s
ORDER BY la.attempted_at DESC, la.id DESC
LIMIT %(limit)s;

-- name: person_sign_in_attempt_count
-- How many sign-in attempts a user has, counted up to %(count_limit)s.
SELECT count(*)::int AS attempts
FROM (SELECT 1 FROM login_attempts WHERE user_id = %(user_id)s LIMIT %(count_limit)s) capped;

-- ============================== staff actions ==============================

-- name: record_staff_action
-- One line of the staff log (enrollment_core.staff): who did what, on what, and how it ended.
INSERT INTO staff_actions (staff_name, action, target, succeeded, result)
VALUES (%(staff_name)s, %(action)s, %(target)s, %(succeeded)s, %(result)s)
RETURNING id, acted_at;

-- name: staff_log_page
-- The staff log, newest first, filtered: who (%(staff_name)s, case-insensitive substring, or NULL), what
-- (%(action)s or NULL) and when (acted in [%(acted_from)s, %(acted_before)s)); page by %(offset)s and
-- %(limit)s. Walks idx_staff_actions_action (one action) or idx_staff_actions_acted_at in order.
SELECT id, acted_at, staff_name, action, target, succeeded, result
FROM staff_actions
WHERE acted_at >= %(acted_from)s AND acted_at < %(acted_before)s
  AND (%(action)s::text IS NULL OR action = %(action)s::text)
  AND (%(staff_name)s::text IS NULL OR strpos(lower(staff_name), lower(%(staff_name)s::text)) > 0)
ORDER BY acted_at DESC, id DESC
OFFSET %(offset)s
LIMIT %(limit)s;

-- ============================== the staff door ==============================

-- name: lock_staff_door
-- Serialises the sign-in attempts of one address (until the transaction ends), so that parallel
-- attempts are counted exactly: each sees the failures of the ones before it.
SELECT pg_advisory_xact_lock(hashtextextended('staff sign-in ' || %(address)s, 0));

-- name: take_staff_sign_in
-- One staff sign-in attempt from %(address)s, charged before the password is compared: when the
-- address has fewer than %(max_failures)s failed sign-ins in the last %(window_seconds)s seconds, a line
-- is written to the staff log as failed (the password is not known to be right yet), and its id returned;
-- otherwise nothing is written and refused_until says when the oldest of those failures stops counting.
-- (idx_staff_actions_failed_sign_ins; run after lock_staff_door in the same transaction.)
WITH recent AS (
    SELECT acted_at FROM staff_actions
    WHERE action = 'sign_in' AND NOT succeeded AND target = %(address)s
      AND acted_at > NOW() - make_interval(secs => %(window_seconds)s)
    ORDER BY acted_at DESC
    LIMIT %(max_failures)s
), counted AS (
    SELECT count(*)::int AS failures, min(acted_at) AS oldest FROM recent
), attempt AS (
    INSERT INTO staff_actions (staff_name, action, target, succeeded, result)
    SELECT %(staff_name)s, 'sign_in', %(address)s, false, %(result)s
    FROM counted WHERE failures < %(max_failures)s
    RETURNING id
)
SELECT (SELECT id FROM attempt) AS attempt_id, failures,
       CASE WHEN failures >= %(max_failures)s
            THEN oldest + make_interval(secs => %(window_seconds)s) END AS refused_until
FROM counted;

-- name: staff_sign_in_succeeded
-- The password of this attempt was right: its line leaves the staff log, where only wrong passwords (and
-- the actions taken once signed in, under the name given) are kept.
DELETE FROM staff_actions WHERE id = %(attempt_id)s AND action = 'sign_in';

-- ============================== reading from a hot standby ==============================

-- name: standby_lag
-- On the server the dashboard reads from (DASHBOARD_READ_URL): whether it is a standby, whether it is
-- receiving WAL from the primary now, and how far behind it is. A standby that replayed all it received
-- while streaming is up to date (pg_last_xact_replay_timestamp alone would grow while nothing is
-- written); otherwise it is as old as the last transaction it replayed.
SELECT pg_is_in_recovery() AS standby,
       COALESCE((SELECT status = 'streaming' FROM pg_stat_wal_receiver), false) AS streaming,
       pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS replayed_all,
       pg_last_xact_replay_timestamp() AS replayed_at,
       EXTRACT(EPOCH FROM NOW() - pg_last_xact_replay_timestamp())::float8 AS since_replayed_seconds;

-- name: staff_log_count
-- How many lines match staff_log_page's filters, counted up to %(count_limit)s.
SELECT count(*)::int AS matching
FROM (
    SELECT 1
    FROM staff_actions
    WHERE acted_at >= %(acted_from)s AND acted_at < %(acted_before)s
      AND (%(action)s::text IS NULL OR action = %(action)s::text)
      AND (%(staff_name)s::text IS NULL OR strpos(lower(staff_name), lower(%(staff_name)s::text)) > 0)
    LIMIT %(count_limit)s
) capped;
