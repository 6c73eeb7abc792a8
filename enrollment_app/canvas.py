"""Turn what the drawing canvas returns into the pieces of a save-drawing payload (PNG data URL, raw
stroke data, metrics), and draw the canvas's guide background. Pure functions: no Streamlit here.

The canvas (streamlit-drawable-canvas) returns Fabric.js JSON (`json_data`) and, with
return_image_data=True, the ink as an RGBA array in canvas pixels (`image_data`); the pen recorder
adds how it was drawn (timed strokes, see timed_strokes.py), saved in the raw JSON as "strokes".
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from enrollment_core import strokes
from enrollment_core.step_plan import StepType

# One canvas size everywhere: every drawing is in the same coordinate frame, so enrolment on a phone and
# sign-in on a desktop compare well. On screens narrower than this the pen recorder shows the canvas
# scaled down (CSS), and the coordinates stay canvas pixels.
CANVAS_WIDTH = 350
CANVAS_HEIGHT = 250
STROKE_WIDTH = 3
STROKE_COLOR = "#111111"
# Signatures get a baseline, as on paper: it makes signatures land at a similar height and size.
BASELINE_Y = 195

INK_ALPHA_MIN = 32  # an RGBA pixel with at least this alpha counts as ink


@dataclass(frozen=True)
class Drawing:
    """A drawing ready to save: the payload fields signature, raw and metrics."""

    data_url: str
    raw: dict[str, Any]
    metrics: dict[str, Any]


@dataclass(frozen=True)
class NotReady:
    """Why a canvas value cannot be saved yet, in words for the person drawing. `arriving`: because
    part of it has not reached the server yet (it follows within a second). `empty`: nothing drawn, as
    far as the server knows (a stroke drawn just before the tap may not have been reported yet)."""

    message: str
    arriving: bool = False
    empty: bool = False


def objects_of(json_data: dict[str, Any] | None) -> list[Any]:
    objects = (json_data or {}).get("objects")
    return objects if isinstance(objects, list) else []


def object_count(json_data: dict[str, Any] | None) -> int:
    return len(objects_of(json_data))


def without_last_object(json_data: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The canvas objects minus the most recent one (what "Undo" leaves)."""
    objects = (json_data or {}).get("objects")
    return list(objects[:-1]) if isinstance(objects, list) and objects else []


def png_data_url(image_rgba: np.ndarray) -> str:
    """The ink as a PNG data URL, flattened onto white: the drawing looks the same on any page theme
    (black ink on a transparent PNG vanishes on a dark background)."""
    ink = Image.fromarray(np.ascontiguousarray(image_rgba, dtype=np.uint8), "RGBA")
    page = Image.new("RGBA", ink.size, (255, 255, 255, 255))
    page.alpha_composite(ink)
    buffer = io.BytesIO()
    page.convert("RGB").save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def drawing_metrics(parsed: list[strokes.Stroke], image_rgba: np.ndarray) -> dict[str, Any]:
    """compute_metrics (strokes, points, path length, bbox, aspect, curvature...) plus what only this
    client knows: the canvas size the coordinates refer to and how much of it the drawing uses, and
    the number of ink pixels in the saved image (a cross-check between the image and the strokes)."""
    metrics = strokes.compute_metrics(parsed)
    height, width = image_rgba.shape[:2]
    bbox = metrics["bbox"]
    metrics["canvas"] = {"width": int(width), "height": int(height)}
    metrics["bbox_area_ratio"] = (bbox["width"] * bbox["height"]) / float(width * height)
    metrics["ink_pixels"] = int((image_rgba[..., 3] >= INK_ALPHA_MIN).sum())
    metrics["source"] = "streamlit-drawable-canvas"
    return metrics


def prepare_drawing(
    json_data: dict[str, Any] | None,
    image_rgba: np.ndarray | None,
    step_type: StepType,
    *,
    timed: list[dict[str, Any]] | None = None,
    untimed: int = 0,
    in_flight: bool = False,
    button: str = "Save",
) -> Drawing | NotReady:
    """Check the canvas value and build the payload pieces, or say (kindly) why it cannot be saved.
    `timed` is how it was drawn (one timed stroke per path object, timed_strokes.saved_format), saved
    in the raw JSON as "strokes"; `untimed` counts objects the pen recorder has no stroke for and
    `in_flight` says it has one the canvas has not reported yet. `button` is what saving is called
    on this screen ("Sign" when signing in)."""
    what = {"signature": "your signature", "shape": "the shape", "drawing": "the drawing"}[step_type]
    if in_flight:  # the canvas reports a stroke ~0.2 s after the pen lifts
        return NotReady("Your last stroke is still on its way to the server.", arriving=True)
    if json_data is None or object_count(json_data) == 0:
        return NotReady(f"The canvas is empty. Draw {what} in the white area, then tap {button}.", empty=True)
    if untimed:
        return NotReady(
            "Part of this drawing was not recorded completely. Please tap Clear and draw it again."
        )
    raw = json_data if timed is None else {**json_data, "strokes": timed}
    try:
        parsed = strokes.parse_strokes(raw)
    except strokes.InvalidRawData as exc:  # not expected from the real canvas; never save garbage
        return NotReady(f"This drawing could not be read ({exc}). Please clear the canvas and draw again.")
    if strokes.is_near_empty(parsed):
        return NotReady(
            f"That is too small to use: draw {what} larger, with a continuous line, then tap {button}. "
            "(A tap or a tiny mark is not enough.)"
        )
    if image_rgba is None:  # the image follows the strokes in the same message; this is a brief race
        return NotReady("Your drawing is still on its way to the server.", arriving=True)
    return Drawing(png_data_url(image_rgba), raw, drawing_metrics(parsed, image_rgba))


@lru_cache(maxsize=8)
def guide_png(step_type: StepType, width: int = CANVAS_WIDTH, height: int = CANVAS_HEIGHT) -> bytes:
    """The canvas background: white paper, with a baseline for signatures. Not part of the saved
    image. (The whole pad is for drawing: the canvas's own toolbar is hidden by the pen recorder.)"""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    pen = ImageDraw.Draw(image)
    if step_type == "signature":
        pen.line((24, BASELINE_Y, width - 24, BASELINE_Y), fill=(170, 176, 188), width=1)
        cross = (26, BASELINE_Y - 16, 36, BASELINE_Y - 6)  # the "sign here" cross of paper forms
        pen.line(cross, fill=(150, 156, 170), width=2)
        pen.line((cross[0], cross[3], cross[2], cross[1]), fill=(150, 156, 170), width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
