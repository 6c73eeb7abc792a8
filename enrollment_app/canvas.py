"""Turn what the drawing canvas returns into the pieces of a save-drawing payload (PNG data URL, raw
stroke data, metrics), and draw the canvas's guide background. Pure functions: no Streamlit here.

The canvas (streamlit-drawable-canvas) returns Fabric.js JSON (`json_data`) and, with
return_image_data=True, the ink as an RGBA array at CSS-pixel size (`image_data`).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from enrollment_core import strokes
from enrollment_core.step_plan import StepType

# One canvas size everywhere: 350 px fits a 390 px phone (its content width is 358 px) and keeps every
# drawing in the same coordinate frame, so enrolment on a phone and sign-in on a desktop compare well.
CANVAS_WIDTH = 350
CANVAS_HEIGHT = 250
STROKE_WIDTH = 3
STROKE_COLOR = "#111111"
# The canvas's own toolbar sits, invisible until hovered, over the top-right strip of the canvas; on a
# touch screen (no hover) a tap there presses its hidden "Reset" button. The guide paints this strip
# as "not for drawing" so nobody starts a stroke there. Measured: the toolbar reaches ~30 px down.
TOOLBAR_STRIP_HEIGHT = 40
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
    """Why a canvas value cannot be saved yet, in words for the person drawing."""

    message: str


def object_count(json_data: dict[str, Any] | None) -> int:
    objects = (json_data or {}).get("objects")
    return len(objects) if isinstance(objects, list) else 0


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
    json_data: dict[str, Any] | None, image_rgba: np.ndarray | None, step_type: StepType
) -> Drawing | NotReady:
    """Check the canvas value and build the payload pieces, or say (kindly) why it cannot be saved."""
    what = {"signature": "your signature", "shape": "the shape", "drawing": "the drawing"}[step_type]
    if object_count(json_data) == 0:
        return NotReady(f"The canvas is empty. Draw {what} in the white area, then save.")
    try:
        parsed = strokes.parse_strokes(json_data)
    except strokes.InvalidRawData as exc:  # not expected from the real canvas; never save garbage
        return NotReady(f"This drawing could not be read ({exc}). Please clear the canvas and draw again.")
    if strokes.is_near_empty(parsed):
        return NotReady(
            f"That is too small to use: draw {what} larger, with a continuous line, then save. "
            "(A tap or a tiny mark is not enough.)"
        )
    if image_rgba is None:  # the image follows the strokes in the same message; this is a brief race
        return NotReady("Your drawing is still on its way to the server. Please tap Save again.")
    return Drawing(png_data_url(image_rgba), json_data, drawing_metrics(parsed, image_rgba))


@lru_cache(maxsize=8)
def guide_png(step_type: StepType, width: int = CANVAS_WIDTH, height: int = CANVAS_HEIGHT) -> bytes:
    """The canvas background: white paper, a grey strip at the top (under the canvas toolbar) that
    says where not to draw, and a baseline for signatures. Not part of the saved image."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 0, width, TOOLBAR_STRIP_HEIGHT - 1), fill=(240, 242, 246))
    pen.line((0, TOOLBAR_STRIP_HEIGHT - 1, width, TOOLBAR_STRIP_HEIGHT - 1), fill=(214, 218, 226), width=1)
    font = ImageFont.load_default(size=13)
    pen.text((12, TOOLBAR_STRIP_HEIGHT // 2), "Draw below this strip", fill=(110, 116, 130), font=font,
             anchor="lm")
    if step_type == "signature":
        pen.line((24, BASELINE_Y, width - 24, BASELINE_Y), fill=(170, 176, 188), width=1)
        cross = (26, BASELINE_Y - 16, 36, BASELINE_Y - 6)  # the "sign here" cross of paper forms
        pen.line(cross, fill=(150, 156, 170), width=2)
        pen.line((cross[0], cross[3], cross[2], cross[1]), fill=(150, 156, 170), width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
