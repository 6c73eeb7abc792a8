"""When the database cannot answer (down, restarting, a table locked, too many requests waiting:
enrollment_core.errors.DATABASE_UNAVAILABLE, each wait bounded by the DB_* limits): a section of a page
shows a notice in staff words in place of its figures, instead of a traceback, and the other sections,
the sidebar and the navigation keep working. A section that refreshes by itself comes back by itself;
a staff action that could not run says that it did not happen."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from dashboard import data, view, words
from enrollment_core.errors import DATABASE_UNAVAILABLE

log = logging.getLogger(__name__)
P = ParamSpec("P")


def down(error: BaseException) -> str:
    """'the database is not answering right now (it cannot be reached: it may be down or restarting)'."""
    return f"the database is not answering right now ({words.database_down(error, data.limits())})"


def notice(error: BaseException, refreshes: bool) -> str:
    """What a part of a page shows in place of its figures."""
    said = down(error)
    said = said[:1].upper() + said[1:]
    if refreshes and view.refresh_seconds() is not None:
        return f"{said}. The figures come back by themselves when it does."
    return f"{said}. Click Try again when it does."


def not_done(what: str, error: BaseException, after: str = "Try again when it answers.") -> str:
    """A staff action the database did not answer: 'Unlock did not happen: the database is …'."""
    log.warning("staff action not done, database unavailable: %s: %s", type(error).__name__, error)
    return f"{what}: {down(error)}. {after}"


def section(refreshes: bool = False) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """Decorate a part of a page: when the database cannot answer, the notice replaces what the part
    drew (not a half-drawn part above it), with Try again. refreshes: the part is a fragment that runs
    again by itself (run_every), so its figures come back without a click."""

    def decorate(draw: Callable[P, None]) -> Callable[P, None]:
        @functools.wraps(draw)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
            box = st.empty()
            try:
                with box.container():
                    draw(*args, **kwargs)
            except DATABASE_UNAVAILABLE as error:
                name = draw.__qualname__
                log.warning("%s: database unavailable: %s: %s", name, type(error).__name__, error)
                with box.container():
                    st.warning(notice(error, refreshes), icon=":material/cloud_off:")
                    # A click runs the part (in a fragment) or the page again: that is the retry.
                    st.button("Try again", key=f"retry_{draw.__qualname__}", icon=":material/refresh:")

        return guarded

    return decorate


def run_page(page: StreamlitPage) -> None:
    """Run the page chosen in the navigation as one part: what a page reads outside its own parts also
    ends in the notice, not in a traceback (the sidebar is drawn before, and stays)."""
    section()(page.run)()
