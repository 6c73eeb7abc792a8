"""Operations dashboard for support staff: live enrollment sessions, the expiry backlog, drop-off, one
person's sessions and sign-in attempts, each session's drawings, and maintenance with its staff log.
`streamlit run dashboard/app.py` (./dev start serves it on port 8502).
Staff only: set DASHBOARD_PASSWORD or st.secrets["dashboard_password"]."""

from pathlib import Path

import streamlit as st

# Imported by package name (installed editable by ./dev): module names like "auth" would otherwise
# clash with other apps' modules in the same process.
from dashboard import auth, browser, data, formatting, outage, standby, view

# A local file: a Material icon as page icon makes the browser fetch it from Google's font server.
ICON = Path(__file__).resolve().parent / "icon.png"

st.set_page_config(page_title="Enrollment operations", page_icon=str(ICON), layout="wide")
browser.install()

if not auth.require_staff():
    st.stop()

data.start_background_refresh()

page = st.navigation(
    [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("app_pages/people.py", title="People", icon=":material/person_search:"),
        st.Page("app_pages/sessions.py", title="Sessions", icon=":material/table_rows:"),
        st.Page("app_pages/maintenance.py", title="Maintenance", icon=":material/build:"),
    ]
)

with st.sidebar:
    view.sidebar_controls()
    standby.sidebar_note()
    st.divider()
    st.caption(f"Signed in as {formatting.plain(auth.staff_name())}")
    if st.button("Sign out", icon=":material/logout:"):
        auth.sign_out()
        st.rerun()

outage.run_page(page)
