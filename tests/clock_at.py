"""`./dev test-at HH:MM [pytest args]`: run tests with this machine's clock at HH:MM UTC, then put it back.

Moving the real clock is the only way every process sees the same moved time with all its timers
working: libfaketime (tried first) leaves PostgreSQL's statement and lock timeouts silent, makes Python's
timed waits in threads hang or return at once (its sem_clockwait deadlines are not translated) and
distorts Chromium's pen timing. Setting the clock needs root (CAP_SYS_TIME) and changes it for every
program on the machine for the run, so it is meant for a disposable VM or container and asks for
`--move-machine-clock` to say so.

The clock is moved back, not forward: to the latest HH:MM UTC that has passed (yesterday's if it is
later than now), so nothing on the machine sees a time that has not come yet. Afterwards it is set
to the true time again from the monotonic clock, which setting the wall clock does not change.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

USAGE = "usage: ./dev test-at HH:MM --move-machine-clock [pytest args]"


def latest_past(hh_mm: str, now: datetime) -> datetime:
    """The latest moment at hh_mm UTC that is not after `now`."""
    at = datetime.combine(now.date(), clock_time.fromisoformat(hh_mm), UTC)
    return at if at <= now else at - timedelta(days=1)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] != "--move-machine-clock":
        print(USAGE, file=sys.stderr)
        print("It sets this machine's clock for the whole run (root, in a disposable VM or container).",
              file=sys.stderr)
        return 2
    hh_mm, pytest_args = argv[0], argv[2:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still sets the clock back
    true_minus_monotonic = time.clock_gettime(time.CLOCK_REALTIME) - time.monotonic()
    target = latest_past(hh_mm, datetime.now(UTC))
    try:
        time.clock_settime(time.CLOCK_REALTIME, target.timestamp())
    except PermissionError:
        print("./dev test-at: setting the clock needs root with CAP_SYS_TIME", file=sys.stderr)
        return 2
    print(f"==> the machine's clock is at {target:%Y-%m-%d %H:%M} UTC for this run", flush=True)
    try:
        return subprocess.call([sys.executable, "-m", "pytest", *pytest_args])
    finally:
        time.clock_settime(time.CLOCK_REALTIME, time.monotonic() + true_minus_monotonic)
        print(f"==> the machine's clock is back at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
