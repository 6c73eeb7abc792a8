-- Issue 26: each rule in one place.
--
-- Progress is computed by step_progress only: get_enrollment_progress reads a session's rows into it,
-- and the save_next_step statement (sql/queries.sql) asks it about the step it has just saved, instead
-- of Python working the same figures out again.
--
-- The seconds each step took are summed up by step_seconds only, for cleanup_expired_enrollments and
-- the archive_completed_batch statement alike.

-- Progress from how many steps the flow plans and which the session has: the one place it is computed
-- (get_enrollment_progress, and the save_next_step statement for the step it has just saved).
CREATE FUNCTION step_progress(p_total INTEGER, p_done INTEGER, p_last_number INTEGER, p_last_type VARCHAR)
RETURNS TABLE (
    total_steps      INTEGER,
    completed_steps  INTEGER,
    last_step_number INTEGER,
    last_step_type   VARCHAR,
    remaining_steps  INTEGER,
    is_complete      BOOLEAN
)
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_total, p_done, p_last_number, p_last_type, GREATEST(p_total - p_done, 0),
           p_total > 0 AND p_done >= p_total;
$$;

-- Where a session stands against its plan (the note's result columns).
CREATE OR REPLACE FUNCTION get_enrollment_progress(p_session_id VARCHAR)
RETURNS TABLE (
    total_steps      INTEGER,
    completed_steps  INTEGER,
    last_step_number INTEGER,
    last_step_type   VARCHAR,
    remaining_steps  INTEGER,
    is_complete      BOOLEAN
)
LANGUAGE sql STABLE AS $$
    SELECT progress.*
    FROM temp_enrollments te
    CROSS JOIN LATERAL (
        SELECT count(*)::int AS total FROM enrollment_step_plan p WHERE p.flow_type = te.flow_type
    ) plan
    CROSS JOIN LATERAL (
        SELECT count(*)::int AS n FROM temp_enrollment_steps s WHERE s.enrollment_id = te.id
    ) done
    LEFT JOIN LATERAL (
        -- Steps are saved in plan order, so the highest number is also the most recent.
        SELECT s.step_number, s.step_type FROM temp_enrollment_steps s
        WHERE s.enrollment_id = te.id ORDER BY s.step_number DESC LIMIT 1
    ) last_step ON true
    CROSS JOIN LATERAL step_progress(plan.total, done.n, last_step.step_number, last_step.step_type) progress
    WHERE te.session_id = p_session_id;
$$;

-- How long each step of a session took, in seconds, in step order (the first from the session's
-- start): the one summary that cleanup_expired_enrollments and the archive_completed_batch statement
-- keep in enrollment_archive.step_seconds. NULL for a session without steps.
CREATE FUNCTION step_seconds(p_enrollment_id INTEGER, p_started_at TIMESTAMPTZ)
RETURNS NUMERIC[]
LANGUAGE sql STABLE AS $$
    SELECT array_agg(t.seconds ORDER BY t.step_number)
    FROM (SELECT s.step_number,
                 EXTRACT(EPOCH FROM s.completed_at - COALESCE(
                     lag(s.completed_at) OVER (ORDER BY s.step_number), p_started_at)) AS seconds
          FROM temp_enrollment_steps s
          WHERE s.enrollment_id = p_enrollment_id) t;
$$;

-- Deletes sessions past their expiry that never completed (their steps go with them, by cascade) and
-- returns how many. Each one is first folded into enrollment_archive (outcome 'expired': flow, start,
-- end, steps reached, seconds per step), in the same statement, so the dashboard's figures about the
-- past do not change. p_batch_size bounds one call so that callers can delete a large backlog in short
-- transactions; NULL (the note's `SELECT cleanup_expired_enrollments()`) deletes the whole backlog.
CREATE OR REPLACE FUNCTION cleanup_expired_enrollments(p_batch_size INTEGER DEFAULT NULL)
RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    removed INTEGER;
BEGIN
    WITH doomed AS (
        SELECT id, session_id, username, flow_type, created_at, updated_at, expires_at, step_count
        FROM temp_enrollments
        WHERE status IN ('in_progress', 'expired') AND expires_at < NOW()
        ORDER BY expires_at
        LIMIT p_batch_size
        FOR UPDATE SKIP LOCKED
    ), folded AS (
        INSERT INTO enrollment_archive
            (session_id, username, flow_type, step_count, created_at, completed_at, outcome, expires_at,
             ended_at, last_activity_at, step_seconds)
        SELECT d.session_id, d.username, d.flow_type, d.step_count, d.created_at, NULL, 'expired',
               d.expires_at, d.expires_at, d.updated_at,
               step_seconds(d.id, d.created_at)
        FROM doomed d
        ON CONFLICT (session_id) DO NOTHING
    )
    DELETE FROM temp_enrollments te USING doomed WHERE te.id = doomed.id;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END;
$$;

