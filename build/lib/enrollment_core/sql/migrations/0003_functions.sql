-- The seed's three functions. Each is safe to call concurrently: complete_enrollment locks the session
-- row, cleanup skips rows another transaction holds (a save in flight) instead of waiting on them.

CREATE FUNCTION get_enrollment_progress(p_session_id VARCHAR)
RETURNS TABLE (
    total_steps      INTEGER,
    completed_steps  INTEGER,
    last_step_number INTEGER,
    last_step_type   VARCHAR,
    remaining_steps  INTEGER,
    is_complete      BOOLEAN
)
LANGUAGE sql STABLE AS $$
    SELECT plan.total,
           done.n,
           last_step.step_number,
           last_step.step_type,
           GREATEST(plan.total - done.n, 0),
           plan.total > 0 AND done.n >= plan.total
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
    WHERE te.session_id = p_session_id;
$$;

-- Marks a fully drawn, unexpired session as completed. Returns one row saying whether this call did it;
-- a second call (or a concurrent one) gets success = false with the reason, so completion happens once.
CREATE FUNCTION complete_enrollment(p_session_id VARCHAR)
RETURNS TABLE (success BOOLEAN, status VARCHAR, message TEXT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    e    temp_enrollments%ROWTYPE;
    prog RECORD;
BEGIN
    SELECT * INTO e FROM temp_enrollments WHERE session_id = p_session_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT false, NULL::varchar, 'session not found'::text;
        RETURN;
    END IF;
    IF e.status = 'completed' THEN
        RETURN QUERY SELECT false, e.status, 'session is already completed'::text;
        RETURN;
    END IF;
    IF e.status = 'expired' OR e.expires_at <= NOW() THEN
        UPDATE temp_enrollments SET status = 'expired', updated_at = NOW() WHERE id = e.id;
        RETURN QUERY SELECT false, 'expired'::varchar, 'session has expired'::text;
        RETURN;
    END IF;
    SELECT * INTO prog FROM get_enrollment_progress(p_session_id);
    IF NOT prog.is_complete THEN
        RETURN QUERY SELECT false, e.status,
            format('session is incomplete: %s of %s steps drawn', prog.completed_steps, prog.total_steps);
        RETURN;
    END IF;
    UPDATE temp_enrollments
    SET status = 'completed', completed_at = NOW(), updated_at = NOW()
    WHERE id = e.id;
    RETURN QUERY SELECT true, 'completed'::varchar, 'session completed'::text;
END;
$$;

-- Deletes sessions past their expiry that never completed (their steps go with them, by cascade) and
-- returns how many. p_batch_size bounds one call so that callers can delete a large backlog in short
-- transactions; NULL (the seed's `SELECT cleanup_expired_enrollments()`) deletes the whole backlog.
CREATE FUNCTION cleanup_expired_enrollments(p_batch_size INTEGER DEFAULT NULL)
RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    removed INTEGER;
BEGIN
    WITH doomed AS (
        SELECT id FROM temp_enrollments
        WHERE status IN ('in_progress', 'expired') AND expires_at < NOW()
        ORDER BY expires_at
        LIMIT p_batch_size
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM temp_enrollments te USING doomed WHERE te.id = doomed.id;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END;
$$;
