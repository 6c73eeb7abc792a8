"""The browser store: a small first-party Components v2 component (JavaScript only, browser_store.js)
that keeps values in the visitor's browser, for both apps: localStorage entries (the enrollment app's
device tokens and its per-browser secret) and cookies (the dashboard's signed staff cookie). It draws
nothing; `hide()` takes away the empty row Streamlit would give it.

The browser answers after the page has been drawn once: in the first run of a page (and in AppTest, where
there is no browser) `BrowserValues.answered` is False and the values are empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.components.v2.types import ComponentRenderer

from . import state

_JS = Path(__file__).with_name("browser_store.js")


@cache
def _component() -> ComponentRenderer:
    # Registered once per process, on first use (as pen_recorder: not at import time).
    return st.components.v2.component(
        "signature_enrollment.browser_store", js=_JS.read_text(encoding="utf-8"), isolate_styles=True
    )


@dataclass(frozen=True)
class Cookie:
    value: str  # cookie-safe characters only (the caller's: base64url and dots)
    max_age_seconds: int


@dataclass(frozen=True)
class BrowserValues:
    answered: bool  # the browser has reported what it keeps (False in a page's first run, and in AppTest)
    available: bool = False  # it can keep values (localStorage works: not switched off, not full)
    values: Mapping[str, str] = field(default_factory=dict)  # the localStorage entries asked for, if set


def browser_store(
    key: str,
    *,
    read: Sequence[str] = (),
    read_prefixes: Sequence[str] = (),
    write: Mapping[str, str | None] | None = None,
    secrets: Sequence[str] = (),
    cookies: Mapping[str, Cookie | None] | None = None,
    report: bool = True,
) -> BrowserValues:
    """Mount the store (once per page run, before anything that may stop the run). write: entries to set
    (None: remove); secrets: entries to fill with a random 256-bit secret when empty; read: entries to
    report, and every entry whose name starts with one of read_prefixes; cookies: cookies to set (None:
    delete). Idempotent: the same arguments on every run are fine. report=False: only write, never answer
    (so never rerun the page: for a write in the middle of a screen, under a key of its own)."""
    data: dict[str, Any] = {
        "known": _known(key, write or {}),
        "report": report,
        "read": list(read),
        "readPrefixes": list(read_prefixes),
        "write": dict(write or {}),
        "secrets": list(secrets),
        "cookies": {
            name: None if cookie is None else {"value": cookie.value, "maxAge": cookie.max_age_seconds}
            for name, cookie in (cookies or {}).items()
        },
    }
    hide(key)
    result = _component()(
        key=key, data=data, default={"store": None}, on_store_change=lambda: None, height="content"
    )
    return _values(result.get("store"))


def hide(key: str) -> None:
    # The component draws nothing: its element (Streamlit gives it the class st-key-<key>) takes no row.
    st.html(f"<style>.st-key-{key} {{ display: none; }}</style>")


def _known(key: str, write: Mapping[str, str | None]) -> Any:
    """What the browser reported last, as Python holds it (None when it never did, or it was cleared),
    with `write` applied: what the browser will report once it has written (no news, so no rerun)."""
    known = state.widget_value(key).get("store")
    if not isinstance(known, Mapping) or not write:
        return known
    values = dict(known.get("values") or {})
    for name, value in write.items():
        if value is None:
            values.pop(name, None)
        elif known.get("available"):
            values[name] = value
    return {**known, "values": values}


def _values(answer: object) -> BrowserValues:
    if not isinstance(answer, Mapping):
        return BrowserValues(answered=False)
    raw = answer.get("values")
    values = {}
    if isinstance(raw, Mapping):
        values = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}
    return BrowserValues(answered=True, available=bool(answer.get("available")), values=values)
