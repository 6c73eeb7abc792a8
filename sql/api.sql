-- Queries of the HTTP API (api/). Loaded with enrollment_core.queries.load(SQL_DIR / "api.sql").

-- name: health_check
-- The database answers and holds the enrollment schema.
SELECT to_regclass('temp_enrollments') IS NOT NULL AS schema_ready;
