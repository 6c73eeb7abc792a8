"""View settings shared by every page (sidebar): refresh interval and the time window of the charts."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import formatting
from enrollment_core import monitoring

REFRESH_CHOICES = {"Off": None, "10 s": 10, "30 s": 30, "1 min": 60, "5 min": 300}


def _window_label(hours: int) -> str:
    return f"Last {hours // 24} days" if hours % 24 == 0 and hours > 24 else f"Last {hours} h"


# The windows the snapshot stores (fast at any size); another window would be computed live, slowly.
WINDOW_CHOICES = {_window_label(hours): hours for hours in monitoring.SNAPSHOT_WINDOWS_HOURS}


def sidebar_controls() -> None:
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
    return "in the " + st.session_state.get("window_choice", "Last 24 h").lower()


def updated_note() -> str:
    """'Updated 14:03:12 · refreshes every 30 s', for the foot of a refreshing section."""
    seconds = refresh_seconds()
    refresh = (
        "automatic refresh off" if seconds is None else f"refreshes every {formatting.duration(seconds)}"
    )
    return f"Updated {formatting.local_time(datetime.now(UTC), '%H:%M:%S')} · {refresh}"
