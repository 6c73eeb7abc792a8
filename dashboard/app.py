"""Operations dashboard for support staff: live enrollment sessions, the expiry backlog, drop-off, each
session's drawings, and maintenance. `streamlit run dashboard/app.py` (./dev start serves it on port 8502).
Staff only: set DASHBOARD_PASSWORD or st.secrets["dashboard_password"]."""

import streamlit as st

# Imported by package name (installed editable by ./dev): module names like "auth" would otherwise
# clash with other apps' modules in the same process.
from dashboard import auth, data, view

st.set_page_config(page_title="Enrollment operations", page_icon=":material/monitoring:", layout="wide")

if not auth.require_staff():
    st.stop()

data.start_background_refresh()

page = st.navigation(
    [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("app_pages/sessions.py", title="Sessions", icon=":material/table_rows:"),
        st.Page("app_pages/maintenance.py", title="Maintenance", icon=":material/build:"),
    ]
)

with st.sidebar:
    view.sidebar_controls()
    st.divider()
    if st.button("Sign out", icon=":material/logout:"):
        auth.sign_out()
        st.rerun()

page.run()
