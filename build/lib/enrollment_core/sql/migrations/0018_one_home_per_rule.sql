-- Issue 26: each rule in one place.
--
-- Progress is computed by step_progress only: get_enrollment_progress reads a session's rows into it,
-- and the save_next_step statement (sql/queries.sql) asks it about the step it has just saved, instead
-- of Python working the same figures out again.
--
-- The seconds each step took are summed up by step_seconds only, for cleanup_expired_enrollments and
-- the archive_completed_batch statement alike.
--
-- charge_rate_limits finds each limit's column by its name, which the caller sends
-- beside its cost, amount and period, instead of by its position in arrays that rate_limits.py, this
-- function and the table each had to list in the same order.
--
-- Dead since 0012 (sign-in locks are per address, in sign_in_lockouts): users.locked_until and
-- save_enrollment_step's always-NULL locked_until column go.

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
-- [i]: its rate_limits column is <name>_full_at; an unknown name is an error) can take its cost
-- (p_costs[i]; its need is GREATEST(cost, 1), so a cost of 0 only asks whether anything is left) at
-- p_amounts[i] per p_periods[i] seconds, and then all of them move; else nothing moves, the refusal is
-- kept on the row, and the answer names the limit that frees up last and in how many seconds (on a tie,
-- the first named). Limits are matched by name, here only, so their order is the caller's own.
-- The row lock makes concurrent requests of one client exact; a client's first request creates its row.
CREATE FUNCTION charge_rate_limits(
    p_subject TEXT, p_names TEXT[], p_costs DOUBLE PRECISION[], p_amounts DOUBLE PRECISION[],
    p_periods DOUBLE PRECISION[]
)
RETURNS TABLE (allowed BOOLEAN, refused_by TEXT, retry_after_seconds DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    v_row   rate_limits%ROWTYPE;
    v_full  TIMESTAMPTZ;
    v_start TIMESTAMPTZ;
    v_wait  DOUBLE PRECISION;
BEGIN
    SELECT * INTO v_row FROM rate_limits r WHERE r.subject = p_subject FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO rate_limits (subject) VALUES (p_subject) ON CONFLICT (subject) DO NOTHING;
        SELECT * INTO v_row FROM rate_limits r WHERE r.subject = p_subject FOR UPDATE;
    END IF;
    allowed := true;
    FOR i IN 1..cardinality(p_names) LOOP
        CASE p_names[i]
            WHEN 'lookups' THEN v_full := v_row.lookups_full_at;
            WHEN 'saves' THEN v_full := v_row.saves_full_at;
            WHEN 'sessions' THEN v_full := v_row.sessions_full_at;
            WHEN 'upload_bytes' THEN v_full := v_row.upload_bytes_full_at;
            WHEN 'signins' THEN v_full := v_row.signins_full_at;
            WHEN 'signin_failures' THEN v_full := v_row.signin_failures_full_at;
            ELSE RAISE EXCEPTION 'charge_rate_limits: no rate limit named %', p_names[i];
        END CASE;
        v_start := GREATEST(v_full, NOW());
        v_wait := EXTRACT(EPOCH FROM v_start - NOW())
                  + GREATEST(p_costs[i], 1) * p_periods[i] / p_amounts[i] - p_periods[i];
        IF v_wait > 0 THEN
            IF allowed OR v_wait > retry_after_seconds THEN
                refused_by := p_names[i];
                retry_after_seconds := v_wait;
            END IF;
            allowed := false;
            CONTINUE;
        END IF;
        v_full := v_start + make_interval(secs => p_costs[i] * p_periods[i] / p_amounts[i]);
        CASE p_names[i]
            WHEN 'lookups' THEN v_row.lookups_full_at := v_full;
            WHEN 'saves' THEN v_row.saves_full_at := v_full;
            WHEN 'sessions' THEN v_row.sessions_full_at := v_full;
            WHEN 'upload_bytes' THEN v_row.upload_bytes_full_at := v_full;
            WHEN 'signins' THEN v_row.signins_full_at := v_full;
            WHEN 'signin_failures' THEN v_row.signin_failures_full_at := v_full;
        END CASE;
    END LOOP;
    IF allowed THEN
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

ALTER TABLE users DROP COLUMN locked_until;

DROP FUNCTION save_enrollment_step(VARCHAR, VARCHAR, VARCHAR, VARCHAR, INTEGER, VARCHAR, TEXT, TEXT, JSONB, JSONB,
                                   VARCHAR, TEXT, JSONB, JSONB, INTEGER);

-- One drawing step that the save_next_step statement (sql/queries.sql) did not save: step 1 (a new
-- session), a retry, a refusal, or a session whose step_count is behind its rows. One statement, its
-- own transaction. The service validates the payload first; this decides what needs the database,
-- atomically: which session, in which order, whether it is a retry. It changes nothing unless it saves,
-- except that it marks an expired session so (outcome 'expired').
--
-- Outcomes (enrollment_core.save_outcome.SaveOutcome maps each to a result or a typed error): created
-- (step 1 started a new session, p_new_session_id), saved, duplicate (this exact step is already saved:
-- a retry; for step 1, the retried session's id), and refusals that change nothing: username_taken,
-- user_not_found, not_found, wrong_flow (flow_type = the session's flow), not_in_plan (flow_type),
-- conflict (the step is saved with other content), completed, expired (also for a retry: an expired
-- session takes nothing), out_of_order (expected_step). Progress columns are set for created, saved and
-- duplicate. (Sign-in locks are per address, checked by login: sign_in_lockouts.)
-- A first step without a flow type signs in a registered username and signs up a new one (the design
-- note's client sends none). A re-sent step is a retry when its content hash matches, or else when its
-- content is the same column by column (a step saved before the hash's recipe changed, or written by
-- another writer, whose hash the fill_step_content_hash trigger computes its own way).
CREATE FUNCTION save_enrollment_step(
    p_session_id     VARCHAR,   -- NULL: step 1 of a new session
    p_new_session_id VARCHAR,   -- the id to give a new session
    p_username       VARCHAR,
    p_flow_type      VARCHAR,   -- NULL: the session's flow (or signup for a new session)
    p_step_number    INTEGER,
    p_step_type      VARCHAR,
    p_instruction    TEXT,      -- NULL: the plan's wording
    p_signature_data TEXT,
    p_raw_data       JSONB,
    p_metrics        JSONB,
    p_content_hash   VARCHAR,
    p_device_info    TEXT,
    p_metadata       JSONB,     -- a new session's metadata
    p_last_ip        JSONB,     -- merged into metadata on every later save
    p_ttl_seconds    INTEGER
)
RETURNS TABLE (
    outcome          TEXT,
    session_id       VARCHAR,
    flow_type        VARCHAR,
    expected_step    INTEGER,
    total_steps      INTEGER,
    completed_steps  INTEGER,
    last_step_number INTEGER,
    last_step_type   VARCHAR,
    remaining_steps  INTEGER,
    is_complete      BOOLEAN
)
LANGUAGE plpgsql AS $$
DECLARE
    v_session     temp_enrollments%ROWTYPE;
    v_plan        enrollment_step_plan%ROWTYPE;
    v_user_id     BIGINT;
    v_saved_steps INTEGER;
    v_saved_hash  VARCHAR;
BEGIN
    IF p_session_id IS NULL THEN
        -- One session start per username at a time, so a retried first step cannot race itself.
        PERFORM pg_advisory_xact_lock(hashtext(lower(p_username)));
        SELECT u.id INTO v_user_id FROM users u WHERE lower(u.username) = lower(p_username);
        -- No flow type (the design note's client): a registered username signs in, a new one signs up.
        flow_type := COALESCE(p_flow_type, CASE WHEN v_user_id IS NULL THEN 'signup' ELSE 'signin' END);
        IF flow_type = 'signup' AND v_user_id IS NOT NULL THEN
            outcome := 'username_taken';
        ELSIF flow_type = 'signin' AND v_user_id IS NULL THEN
            outcome := 'user_not_found';
        END IF;
        IF outcome IS NOT NULL THEN
            RETURN NEXT;
            RETURN;
        END IF;
        -- The client lost our answer to its first step and sent it again: answer with that session.
        SELECT te.session_id INTO session_id
        FROM temp_enrollments te
        JOIN temp_enrollment_steps s ON s.enrollment_id = te.id AND s.step_number = 1
        WHERE lower(te.username) = lower(p_username)
          AND te.flow_type = save_enrollment_step.flow_type
          AND te.status = 'in_progress'
          AND te.expires_at > NOW()
          AND (s.content_hash = p_content_hash
               OR (s.step_type = p_step_type AND s.signature_data = p_signature_data AND s.raw_data = p_raw_data
                   AND s.metrics = p_metrics AND s.instruction = COALESCE(p_instruction, s.instruction)))
        LIMIT 1;
        IF session_id IS NOT NULL THEN
            outcome := 'duplicate';
        ELSE
            SELECT * INTO v_plan FROM enrollment_step_plan sp
            WHERE sp.flow_type = save_enrollment_step.flow_type AND sp.step_number = 1;
            -- step_count 1: step 1 is inserted just below, in the same transaction.
            INSERT INTO temp_enrollments AS te
                (session_id, username, flow_type, device_info, metadata, expires_at, step_count)
            VALUES (p_new_session_id, p_username, save_enrollment_step.flow_type, p_device_info, p_metadata,
                    NOW() + make_interval(secs => p_ttl_seconds), 1)
            RETURNING te.* INTO v_session;
            INSERT INTO temp_enrollment_steps
                (enrollment_id, step_number, step_type, instruction, signature_data, raw_data, metrics,
                 content_hash)
            VALUES (v_session.id, 1, p_step_type, COALESCE(p_instruction, v_plan.instruction),
                    p_signature_data, p_raw_data, p_metrics, p_content_hash);
            outcome := 'created';
            session_id := p_new_session_id;
        END IF;
        SELECT * INTO total_steps, completed_steps, last_step_number, last_step_type, remaining_steps,
                      is_complete
        FROM get_enrollment_progress(session_id);
        RETURN NEXT;
        RETURN;
    END IF;

    session_id := p_session_id;
    -- A later step that the save_next_step statement did not save: a retry, a refusal, or a session
    -- whose step_count was found wrong.
    SELECT * INTO v_session FROM temp_enrollments te WHERE te.session_id = p_session_id FOR UPDATE;
    -- A session started by someone else is reported exactly like an unknown one.
    IF NOT FOUND OR lower(v_session.username) <> lower(p_username) THEN
        outcome := 'not_found';
        flow_type := NULL;
        RETURN NEXT;
        RETURN;
    END IF;
    flow_type := v_session.flow_type;
    SELECT * INTO v_plan FROM enrollment_step_plan sp
    WHERE sp.flow_type = v_session.flow_type AND sp.step_number = p_step_number;
    IF p_flow_type IS NOT NULL AND p_flow_type <> v_session.flow_type THEN
        outcome := 'wrong_flow';
    ELSIF NOT FOUND OR v_plan.step_type <> p_step_type THEN
        outcome := 'not_in_plan';
    ELSIF v_session.status <> 'completed'
          AND (v_session.status = 'expired' OR v_session.expires_at <= NOW()) THEN
        -- Before the retry check: a step re-sent to an expired session is refused like any other.
        -- Remembered even though the step is refused.
        UPDATE temp_enrollments te SET status = 'expired', updated_at = NOW()
        WHERE te.id = v_session.id AND te.status = 'in_progress';
        outcome := 'expired';
    ELSE
        -- Read after the row lock, so exact: is this step saved (a retry or a conflict), how many are.
        SELECT count(*), max(s.content_hash) FILTER (WHERE s.step_number = p_step_number)
        INTO v_saved_steps, v_saved_hash
        FROM temp_enrollment_steps s WHERE s.enrollment_id = v_session.id;
        IF v_session.step_count <> v_saved_steps THEN
            -- Rows written by something other than the save: put step_count right (the statement's guard).
            UPDATE temp_enrollments te SET step_count = v_saved_steps WHERE te.id = v_session.id;
        END IF;
        IF v_saved_hash IS NOT NULL THEN
            outcome := CASE WHEN v_saved_hash = p_content_hash OR EXISTS (
                    SELECT 1 FROM temp_enrollment_steps s
                    WHERE s.enrollment_id = v_session.id AND s.step_number = p_step_number
                      AND s.step_type = p_step_type AND s.signature_data = p_signature_data
                      AND s.raw_data = p_raw_data AND s.metrics = p_metrics
                      AND s.instruction = COALESCE(p_instruction, v_plan.instruction))
                THEN 'duplicate' ELSE 'conflict' END;
        ELSIF v_session.status = 'completed' THEN
            outcome := 'completed';
        ELSIF p_step_number <> v_saved_steps + 1 THEN
            outcome := 'out_of_order';
            expected_step := v_saved_steps + 1;
        ELSE
            INSERT INTO temp_enrollment_steps
                (enrollment_id, step_number, step_type, instruction, signature_data, raw_data, metrics,
                 content_hash)
            VALUES (v_session.id, p_step_number, p_step_type, COALESCE(p_instruction, v_plan.instruction),
                    p_signature_data, p_raw_data, p_metrics, p_content_hash);
            -- Last activity and the client's latest IP; step_count recounted: this step was the next one.
            UPDATE temp_enrollments te
            SET updated_at = NOW(), metadata = te.metadata || p_last_ip, step_count = v_saved_steps + 1
            WHERE te.id = v_session.id;
            outcome := 'saved';
        END IF;
    END IF;
    IF outcome IN ('duplicate', 'saved') THEN
        SELECT * INTO total_steps, completed_steps, last_step_number, last_step_type, remaining_steps,
                      is_complete
        FROM get_enrollment_progress(p_session_id);
    END IF;
    RETURN NEXT;
END;
$$;
