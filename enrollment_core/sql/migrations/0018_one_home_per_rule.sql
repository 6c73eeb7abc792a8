-- Issue 26: each rule in one place.
--
-- Progress is computed by step_progress only: get_enrollment_progress reads a session's rows into it,
-- and the save_next_step statement (sql/queries.sql) asks it about the step it has just saved, instead
-- of Python working the same figures out again.

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

