"""Realistic save-drawing payloads for the save benchmark: the sample drawings, rendered like a phone's
canvas export (2x pixel density, anti-aliased), which makes ~15-35 KB PNG data URLs (~25 KB on
average) instead of the ~2 KB of the 1x sample images."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw

from enrollment_core import step_plan
from enrollment_core.commands import SaveDrawing
from enrollment_core.sample_drawings import (
    CANVAS_HEIGHT,
    CANVAS_WIDTH,
    Points,
    sample_drawing,
    strokes_for_step,
)
from enrollment_core.validation import DrawingStep, parse_drawing_step

DENSITY = 2  # a phone's devicePixelRatio
SUPERSAMPLE = 2  # drawn at 2x the target size, then downsampled: anti-aliased edges like a browser's


def phone_png_data_url(points: list[Points]) -> str:
    scale = DENSITY * SUPERSAMPLE
    image = Image.new("RGBA", (CANVAS_WIDTH * scale, CANVAS_HEIGHT * scale), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    for stroke in points:
        pen.line(
            [(x * scale, y * scale) for x, y in stroke],
            fill=(20, 20, 40, 255),
            width=3 * scale,
            joint="curve",
        )
    image = image.resize((CANVAS_WIDTH * DENSITY, CANVAS_HEIGHT * DENSITY), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@dataclass(frozen=True)
class StepSample:
    """One step as a client sends it (payload) and as the database stores it (row, for raw INSERTs)."""

    payload: SaveDrawing
    row: DrawingStep


def signup_samples(persons: int = 4) -> list[list[StepSample]]:
    """For each of `persons` hands, the 11 signup steps (index 0 = step 1)."""
    people = []
    for p in range(persons):
        person = f"bench_person_{p}"
        steps = []
        for number in range(1, step_plan.total_steps("signup") + 1):
            payload = replace(
                sample_drawing(person, number, flow_type="signup", sample=p),
                signature=phone_png_data_url(strokes_for_step("signup", number, person, p)),
            )
            steps.append(StepSample(payload, parse_drawing_step(payload)))
        people.append(steps)
    return people


def average_signature_chars(samples: list[list[StepSample]]) -> float:
    sizes = [len(s.payload.signature) for person in samples for s in person]
    return sum(sizes) / len(sizes)
