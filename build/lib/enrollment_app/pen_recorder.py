"""The pen recorder: a small first-party Components v2 component (JavaScript only, pen_recorder.js)
mounted in the same container as the drawing canvas. It records the timed points of every stroke,
fits the canvas to the screen's width, hides the canvas's own toolbar and covers the pad while it is
not ready. See docs/enrollment-app.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.components.v2.types import ComponentRenderer

from . import canvas

_JS = Path(__file__).with_name("pen_recorder.js")


def script() -> str:
    """The recorder's JavaScript as sent to the browser, inside its element on every rerun: without
    its whole-line comments, which are for the reader of pen_recorder.js (~40 % of it)."""
    lines = _JS.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("//"))


@cache
def _component() -> ComponentRenderer:
    # Registered once per process, on first use (registering at import time would run in AppTest too).
    return st.components.v2.component("signature_enrollment.pen_recorder", js=script(), isolate_styles=True)


@dataclass(frozen=True)
class RecorderValue:
    attached: bool  # the recorder found the canvas, styled and sized it (also in its widget state)
    recorded: Any  # what the browser sent: {"epoch", "strokes"}, checked by timed_strokes.recorded_strokes


def pen_recorder(key: str, box_class: str, area_class: str, epoch: str, ready: bool) -> RecorderValue:
    """Mount the recorder for the canvas inside the container whose CSS class is `box_class`, itself in
    the drawing area `area_class` (instruction, pad and buttons) that is fitted to the window's height.
    `epoch` names the pad and changes whenever Python redraws the canvas (Undo / Clear): the recorder
    then starts a new list, and a list from another epoch is never taken for this one. `ready` lifts
    the "Loading the canvas…" cover."""
    result = _component()(
        key=key,
        data={
            "box": box_class,
            "area": area_class,
            "epoch": epoch,
            "ready": ready,
            "width": canvas.CANVAS_WIDTH,
            "height": canvas.CANVAS_HEIGHT,
        },
        default={"attached": False, "pen": None},
        on_attached_change=lambda: None,
        on_pen_change=lambda: None,
        width="stretch",
        height="content",
    )
    return RecorderValue(attached=bool(result.get("attached")), recorded=result.get("pen"))
