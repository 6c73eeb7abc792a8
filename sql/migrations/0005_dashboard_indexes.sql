-- Indexes for the operations dashboard's queries (sql/dashboard.sql), measured at 100 000 sessions with
-- dashboard/bench_queries.py. Each is covering (INCLUDE), so the dashboard's counts and charts are
-- index-only scans: they never read the table rows, and above all never the steps' images.

-- Sessions by expiry, all statuses: the live-sessions-over-time chart (sessions that end after the
-- window starts), the expiry backlog chart, and "completed in the last 24 h" (a session completes before
-- it expires, so completed_at >= X implies expires_at > X).
CREATE INDEX idx_temp_enrollments_expires_all ON temp_enrollments (expires_at)
    INCLUDE (status, flow_type, created_at, completed_at);

-- Sessions by start time: the completion rate, step funnel and step times of sessions started in a window.
CREATE INDEX idx_temp_enrollments_created_at ON temp_enrollments (created_at)
    INCLUDE (id, status, flow_type, expires_at);

-- Steps without their images: time per step (completed_at) and the seed's avg_steps_per_flow
-- (COUNT(tes.id)) read only this index. The unique (enrollment_id, step_number) index cannot carry the
-- extra columns without replacing the constraint, which the service's ON CONFLICT relies on.
CREATE INDEX idx_temp_enrollment_steps_progress ON temp_enrollment_steps (enrollment_id, step_number)
    INCLUDE (completed_at, id);
