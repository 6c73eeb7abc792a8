"""What the browser's request says about the device, for the session's device_info and metadata."""

from __future__ import annotations

import streamlit as st

from enrollment_core import ClientInfo


def client_info() -> ClientInfo:
    """User agent and IP of this browser session. st.context.ip_address is None for localhost; behind a
    reverse proxy the first X-Forwarded-For address is the client's (informational only: spoofable)."""
    headers = st.context.headers
    ip = _text(st.context.ip_address)
    if not ip:
        forwarded = _text(headers.get("X-Forwarded-For")) or ""
        ip = forwarded.split(",")[0].strip() or None
    return ClientInfo(user_agent=_text(headers.get("User-Agent")), ip=ip)


def _text(value: object) -> str | None:
    # Outside a browser session (AppTest, bare runs) st.context returns placeholders, not strings.
    return value if isinstance(value, str) and value else None
