-- Sign-in replay across sessions: each attempt keeps a fingerprint of the drawing (524 bytes,
-- enrollment_core.verification.attempt_fingerprint), and a new attempt that repeats one of the user's
-- recent attempts point for point and time for time is rejected as a replay. The verification method
-- ('timed' or 'shape') is kept for staff.
ALTER TABLE login_attempts
    ADD COLUMN fingerprint BYTEA,
    ADD COLUMN method      VARCHAR(16);
