-- Device tokens and sessions bound to their client (issue 24).
--
-- A device token is what a client gets from /register and every accepted /login, and sends with its
-- later sign-ins: an attempt that presents a valid token of the account is not slowed, locked or
-- refused by anything attempts without one did (OWASP's device cookies against lockout attacks); it
-- has limits of its own. Only its SHA-256 is stored.

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

-- The server's key for deriving tokens (enrollment_core/device_tokens.py): one row, made here from
-- PostgreSQL's strong random generator. A token is HMAC(key, session id, the secret the session is
-- bound to), so a retried /register or /login answers the same token although only its hash is stored.
CREATE TABLE device_token_key (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CONSTRAINT device_token_key_singleton CHECK (singleton),
    secret    BYTEA   NOT NULL
);
INSERT INTO device_token_key (secret)
VALUES (sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text,
                          'UTF8')));

-- Which token a sign-in presented (NULL: none valid for the account): its retry answers like it, and
-- staff see which sign-ins came from a remembered device.
ALTER TABLE login_attempts
    ADD COLUMN device_token_id BIGINT REFERENCES device_tokens (id) ON DELETE SET NULL;

-- A session started with a client secret (the API's deviceToken, the app's per-browser secret)
-- continues only with it: its SHA-256, NULL for a session started without one (the weaker path).
ALTER TABLE temp_enrollments ADD COLUMN client_secret_hash BYTEA;
