"""Signature enrollment: the step-by-step drawing flow (run: streamlit run enrollment_app/app.py).

The page URL holds the state (see flow.py), so a reload or a reopened link continues where it was.
"""

import streamlit as st

from enrollment_app import flow, resources, screens  # installed (editable) by ./dev, like the core

st.set_page_config(page_title="Signature enrollment", page_icon="✍️", layout="centered")

service = resources.get_service()
where = flow.locate(st.query_params.to_dict(), service, check=screens.checked_name)
screens.show(service, where)
