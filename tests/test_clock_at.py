"""./dev test-at moves the machine's clock back to the latest HH:MM UTC, never into the future."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.clock_at import latest_past, main


@pytest.mark.parametrize(("now", "hh_mm", "expected"), [
    (datetime(2026, 12, 5, 3, 30, tzinfo=UTC), "23:50", datetime(2026, 12, 4, 23, 50, tzinfo=UTC)),
    (datetime(2026, 12, 5, 3, 30, tzinfo=UTC), "03:00", datetime(2026, 12, 5, 3, 0, tzinfo=UTC)),
    (datetime(2026, 12, 5, 3, 30, tzinfo=UTC), "03:30", datetime(2026, 12, 5, 3, 30, tzinfo=UTC)),
    (datetime(2027, 1, 1, 0, 5, tzinfo=UTC), "23:50", datetime(2026, 12, 31, 23, 50, tzinfo=UTC)),
])
def test_the_clock_goes_back_to_the_latest_such_time(now: datetime, hh_mm: str, expected: datetime) -> None:
    assert latest_past(hh_mm, now) == expected


def test_it_never_moves_the_clock_without_being_told_to(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["23:50", "tests/test_clock_at.py"]) == 2
    assert "--move-machine-clock" in capsys.readouterr().err
