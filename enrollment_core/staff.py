"""What support staff do from the dashboard, one method per action: the action itself and whatever
must follow it (the dashboard's figures refreshed, so the next screen shows its effect)."""

from __future__ import annotations

from . import monitoring, rate_limits, sign_in_lockout
from .service import EnrollmentService


class StaffActions:
    def __init__(self, service: EnrollmentService) -> None:
        self.service = service

    def run_cleanup(self) -> int:
        """Delete every expired, never-completed session now; return how many."""
        removed = self.service.cleanup_expired()
        monitoring.refresh_snapshot(self.service.pool)
        return removed

    def run_archive(self, older_than_seconds: int) -> int:
        """Move completed sessions older than this to the archive summary; return how many."""
        moved = self.service.archive_completed(older_than_seconds)
        monitoring.refresh_snapshot(self.service.pool)
        return moved

    def unlock_sign_in(self, username: str, address: str | None = None) -> int:
        """Lift the sign-in lock of one client address on this account (every address's when None);
        return how many were lifted. Reading: sign_in_lockout.state_for_user."""
        return sign_in_lockout.unlock(self.service.pool, username, address)

    def clear_rate_limit(self, subject: str, family: rate_limits.Family | None = None) -> bool:
        """Lift a rate-limit block: one limit of this client made whole again, every limit when family
        is None. subject: rate_limits.ClientLimits.subject ('address ...' or 'account ...').
        Reading: rate_limits.blocks_for_address, blocks_for_user, recent_blocks."""
        return rate_limits.clear(self.service.pool, subject, family)
