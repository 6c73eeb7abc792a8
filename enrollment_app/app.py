"""Signature enrollment: the step-by-step drawing flow (run: streamlit run enrollment_app/app.py).

The page URL holds the state (see flow.py), so a reload or a reopened link continues where it was.
"""

import sys
from pathlib import Path

# `streamlit run enrollment_app/app.py` puts enrollment_app/ on sys.path, not the project root that
# holds the enrollment_app package; add it so the app's modules import the same way as in the tests.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from enrollment_app import flow, resources, screens  # noqa: E402

st.set_page_config(page_title="Signature enrollment", page_icon="✍️", layout="centered")

service = resources.get_service()
where = flow.locate(st.query_params.to_dict(), service)

if where.kind == "start":
    screens.start_screen(service, where)
elif where.kind == "drawing":
    screens.drawing_screen(service, where)
elif where.kind == "finish":
    screens.finish_screen(service, where)
elif where.kind == "completed":
    screens.completed_screen(service, where)
elif where.kind == "expired":
    screens.expired_screen(where)
else:
    screens.missing_screen(where)
