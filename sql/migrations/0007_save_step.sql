-- save_enrollment_step: one drawing step saved in one statement (one round trip, its own transaction).
--
-- The service validates the payload first (types, sizes, image, strokes, hash) and turns the outcome
-- into the typed error or result it returns; this function does what needs the database, atomically:
-- which session, in which order, whether it is a retry. It changes nothing unless it saves, except
-- that it marks an expired session so (outcome 'expired'), which the caller wants kept.
--
-- Nearly every later step takes the fast path: one UPDATE (lock, checks, touch) and one INSERT.
--
-- Outcomes: created (step 1 started a new session, p_new_session_id), saved, duplicate (this exact
-- step is already saved: a retry; for step 1, the retried session's id), and refusals that change
-- nothing: username_taken, user_not_found, account_locked (locked_until), not_found, wrong_flow
-- (flow_type = the session's flow), not_in_plan (flow_type), conflict (the step is saved with other
-- content), completed, expired, out_of_order (expected_step). Progress columns come from
-- get_enrollment_progress for created, saved and duplicate. One row, always: the body sets the output
-- columns it knows (they are variables here) and returns with RETURN NEXT; the others stay NULL.

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
    v_locked      TIMESTAMPTZ;
    v_saved_steps INTEGER;
    v_saved_hash  VARCHAR;
    v_id          BIGINT;
    v_instruction TEXT;
BEGIN
    IF p_session_id IS NULL THEN
        flow_type := COALESCE(p_flow_type, 'signup');
        -- One session start per username at a time, so a retried first step cannot race itself.
        PERFORM pg_advisory_xact_lock(hashtext(lower(p_username)));
        SELECT u.id, u.locked_until INTO v_user_id, v_locked
        FROM users u WHERE lower(u.username) = lower(p_username);
        IF flow_type = 'signup' AND v_user_id IS NOT NULL THEN
            outcome := 'username_taken';
        ELSIF flow_type = 'signin' AND v_user_id IS NULL THEN
            outcome := 'user_not_found';
        ELSIF flow_type = 'signin' AND v_locked > NOW() THEN
            outcome := 'account_locked';
            locked_until := v_locked;
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
          AND s.content_hash = p_content_hash
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
    -- A later step. Fast path, nearly every save: the next step of a live session of this user, as
    -- planned. One UPDATE takes the row lock (which serialises saves to one session until this
    -- transaction ends), checks all that against the row and touches it. step_count is exact (every
    -- save sets it in its own transaction); a concurrent save of the same session makes this UPDATE
    -- wait and then re-check the row, so a retry finds step_count moved on and takes the full path.
    UPDATE temp_enrollments te
    SET updated_at = NOW(), metadata = te.metadata || p_last_ip, step_count = te.step_count + 1
    FROM enrollment_step_plan sp
    WHERE te.session_id = p_session_id
      AND lower(te.username) = lower(p_username)
      AND te.status = 'in_progress'
      AND te.expires_at > NOW()
      AND te.flow_type = COALESCE(p_flow_type, te.flow_type)
      AND te.step_count = p_step_number - 1
      AND sp.flow_type = te.flow_type AND sp.step_number = p_step_number AND sp.step_type = p_step_type
    RETURNING te.id, te.flow_type, sp.instruction,
              (SELECT count(*)::INT FROM enrollment_step_plan t WHERE t.flow_type = te.flow_type)
    INTO v_id, flow_type, v_instruction, total_steps;
    IF FOUND THEN
        INSERT INTO temp_enrollment_steps
            (enrollment_id, step_number, step_type, instruction, signature_data, raw_data, metrics, content_hash)
        VALUES (v_id, p_step_number, p_step_type, COALESCE(p_instruction, v_instruction), p_signature_data,
                p_raw_data, p_metrics, p_content_hash)
        ON CONFLICT (enrollment_id, step_number) DO NOTHING;
        IF FOUND THEN
            -- What get_enrollment_progress would say: steps 1..p_step_number are saved, in order.
            outcome := 'saved';
            completed_steps := p_step_number;
            last_step_number := p_step_number;
            last_step_type := p_step_type;
            remaining_steps := GREATEST(total_steps - p_step_number, 0);
            is_complete := p_step_number >= total_steps;
            RETURN NEXT;
            RETURN;
        END IF;
        -- The step was there although step_count said otherwise (rows written by something other than
        -- this function): put step_count right, and let the full path below decide.
        UPDATE temp_enrollments te
        SET step_count = (SELECT count(*) FROM temp_enrollment_steps s WHERE s.enrollment_id = v_id)
        WHERE te.id = v_id;
        total_steps := NULL;
    END IF;

    -- Full path: a retry, a refusal, or a first save after step_count was found wrong.
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
    ELSE
        -- Read after the row lock, so exact: is this step saved (a retry or a conflict), how many are.
        SELECT count(*), max(s.content_hash) FILTER (WHERE s.step_number = p_step_number)
        INTO v_saved_steps, v_saved_hash
        FROM temp_enrollment_steps s WHERE s.enrollment_id = v_session.id;
        IF v_saved_hash IS NOT NULL THEN
            outcome := CASE WHEN v_saved_hash = p_content_hash THEN 'duplicate' ELSE 'conflict' END;
        ELSIF v_session.status = 'completed' THEN
            outcome := 'completed';
        ELSIF v_session.status = 'expired' OR v_session.expires_at <= NOW() THEN
            -- Remembered even though the step is refused.
            UPDATE temp_enrollments te SET status = 'expired', updated_at = NOW()
            WHERE te.id = v_session.id AND te.status = 'in_progress';
            outcome := 'expired';
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
