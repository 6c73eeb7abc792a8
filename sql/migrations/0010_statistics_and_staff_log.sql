-- Statistics that cleanup and archive cannot change, and a log of what staff do (issue 15).
--
-- Before this, cleanup deleted expired sessions without a trace, so every figure about a past period
-- (completion rate, funnel, live sessions over time, time per step) changed when it ran. Now every
-- session that leaves the temporary tables - completed ones by archive, expired ones by cleanup - leaves
-- one summary row in enrollment_archive, written in the same transaction as the delete, with what the
-- dashboard's figures need: flow, start, end, outcome, steps reached and the time spent on each step.
-- The dashboard reads its past figures from temp_enrollments + enrollment_archive.

ALTER TABLE enrollment_archive
    -- 'completed' (moved by archive) or 'expired' (never completed, removed by cleanup).
    ADD COLUMN outcome VARCHAR(20) NOT NULL DEFAULT 'completed'
        CONSTRAINT enrollment_archive_outcome_check CHECK (outcome IN ('completed', 'expired')),
    ADD COLUMN expires_at TIMESTAMPTZ,
    -- When the session stopped being live: completed_at when it completed, else expires_at.
    ADD COLUMN ended_at TIMESTAMPTZ,
    ADD COLUMN last_activity_at TIMESTAMPTZ,
    -- Seconds spent on each step, in step order (step 1: from the session's start). NULL for sessions
    -- archived before this migration.
    ADD COLUMN step_seconds NUMERIC[];

-- Rows archived before: completed sessions, which ended when they completed.
UPDATE enrollment_archive SET ended_at = COALESCE(completed_at, archived_at);
ALTER TABLE enrollment_archive
    ALTER COLUMN outcome DROP DEFAULT,
    ALTER COLUMN ended_at SET NOT NULL;

-- The archive grows for as long as the product runs: each figure reads a range of one of these.
-- Sessions by start: completion rate, funnel, steps per enrollment, time per step.
CREATE INDEX idx_enrollment_archive_created_at ON enrollment_archive (created_at)
    INCLUDE (flow_type, outcome, step_count);
-- Sessions by end: live sessions over time, completed in the last 24 h.
CREATE INDEX idx_enrollment_archive_ended_at ON enrollment_archive (ended_at)
    INCLUDE (flow_type, outcome, created_at);
-- A person's past sessions, by username (case-insensitive, as everywhere).
CREATE INDEX idx_enrollment_archive_username ON enrollment_archive (lower(username));

-- The design note's cleanup, same contract: it now folds each session into enrollment_archive before
-- deleting it, so `SELECT cleanup_expired_enrollments()` keeps the statistics too.
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
               (SELECT array_agg(t.seconds ORDER BY t.step_number)
                FROM (SELECT s.step_number,
                             EXTRACT(EPOCH FROM s.completed_at - COALESCE(
                                 lag(s.completed_at) OVER (ORDER BY s.step_number), d.created_at)) AS seconds
                      FROM temp_enrollment_steps s
                      WHERE s.enrollment_id = d.id) t)
        FROM doomed d
        ON CONFLICT (session_id) DO NOTHING
    )
    DELETE FROM temp_enrollments te USING doomed WHERE te.id = doomed.id;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END;
$$;

-- What staff did from the dashboard: who (the name given at sign-in to the dashboard), what, when, on
-- what, and the result. Cleanup and archive now; unlocking an account or clearing a block later.
CREATE TABLE staff_actions (
    id         BIGSERIAL PRIMARY KEY,
    acted_at   TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    staff_name VARCHAR(100) NOT NULL CONSTRAINT staff_actions_staff_name_check
                   CHECK (length(btrim(staff_name)) > 0),
    action     VARCHAR(32)  NOT NULL,  -- 'cleanup', 'archive' (enrollment_core.staff.StaffAction)
    target     TEXT,                   -- what it acted on, when not everything (a username, an address)
    succeeded  BOOLEAN      NOT NULL,
    result     JSONB        NOT NULL DEFAULT '{}'::jsonb  -- e.g. {"removed": 4}, {"error": "..."}
);
CREATE INDEX idx_staff_actions_acted_at ON staff_actions (acted_at DESC);
