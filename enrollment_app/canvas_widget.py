"""The drawing canvas on screen: the one place that calls streamlit-drawable-canvas.

Importing streamlit_drawable_canvas outside `streamlit run` raises, so the import happens inside
`drawing_pad`, and AppTest tests replace `drawing_pad` (monkeypatch this module's attribute) to hand the
app a drawing of their choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from enrollment_core.step_plan import StepType

from . import canvas


@dataclass(frozen=True)
class CanvasValue:
    json_data: dict[str, Any] | None  # Fabric.js JSON: {"objects": [{"type": "Path", "path": ...}, ...]}
    image_rgba: np.ndarray | None  # (height, width, 4) uint8, the ink only (the guide is not included)
    # The canvas has loaded in the browser (it reports its background once painted). Right after a page
    # load the canvas reruns the app once more; a stroke drawn before that can be lost.
    ready: bool = True


def drawing_pad(
    key: str, step_type: StepType, initial_objects: list[dict] | None, revision: int
) -> CanvasValue:
    """Show a freedraw canvas. `initial_objects` + `revision` redraw it (our Undo/Clear): the canvas
    reloads whenever this initial drawing changes, and the revision makes every reload a change."""
    from streamlit_drawable_canvas import st_canvas

    initial = None if initial_objects is None else {"objects": initial_objects, "revision": revision}
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
        key=key,
    )
    return CanvasValue(result.json_data, result.image_data, ready=result.background_fit is not None)
