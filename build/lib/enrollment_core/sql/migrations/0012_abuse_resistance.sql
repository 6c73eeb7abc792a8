-- Abuse resistance (issue 14): rate limits and quotas kept in the database (so they hold across API
-- processes, the Streamlit app and machines), sign-in lockout per (account, client address) instead of
-- per account, and the design note's plain writers and client served as the note describes them.

-- ---------------------------------------------------------------- rate limits

-- One row per client (an address, or an account for its rejected sign-ins), holding each of its limits
-- as the time the client's allowance is whole again (the generic cell rate algorithm): a request of cost
-- c (1, or its size in bytes) on a limit of `amount` per `period` moves that time c x period / amount
-- later, and is refused when the time would then lie more than one period ahead (the whole allowance
-- spent). NULL, or a time past, is a whole allowance.
-- UNLOGGED: nearly every request writes here, and an allowance need not survive a crash (it restarts
-- whole) nor reach a standby; skipping the write-ahead log keeps the check cheap.
CREATE UNLOGGED TABLE rate_limits (
    subject                 TEXT        PRIMARY KEY,  -- 'address 203.0.113.9', 'account alice'
    lookups_full_at         TIMESTAMPTZ,
    saves_full_at           TIMESTAMPTZ,
    sessions_full_at        TIMESTAMPTZ,
    upload_bytes_full_at    TIMESTAMPTZ,
    signins_full_at         TIMESTAMPTZ,
    signin_failures_full_at TIMESTAMPTZ,
    refused                 BIGINT      NOT NULL DEFAULT 0,  -- requests refused while the row existed
    last_allowed            BOOLEAN     NOT NULL DEFAULT true,  -- the latest request's decision
    last_refused_at         TIMESTAMPTZ,
    last_refused_limit      TEXT,              -- which limit refused it (the one that frees up last)
    last_wait_seconds       DOUBLE PRECISION   -- and how long it had to wait
);

-- One request's costs on one client's limits, decided together: allowed when every limit with a cost
-- (p_costs[i], NULL: not involved; its need is GREATEST(cost, 1), so a cost of 0 only asks whether
-- anything is left) can take it, and then all of them move; else nothing moves, the refusal is kept on
-- the row, and the answer names the limit that frees up last and in how many seconds. Limits in the
-- order of the table's columns: lookups, saves, sessions, upload_bytes, signins, signin_failures.
-- The row lock makes concurrent requests of one client exact; a client's first request creates its row.
CREATE FUNCTION charge_rate_limits(
    p_subject TEXT, p_costs DOUBLE PRECISION[], p_amounts DOUBLE PRECISION[], p_periods DOUBLE PRECISION[]
)
RETURNS TABLE (allowed BOOLEAN, refused_by TEXT, retry_after_seconds DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    v_names TEXT[] := ARRAY['lookups', 'saves', 'sessions', 'upload_bytes', 'signins', 'signin_failures'];
    v_row   rate_limits%ROWTYPE;
    v_full  TIMESTAMPTZ[];
    v_start TIMESTAMPTZ;
    v_wait  DOUBLE PRECISION;
BEGIN
    SELECT * INTO v_row FROM rate_limits r WHERE r.subject = p_subject FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO rate_limits (subject) VALUES (p_subject) ON CONFLICT (subject) DO NOTHING;
        SELECT * INTO v_row FROM rate_limits r WHERE r.subject = p_subject FOR UPDATE;
    END IF;
    v_full := ARRAY[v_row.lookups_full_at, v_row.saves_full_at, v_row.sessions_full_at,
                    v_row.upload_bytes_full_at, v_row.signins_full_at, v_row.signin_failures_full_at];
    allowed := true;
    FOR i IN 1..6 LOOP
        CONTINUE WHEN p_costs[i] IS NULL;
        v_start := GREATEST(v_full[i], NOW());
        v_wait := EXTRACT(EPOCH FROM v_start - NOW())
                  + GREATEST(p_costs[i], 1) * p_periods[i] / p_amounts[i] - p_periods[i];
        IF v_wait > 0 THEN
            IF allowed OR v_wait > retry_after_seconds THEN
                refused_by := v_names[i];
                retry_after_seconds := v_wait;
            END IF;
            allowed := false;
        ELSE
            v_full[i] := v_start + make_interval(secs => p_costs[i] * p_periods[i] / p_amounts[i]);
        END IF;
    END LOOP;
    IF allowed THEN
        UPDATE rate_limits r SET lookups_full_at = v_full[1], saves_full_at = v_full[2],
            sessions_full_at = v_full[3], upload_bytes_full_at = v_full[4], signins_full_at = v_full[5],
            signin_failures_full_at = v_full[6], last_allowed = true
        WHERE r.subject = p_subject;
    ELSE
        UPDATE rate_limits r SET refused = r.refused + 1, last_allowed = false, last_refused_at = NOW(),
            last_refused_limit = refused_by, last_wait_seconds = retry_after_seconds
        WHERE r.subject = p_subject;
    END IF;
    RETURN NEXT;
END;
$$;

-- ---------------------------------------------------------------- sign-in lockout

-- Rejected sign-ins lock the pair (account, client address), never the account everywhere: an attacker
-- cannot lock the owner out (NIST SP 800-63B 5.2.2). Failures of one account from many addresses slow
-- that account instead (the signin_failures limit above) and users.failed_logins counts them for staff.
CREATE TABLE sign_in_lockouts (
    user_id        INTEGER     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address        TEXT        NOT NULL,  -- the client address; '' when the caller gave none
    -- Rejections in a row from this address, each within the lock's length of the previous one.
    failures       INTEGER     NOT NULL,
    last_failed_at TIMESTAMPTZ NOT NULL,
    locked_until   TIMESTAMPTZ,           -- set when failures reached the limit (LOGIN_MAX_FAILURES)
    PRIMARY KEY (user_id, address)
);

-- users.locked_until (an account-wide lock) is no longer set or read; it stays until a later migration
-- drops it, for processes of the previous release that may still run during an upgrade.
COMMENT ON COLUMN users.locked_until IS 'unused since 0012_abuse_resistance (see sign_in_lockouts)';
UPDATE users SET locked_until = NULL WHERE locked_until IS NOT NULL;

-- ---------------------------------------------------------------- the design note's writers

-- Another writer's INSERT with the note's columns only (no content_hash) gets one computed here. Its
-- recipe differs from the service's, which is fine: a re-sent step whose hash differs is still a
-- retry when its content is the same column by column (save_enrollment_step).
CREATE FUNCTION fill_step_content_hash() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.content_hash := encode(sha256(convert_to(concat_ws(E'\x1f', NEW.step_number, NEW.step_type,
        NEW.instruction, NEW.signature_data, NEW.raw_data::text, NEW.metrics::text), 'UTF8')), 'hex');
    RETURN NEW;
END;
$$;

CREATE TRIGGER temp_enrollment_steps_fill_content_hash
    BEFORE INSERT ON temp_enrollment_steps
    FOR EACH ROW WHEN (NEW.content_hash IS NULL)
    EXECUTE FUNCTION fill_step_content_hash();

-- save_enrollment_step, body only (same parameters and columns):
-- - without a flow type, a first step for a registered username starts a sign-in, for a new one a
--   signup (the design note's client sends no flow type);
-- - no account-wide lock at step 1 any more (sign-in locks are per address, checked by login); the
--   locked_until column stays, always NULL;
-- - a retry of a saved step on an expired session is 'expired', not 'duplicate'.
CREATE OR REPLACE FUNCTION save_enrollment_step(
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
    locked_until     TIMESTAMPTZ,
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
