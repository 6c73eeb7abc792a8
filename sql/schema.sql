-- The database as a fresh install has it: every table, index and function, in their current form and
-- explained. Migrations (sql/migrations/, applied in order by enrollment_core/migrations.py) are how a
-- database gets here; this file is how a reader learns what "here" is. tests/test_schema_file.py checks
-- that migrating an empty database gives exactly this schema, so a new migration updates this file too.
-- (Comments inside applied migrations are frozen by their checksums and may be out of date; these are
-- not.)
--
-- The tables and columns of the design note (../shared/seed/temp-enrollments-schema.md) are the
-- contract: other writers may use them with the note's columns only.
--
-- Timestamps are TIMESTAMPTZ rather than the note's TIMESTAMP: load-balanced servers in different time
-- zones must agree on when a session expires, and NOW() comparisons stay exact.
--
-- Function contracts: a migration that changes a function's parameters or result columns creates it
-- under a new, versioned name (save_enrollment_step_v2) and leaves the old one for processes still
-- running the previous release; a body-only fix keeps the name (CREATE OR REPLACE).

-- ============================== enrollment sessions (temporary, 2 hours) ==============================

-- One row per enrollment session: a signup (11 drawings) or a sign-in (1 signature).
CREATE TABLE temp_enrollments (
    id          SERIAL PRIMARY KEY,
    session_id  VARCHAR(255) NOT NULL,  -- 'sess_' + 192 random bits, the client's handle
    username    VARCHAR(255) NOT NULL,  -- as the person typed it; compared case-insensitively
    flow_type   VARCHAR(20)  NOT NULL CONSTRAINT temp_enrollments_flow_type_check
                    CHECK (flow_type IN ('signup', 'signin')),
    status      VARCHAR(20)  NOT NULL DEFAULT 'in_progress' CONSTRAINT temp_enrollments_status_check
                    CHECK (status IN ('in_progress', 'completed', 'expired')),
    device_info TEXT,                   -- the client's User-Agent, truncated
    metadata    JSONB        NOT NULL DEFAULT '{}'::jsonb,  -- {"ip": first address, "last_ip": latest}
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    updated_at  TIMESTAMPTZ  NOT NULL DEFAULT NOW(),   -- last activity (a saved step)
    expires_at  TIMESTAMPTZ  NOT NULL DEFAULT NOW() + INTERVAL '2 hours',
    -- When the session reached 'completed' (NULL before); the dashboard's "completed in the last 24 h".
    completed_at TIMESTAMPTZ,
    -- How many steps the session has saved, kept exact by every save in its own transaction, so that
    -- averages and the funnel never join the millions of steps. Not indexed on purpose: an indexed
    -- column would make every save's UPDATE a non-HOT update that writes into every index.
    step_count  INTEGER      NOT NULL DEFAULT 0
                    CONSTRAINT temp_enrollments_step_count_check CHECK (step_count BETWEEN 0 AND 100),
    -- A session started with a client secret (the API's deviceToken, the app's per-browser secret)
    -- continues (saves, register, login) only with it: its SHA-256. NULL: started without one, and
    -- anyone holding the session id and the username may continue it (the weaker path, kept for the
    -- design note's client).
    client_secret_hash BYTEA,
    CONSTRAINT temp_enrollments_expiry_after_creation CHECK (expires_at > created_at)
) WITH (fillfactor = 90);  -- room on each page for the per-step UPDATE to stay a HOT update

-- One row per saved drawing of a session. Steps are saved in plan order, once each.
CREATE TABLE temp_enrollment_steps (
    id             SERIAL PRIMARY KEY,
    enrollment_id  INTEGER     NOT NULL REFERENCES temp_enrollments (id) ON DELETE CASCADE,
    step_number    INTEGER     NOT NULL CONSTRAINT temp_enrollment_steps_step_number_check
                       CHECK (step_number BETWEEN 1 AND 100),
    step_type      VARCHAR(20) NOT NULL CONSTRAINT temp_enrollment_steps_step_type_check
                       CHECK (step_type IN ('signature', 'shape', 'drawing')),
    instruction    TEXT        NOT NULL,  -- the client's wording, else the plan's
    signature_data TEXT        NOT NULL CONSTRAINT temp_enrollment_steps_signature_data_check
                       CHECK (signature_data LIKE 'data:image/%'),  -- the drawing as a data URL
    raw_data       JSONB,                 -- the strokes (canvas or signature_pad JSON)
    metrics        JSONB       NOT NULL DEFAULT '{}'::jsonb,
    completed_at   TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- Identifies the step's content (enrollment_core.validation.DrawingStep.content_hash): a retried
    -- step with the same content is recognised, not duplicated.
    content_hash   CHAR(64)    NOT NULL,
    CONSTRAINT temp_enrollment_steps_one_per_step UNIQUE (enrollment_id, step_number)
);

-- The step plan, mirrored from enrollment_core/step_plan.py by the migration runner, so that SQL
-- functions know how many steps each flow has without a second copy of the plan.
CREATE TABLE enrollment_step_plan (
    flow_type   VARCHAR(20) NOT NULL CHECK (flow_type IN ('signup', 'signin')),
    step_number INTEGER     NOT NULL CHECK (step_number >= 1),
    step_type   VARCHAR(20) NOT NULL CHECK (step_type IN ('signature', 'shape', 'drawing')),
    instruction TEXT        NOT NULL,
    PRIMARY KEY (flow_type, step_number)
);

-- The design note's indexes, by its names.
CREATE UNIQUE INDEX idx_temp_enrollments_session_id ON temp_enrollments (session_id);
CREATE INDEX idx_temp_enrollments_username ON temp_enrollments (lower(username));
-- Cleanup only ever looks for sessions that can still expire; completed ones are archived instead.
CREATE INDEX idx_temp_enrollments_expires_at ON temp_enrollments (expires_at)
    WHERE status IN ('in_progress', 'expired');

-- The dashboard's indexes. Each is covering (INCLUDE), so its counts and charts are index-only scans
-- that never read the rows, and above all never the steps' images (docs/performance.md, section 2).
-- Sessions by expiry, all statuses: live sessions over time, the expiry backlog, "completed in the last
-- 24 h" (a session completes before it expires, so completed_at >= X implies expires_at > X).
CREATE INDEX idx_temp_enrollments_expires_all ON temp_enrollments (expires_at)
    INCLUDE (status, flow_type, created_at, completed_at);
-- Sessions by start time: completion rate, step funnel and step times of sessions started in a window.
CREATE INDEX idx_temp_enrollments_created_at ON temp_enrollments (created_at)
    INCLUDE (id, status, flow_type, expires_at);
-- Sessions still in progress, by expiry: the design note's expired_pending_cleanup is an index-only
-- count, and the live count and the sessions page's filters never read the rows. None of the included
-- columns changes after a session starts, so saves stay HOT updates.
CREATE INDEX idx_temp_enrollments_in_progress ON temp_enrollments (expires_at)
    INCLUDE (flow_type, created_at, username, id) WHERE status = 'in_progress';
-- Steps without their images: time per step and the note's avg_steps_per_flow read only this index.
-- (The unique (enrollment_id, step_number) index cannot carry extra columns without replacing the
-- constraint.)
CREATE INDEX idx_temp_enrollment_steps_progress ON temp_enrollment_steps (enrollment_id, step_number)
    INCLUDE (completed_at, id);

-- ============================== users and sign-in ==============================

-- The users that completed signup enrollments turn into.
CREATE TABLE users (
    id                    SERIAL PRIMARY KEY,
    username              VARCHAR(255) NOT NULL,
    created_at            TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    enrollment_session_id VARCHAR(255) NOT NULL,  -- the signup session the account was made from
    -- Rejected sign-ins in a row, from any address, since the last accepted one: shown to staff. The
    -- locks are per (account, address), in sign_in_lockouts.
    failed_logins         INTEGER      NOT NULL DEFAULT 0
);
-- Case-insensitive unique usernames: "John_Doe" and "john_doe" are the same person.
CREATE UNIQUE INDEX idx_users_username_lower ON users (lower(username));

-- What register copies out of the temporary tables: kept for as long as the user exists.
CREATE TABLE user_enrolled_drawings (
    id             SERIAL PRIMARY KEY,
    user_id        INTEGER     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    step_number    INTEGER     NOT NULL,
    step_type      VARCHAR(20) NOT NULL CHECK (step_type IN ('signature', 'shape', 'drawing')),
    instruction    TEXT        NOT NULL,
    signature_data TEXT        NOT NULL,
    raw_data       JSONB,
    metrics        JSONB       NOT NULL DEFAULT '{}'::jsonb,
    captured_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, step_number)
);

-- Device tokens (enrollment_core/device_tokens.py): what a client gets from register and every accepted
-- login, and sends with its later sign-ins. An attempt presenting a valid token of the account is not
-- slowed, locked or refused by anything attempts without one did (OWASP's device cookies against
-- lockout attacks); a token has limits of its own (revoked after LOGIN_MAX_FAILURES rejections in a
-- row). Only its SHA-256 is stored.
CREATE TABLE device_tokens (
    id             BIGSERIAL    PRIMARY KEY,
    user_id        INTEGER      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash     BYTEA        NOT NULL CONSTRAINT device_tokens_token_hash_key UNIQUE,
    session_id     VARCHAR(255) NOT NULL,  -- the register or login session that issued it
    created_at     TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    last_used_at   TIMESTAMPTZ,            -- its latest sign-in, accepted or not
    expires_at     TIMESTAMPTZ  NOT NULL,  -- DEVICE_TOKEN_DAYS after issue or its latest accepted sign-in
    revoked_at     TIMESTAMPTZ,
    -- 'staff' (the dashboard), 'failures' (LOGIN_MAX_FAILURES rejections in a row with it),
    -- 'replaced' (the account had more live tokens than it may keep)
    revoked_reason VARCHAR(16)  CONSTRAINT device_tokens_revoked_reason_check
                       CHECK (revoked_reason IN ('staff', 'failures', 'replaced')),
    failures       INTEGER      NOT NULL DEFAULT 0,  -- rejected sign-ins in a row with it
    user_agent     TEXT,                   -- the device it was issued to, for staff
    ip             TEXT,
    CONSTRAINT device_tokens_revoked_with_reason CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX idx_device_tokens_user ON device_tokens (user_id, created_at DESC);

-- The server's key for deriving device tokens: one row, made by migration 0014 from PostgreSQL's strong
-- random generator. A token is HMAC(key, session id, the secret the session is bound to), so a retried
-- register or login answers the same token although only its hash is stored.
CREATE TABLE device_token_key (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT device_token_key_singleton CHECK (singleton),
    secret    BYTEA   NOT NULL
);

-- Every sign-in verification, accepted or not.
CREATE TABLE login_attempts (
    id           BIGSERIAL PRIMARY KEY,
    user_id      INTEGER      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- One verdict per sign-in session: a signin session cannot be replayed for a second attempt.
    session_id   VARCHAR(255) NOT NULL UNIQUE,
    accepted     BOOLEAN      NOT NULL,
    reason_code  VARCHAR(32)  NOT NULL,  -- verification.REASONS: match, no_match, replay, empty, untimed, ...
    score        DOUBLE PRECISION,      -- the verifier's distance (lower is closer); staff only
    threshold    DOUBLE PRECISION,
    ip           TEXT,
    user_agent   TEXT,
    attempted_at TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    -- A compact summary of the attempt's drawing (verification.attempt_fingerprint): a later attempt
    -- that repeats a recent one point for point and time for time is a replay, not a person signing.
    fingerprint  BYTEA,
    method       VARCHAR(16),           -- how it was verified: 'timed' (pen timing) or 'shape'
    -- The drawing reduced for copy detection (verification.copies.drawing_path, 1 540 bytes): a later
    -- attempt that is a re-sampled, jittered or re-timed copy of a recent one is a replay.
    drawing_path BYTEA,
    decided_by   VARCHAR(32),           -- which check decided (verification.CHECKS), for staff
    -- The device token the attempt presented, when it was a valid one of the account (NULL: an unknown
    -- device): a retry answers like it, and staff see sign-ins from remembered devices.
    device_token_id BIGINT REFERENCES device_tokens (id) ON DELETE SET NULL
);
CREATE INDEX idx_login_attempts_user_time ON login_attempts (user_id, attempted_at DESC);

-- Each account's verification profile (verification.Profile.to_bytes), built at registration and read
-- by every sign-in; a sign-in that finds another format `version` rebuilds and stores it.
CREATE TABLE user_verification_profiles (
    user_id  INTEGER     PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version  INTEGER     NOT NULL,
    profile  BYTEA       NOT NULL,
    built_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

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

-- ============================== maintenance and statistics ==============================

-- One summary row per session that has left the temporary tables: completed sessions moved by `archive`,
-- and expired, never-completed sessions removed by cleanup (cleanup_expired_enrollments folds each one in
-- before deleting it). No images (a registered user's drawings live in user_enrolled_drawings), only what
-- the dashboard's figures need, so that cleanup and archive never change a figure about the past: the
-- dashboard counts temp_enrollments + enrollment_archive.
CREATE TABLE enrollment_archive (
    session_id   VARCHAR(255) PRIMARY KEY,
    username     VARCHAR(255) NOT NULL,
    flow_type    VARCHAR(20)  NOT NULL,
    step_count   INTEGER      NOT NULL,  -- steps reached (temp_enrollments.step_count)
    created_at   TIMESTAMPTZ  NOT NULL,
    completed_at TIMESTAMPTZ,            -- NULL for an expired session
    archived_at  TIMESTAMPTZ  NOT NULL DEFAULT NOW(),  -- when it left the temporary tables
    -- 'completed' (moved by archive) or 'expired' (never completed, removed by cleanup).
    outcome      VARCHAR(20)  NOT NULL
                     CONSTRAINT enrollment_archive_outcome_check CHECK (outcome IN ('completed', 'expired')),
    expires_at   TIMESTAMPTZ,            -- NULL for sessions archived before migration 0010
    ended_at     TIMESTAMPTZ  NOT NULL,  -- when it stopped being live: completed_at, else expires_at
    last_activity_at TIMESTAMPTZ,        -- its last saved step (temp_enrollments.updated_at)
    -- Seconds spent on each step, in step order (step 1: from the session's start, so 0 for sessions
    -- the service created). NULL for sessions archived before migration 0010.
    step_seconds NUMERIC[]
);
-- The archive grows for as long as the product runs: each figure reads a range of one of these.
-- Sessions by start: completion rate, funnel, steps per enrollment, time per step.
CREATE INDEX idx_enrollment_archive_created_at ON enrollment_archive (created_at)
    INCLUDE (flow_type, outcome, step_count);
-- Sessions by end: live sessions over time, completed in the last 24 h.
CREATE INDEX idx_enrollment_archive_ended_at ON enrollment_archive (ended_at)
    INCLUDE (flow_type, outcome, created_at);
-- A person's past sessions, by username (case-insensitive, as everywhere).
CREATE INDEX idx_enrollment_archive_username ON enrollment_archive (lower(username));

-- Last run of periodic jobs, so that many app instances run the hourly cleanup once an hour in all.
CREATE TABLE maintenance_runs (
    job         TEXT PRIMARY KEY,
    last_run_at TIMESTAMPTZ NOT NULL,
    last_result JSONB NOT NULL DEFAULT '{}'::jsonb
);

-- The dashboard's figures over many rows, computed together about once a minute by
-- enrollment_core.monitoring.snapshot.refresh_snapshot (sql/snapshot.sql) and read back by key.
CREATE TABLE dashboard_snapshots (
    key      TEXT PRIMARY KEY,          -- e.g. 'overview_by_flow:24', 'step_durations:24:5000'
    taken_at TIMESTAMPTZ NOT NULL,      -- the NOW() of the refresh transaction: figures are exact then
    rows     JSONB       NOT NULL       -- the query's rows, as a JSON array of objects
);

-- What staff did from the dashboard (enrollment_core.staff.StaffActions): who (the name given at sign-in
-- to the dashboard; the password is shared, so the name is the person's word), what, when, on what, and
-- the result. Shown on the dashboard's Maintenance page.
CREATE TABLE staff_actions (
    id         BIGSERIAL PRIMARY KEY,
    acted_at   TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    staff_name VARCHAR(100) NOT NULL CONSTRAINT staff_actions_staff_name_check
                   CHECK (length(btrim(staff_name)) > 0),
    -- 'cleanup', 'archive', 'unlock_sign_in', 'clear_rate_limit', 'revoke_device_token',
    -- 'sign_in' (a wrong password at the dashboard's door) (enrollment_core.staff.StaffAction)
    action     VARCHAR(32)  NOT NULL,
    target     TEXT,                   -- what it acted on, when not everything (a username, an address)
    succeeded  BOOLEAN      NOT NULL,
    result     JSONB        NOT NULL DEFAULT '{}'::jsonb  -- e.g. {"removed": 4}, {"error": "..."}
);
CREATE INDEX idx_staff_actions_acted_at ON staff_actions (acted_at DESC);
-- Wrong passwords at the dashboard's door are in the log too (action 'sign_in', not succeeded, target:
-- the client address); an address's recent ones limit its next attempts (staff.staff_sign_in).
CREATE INDEX idx_staff_actions_failed_sign_ins ON staff_actions (target, acted_at DESC)
    WHERE action = 'sign_in' AND NOT succeeded;
-- The staff log filtered by action, newest first (the console's staff log filters).
CREATE INDEX idx_staff_actions_action ON staff_actions (action, acted_at DESC);

-- ============================== abuse resistance ==============================

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

-- ============================== functions ==============================

-- The design note's three functions. Each is safe to call concurrently: complete_enrollment locks the
-- session row, cleanup skips rows another transaction holds (a save in flight) instead of waiting.

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
CREATE FUNCTION cleanup_expired_enrollments(p_batch_size INTEGER DEFAULT NULL)
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

-- ============================== the staff console's search ==============================

-- People found by part of their username at any size (migration 0016). pg_trgm would be the usual
-- tool, but the embedded PostgreSQL 18 wheel (the default database) ships without it; the same idea in
-- plain SQL works everywhere: each username's trigrams as a text[] with a GIN index (array_ops, built
-- in). A search of 3 or more characters looks for names holding every trigram of it, then checks the
-- substring itself; a shorter one matches the start of a name, through the padded grams '  m' and ' ma'
-- (pg_trgm pads words the same way).

-- The grams of a username, lower-cased, each once: '  m', ' ma', 'mar', 'ari', 'ria' for 'Maria'.
-- PL/pgSQL: 3 us a call, where a SQL function (which PostgreSQL cannot inline here) took 19 us.
CREATE FUNCTION username_grams(p_username TEXT) RETURNS TEXT[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    padded TEXT := '  ' || lower(p_username);
    gram   TEXT;
    grams  TEXT[] := '{}';
BEGIN
    FOR i IN 1..length(p_username) LOOP
        gram := substr(padded, i, 3);
        IF NOT gram = ANY (grams) THEN
            grams := grams || gram;
        END IF;
    END LOOP;
    RETURN grams;
END;
$$;

-- The grams a name must hold to match a search: every trigram of it (3 characters or more), else the
-- padded gram of a name's start ('  m' for 'm', ' ma' for 'ma').
CREATE FUNCTION username_search_grams(p_part TEXT) RETURNS TEXT[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE WHEN length(p_part) < 3
            THEN ARRAY[substr('  ' || lower(p_part), length(p_part), 3)]
            ELSE ARRAY(SELECT DISTINCT substr(lower(p_part), i, 3)
                       FROM generate_series(1, length(p_part) - 2) AS i) END;

-- Written once per session (the username never changes), so saves of the later steps stay HOT updates.
CREATE INDEX idx_temp_enrollments_username_grams ON temp_enrollments USING gin (username_grams(username));
CREATE INDEX idx_users_username_grams ON users USING gin (username_grams(username));

-- Archived sessions are found through the names sessions were started with (migration 0019), not by a
-- grams index on enrollment_archive: that one made cleanup and archive insert ~10 grams for every
-- session they fold (at 200 k expired sessions, cleanup 29-38 s with it, 19 s without). A name is
-- remembered once, when its first session starts, and kept after its sessions leave temp_enrollments.
CREATE TABLE session_usernames (
    username TEXT PRIMARY KEY  -- lower(temp_enrollments.username) of some session, ever
);
CREATE INDEX idx_session_usernames_grams ON session_usernames USING gin (username_grams(username));

-- Once per INSERT statement, not per row: a bulk insert costs one lookup per distinct name. A trigger,
-- so that every writer of temp_enrollments (the service, the seed's clients, demo and bench data) keeps
-- it whole.
CREATE FUNCTION remember_session_usernames() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_usernames (username)
    SELECT DISTINCT lower(username) FROM new_sessions
    ON CONFLICT (username) DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER temp_enrollments_remember_usernames
    AFTER INSERT ON temp_enrollments
    REFERENCING NEW TABLE AS new_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION remember_session_usernames();
