-- The dashboard and the seed's monitoring queries at 1 M sessions (docs/performance.md, section 2).
-- Measured with `./dev bench queries --sizes 100000,1000000`.

-- How many steps a session has saved, kept exact in the transaction that saves each step
-- (insert_enrollment starts it at 1, touch_enrollment recounts it after every continued save), so that
-- averages and the funnel never join the 5 M steps. Not indexed on purpose: an indexed column would make
-- every save's UPDATE a non-HOT update that writes into every index of the table.
ALTER TABLE temp_enrollments
    ADD COLUMN step_count INTEGER NOT NULL DEFAULT 0
        CONSTRAINT temp_enrollments_step_count_check CHECK (step_count BETWEEN 0 AND 100);

UPDATE temp_enrollments te
SET step_count = s.n
FROM (SELECT enrollment_id, count(*)::int AS n FROM temp_enrollment_steps GROUP BY enrollment_id) s
WHERE s.enrollment_id = te.id;

-- Room on each page for the per-step UPDATE to stay a HOT update (no index writes).
ALTER TABLE temp_enrollments SET (fillfactor = 90);

-- Sessions still in progress, by expiry: the seed's expired_pending_cleanup becomes an index-only count
-- (117 -> 16 ms at 1 M), and the live-sessions count and the sessions page's filters (flow, username
-- substring, created_at and id for ordering) are answered from the index without reading the rows. None of the
-- included columns changes after a session starts, so saves stay HOT updates.
CREATE INDEX idx_temp_enrollments_in_progress ON temp_enrollments (expires_at)
    INCLUDE (flow_type, created_at, username, id) WHERE status = 'in_progress';

-- Figures over hundreds of thousands of rows (cards, charts, funnel, table rows) are computed by
-- refresh_dashboard_snapshot (sql/dashboard.sql) in one pass, about once a minute, and stored here
-- with the time they describe; the dashboard reads them by key in well under a millisecond.
CREATE TABLE dashboard_snapshots (
    key      TEXT PRIMARY KEY,          -- e.g. 'overview_by_flow:24', 'step_funnel:168:signup'
    taken_at TIMESTAMPTZ NOT NULL,      -- the NOW() of the refresh transaction: figures are exact then
    rows     JSONB       NOT NULL       -- the query's rows, as a JSON array of objects
);
