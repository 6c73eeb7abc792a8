"""A device's user-agent string in words staff read: "Chrome 131 on Android 14", by ua-parser (the
maintained port of the uap-core rules). The raw string stays available on demand, never in its place."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

UNKNOWN = "Unknown device"
UNRECOGNISED = "Unrecognised device"
# ua-parser names Chrome on a phone "Chrome Mobile"; "on Android" says as much.
_SHORTER = {"Chrome Mobile": "Chrome", "Firefox Mobile": "Firefox", "Edge Mobile": "Edge"}


def _versioned(family: str, major: str | None) -> str:
    return f"{family} {major}" if major else family


@lru_cache(maxsize=4096)  # a handful of browsers make most attempts: parse each string once
def describe(user_agent: str | None) -> str:
    """'Chrome 131 on Android 14', 'Mobile Safari 17 on iOS 17', 'Firefox 133 on Windows 10',
    'curl 8' (a tool, no system); 'Unknown device' when none was sent, 'Unrecognised device' when the
    string names nothing known."""
    text = (user_agent or "").strip()
    if not text:
        return UNKNOWN
    result = parse(text[:2000])  # a user agent is a header: anything longer is not one
    browser = result.user_agent
    system = result.os
    named_browser = browser is not None and browser.family != "Other"
    named_system = system is not None and system.family != "Other"
    if not named_browser and not named_system:
        return UNRECOGNISED
    parts = []
    if named_browser and browser is not None:
        parts.append(_versioned(_SHORTER.get(browser.family, browser.family), browser.major))
    if named_system and system is not None:
        parts.append(("on " if parts else "") + _versioned(system.family, system.major))
    return " ".join(parts)
