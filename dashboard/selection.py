"""A table whose one-row selection follows the item clicked, not its row number: when a refresh adds or
reorders rows, the check mark moves with the item (or disappears when the item left the table), so the
details shown below always belong to the checked row."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

_UNSET = object()
# A row is what a finger taps to choose it: 44 px, the usual minimum for touch (Streamlit's is 35).
ROW_PX = 44


def table_height(rows: int, most: int) -> int:
    """The height showing every row (header included) up to `most` pixels, then scrolling."""
    return min(most, ROW_PX + 2 + ROW_PX * rows)


def _generation_key(name: str) -> str:
    return f"{name}__generation"


def table_key(name: str) -> str:
    """The current widget key of the table (a new key is a new table, without selection state)."""
    return f"{name}__{st.session_state.get(_generation_key(name), 0)}"


def reset(name: str, chosen_key: str) -> None:
    """Forget the choice and start a new table (e.g. for a new search)."""
    st.session_state.pop(chosen_key, None)
    st.session_state[_generation_key(name)] = st.session_state.get(_generation_key(name), 0) + 1


def _on_select(name: str, key: str, chosen_key: str, ids: list[Hashable]) -> None:
    # ids: the items of the rows as the person saw them when clicking.
    rows = st.session_state[key].selection.rows
    st.session_state[chosen_key] = ids[rows[0]] if rows and rows[0] < len(ids) else None


def sticky_table(
    name: str,
    frame: pd.DataFrame,
    ids: list[Hashable],
    chosen_key: str,
    default: Hashable | None = None,
    **dataframe_options: Any,
) -> Hashable | None:
    """Show `frame` (one row per item of `ids`) as a single-row selectable table and return the item
    chosen: st.session_state[chosen_key] once the person clicked (None after unchecking), `default`
    before. Other code may set chosen_key too (e.g. a pasted id): the check mark follows it, and an item
    that is not in the table is returned all the same, with no row checked."""
    chosen: Hashable | None = st.session_state.get(chosen_key, _UNSET)
    if chosen is _UNSET:
        chosen = default
    row = ids.index(chosen) if chosen is not None and chosen in ids else None
    state = st.session_state.get(table_key(name))
    checked = state.selection.rows[0] if state is not None and state.selection.rows else None
    if checked != row:
        st.session_state[_generation_key(name)] = st.session_state.get(_generation_key(name), 0) + 1
    key = table_key(name)
    st.dataframe(
        frame,
        key=key,
        on_select=partial(_on_select, name, key, chosen_key, list(ids)),
        selection_mode="single-row",
        selection_default={"selection": {"rows": [row]}} if row is not None else None,
        row_height=ROW_PX,
        **dataframe_options,
    )
    return chosen


def clickable_table(
    frame: pd.DataFrame, key: str, on_click: Callable[[], None], **dataframe_options: Any
) -> None:
    """Show `frame` as a table whose row, once clicked, calls on_click (one row at a time; the row
    clicked is in st.session_state[key].selection.rows), in the console's row height."""
    st.dataframe(
        frame,
        key=key,
        on_select=on_click,
        selection_mode="single-row",
        row_height=ROW_PX,
        **dataframe_options,
    )
