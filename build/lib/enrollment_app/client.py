"""Who is asking: what the browser's request says about the device, for the session's device_info and
metadata, the address that limits and locks count, and what the browser keeps (browser.py).

The address is the TCP peer of the browser's websocket as Streamlit's server (uvicorn) reports it: behind
a reverse proxy listed in FORWARDED_ALLOW_IPS (uvicorn reads that environment variable, the same setting
as the API's; default 127.0.0.1,::1) the address the proxy forwarded in X-Forwarded-For, from anyone else the
peer itself. The raw X-Forwarded-For header is never read here: anyone can send one. Streamlit reports no
address (None) for a peer on this machine (127.0.0.1, ::1) that is not forwarding for someone else; then
the browser itself is counted (browser.stand_in), never one "unknown" shared by every such visitor.
"""

from __future__ import annotations

import streamlit as st

from enrollment_core import ClientInfo

from . import browser


def network_address() -> str | None:
    """The browser's network address, or None when the peer is this machine itself (see above)."""
    return _text(st.context.ip_address)


def client_info(username: str | None = None) -> ClientInfo:
    """This browser session as the service sees it: user agent, address (or the browser's stand-in),
    the browser's secret (binds a session started here) and its device token for `username`."""
    kept = browser.current()
    return ClientInfo(
        user_agent=_text(st.context.headers.get("User-Agent")),
        ip=network_address() or browser.stand_in(),
        device_token=kept.device_token(username),
        session_secret=kept.secret,
    )


def _text(value: object) -> str | None:
    # Outside a browser session (AppTest, bare runs) st.context returns placeholders, not strings.
    return value if isinstance(value, str) and value else None
