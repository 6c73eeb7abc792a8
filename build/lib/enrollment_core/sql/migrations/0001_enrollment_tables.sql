-- The temporary enrollment tables of the seed design note (shared/seed/temp-enrollments-schema.md).
-- Timestamps are TIMESTAMPTZ rather than the note's TIMESTAMP: load-balanced servers in different time
-- zones must agree on when a session expires, and NOW() comparisons stay exact.

CREATE TABLE temp_enrollments (
    id          SERIAL PRIMARY KEY,
    session_id  VARCHAR(255) NOT NULL,
    username    VARCHAR(255) NOT NULL,
    flow_type   VARCHAR(20)  NOT NULL CONSTRAINT temp_enrollments_flow_type_check
                    CHECK (flow_type IN ('signup', 'signin')),
    status      VARCHAR(20)  NOT NULL DEFAULT 'in_progress' CONSTRAINT temp_enrollments_status_check
                    CHECK (status IN ('in_progress', 'completed', 'expired')),
    device_info TEXT,
    metadata    JSONB        NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    updated_at  TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    expires_at  TIMESTAMPTZ  NOT NULL DEFAULT NOW() + INTERVAL '2 hours',
    -- When the session reached 'completed' (NULL before); the dashboard's "completed in the last 24 h".
    completed_at TIMESTAMPTZ,
    CONSTRAINT temp_enrollments_expiry_after_creation CHECK (expires_at > created_at)
);

CREATE TABLE temp_enrollment_steps (
    id             SERIAL PRIMARY KEY,
    enrollment_id  INTEGER     NOT NULL REFERENCES temp_enrollments (id) ON DELETE CASCADE,
    step_number    INTEGER     NOT NULL CONSTRAINT temp_enrollment_steps_step_number_check
                       CHECK (step_number BETWEEN 1 AND 100),
    step_type      VARCHAR(20) NOT NULL CONSTRAINT temp_enrollment_steps_step_type_check
                       CHECK (step_type IN ('signature', 'shape', 'drawing')),
    instruction    TEXT        NOT NULL,
    signature_data TEXT        NOT NULL CONSTRAINT temp_enrollment_steps_signature_data_check
                       CHECK (signature_data LIKE 'data:image/%'),
    raw_data       JSONB,
    metrics        JSONB       NOT NULL DEFAULT '{}'::jsonb,
    completed_at   TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- SHA-256 of the step's content: a retried step with the same content is recognised, not duplicated.
    content_hash   CHAR(64)    NOT NULL,
    CONSTRAINT temp_enrollment_steps_one_per_step UNIQUE (enrollment_id, step_number)
);

-- The seed's indexes, by its names.
CREATE UNIQUE INDEX idx_temp_enrollments_session_id ON temp_enrollments (session_id);
CREATE INDEX idx_temp_enrollments_username ON temp_enrollments (lower(username));
-- Cleanup only ever looks for sessions that can still expire; completed ones are archived instead.
CREATE INDEX idx_temp_enrollments_expires_at ON temp_enrollments (expires_at)
    WHERE status IN ('in_progress', 'expired');

-- The step plan, mirrored from enrollment_core/step_plan.py by the migration runner, so that SQL
-- functions know how many steps each flow has without a second copy of the plan.
CREATE TABLE enrollment_step_plan (
    flow_type   VARCHAR(20) NOT NULL CHECK (flow_type IN ('signup', 'signin')),
    step_number INTEGER     NOT NULL CHECK (step_number >= 1),
    step_type   VARCHAR(20) NOT NULL CHECK (step_type IN ('signature', 'shape', 'drawing')),
    instruction TEXT        NOT NULL,
    PRIMARY KEY (flow_type, step_number)
);
