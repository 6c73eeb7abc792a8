"""Who is asking: what the browser's request says about the device, for the session's device_info and
metadata, and the address that limits and locks count.

The address is the TCP peer of the browser's websocket as Streamlit's server (uvicorn) reports it: behind
a reverse proxy listed in FORWARDED_ALLOW_IPS (uvicorn reads that environment variable, the same setting
as the API's; default 127.0.0.1) the address the proxy forwarded in X-Forwarded-For, from anyone else the
peer itself. The raw X-Forwarded-For header is never read here: anyone can send one. Streamlit reports no
address (None) for a peer on this machine (127.0.0.1, ::1) that is not forwarding for someone else.
"""

from __future__ import annotations

import streamlit as st

from enrollment_core import ClientInfo


def network_address() -> str | None:
    """The browser's network address, or None when the peer is this machine itself (see above)."""
    return _text(st.context.ip_address)


def client_info() -> ClientInfo:
    """User agent and address of this browser session."""
    return ClientInfo(user_agent=_text(st.context.headers.get("User-Agent")), ip=network_address())


def _text(value: object) -> str | None:
    # Outside a browser session (AppTest, bare runs) st.context returns placeholders, not strings.
    return value if isinstance(value, str) and value else None
