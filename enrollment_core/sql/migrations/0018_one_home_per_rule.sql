-- Issue 26: each rule in one place.
--
-- Progress is computed by step_progress only: get_enrollment_progress reads a session's rows into it,
-- and the save_next_step statement (sql/queries.sql) asks it about the step it has just saved, instead
-- of Python working the same figures out again.
--
-- The seconds each step took are summed up by step_seconds only, for cleanup_expired_enrollments and
-- the archive_completed_batch statement alike.
--
-- charge_rate_limits finds each limit by its name (the rate_limits column's), which the caller sends
-- beside its cost, amount and period, instead of by its position in arrays that rate_limits.py, this
-- function and the table each had to list in the same order.

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


DROP FUNCTION charge_rate_limits(TEXT, DOUBLE PRECISION[], DOUBLE PRECISION[], DOUBLE PRECISION[]);

-- One request's costs on one client's limits, decided together: allowed when every named limit (p_names
-- [i], a rate_limits column without its _full_at; an unknown name is an error) can take its cost
-- (p_costs[i]; its need is GREATEST(cost, 1), so a cost of 0 only asks whether anything is left) at
-- p_amounts[i] per p_periods[i] seconds, and then all of them move; else nothing moves, the refusal is
-- kept on the row, and the answer names the limit that frees up last and in how many seconds (on a tie,
-- the first named). Limits are found by name, so their order is the caller's and the table's own.
-- The row lock makes concurrent requests of one client exact; a client's first request creates its row.
CREATE FUNCTION charge_rate_limits(
    p_subject TEXT, p_names TEXT[], p_costs DOUBLE PRECISION[], p_amounts DOUBLE PRECISION[],
    p_periods DOUBLE PRECISION[]
)
RETURNS TABLE (allowed BOOLEAN, refused_by TEXT, retry_after_seconds DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    v_row    rate_limits%ROWTYPE;
    v_stored JSONB;
    v_moved  JSONB := '{}';
    v_column TEXT;
    v_start  TIMESTAMPTZ;
    v_wait   DOUBLE PRECISION;
BEGIN
    SELECT * INTO v_row FROM rate_limits r WHERE r.subject = p_subject FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO rate_limits (subject) VALUES (p_subject) ON CONFLICT (subject) DO NOTHING;
        SELECT * INTO v_row FROM rate_limits r WHERE r.subject = p_subject FOR UPDATE;
    END IF;
    v_stored := to_jsonb(v_row);
    allowed := true;
    FOR i IN 1..cardinality(p_names) LOOP
        v_column := p_names[i] || '_full_at';
        IF NOT v_stored ? v_column THEN
            RAISE EXCEPTION 'charge_rate_limits: no rate limit named %', p_names[i];
        END IF;
        v_start := GREATEST((v_stored ->> v_column)::timestamptz, NOW());
        v_wait := EXTRACT(EPOCH FROM v_start - NOW())
                  + GREATEST(p_costs[i], 1) * p_periods[i] / p_amounts[i] - p_periods[i];
        IF v_wait > 0 THEN
            IF allowed OR v_wait > retry_after_seconds THEN
                refused_by := p_names[i];
                retry_after_seconds := v_wait;
            END IF;
            allowed := false;
        ELSE
            v_moved := v_moved || jsonb_build_object(
                v_column, v_start + make_interval(secs => p_costs[i] * p_periods[i] / p_amounts[i]));
        END IF;
    END LOOP;
    IF allowed THEN
        v_row := jsonb_populate_record(v_row, v_moved);
        UPDATE rate_limits r SET lookups_full_at = v_row.lookups_full_at, saves_full_at = v_row.saves_full_at,
            sessions_full_at = v_row.sessions_full_at, upload_bytes_full_at = v_row.upload_bytes_full_at,
            signins_full_at = v_row.signins_full_at, signin_failures_full_at = v_row.signin_failures_full_at,
            last_allowed = true
        WHERE r.subject = p_subject;
    ELSE
        UPDATE rate_limits r SET refused = r.refused + 1, last_allowed = false, last_refused_at = NOW(),
            last_refused_limit = refused_by, last_wait_seconds = retry_after_seconds
        WHERE r.subject = p_subject;
    END IF;
    RETURN NEXT;
END;
$$;
