"""The drawing pad on screen: streamlit-drawable-canvas (the drawing surface) and, beside it in one
container, the pen recorder (how it was drawn: timed points; it also fits the canvas to the screen).
The one place that calls `st_canvas`.

Importing streamlit_drawable_canvas outside `streamlit run` raises, so the import happens inside
`drawing_pad`, and AppTest tests replace `drawing_pad` (monkeypatch this module's attribute) to hand the
app a drawing of their choice.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from enrollment_core.step_plan import StepType

from . import canvas, state
from .pen_recorder import pen_recorder

# The container holding the canvas and the recorder; the recorder finds the canvas inside it.
PAD_BOX_KEY = "drawing_pad_box"
# The container around the instruction, the pad and its buttons (screens/drawing.py): the recorder fits
# the pad so that all of it fits the window's height.
DRAWING_AREA_KEY = "drawing_area"


@dataclass(frozen=True)
class CanvasValue:
    json_data: dict[str, Any] | None  # Fabric.js JSON: {"objects": [{"type": "Path", "path": ...}, ...]}
    image_rgba: np.ndarray | None  # (height, width, 4) uint8, the ink only (the guide is not included)
    # The pad takes ink: the canvas has loaded (it reports its background once painted) and the pen
    # recorder is attached. Until then the canvas is disabled and covered by "Loading the canvas…".
    ready: bool = True
    # How it was drawn, in the saved format (timed_strokes.saved_format): one entry per path object.
    # None when not known: no recorder (AppTest's fake pad), or an object without a recorded stroke.
    strokes: list[dict[str, Any]] | None = None
    untimed: int = 0  # objects the recorder has no stroke for
    in_flight: bool = False  # a stroke was recorded that the canvas has not reported yet


def widget_key(key: str) -> str:
    """A Components v2 key for this pad: Streamlit refuses keys containing "__" (its event delimiter),
    and a session id (in the pad's key) may contain it."""
    return "pad-" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def drawing_pad(
    key: str, step_type: StepType, initial_objects: list[dict[str, Any]] | None, revision: int
) -> CanvasValue:
    """Show a freedraw canvas. `initial_objects` + `revision` redraw it (our Undo/Clear): the canvas
    reloads whenever this initial drawing changes, and the revision makes every reload a change."""
    # The canvas package ships no type information (no py.typed); st_canvas's result is read as Any.
    from streamlit_drawable_canvas import st_canvas  # type: ignore[import-untyped]

    timing = state.pad_timing(key)
    timing.redraw(initial_objects, revision)
    canvas_key = widget_key(key)
    recorder_key = f"{canvas_key}-pen"
    # Ready: the canvas has reported its background (it has loaded) and the recorder has reported
    # itself attached, in their widget states (read before they are drawn: they decide how).
    loaded = state.widget_value(canvas_key).get("backgroundFit") is not None
    ready = loaded and bool(state.widget_value(recorder_key).get("attached"))
    initial = None if initial_objects is None else {"objects": initial_objects, "revision": revision}
    with st.container(key=PAD_BOX_KEY, gap=None):
        result = st_canvas(
            stroke_width=canvas.STROKE_WIDTH,
            stroke_color=canvas.STROKE_COLOR,
            background_image=canvas.guide_png(step_type),
            width=canvas.CANVAS_WIDTH,
            height=canvas.CANVAS_HEIGHT,
            drawing_mode="freedraw",
            update_streamlit=True,
            return_image_data=True,
            initial_drawing=initial,
            # Ink only once the recorder listens: a stroke cannot start unrecorded, or on a canvas
            # that is still loading (and would wipe it when done).
            disabled=not ready,
            key=canvas_key,
        )
        recorder = pen_recorder(recorder_key, f"st-key-{PAD_BOX_KEY}", f"st-key-{DRAWING_AREA_KEY}",
                                timing.epoch(revision), ready)
    measured = timing.update(canvas.objects_of(result.json_data), recorder.recorded, time.monotonic())
    return CanvasValue(
        result.json_data,
        result.image_data,
        ready=ready,
        strokes=measured.strokes,
        untimed=measured.untimed,
        in_flight=measured.in_flight,
    )
