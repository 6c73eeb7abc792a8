-- Named queries used by enrollment_core (loaded by enrollment_core/queries.py).
-- Each starts with "-- name: <name>"; the comment lines after it describe it.
-- Parameters use psycopg's %(name)s style.

-- ============================== enrollment flow ==============================

-- name: readiness_check
-- /readyz: the database answers, holds the schema, and the sessions table can be read now (a lock that
-- would stall every save makes this wait, and so fail, within the probe's lock_timeout).
SELECT count(*) AS rows FROM (SELECT 1 FROM temp_enrollments LIMIT 1) AS any_session;

-- name: set_session_limits
-- Each pooled connection's time limits, set once as it opens (enrollment_core.database.create_pool):
-- a statement, a lock wait and an idle open transaction may last this long (milliseconds; 0 = no limit).
SELECT set_config('statement_timeout', %(statement_timeout)s, false),
       set_config('lock_timeout', %(lock_timeout)s, false),
       set_config('idle_in_transaction_session_timeout', %(idle_in_transaction_timeout)s, false);

-- name: current_session_limits
-- The time limits a connection has (milliseconds, as set_session_limits takes them): under transaction
-- pooling they come from the pooler's server connections, and create_pool checks them here.
SELECT name, setting FROM pg_settings
 WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout');

-- name: current_wal_position
-- Where the primary's WAL ends now: a standby that replayed up to here has every change committed so far.
SELECT pg_current_wal_lsn()::text AS lsn;

-- name: replayed_up_to
-- On a standby: whether it has replayed the primary's WAL up to %(lsn)s (current_wal_position).
SELECT COALESCE(pg_last_wal_replay_lsn() >= %(lsn)s::pg_lsn, false) AS done;

-- name: set_transaction_limits
-- The longer limits of maintenance work over many rows, for the current transaction only.
SELECT set_config('statement_timeout', %(statement_timeout)s, true),
       set_config('lock_timeout', %(lock_timeout)s, true);

-- name: find_user
-- A registered user by case-insensitive username (uses idx_users_username_lower).
SELECT id, username, created_at FROM users WHERE lower(username) = lower(%(username)s);

-- name: save_next_step
-- Nearly every save: the next step of a live session of this user, as planned, in one statement and
-- one transaction (autocommit), its rate limits included (no round trip of their own). One row:
-- allowed (NULL: no limits), refused_by and retry_after_seconds when refused, flow_type and the
-- progress columns when saved. The UPDATE takes the session's row lock (which serialises saves to one
-- session), checks it all against the row (owner, live, flow, plan, step_count = step - 1) and touches
-- it (last activity, the client's IP, step_count); the INSERT adds the step. No row: nothing changed,
-- and save_step decides (step 1, a retry, a refusal). A concurrent save of the same session makes the
-- UPDATE wait and then re-check the row, so a retry finds step_count moved on. If the step is there
-- although step_count said otherwise, the INSERT fails (unique step number) and nothing changes.
WITH verdict AS (
    -- The request's rate limits first, in this same statement (charge_rate_limits; no subject: none).
    SELECT * FROM charge_rate_limits(%(limit_subject)s, %(limit_names)s::text[], %(limit_costs)s::float8[],
                                     %(limit_amounts)s::float8[], %(limit_periods)s::float8[])
    WHERE %(limit_subject)s::text IS NOT NULL
), session AS (
    UPDATE temp_enrollments te
    SET updated_at = NOW(), metadata = te.metadata || %(last_ip)s, step_count = te.step_count + 1
    FROM enrollment_step_plan sp
    WHERE COALESCE((SELECT allowed FROM verdict), true)
      AND te.session_id = %(session_id)s
      AND lower(te.username) = lower(%(username)s)
      AND te.status = 'in_progress'
      AND te.expires_at > NOW()
      AND te.flow_type = COALESCE(%(flow_type)s, te.flow_type)
      AND te.step_count = %(step_number)s - 1
      -- A session bound to a client secret continues only with it (the fallback then says why).
      AND (te.client_secret_hash IS NULL OR te.client_secret_hash = %(client_secret_hash)s)
      AND sp.flow_type = te.flow_type AND sp.step_number = %(step_number)s AND sp.step_type = %(step_type)s
    RETURNING te.id, te.flow_type, sp.instruction
), step AS (
    INSERT INTO temp_enrollment_steps
        (enrollment_id, step_number, step_type, instruction, signature_data, raw_data, metrics, content_hash)
    SELECT id, %(step_number)s, %(step_type)s, COALESCE(%(instruction)s, instruction), %(signature_data)s,
           %(raw_data)s, %(metrics)s, %(content_hash)s
    FROM session
    RETURNING enrollment_id
)
SELECT verdict.allowed, verdict.refused_by, verdict.retry_after_seconds, saved.flow_type, progress.*
FROM (SELECT 1) AS always_one_row
LEFT JOIN verdict ON true
LEFT JOIN (SELECT session.flow_type FROM session JOIN step ON step.enrollment_id = session.id) saved ON true
-- Saved as the next step: steps 1 to this one are there (step_count said so, and the INSERT agreed).
LEFT JOIN LATERAL step_progress(
    (SELECT count(*)::int FROM enrollment_step_plan p WHERE p.flow_type = saved.flow_type),
    %(step_number)s::int, %(step_number)s::int, %(step_type)s::varchar
) progress ON saved.flow_type IS NOT NULL;

-- name: save_step
-- One drawing step that save_next_step did not save, in one statement and one transaction
-- (sql/migrations/0007_save_step.sql, 0008_save_next_step.sql).
SELECT * FROM save_enrollment_step(
    %(session_id)s, %(new_session_id)s, %(username)s, %(flow_type)s, %(step_number)s, %(step_type)s,
    %(instruction)s, %(signature_data)s, %(raw_data)s, %(metrics)s, %(content_hash)s, %(device_info)s,
    %(metadata)s, %(last_ip)s, %(ttl_seconds)s);

-- name: lock_enrollment
-- register/login: the session row, locked until commit, so that no save of this session runs meanwhile
-- (save_enrollment_step takes the same lock).
SELECT id, session_id, username, flow_type, status, created_at, expires_at,
       expires_at <= NOW() AS is_expired, client_secret_hash
FROM temp_enrollments
WHERE session_id = %(session_id)s
FOR UPDATE;

-- name: get_enrollment
SELECT id, session_id, username, flow_type, status, device_info, metadata, created_at, updated_at,
       expires_at, completed_at, expires_at <= NOW() AS is_expired, client_secret_hash
FROM temp_enrollments
WHERE session_id = %(session_id)s;

-- name: get_progress
SELECT * FROM get_enrollment_progress(%(session_id)s);

-- name: complete_enrollment
SELECT * FROM complete_enrollment(%(session_id)s);

-- name: insert_user
INSERT INTO users (username, enrollment_session_id) VALUES (%(username)s, %(session_id)s)
RETURNING id, username, created_at;

-- name: registration_of_session
-- register, sent again after it succeeded: the account this signup session made, and how many drawings
-- it holds (what register answered). Found by its username (idx_users_username_lower), then the session.
SELECT u.id, u.username,
       (SELECT count(*) FROM user_enrolled_drawings d WHERE d.user_id = u.id) AS drawings
FROM users u
WHERE lower(u.username) = lower(%(username)s) AND u.enrollment_session_id = %(session_id)s;

-- name: copy_steps_to_user
-- register: the enrolled drawings outlive the temporary session.
INSERT INTO user_enrolled_drawings
    (user_id, step_number, step_type, instruction, signature_data, raw_data, metrics, captured_at)
SELECT %(user_id)s, step_number, step_type, instruction, signature_data, raw_data, metrics, completed_at
FROM temp_enrollment_steps
WHERE enrollment_id = %(enrollment_id)s
ORDER BY step_number;

-- name: list_steps
SELECT step_number, step_type, instruction, signature_data, raw_data, metrics, completed_at
FROM temp_enrollment_steps
WHERE enrollment_id = %(enrollment_id)s
ORDER BY step_number;

-- name: user_signatures
-- A registered user's enrolled signatures, the reference for sign-in verification.
SELECT d.step_number, d.raw_data, d.metrics
FROM user_enrolled_drawings d
WHERE d.user_id = %(user_id)s AND d.step_type = 'signature'
ORDER BY d.step_number;

-- name: verification_profile
-- The account's stored verification profile (verification.Profile.to_bytes) and its format version.
SELECT version, profile FROM user_verification_profiles WHERE user_id = %(user_id)s;

-- name: store_verification_profile
-- Built at registration, or by the first sign-in that found none or another version.
INSERT INTO user_verification_profiles (user_id, version, profile)
VALUES (%(user_id)s, %(version)s, %(profile)s)
ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version, profile = EXCLUDED.profile, built_at = NOW();

-- ============================== maintenance ==============================

-- name: cleanup_expired_batch
SELECT cleanup_expired_enrollments(%(batch_size)s) AS removed;

-- name: archive_completed_batch
-- Moves completed sessions older than the cut-off into enrollment_archive in one batch: the summary the
-- dashboard's figures need (as cleanup_expired_enrollments folds expired ones), without the drawings
-- (a registered user's are in user_enrolled_drawings).
WITH doomed AS (
    SELECT te.id, te.session_id, te.username, te.flow_type, te.step_count, te.created_at, te.updated_at,
           te.expires_at, te.completed_at
    FROM temp_enrollments te
    WHERE te.status = 'completed'
      AND te.completed_at < NOW() - make_interval(secs => %(older_than_seconds)s)
    ORDER BY te.completed_at
    LIMIT %(batch_size)s
    FOR UPDATE SKIP LOCKED
), archived AS (
    INSERT INTO enrollment_archive
        (session_id, username, flow_type, step_count, created_at, completed_at, outcome, expires_at,
         ended_at, last_activity_at, step_seconds)
    SELECT d.session_id, d.username, d.flow_type, d.step_count, d.created_at, d.completed_at, 'completed',
           d.expires_at, d.completed_at, d.updated_at,
           step_seconds(d.id, d.created_at)
    FROM doomed d
    ON CONFLICT (session_id) DO NOTHING
)
DELETE FROM temp_enrollments te USING doomed WHERE te.id = doomed.id;

-- name: claim_periodic_job
-- Records a run of a periodic job if the last one is older than the interval; returns a row only then.
-- Called under an advisory lock, so exactly one instance runs the job per interval.
INSERT INTO maintenance_runs AS m (job, last_run_at) VALUES (%(job)s, NOW())
ON CONFLICT (job) DO UPDATE SET last_run_at = NOW()
WHERE m.last_run_at < NOW() - make_interval(secs => %(interval_seconds)s)
RETURNING job;

-- name: mark_periodic_job_run
INSERT INTO maintenance_runs (job, last_run_at, last_result) VALUES (%(job)s, NOW(), %(result)s)
ON CONFLICT (job) DO UPDATE SET last_run_at = NOW(), last_result = EXCLUDED.last_result;

-- name: record_periodic_result
UPDATE maintenance_runs SET last_result = %(result)s WHERE job = %(job)s;

-- ============================== monitoring (the seed's queries) ==============================

-- name: active_sessions
-- Check active sessions (the seed's query, verbatim).
SELECT username, flow_type,
       (SELECT COUNT(*) FROM temp_enrollment_steps WHERE enrollment_id = te.id) as steps_completed,
       created_at, expires_at
FROM temp_enrollments te
WHERE status = 'in_progress'
ORDER BY created_at DESC;

-- name: expired_pending_cleanup
-- Check expired sessions pending cleanup (the seed's query, verbatim).
SELECT COUNT(*)
FROM temp_enrollments
WHERE status = 'in_progress'
AND expires_at < NOW();

-- name: avg_steps_per_flow
-- Average steps per enrollment type (the seed's query, verbatim).
SELECT flow_type, AVG(step_count) as avg_steps
FROM (
    SELECT te.flow_type, COUNT(tes.id) as step_count
    FROM temp_enrollments te
    LEFT JOIN temp_enrollment_steps tes ON te.id = tes.enrollment_id
    WHERE te.status = 'completed'
    GROUP BY te.id, te.flow_type
) t
GROUP BY flow_type;

-- ============================== demo data ==============================

-- name: demo_insert_enrollment
-- A session as save_enrollment_step creates it, with the timestamps and status of one seen some time ago.
-- %(step_count)s: how many steps the caller then inserts with demo_insert_step (same transaction).
INSERT INTO temp_enrollments
    (session_id, username, flow_type, status, device_info, metadata, created_at, updated_at, expires_at,
     completed_at, step_count)
VALUES (%(session_id)s, %(username)s, %(flow_type)s, %(status)s, %(device_info)s, %(metadata)s,
        %(created_at)s, %(updated_at)s, %(expires_at)s, %(completed_at)s, %(step_count)s)
RETURNING id;

-- name: demo_insert_step
INSERT INTO temp_enrollment_steps
    (enrollment_id, step_number, step_type, instruction, signature_data, raw_data, metrics, content_hash,
     completed_at)
VALUES (%(enrollment_id)s, %(step_number)s, %(step_type)s, %(instruction)s, %(signature_data)s,
        %(raw_data)s, %(metrics)s, %(content_hash)s, %(completed_at)s);

-- name: count_enrollments
SELECT count(*) AS n FROM temp_enrollments;

-- ============================== sign-in ==============================

-- name: lock_user
-- Serialises sign-ins of one user, so counts of rejections (the account's, and each address's) are exact.
SELECT id, username, failed_logins FROM users WHERE lower(username) = lower(%(username)s) FOR UPDATE;

-- name: login_verdict
-- The verdict already given for a sign-in session, and the address it came from (login answers a retry
-- with it; login_attempts.session_id is unique, so there is at most one), the token it presented, and
-- the secret its session is bound to (NULL also once the session was archived).
SELECT a.accepted, a.reason_code, a.score, a.threshold, a.ip, a.device_token_id, u.id AS user_id,
       u.username, te.client_secret_hash
FROM login_attempts a
JOIN users u ON u.id = a.user_id
LEFT JOIN temp_enrollments te ON te.session_id = a.session_id
WHERE a.session_id = %(session_id)s;

-- name: record_login_attempt
INSERT INTO login_attempts
    (user_id, session_id, accepted, reason_code, score, threshold, ip, user_agent, fingerprint, method,
     drawing_path, decided_by, device_token_id)
VALUES (%(user_id)s, %(session_id)s, %(accepted)s, %(reason_code)s, %(score)s, %(threshold)s, %(ip)s,
        %(user_agent)s, %(fingerprint)s, %(method)s, %(drawing_path)s, %(decided_by)s, %(device_token_id)s);

-- name: recent_signin_fingerprints
-- The fingerprints and reduced paths of the user's latest sign-in attempts, accepted or not
-- (idx_login_attempts_user_time): a bounded window, so a steady signer's chance of a false "replay" does
-- not grow with every sign-in. drawing_path is NULL for attempts recorded before migration 0013.
SELECT fingerprint, drawing_path FROM login_attempts
WHERE user_id = %(user_id)s AND fingerprint IS NOT NULL
ORDER BY attempted_at DESC
LIMIT %(limit)s;

-- name: record_login_outcome
-- The account's rejections in a row, from any address (staff see them; a success clears them).
UPDATE users SET failed_logins = CASE WHEN %(accepted)s THEN 0 ELSE failed_logins + 1 END
WHERE id = %(user_id)s;

-- ============================== sign-in lockout (per account and address) ==============================

-- name: sign_in_lock
-- Whether this address is locked out of this account now, and its rejections in a row that still count
-- (a failure older than the lock's length no longer does).
SELECT CASE WHEN locked_until > NOW() THEN locked_until END AS locked_until,
       CASE WHEN locked_until > NOW() OR last_failed_at > NOW() - make_interval(secs => %(lock_seconds)s)
            THEN failures ELSE 0 END AS failures
FROM sign_in_lockouts
WHERE user_id = %(user_id)s AND address = %(address)s;

-- name: sign_in_lock_by_username
-- check-user-exists: the lock of this address on this account, if any.
SELECT l.locked_until
FROM sign_in_lockouts l JOIN users u ON u.id = l.user_id
WHERE lower(u.username) = lower(%(username)s) AND l.address = %(address)s AND l.locked_until > NOW();

-- name: record_sign_in_failure
-- One more rejection from this address: counted in a row while each comes within the lock's length of
-- the previous one (and not after an expired lock); at the limit the pair is locked.
INSERT INTO sign_in_lockouts AS l (user_id, address, failures, last_failed_at, locked_until)
VALUES (%(user_id)s, %(address)s, 1, NOW(),
        CASE WHEN 1 >= %(max_failures)s THEN NOW() + make_interval(secs => %(lock_seconds)s) END)
ON CONFLICT (user_id, address) DO UPDATE SET
    (failures, last_failed_at, locked_until) = (
        SELECT counted.n, NOW(),
               CASE WHEN counted.n >= %(max_failures)s THEN NOW() + make_interval(secs => %(lock_seconds)s) END
        FROM (SELECT CASE WHEN l.locked_until <= NOW()
                            OR l.last_failed_at <= NOW() - make_interval(secs => %(lock_seconds)s)
                          THEN 1 ELSE l.failures + 1 END AS n) counted)
RETURNING failures, locked_until;

-- name: clear_sign_in_failures
-- An accepted sign-in clears its address's count (and lock) on this account.
DELETE FROM sign_in_lockouts WHERE user_id = %(user_id)s AND address = %(address)s;

-- name: account_lockout_state
-- Staff: an account's rejections in a row (any address), and each address's count and lock.
SELECT u.id AS user_id, u.username, u.failed_logins,
       (SELECT max(a.attempted_at) FROM login_attempts a WHERE a.user_id = u.id AND NOT a.accepted)
           AS last_failed_at,
       COALESCE(json_agg(json_build_object(
           'address', l.address, 'failures', l.failures, 'last_failed_at', l.last_failed_at,
           'locked_until', CASE WHEN l.locked_until > NOW() THEN l.locked_until END)
           ORDER BY l.last_failed_at DESC) FILTER (WHERE l.user_id IS NOT NULL), '[]') AS addresses
FROM users u
LEFT JOIN sign_in_lockouts l ON l.user_id = u.id
WHERE lower(u.username) = lower(%(username)s)
GROUP BY u.id;

-- name: sign_in_locks_now
-- Staff: the (account, address) pairs locked out now, the latest lock first (a small table: the hourly
-- maintenance forgets a pair once its lock has ended).
SELECT u.username, l.address, l.failures, l.locked_until
FROM sign_in_lockouts l JOIN users u ON u.id = l.user_id
WHERE l.locked_until > NOW()
ORDER BY l.locked_until DESC, u.username, l.address
LIMIT %(limit)s;

-- name: unlock_sign_in
-- Staff: lift this address's lock on the account (all addresses' when address is NULL).
DELETE FROM sign_in_lockouts l USING users u
WHERE u.id = l.user_id AND lower(u.username) = lower(%(username)s)
  AND (%(address)s::text IS NULL OR l.address = %(address)s);

-- name: forget_stale_sign_in_failures
-- Hourly: rows whose lock has expired and whose last failure no longer counts are as good as absent.
DELETE FROM sign_in_lockouts
WHERE (locked_until IS NULL OR locked_until <= NOW())
  AND last_failed_at <= NOW() - make_interval(secs => %(lock_seconds)s);

-- ============================== rate limits ==============================

-- name: charge_rate_limits
-- One request's costs on its client's limits (enrollment_core.rate_limits.take; see the function).
SELECT * FROM charge_rate_limits(%(limit_subject)s, %(limit_names)s::text[], %(limit_costs)s::float8[],
                                 %(limit_amounts)s::float8[], %(limit_periods)s::float8[]);

-- name: rate_limits_of
-- Staff: these clients' rows as they stand ('address ...' or 'account ...').
SELECT * FROM rate_limits WHERE subject = ANY(%(subjects)s) ORDER BY subject;

-- name: recent_rate_limit_blocks
-- Staff: clients refused since the cut-off, latest refusal first.
SELECT * FROM rate_limits
WHERE last_refused_at > NOW() - make_interval(secs => %(within_seconds)s)
ORDER BY last_refused_at DESC
LIMIT %(limit)s;

-- name: clear_rate_limit
-- Staff: make one limit of a client whole again (limit NULL: every limit).
UPDATE rate_limits r SET
    lookups_full_at = CASE WHEN l.name IN ('lookups', 'all') THEN NULL ELSE r.lookups_full_at END,
    saves_full_at = CASE WHEN l.name IN ('saves', 'all') THEN NULL ELSE r.saves_full_at END,
    sessions_full_at = CASE WHEN l.name IN ('sessions', 'all') THEN NULL ELSE r.sessions_full_at END,
    upload_bytes_full_at = CASE WHEN l.name IN ('upload_bytes', 'all') THEN NULL ELSE r.upload_bytes_full_at END,
    signins_full_at = CASE WHEN l.name IN ('signins', 'all') THEN NULL ELSE r.signins_full_at END,
    signin_failures_full_at = CASE WHEN l.name IN ('signin_failures', 'all') THEN NULL
                                   ELSE r.signin_failures_full_at END,
    last_allowed = true
FROM (SELECT COALESCE(%(limit)s::text, 'all') AS name) l
WHERE r.subject = %(subject)s;

-- name: forget_whole_rate_limits
-- Hourly: a client whose allowances are all whole again and who was not refused in the last day is
-- the same as no row.
DELETE FROM rate_limits
WHERE COALESCE(GREATEST(lookups_full_at, saves_full_at, sessions_full_at, upload_bytes_full_at,
                        signins_full_at, signin_failures_full_at), '-infinity') <= NOW()
  AND (last_refused_at IS NULL OR last_refused_at < NOW() - interval '1 day');

-- ============================== device tokens (enrollment_core/device_tokens.py) ==============================

-- name: device_token_key
-- The server's key for deriving device tokens (one row, made by migration 0014).
SELECT secret FROM device_token_key;

-- name: valid_device_token
-- The token with this hash, when it is a live one of this account (not expired, not revoked). Read
-- before the user's row lock, to choose which limits a sign-in is charged on; login reads it again
-- under the lock (lock_device_token).
SELECT t.id, t.user_id, t.failures
FROM device_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = %(token_hash)s AND lower(u.username) = lower(%(username)s)
  AND t.revoked_at IS NULL AND t.expires_at > NOW();

-- name: lock_device_token
-- login, under the user's row lock: the token, still live, locked until commit.
SELECT id, failures FROM device_tokens
WHERE token_hash = %(token_hash)s AND user_id = %(user_id)s AND revoked_at IS NULL AND expires_at > NOW()
FOR UPDATE;

-- name: issue_device_token
-- A token for this account (register, or a sign-in accepted without a valid token). Its hash is derived
-- from the session, so the same request again finds it issued already and changes nothing.
INSERT INTO device_tokens (user_id, token_hash, session_id, expires_at, user_agent, ip)
VALUES (%(user_id)s, %(token_hash)s, %(session_id)s, NOW() + make_interval(days => %(days)s),
        %(user_agent)s, %(ip)s)
ON CONFLICT (token_hash) DO NOTHING;

-- name: retire_surplus_device_tokens
-- An account keeps at most %(keep)s live tokens: the ones used (or issued) longest ago are revoked.
UPDATE device_tokens t SET revoked_at = NOW(), revoked_reason = 'replaced'
WHERE t.user_id = %(user_id)s AND t.revoked_at IS NULL
  AND t.id NOT IN (SELECT k.id FROM device_tokens k
                   WHERE k.user_id = %(user_id)s AND k.revoked_at IS NULL
                   ORDER BY COALESCE(k.last_used_at, k.created_at) DESC, k.id DESC
                   LIMIT %(keep)s);

-- name: device_token_state
-- A retried register or login: the token it answered, if it is still live for this account.
SELECT id FROM device_tokens
WHERE token_hash = %(token_hash)s AND user_id = %(user_id)s AND revoked_at IS NULL AND expires_at > NOW();

-- name: device_token_accepted
-- An accepted sign-in with this token: its rejections in a row are forgotten and it lives on.
UPDATE device_tokens
SET last_used_at = NOW(), failures = 0,
    expires_at = GREATEST(expires_at, NOW() + make_interval(days => %(days)s))
WHERE id = %(id)s;

-- name: device_token_rejected
-- A rejected sign-in with this token; at %(max_failures)s in a row it is revoked (a stolen token buys
-- that many guesses, then its holder is an unknown device again).
UPDATE device_tokens
SET last_used_at = NOW(), failures = failures + 1,
    revoked_at = CASE WHEN failures + 1 >= %(max_failures)s THEN NOW() END,
    revoked_reason = CASE WHEN failures + 1 >= %(max_failures)s THEN 'failures' END
WHERE id = %(id)s
RETURNING failures, revoked_at;

-- name: device_token_failures
-- A recorded sign-in that presented a token: that token's rejections in a row now, and whether it is
-- still live (a retry answers with these, as login does).
SELECT failures, revoked_at IS NULL AND expires_at > NOW() AS live FROM device_tokens WHERE id = %(id)s;

-- name: device_tokens_of_user
-- Staff: an account's device tokens, latest first (never the token: only its hash is stored).
SELECT t.id, t.created_at, t.last_used_at, t.expires_at, t.revoked_at, t.revoked_reason, t.failures,
       t.user_agent, t.ip, t.revoked_at IS NULL AND t.expires_at > NOW() AS live
FROM device_tokens t JOIN users u ON u.id = t.user_id
WHERE lower(u.username) = lower(%(username)s)
ORDER BY t.created_at DESC, t.id DESC
LIMIT %(limit)s;

-- name: revoke_device_tokens
-- Staff: revoke one live token of the account (token_id NULL: every live one).
UPDATE device_tokens t SET revoked_at = NOW(), revoked_reason = 'staff'
FROM users u
WHERE u.id = t.user_id AND lower(u.username) = lower(%(username)s)
  AND (%(token_id)s::bigint IS NULL OR t.id = %(token_id)s) AND t.revoked_at IS NULL;

-- name: forget_old_device_tokens
-- Hourly: tokens expired or revoked more than %(keep_days)s days ago (staff have seen them by then).
DELETE FROM device_tokens
WHERE expires_at < NOW() - make_interval(days => %(keep_days)s)
   OR revoked_at < NOW() - make_interval(days => %(keep_days)s);

-- ============================== sessions bound to their client ==============================

-- name: bind_session
-- A session just started (in the same transaction) by a client holding a secret: it continues only
-- with that secret.
UPDATE temp_enrollments SET client_secret_hash = %(client_secret_hash)s
WHERE session_id = %(session_id)s AND client_secret_hash IS NULL;

-- name: session_binding
-- Whether this user's session is bound to a secret, and to which (its hash); no row: no such session
-- of this user.
SELECT client_secret_hash FROM temp_enrollments
WHERE session_id = %(session_id)s AND lower(username) = lower(%(username)s);

-- name: device_token_owner
-- Staff: whose device token this is (a device's own sign-in limit is kept as 'device <id>').
SELECT u.username FROM device_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = %(id)s;
