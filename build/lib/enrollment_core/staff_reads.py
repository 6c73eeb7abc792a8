"""What the staff console reads: its one front door to the data (issue 26).

The console never holds a pool, a connection or SQL: it asks a StaffReads for figures, people, sessions,
blocks and the staff log, and a StaffActions (staff.py) for anything that writes. A StaffReads reads on
the pool it was given: the primary's, or a hot standby's when DASHBOARD_READ_URL is set (a stale snapshot
found there is refreshed on the primary: database.writer_of).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import device_tokens, monitoring, rate_limits, sign_in_lockout, step_plan
from .config import Settings
from .database import Pool, create_pool
from .monitoring.standby import Staleness, staleness


@dataclass(frozen=True)
class StaffReads:
    """Every read of the staff console, each one call on `db` (see each function for what it returns)."""

    db: Pool

    # ---------------------------------------------------------------- Overview
    def overview(self, hours: int) -> monitoring.Overview:
        return monitoring.overview(self.db, hours)

    def active_over_time(self, hours: int, bucket_minutes: int) -> pd.DataFrame:
        return monitoring.active_over_time(self.db, hours, bucket_minutes=bucket_minutes)

    def expiry_backlog(self, max_hours: int) -> pd.DataFrame:
        return monitoring.expiry_backlog(self.db, max_hours)

    def step_funnel(self, hours: int, flow_type: step_plan.FlowType = "signup") -> pd.DataFrame:
        return monitoring.step_funnel(self.db, hours, flow_type)

    def step_durations(self, hours: int) -> pd.DataFrame:
        return monitoring.step_durations(self.db, hours)

    def avg_steps_per_flow(self, hours: int) -> pd.DataFrame:
        return monitoring.avg_steps_per_flow(self.db, hours)

    def staleness(self) -> Staleness:
        """How far behind the figures are (a standby's replay lag; the primary is current)."""
        return staleness(self.db)

    # ---------------------------------------------------------------- People
    def find_person(self, search: str) -> monitoring.Person | None:
        return monitoring.find_person(self.db, search)

    def people_matching(self, part: str) -> pd.DataFrame:
        return monitoring.people_matching(self.db, part)

    def enrolled_drawings(self, user_id: int) -> list[monitoring.EnrolledDrawing]:
        return monitoring.enrolled_drawings(self.db, user_id)

    def device_tokens(self, username: str) -> list[device_tokens.DeviceToken]:
        return device_tokens.tokens_for_user(self.db, username)

    def device_owner_of_limit(self, subject: str) -> str | None:
        return device_tokens.owner_of_limit(self.db, subject)

    def lockout_state(self, username: str) -> sign_in_lockout.LockoutState | None:
        return sign_in_lockout.state_for_user(self.db, username)

    def locked_now(self, limit: int) -> list[sign_in_lockout.Lock]:
        return sign_in_lockout.locked_now(self.db, limit)

    def address_blocks(self, address: str) -> rate_limits.ClientLimits | None:
        return rate_limits.blocks_for_address(self.db, address)

    def recent_blocks(self, within_seconds: int, limit: int) -> list[rate_limits.ClientLimits]:
        return rate_limits.recent_blocks(self.db, within_seconds, limit)

    # ---------------------------------------------------------------- Sessions
    def list_sessions(self, filter: monitoring.SessionFilter | None = None) -> monitoring.SessionPage:
        return monitoring.list_sessions(self.db, filter)

    def session_detail(self, session_id: str) -> monitoring.SessionDetail | None:
        return monitoring.session_detail(self.db, session_id)

    def session_summary(self, session_id: str) -> monitoring.SessionSummary | None:
        return monitoring.session_summary(self.db, session_id)

    # ---------------------------------------------------------------- Maintenance
    def table_sizes(self) -> pd.DataFrame:
        return monitoring.table_sizes(self.db)

    def maintenance_status(self, archive_older_than_seconds: int) -> monitoring.MaintenanceStatus:
        return monitoring.maintenance_status(self.db, archive_older_than_seconds)

    def staff_log_page(self, filter: monitoring.StaffLogFilter | None = None) -> monitoring.StaffLogPage:
        return monitoring.staff_log_page(self.db, filter)

    # ---------------------------------------------------------------- the figures' snapshot
    def refresh_snapshot(self, max_age_seconds: float) -> None:
        """Recompute the stored figures when older than max_age_seconds (on the primary even when these
        reads go to a standby: monitoring.ensure_snapshot)."""
        monitoring.ensure_snapshot(self.db, max_age_seconds=max_age_seconds)

    def close(self) -> None:
        """Close the pool of a read side opened by open_standby_reads (not a service's own pool)."""
        self.db.close()


def open_standby_reads(read_url: str, settings: Settings, primary: Pool) -> StaffReads:
    """Reads on a hot standby (DASHBOARD_READ_URL), on a direct connection of their own (it takes the
    session limits as it opens); a stale snapshot found there is refreshed on `primary`."""
    pool = create_pool(read_url, settings, name="dashboard-read", transaction_pooling=False, writer=primary)
    return StaffReads(pool)

