"""View settings shared by every page (sidebar): the time zone of every time shown, the refresh interval
and the time window of the charts."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import streamlit as st

from dashboard import formatting
from enrollment_core import monitoring

REFRESH_CHOICES = {"Off": None, "10 s": 10, "30 s": 30, "1 min": 60, "5 min": 300}


def _window_label(hours: int) -> str:
    return f"Last {hours // 24} days" if hours % 24 == 0 and hours > 24 else f"Last {hours} h"


# The windows the snapshot stores (fast at any size); another window would be computed live, slowly.
WINDOW_CHOICES = {_window_label(hours): hours for hours in monitoring.SNAPSHOT_WINDOWS_HOURS}


@cache
def _all_zones() -> tuple[str, ...]:
    return tuple(
        sorted(zone for zone in available_timezones() if "/" in zone and not zone.startswith("Etc/"))
    )


def browser_zone() -> str | None:
    """The browser's time zone, when it told Streamlit one that exists."""
    zone = st.context.timezone
    try:
        return zone if zone and ZoneInfo(zone) else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_choices() -> list[str]:
    """UTC first, then the browser's zone, then every other zone by name."""
    first = [formatting.DEFAULT_TIME_ZONE]
    browser = browser_zone()
    if browser and browser != formatting.DEFAULT_TIME_ZONE:
        first.append(browser)
    return first + [zone for zone in _all_zones() if zone not in first]


def _zone_label(zone: str) -> str:
    label = zone.replace("_", " ")
    return f"{label} (this browser)" if zone == browser_zone() else label


def sidebar_controls() -> None:
    # Widget state is kept only while the widget is drawn; the zone lives on under its own key.
    st.session_state.setdefault(formatting.TIME_ZONE_KEY, formatting.DEFAULT_TIME_ZONE)
    st.selectbox(
        "Time zone",
        zone_choices(),
        key=formatting.TIME_ZONE_KEY,
        format_func=_zone_label,
        help="Every time on every page is shown in this zone, and says so. Type to find a city.",
    )
    st.selectbox("Refresh every", list(REFRESH_CHOICES), index=2, key="refresh_choice")
    st.selectbox(
        "Charts cover",
        list(WINDOW_CHOICES),
        index=1,
        key="window_choice",
        help="The period of the Overview's charts. The cards do not follow it: live sessions and what "
        "awaits cleanup are counted now, completions over the last "
        f"{monitoring.CARD_WINDOW_HOURS} hours.",
    )


def refresh_seconds() -> int | None:
    return REFRESH_CHOICES[st.session_state.get("refresh_choice", "30 s")]


def window_hours() -> int:
    return WINDOW_CHOICES[st.session_state.get("window_choice", "Last 24 h")]


def window_label() -> str:
    """'in the last 24 h', 'in the last 3 days'."""
    window: str = st.session_state.get("window_choice", "Last 24 h")
    return "in the " + window.lower()


def updated_note() -> str:
    """'Updated 14:03:12 UTC · refreshes every 30 s', for the foot of a refreshing section."""
    seconds = refresh_seconds()
    refresh = (
        "automatic refresh off" if seconds is None else f"refreshes every {formatting.duration(seconds)}"
    )
    return f"Updated {formatting.local_time(datetime.now(UTC), '%H:%M:%S')} · {refresh}"
