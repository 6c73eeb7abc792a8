"""With DASHBOARD_READ_URL set the pages read from a hot standby: the sidebar says how old what they
show may be (enrollment_core.monitoring.standby), refreshed with the pages."""

from __future__ import annotations

import streamlit as st

from dashboard import data, formatting, view, words
from enrollment_core.errors import DATABASE_UNAVAILABLE
from enrollment_core.monitoring.standby import Staleness


def describe(lag: Staleness) -> str:
    """The sidebar's sentence about the read copy."""
    if not lag.standby:
        return "Figures are read from the main database: they are current."
    last = formatting.local_time(lag.replayed_at, "%H:%M:%S")
    if not lag.streaming:
        return (
            "Figures are read from a copy of the database that is not receiving changes now: they "
            f"show the data as of {last} at the latest."
        )
    if lag.behind_seconds is None or lag.behind_seconds < 1:
        return (
            "Figures are read from a copy of the database, up to date with the main one (under 1 s behind)."
        )
    return (
        f"Figures are read from a copy of the database, about {lag.behind_seconds:,.0f} s behind the main "
        f"one (last change copied at {last})."
    )


@st.fragment(run_every=view.refresh_seconds())
def sidebar_note() -> None:
    if not data.reads_from_standby():
        return
    try:
        st.caption(describe(data.reads().staleness()), help="Staff actions always go to the main database.")
    except DATABASE_UNAVAILABLE as error:
        st.caption(
            f"The copy of the database that figures are read from is not answering "
            f"({words.database_down(error, data.limits())})."
        )
