"""What this browser keeps for the app, in its localStorage (through the browser store component):

- its own secret (256 random bits, made by the browser the first time): a session started here is bound
  to it (ClientInfo.session_secret), so the session's link continues only in this browser; never in the
  URL. It also stands for the browser where Streamlit knows no network address (below).
- a device token per account (ClientInfo.device_token), kept after the account is created here or a
  sign-in is accepted here, sent with each sign-in to that account: attempts from elsewhere cannot lock,
  slow or refuse it (enrollment_core.device_tokens).

Who is asking (issue 24, item 2): limits and sign-in locks count the browser's network address (see
client.py). Where there is none (the peer is this machine itself, e.g. the app opened on localhost or
behind a local proxy that forwards nothing), they count this browser instead, as "browser <16 hex digits
of the SHA-256 of its secret>", never one "unknown" that every such visitor shares; a tab whose browser
keeps nothing (storage switched off, or not answered yet) counts as a browser of its own.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import streamlit as st

from enrollment_core.device_tokens import SECRET_PATTERN

from . import state
from .browser_store import browser_store

STORE_KEY = "browser_store"
SECRET = "signature-enrollment.browser-secret"
TOKEN_PREFIX = "signature-enrollment.device-token."
BROWSER_PREFIX = "browser "  # how a browser without a network address is counted (see above)
_VALID = re.compile(SECRET_PATTERN)
# Where this run's mid-run writers go: a slot mount() leaves right after the store. Each session's script
# runs in a thread of its own, so the slot is per thread.
_run = threading.local()


@dataclass(frozen=True)
class Browser:
    answered: bool  # the browser has said what it keeps (not yet in a page's first run; never in AppTest)
    secret: str | None = None  # its own secret (None: it keeps nothing, or has not answered yet)
    tokens: Mapping[str, str] = field(default_factory=dict)  # account (lower case) -> device token

    def device_token(self, username: str | None) -> str | None:
        return self.tokens.get(username.strip().lower()) if username else None


def mount() -> Browser:
    """Mount the store for this run (app.py, before any screen) and return what the browser keeps."""
    # The entries written since the page loaded are written again on every run (idempotent): a write
    # is lost when the page is closed at once, and the browser reports only what differs from them.
    pending = state.browser_writes()
    browser_store(
        STORE_KEY, read=[SECRET], read_prefixes=[TOKEN_PREFIX], secrets=[SECRET], write=pending
    )
    # Writers mounted mid-run go into this slot, which every run has at the same place, rather than in
    # the middle of a screen.
    _run.slot = st.empty()
    return current()


def current() -> Browser:
    """What the browser reported last (as mount() returned it in this run)."""
    answer = state.widget_value(STORE_KEY).get("store")
    if not isinstance(answer, Mapping):
        return Browser(answered=False)
    raw = answer.get("values")
    values: Mapping[str, object] = raw if isinstance(raw, Mapping) else {}
    pending = state.browser_writes()
    merged = {**{k: v for k, v in values.items() if isinstance(v, str)}, **pending}
    secret = merged.get(SECRET)
    tokens = {
        key.removeprefix(TOKEN_PREFIX): value
        for key, value in merged.items()
        if key.startswith(TOKEN_PREFIX) and isinstance(value, str) and _VALID.match(value)
    }
    return Browser(
        answered=True,
        secret=secret if isinstance(secret, str) and _VALID.match(secret) else None,
        tokens=tokens,
    )


def keep_device_token(username: str, token: str | None) -> None:
    """Keep the account's device token in this browser (now, and again on every run of this page)."""
    if token:
        _write(TOKEN_PREFIX + username.strip().lower(), token)


def forget_device_token(username: str) -> None:
    """The account's token was revoked (rejections in a row with it): sign-ins go on as an unknown device."""
    _write(TOKEN_PREFIX + username.strip().lower(), None)


def _write(key: str, value: str | None) -> None:
    state.set_browser_writes({**state.browser_writes(), key: value})
    # Written at once, from where the screen is, by a writer that never answers (no rerun: the screen
    # showing the new account or the verdict stays as it is).
    slot = getattr(_run, "slot", None)
    with slot.container() if slot is not None else st.container():
        browser_store(f"browser_write_{state.next_browser_write()}", write={key: value}, report=False)


def stand_in() -> str:
    """What limits and locks count this browser as when it has no network address (see above)."""
    secret = current().secret
    if secret is None:  # keeps nothing (yet): this tab on its own
        secret = state.tab_secret()
    return BROWSER_PREFIX + hashlib.sha256(secret.encode("ascii")).hexdigest()[:16]
