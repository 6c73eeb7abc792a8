"""What the browser's request says about the device, for the session's device_info and metadata."""

from __future__ import annotations

import streamlit as st

from enrollment_core import ClientInfo


def client_info() -> ClientInfo:
    """User agent and IP of this browser session. st.context.ip_address is None for localhost; behind a
    reverse proxy the first X-Forwarded-For address is the client's (informational only: spoofable)."""
    headers = st.context.headers
    ip = st.context.ip_address
    if not ip:
        forwarded = headers.get("X-Forwarded-For") or ""
        ip = forwarded.split(",")[0].strip() or None
    return ClientInfo(user_agent=headers.get("User-Agent") or None, ip=ip)
