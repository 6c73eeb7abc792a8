"""What support staff do from the dashboard, one method per action: the action itself and whatever
must follow it (the dashboard's figures refreshed, so the next screen shows its effect)."""

from __future__ import annotations

from . import monitoring
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
