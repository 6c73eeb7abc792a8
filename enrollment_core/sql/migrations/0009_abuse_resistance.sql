-- Abuse resistance (issue 14): rate limits and quotas kept in the database (so they hold across API
-- processes, the Streamlit app and machines), sign-in lockout per (account, client address) instead of
-- per account, and the design note's plain writers and client served as the note describes them.

-- ---------------------------------------------------------------- rate limits

-- One token bucket per (family, subject): family is what is limited (lookup, save, session, bytes,
-- signin per client address; signin_failures per account), subject the client address or the
-- lower-case username. A bucket holds up to `capacity` tokens and refills at capacity / period_seconds
-- per second; a request takes its cost (1, or its size in bytes) when the bucket holds enough. A row
-- missing is a full bucket, so idle rows are deleted by the hourly maintenance.
-- UNLOGGED: every limited request writes here, and a counter need not survive a crash (it restarts
-- full) nor reach a standby; skipping the write-ahead log keeps the limit's round trip cheap.
CREATE UNLOGGED TABLE rate_limit_buckets (
    family          TEXT             NOT NULL,
    subject         TEXT             NOT NULL,
    capacity        DOUBLE PRECISION NOT NULL CHECK (capacity > 0),
    period_seconds  DOUBLE PRECISION NOT NULL CHECK (period_seconds > 0),
    tokens          DOUBLE PRECISION NOT NULL,  -- left as of refilled_at
    refilled_at     TIMESTAMPTZ      NOT NULL,
    last_cost       DOUBLE PRECISION NOT NULL,  -- what the latest request asked for
    last_allowed    BOOLEAN          NOT NULL,  -- and whether it got it
    refused         BIGINT           NOT NULL DEFAULT 0,  -- requests refused while this row existed
    last_refused_at TIMESTAMPTZ,
    PRIMARY KEY (family, subject)
);

-- The tokens a bucket holds now: what it held, plus the refill since, up to its capacity.
CREATE FUNCTION rate_limit_tokens_now(
    p_tokens DOUBLE PRECISION, p_refilled_at TIMESTAMPTZ, p_capacity DOUBLE PRECISION,
    p_period_seconds DOUBLE PRECISION
)
RETURNS DOUBLE PRECISION
LANGUAGE sql STABLE AS $$
    SELECT LEAST(p_capacity,
                 p_tokens + p_capacity * EXTRACT(EPOCH FROM NOW() - p_refilled_at) / p_period_seconds);
$$;

-- One request's charges, in one statement (enrollment_core.rate_limits.take, and the save_next_step
-- statement, which saves a step in the same statement). p_charges: a JSON array of {family, subject,
-- cost, capacity, period_seconds}. Each bucket, refilled for the time since its last use, gives the
-- charge's cost when it holds GREATEST(cost, 1) (a cost of 0 only asks whether it is empty). Buckets
-- are locked in (family, subject) order, so two requests never wait on each other crosswise; each is
-- updated where it stands, so a request refused by one bucket may still have spent from another. One
-- row: allowed (also for no charges), else the refusing bucket that frees up last and in how many
-- seconds. PL/pgSQL: its plan is cached per connection on every PostgreSQL version.
CREATE FUNCTION take_rate_limit_tokens(p_charges JSONB)
RETURNS TABLE (allowed BOOLEAN, retry_after_seconds DOUBLE PRECISION, refused_by TEXT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH charge AS (
        SELECT * FROM jsonb_to_recordset(p_charges)
             AS c(family TEXT, subject TEXT, cost FLOAT8, capacity FLOAT8, period_seconds FLOAT8)
    ), taken AS (
        INSERT INTO rate_limit_buckets AS b
            (family, subject, capacity, period_seconds, tokens, refilled_at, last_cost, last_allowed, refused,
             last_refused_at)
        SELECT c.family, c.subject, c.capacity, c.period_seconds,  -- a new bucket is full
               c.capacity - CASE WHEN c.capacity >= GREATEST(c.cost, 1) THEN c.cost ELSE 0 END, NOW(), c.cost,
               c.capacity >= GREATEST(c.cost, 1), (c.capacity < GREATEST(c.cost, 1))::int,
               CASE WHEN c.capacity < GREATEST(c.cost, 1) THEN NOW() END
        FROM charge c
        ORDER BY c.family, c.subject
        ON CONFLICT (family, subject) DO UPDATE SET
            (capacity, period_seconds, last_cost, refilled_at, tokens, last_allowed, refused, last_refused_at) = (
                SELECT EXCLUDED.capacity, EXCLUDED.period_seconds, EXCLUDED.last_cost, NOW(),
                       state.tokens - CASE WHEN state.ok THEN EXCLUDED.last_cost ELSE 0 END, state.ok,
                       b.refused + (NOT state.ok)::int, CASE WHEN state.ok THEN b.last_refused_at ELSE NOW() END
                FROM (SELECT refilled.tokens, refilled.tokens >= GREATEST(EXCLUDED.last_cost, 1) AS ok
                      FROM (SELECT rate_limit_tokens_now(b.tokens, b.refilled_at, EXCLUDED.capacity,
                                                         EXCLUDED.period_seconds) AS tokens) refilled) state)
        RETURNING b.family, b.last_allowed,
                  CASE WHEN NOT b.last_allowed
                       THEN (GREATEST(b.last_cost, 1) - b.tokens) * b.period_seconds / b.capacity END AS wait
    )
    SELECT COALESCE(bool_and(last_allowed), true) AS allowed, max(wait) AS retry_after_seconds,
           (array_agg(family ORDER BY wait DESC NULLS LAST))[1] AS refused_by
    FROM taken;
END;
$$;

-- ---------------------------------------------------------------- sign-in lockout

-- Rejected sign-ins lock the pair (account, client address), never the account everywhere: an attacker
-- cannot lock the owner out (NIST SP 800-63B 5.2.2). Failures of one account from many addresses slow
-- that account instead (the signin_failures bucket above) and users.failed_logins counts them for staff.
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
COMMENT ON COLUMN users.locked_until IS 'unused since 0009_abuse_resistance (see sign_in_lockouts)';
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
