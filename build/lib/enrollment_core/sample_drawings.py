"""Synthetic but realistic drawings (strokes, PNG data URL, canvas JSON) for demo data, tests and
benchmarks. A person's signature is a fixed random curve family seeded by their name; each sample
adds the small variations of a real hand."""

from __future__ import annotations

import base64
import hashlib
import io
import math
import random
from typing import Any

from PIL import Image, ImageDraw

from . import step_plan, strokes
from .commands import SaveDrawing
from .step_plan import FlowType

CANVAS_WIDTH, CANVAS_HEIGHT = 350, 200
Points = list[tuple[float, float]]


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "big")


def signature_strokes(person: str, sample: int = 0) -> list[Points]:
    """A signature of `person`: the same shape every time, with a sample-dependent wobble."""
    shape = random.Random(_seed("signature", person))
    hand = random.Random(_seed("signature", person, sample))
    strokes_out: list[Points] = []
    x0 = 30 + hand.uniform(-5, 5)
    n_strokes = shape.randint(1, 3)
    # A hand never repeats itself exactly: each sample varies size, slant, the height of each loop
    # and the timing of the wiggles a little (real signatures differ by a few percent, which is far
    # above the verifier's replay threshold and well within its acceptance).
    slant = hand.uniform(-0.12, 0.12)
    for _ in range(n_strokes):
        freqs = [shape.uniform(0.02, 0.08) for _ in range(3)]
        amps = [shape.uniform(10, 35) * hand.uniform(0.85, 1.15) for _ in range(3)]
        width = shape.uniform(60, 110)
        scale = 1 + hand.uniform(-0.06, 0.06)
        phase = hand.uniform(-0.35, 0.35)
        bow, lift = hand.uniform(-5, 5), hand.uniform(-4, 4)  # the baseline is never quite straight
        stroke: Points = []
        for i in range(60):
            t = i / 59 * width
            y = 100 + lift + bow * math.sin(math.pi * i / 59)
            y += sum(a * math.sin(f * t * 6 + phase) for a, f in zip(amps, freqs)) * scale / 2
            x = x0 + t * scale + slant * (y - 100)
            stroke.append((x + hand.gauss(0, 0.8), y + hand.gauss(0, 0.8)))
        strokes_out.append(stroke)
        x0 += width * scale + shape.uniform(5, 15)
    return strokes_out


def _line(hand: random.Random, points: list[tuple[float, float]], per_side: int = 10) -> Points:
    """A hand-drawn polyline through `points` (a little tremor on every sample)."""
    stroke: Points = []
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        stroke += [
            (
                ax + (bx - ax) * i / per_side + hand.gauss(0, 0.8),
                ay + (by - ay) * i / per_side + hand.gauss(0, 0.8),
            )
            for i in range(per_side)
        ]
    stroke.append((points[-1][0] + hand.gauss(0, 0.8), points[-1][1] + hand.gauss(0, 0.8)))
    return stroke


def _arc(
    hand: random.Random,
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    start: float = 0,
    end: float = 2 * math.pi,
) -> Points:
    n = 40
    return [
        (
            cx + rx * math.cos(start + (end - start) * k / n) + hand.gauss(0, 0.8),
            cy + ry * math.sin(start + (end - start) * k / n) + hand.gauss(0, 0.8),
        )
        for k in range(n + 1)
    ]


def shape_strokes(instruction: str, sample: int = 0) -> list[Points]:
    hand = random.Random(_seed("shape", instruction, sample))
    cx, cy, r = 175 + hand.uniform(-10, 10), 100 + hand.uniform(-8, 8), 60 + hand.uniform(-8, 8)
    text = instruction.lower()
    if "circle" in text:
        return [_arc(hand, cx, cy, r, r)]
    if "square" in text:
        return [
            _line(
                hand,
                [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r), (cx - r, cy - r)],
            )
        ]
    return [_line(hand, [(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8), (cx, cy - r)])]


def free_drawing_strokes(instruction: str, sample: int = 0) -> list[Points]:
    """A simple picture of what the instruction names (house, tree, smiling face), a few strokes."""
    hand = random.Random(_seed("drawing", instruction, sample))
    cx, cy = 175 + hand.uniform(-10, 10), 105 + hand.uniform(-6, 6)
    text = instruction.lower()
    if "house" in text:
        walls = _line(hand, [(cx - 50, cy - 20), (cx - 50, cy + 60), (cx + 50, cy + 60), (cx + 50, cy - 20)])
        roof = _line(hand, [(cx - 60, cy - 15), (cx, cy - 70), (cx + 60, cy - 15)])
        door = _line(
            hand, [(cx - 12, cy + 60), (cx - 12, cy + 25), (cx + 12, cy + 25), (cx + 12, cy + 60)], 5
        )
        return [walls, roof, door]
    if "tree" in text:
        trunk = _line(hand, [(cx - 8, cy + 75), (cx - 8, cy + 20), (cx + 8, cy + 20), (cx + 8, cy + 75)], 6)
        crown = _arc(hand, cx, cy - 15, 55, 45)
        return [trunk, crown]
    face = _arc(hand, cx, cy, 70, 70)
    eyes = [_arc(hand, cx + dx, cy - 22, 7, 7) for dx in (-25, 25)]
    smile = _arc(hand, cx, cy + 5, 38, 30, 0.15 * math.pi, 0.85 * math.pi)
    return [face, *eyes, smile]


def strokes_for_step(flow_type: FlowType, step_number: int, person: str, sample: int = 0) -> list[Points]:
    step = step_plan.step_of(flow_type, step_number)
    if step is None:
        raise ValueError(f"{flow_type} has no step {step_number}")
    if step.type == "signature":
        return signature_strokes(person, sample * 100 + step_number)
    if step.type == "shape":
        return shape_strokes(step.instruction, sample)
    return free_drawing_strokes(step.instruction, sample)


def canvas_json(points: list[Points]) -> dict[str, Any]:
    """The drawable canvas's json_data for these strokes (Fabric paths in canvas pixels)."""
    objects = []
    for stroke in points:
        path: list[list[Any]] = [["M", *stroke[0]]]
        path += [
            ["Q", ax, ay, (ax + bx) / 2, (ay + by) / 2] for (ax, ay), (bx, by) in zip(stroke, stroke[1:])
        ]
        path.append(["L", *stroke[-1]])
        objects.append({"type": "Path", "stroke": "#000000", "strokeWidth": 3, "path": path})
    return {"version": "7.4.0", "objects": objects}


def png_data_url(points: list[Points], width: int = CANVAS_WIDTH, height: int = CANVAS_HEIGHT) -> str:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    for stroke in points:
        pen.line(stroke, fill=(0, 0, 0, 255), width=3, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def sample_drawing(
    username: str,
    step_number: int,
    *,
    flow_type: FlowType = "signup",
    session_id: str | None = None,
    sample: int = 0,
    person: str | None = None,
) -> SaveDrawing:
    """A complete save-drawing command as a real client would send it."""
    step = step_plan.step_of(flow_type, step_number)
    if step is None:
        raise ValueError(f"{flow_type} has no step {step_number}")
    points = strokes_for_step(flow_type, step_number, person or username, sample)
    raw = canvas_json(points)
    return SaveDrawing(
        username=username,
        step=step_number,
        type=step.type,
        instruction=step.instruction,
        signature=png_data_url(points),
        raw=raw,
        metrics=strokes.compute_metrics(strokes.parse_strokes(raw)),
        flow_type=flow_type,
        session_id=session_id or None,
    )
