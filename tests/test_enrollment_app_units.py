"""The enrollment app's pure parts: canvas value -> payload pieces (canvas.py), flow decisions (flow.py)."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image, ImageDraw

from enrollment_app import canvas, flow
from enrollment_core import sample_drawings, step_plan, validation


def ink(objects: list[dict]) -> np.ndarray:
    image = Image.new("RGBA", (canvas.CANVAS_WIDTH, canvas.CANVAS_HEIGHT), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    for obj in objects:
        pen.line([(c[-2], c[-1]) for c in obj["path"]], fill=(0, 0, 0, 255), width=3)
    return np.asarray(image)


def signature_json() -> dict:
    return sample_drawings.canvas_json(sample_drawings.signature_strokes("ada"))


def test_an_empty_canvas_is_not_ready() -> None:
    for empty in (None, {}, {"objects": []}):
        result = canvas.prepare_drawing(empty, None, "signature")
        assert isinstance(result, canvas.NotReady)
        assert result.message.startswith("The canvas is empty. Draw your signature")


def test_a_tap_or_tiny_mark_is_too_small() -> None:
    tap = sample_drawings.canvas_json([[(50.0, 80.0), (51.0, 80.5)]])
    result = canvas.prepare_drawing(tap, ink(tap["objects"]), "shape")
    assert isinstance(result, canvas.NotReady)
    assert "too small" in result.message and "the shape" in result.message


def test_strokes_without_their_image_are_not_saved() -> None:
    result = canvas.prepare_drawing(signature_json(), None, "signature")
    assert isinstance(result, canvas.NotReady) and "Save again" in result.message


def test_garbage_raw_data_is_refused_not_saved() -> None:
    bad = {"objects": [{"type": "Path", "path": [["Z", 1]]}]}
    result = canvas.prepare_drawing(bad, ink([]), "drawing")
    assert isinstance(result, canvas.NotReady) and "could not be read" in result.message


def test_a_real_drawing_gives_a_white_png_raw_json_and_metrics() -> None:
    raw = signature_json()
    result = canvas.prepare_drawing(raw, ink(raw["objects"]), "signature")
    assert isinstance(result, canvas.Drawing)
    assert result.raw is raw
    png = base64.b64decode(result.data_url.removeprefix("data:image/png;base64,"))
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGB" and image.size == (canvas.CANVAS_WIDTH, canvas.CANVAS_HEIGHT)
    pixels = np.asarray(image)
    assert (pixels[0, 0] == 255).all()  # paper
    assert (pixels.min(axis=2) < 64).sum() > 100  # ink
    m = result.metrics
    assert m["stroke_count"] == len(raw["objects"]) and m["pen_lift_count"] == m["stroke_count"] - 1
    assert m["point_count"] > 0 and m["path_length"] > 0
    assert set(m["bbox"]) == {"min_x", "min_y", "max_x", "max_y", "width", "height"}
    assert m["aspect_ratio"] == m["bbox"]["width"] / m["bbox"]["height"]
    assert m["canvas"] == {"width": canvas.CANVAS_WIDTH, "height": canvas.CANVAS_HEIGHT}
    assert 0 < m["bbox_area_ratio"] < 1
    assert m["ink_pixels"] > 100


def test_the_payload_passes_the_core_validation_unchanged() -> None:
    raw = signature_json()
    drawing = canvas.prepare_drawing(raw, ink(raw["objects"]), "signature")
    where = flow.Where("drawing", "signup", "ada", progress=flow.plan_progress("signup"))
    step = step_plan.step_of("signup", 1)
    payload = flow.save_payload(where, step, drawing.data_url, drawing.raw, drawing.metrics)
    assert "sessionId" not in payload
    parsed = validation.parse_drawing_step(payload)
    assert parsed.metrics == drawing.metrics and parsed.flow_type == "signup" and parsed.step == 1
    later = flow.save_payload(flow.Where("drawing", "signup", "ada", session_id="sess_" + "a" * 32), step,
                              drawing.data_url, drawing.raw, drawing.metrics)
    assert later["sessionId"] == "sess_" + "a" * 32


def test_undo_leaves_all_but_the_last_object() -> None:
    objects = [{"n": 1}, {"n": 2}, {"n": 3}]
    assert canvas.without_last_object({"objects": objects}) == objects[:2]
    assert canvas.without_last_object({"objects": []}) == []
    assert canvas.without_last_object(None) == []
    assert canvas.object_count({"objects": objects}) == 3 and canvas.object_count(None) == 0


def test_guide_is_white_paper_with_a_baseline_for_signatures() -> None:
    signature = np.asarray(Image.open(io.BytesIO(canvas.guide_png("signature"))).convert("RGB"))
    shape = np.asarray(Image.open(io.BytesIO(canvas.guide_png("shape"))).convert("RGB"))
    assert signature.shape == (canvas.CANVAS_HEIGHT, canvas.CANVAS_WIDTH, 3)
    # The whole pad is for drawing: no strip to avoid in any corner (the toolbar is hidden).
    h, w = canvas.CANVAS_HEIGHT, canvas.CANVAS_WIDTH
    for y, x in ((2, 2), (2, w - 3), (h - 3, 2), (h - 3, w - 3)):
        assert tuple(signature[y, x]) == (255, 255, 255) and tuple(shape[y, x]) == (255, 255, 255)
    assert tuple(signature[canvas.BASELINE_Y, canvas.CANVAS_WIDTH // 2]) != (255, 255, 255)
    assert tuple(shape[canvas.BASELINE_Y, canvas.CANVAS_WIDTH // 2]) == (255, 255, 255)


def test_plan_progress_before_a_session_exists() -> None:
    progress = flow.plan_progress("signup")
    assert (progress.total_steps, progress.completed_steps, progress.next_step) == (11, 0, 1)
    assert flow.plan_progress("signin").total_steps == 1


def test_messages_read_as_sentences() -> None:
    assert flow.sentence("username is required") == "Username is required."
    assert flow.sentence("done!") == "Done!"
    assert flow.sentence("") == ""


def test_times_are_shown_in_the_browser_time_zone_or_utc() -> None:
    moment = datetime(2026, 1, 15, 13, 5, tzinfo=UTC)
    assert flow.local_time(moment, "Europe/Paris") == "14:05"
    assert flow.local_time(moment, None) == "13:05 UTC"
    assert flow.local_time(moment, "Not/AZone") == "13:05 UTC"
    assert flow.local_time(None, "Europe/Paris") == ""
    assert flow.minutes_until(moment + timedelta(seconds=61), moment) == 2
    assert flow.minutes_until(moment - timedelta(minutes=5), moment) == 0
