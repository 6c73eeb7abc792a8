-- Sign-in: every verification attempt is recorded, and repeated rejections lock the account a while.

ALTER TABLE users
    -- Rejections in a row since the last accepted sign-in (reset by a success or an expired lock).
    ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN locked_until  TIMESTAMPTZ;

CREATE TABLE login_attempts (
    id           BIGSERIAL PRIMARY KEY,
    user_id      INTEGER      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- One verdict per sign-in session: a signin session cannot be replayed for a second attempt.
    session_id   VARCHAR(255) NOT NULL UNIQUE,
    accepted     BOOLEAN      NOT NULL,
    reason_code  VARCHAR(32)  NOT NULL,
    score        DOUBLE PRECISION,
    threshold    DOUBLE PRECISION,
    ip           TEXT,
    user_agent   TEXT,
    attempted_at TIMESTAMPTZ  NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_login_attempts_user_time ON login_attempts (user_id, attempted_at DESC);
