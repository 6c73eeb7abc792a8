-- Cleanup stopped paying for the console's name search (issue 26's re-measurement of cleanup).
--
-- Migration 0016 gave enrollment_archive a GIN index on username_grams(username), so every session that
-- cleanup or archive folds into the archive inserted ~10 grams into it: at 200 k expired sessions the
-- batched cleanup took 29-38 s with that index and 19 s without it (and 9 s without the archive at all),
-- and the grams were computed by a SQL function PostgreSQL cannot inline (19 us a call).
--
-- A name is known when its first session starts, so it is remembered then, once per name:
-- session_usernames holds every username a session was ever started with (lower-cased, kept after its
-- sessions are archived or cleaned up) with the grams index, and the console finds archived sessions
-- through it and the archive's lower(username) index. Cleanup and archive no longer touch any grams.
-- Filled by a statement trigger on temp_enrollments, so every writer (the service, the seed's clients,
-- demo and bench data) keeps it whole.

-- The same grams, in PL/pgSQL: 3 us a call instead of 19 us. It returns the same set of grams (no
-- duplicates), so the GIN indexes built with the SQL version hold the same keys and need no rebuild.
CREATE OR REPLACE FUNCTION username_grams(p_username TEXT) RETURNS TEXT[]
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

CREATE TABLE session_usernames (
    username TEXT PRIMARY KEY  -- lower(temp_enrollments.username) of some session, ever
);
CREATE INDEX idx_session_usernames_grams ON session_usernames USING gin (username_grams(username));

INSERT INTO session_usernames (username)
SELECT lower(username) FROM temp_enrollments
UNION
SELECT lower(username) FROM enrollment_archive
ON CONFLICT (username) DO NOTHING;

-- Once per INSERT statement, not per row: a bulk insert costs one lookup per distinct name.
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

DROP INDEX idx_enrollment_archive_username_grams;
