"""Moving between screens: the page URL is the state (see flow.py), so going somewhere is writing the
URL and running the app again. A confirmation can ride along to the next drawing step."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from .. import state


def go(params: dict[str, str] | None = None) -> NoReturn:
    """Show the place in the flow these URL parameters name (none: the start page). Ends this run."""
    # Located afresh: after a save the URL may stay the same, but the step shown before is done.
    state.forget_place()
    st.query_params.from_dict(params or {})
    st.rerun(scope="app")


def stay() -> NoReturn:
    """Show the place in the flow the URL names now, afresh (locate() decides what it has become)."""
    go(st.query_params.to_dict())


def flash(message: str) -> None:
    """A short confirmation for the next drawing step ("Step 2 saved"), said in its header line: never
    a toast over the page, and gone from any other screen (Start over leaves none behind)."""
    state.set_flash(message)


def take_flash() -> str | None:
    return state.take_flash()


def shown_flash() -> str | None:
    """The confirmation to say on this drawing step (it stays through the step's reruns)."""
    return state.peek_flash()


def start_page_button(label: str = "Back to the start page", key: str = "to_start") -> None:
    if st.button(label, key=key, icon=":material/home:"):
        go()
