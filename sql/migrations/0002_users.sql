-- The users that completed signup enrollments turn into, and the drawings they enrolled with.

CREATE TABLE users (
    id                    SERIAL PRIMARY KEY,
    username              VARCHAR(255) NOT NULL,
    created_at            TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    enrollment_session_id VARCHAR(255) NOT NULL
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

-- Completed enrollments moved out of the temporary tables by `archive`: a summary without the images
-- (the user's drawings already live in user_enrolled_drawings), so statistics survive archiving.
CREATE TABLE enrollment_archive (
    session_id   VARCHAR(255) PRIMARY KEY,
    username     VARCHAR(255) NOT NULL,
    flow_type    VARCHAR(20)  NOT NULL,
    step_count   INTEGER      NOT NULL,
    created_at   TIMESTAMPTZ  NOT NULL,
    completed_at TIMESTAMPTZ,
    archived_at  TIMESTAMPTZ  NOT NULL DEFAULT NOW()
);

-- Last run of periodic jobs, so that many app instances run the hourly cleanup once an hour in all.
CREATE TABLE maintenance_runs (
    job         TEXT PRIMARY KEY,
    last_run_at TIMESTAMPTZ NOT NULL,
    last_result JSONB NOT NULL DEFAULT '{}'::jsonb
);
