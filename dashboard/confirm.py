"""Confirm, then run: the one way the console asks before a staff action changes anything (cleanup,
archive, unlock, clear a block, revoke a device). The page keeps what waits for confirmation in
st.session_state[pending_key]; this shows the question beside what offered it, with the action's own
button and Cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st


def confirm_then_run(
    question: str,
    confirm_label: str,
    run: Callable[..., None],
    *,
    pending_key: str,
    key: str,
    args: tuple[Any, ...] = (),
    icon: str = ":material/warning:",
) -> None:
    """`question` (what exactly will happen), `confirm_label` running `run(*args)` (which takes the
    pending action off pending_key itself), and Cancel, which only forgets it. Buttons keyed
    confirm_<key> and cancel_<key>."""
    with st.container(border=True):
        st.warning(question, icon=icon)
        with st.container(horizontal=True):  # a row sized to its buttons: their labels are never cut
            st.button(confirm_label, type="primary", on_click=run, args=args, key=f"confirm_{key}")
            st.button("Cancel", on_click=st.session_state.pop, args=(pending_key, None), key=f"cancel_{key}")
