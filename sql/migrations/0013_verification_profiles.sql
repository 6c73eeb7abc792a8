-- Sign-in that a lying client cannot fool (issue 23).
-- Each account's verification profile (enrolled templates, thresholds, durations, the enrolled drawings'
-- reduced paths), built at registration and read by every sign-in instead of being rebuilt from the
-- drawings each time (enrollment_core.verification.Profile.to_bytes, a few tens of kB). `version` is the
-- profile format's: a sign-in that finds another version rebuilds the profile and stores it.
CREATE TABLE user_verification_profiles (
    user_id  INTEGER     PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version  INTEGER     NOT NULL,
    profile  BYTEA       NOT NULL,
    built_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Per attempt: its drawing reduced for copy detection (verification.copies.drawing_path, 1 540 bytes):
-- a later attempt that is a re-sampled, jittered or re-timed copy of a recent one is a replay. And which
-- check decided (verification.CHECKS), for staff: reason_code alone does not say which comparison refused.
ALTER TABLE login_attempts
    ADD COLUMN drawing_path BYTEA,
    ADD COLUMN decided_by   VARCHAR(32);
