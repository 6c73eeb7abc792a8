"""Signature enrollment: the step-by-step drawing flow (run: streamlit run enrollment_app/app.py).

The page URL holds the state (see flow.py), so a reload or a reopened link continues where it was.
"""

from pathlib import Path

import streamlit as st

from enrollment_app import browser, resources, screens  # installed (editable) by ./dev, like the core
from enrollment_core.errors import DATABASE_UNAVAILABLE

HERE = Path(__file__).parent

st.set_page_config(page_title="Signature enrollment", page_icon=str(HERE / "favicon.png"), layout="centered")
st.html(f"<style>{(HERE / 'app.css').read_text(encoding='utf-8')}</style>")

browser.mount()  # first: what this browser keeps (its secret, device tokens), before any screen may stop
try:
    service = resources.get_service()
    screens.show(service, screens.place(service, st.query_params.to_dict()))
except DATABASE_UNAVAILABLE as error:  # the place in the flow, or what its screen shows, could not be read
    screens.unreachable_screen(error)
