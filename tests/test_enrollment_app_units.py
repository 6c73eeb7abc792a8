"""The enrollment app's pure parts: canvas value -> payload pieces (canvas.py), flow decisions (flow.py)."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image, ImageDraw

from enrollment_app import canvas, flow, timed_strokes
from enrollment_core import sample_drawings, step_plan, validation
from enrollment_core.config import Configuration


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
    assert isinstance(result, canvas.NotReady) and result.arriving and "on its way" in result.message


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
    command = flow.save_command(where, step, drawing.data_url, drawing.raw, drawing.metrics)
    assert command.session_id is None
    parsed = validation.parse_drawing_step(command)
    assert parsed.metrics == drawing.metrics and parsed.flow_type == "signup" and parsed.step == 1
    later = flow.save_command(flow.Where("drawing", "signup", "ada", session_id="sess_" + "a" * 32), step,
                              drawing.data_url, drawing.raw, drawing.metrics)
    assert later.session_id == "sess_" + "a" * 32


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
    # Always with its zone: the browser's, by the name people use, or its offset when it has none.
    assert flow.local_time(moment, "Europe/Paris", now=moment) == "14:05 CET"
    assert flow.local_time(moment, "America/New_York", now=moment) == "08:05 EST"
    assert flow.local_time(moment, "Asia/Dubai", now=moment) == "17:05 UTC+04:00"
    assert flow.local_time(moment, None, now=moment) == "13:05 UTC"
    assert flow.local_time(moment, "Not/AZone", now=moment) == "13:05 UTC"
    assert flow.local_time(None, "Europe/Paris") == ""
    # Another day than today, there: the date too.
    assert flow.local_time(moment, "Asia/Tokyo", now=moment - timedelta(hours=12)) == "22:05 JST"
    assert flow.local_time(moment, "Pacific/Kiritimati", now=moment - timedelta(hours=12)) == (
        "03:05 UTC+14:00 on 16 January")
    assert flow.minutes_until(moment + timedelta(seconds=61), moment) == 2
    assert flow.minutes_until(moment - timedelta(minutes=5), moment) == 0


# ---------------------------------------------------------------- timed strokes (pen recorder)

T0 = 1_767_000_000_000.0  # the recorder sends absolute times in ms (epoch milliseconds)


def recorder_value(epoch: str, strokes: list[list[tuple[float, float]]], first_id: int = 1,
                   start: float = T0, kind: str = "touch") -> dict:
    """What pen_recorder.js sends: each point [x, y, time, pressure], 10 ms apart, 300 ms between
    strokes."""
    sent, t = [], start
    for i, points in enumerate(strokes):
        rows = []
        for x, y in points:
            rows.append([x, y, t, 0.5])
            t += 10.0
        t += 300.0
        sent.append({"id": first_id + i, "pointerType": kind, "points": rows})
    return {"epoch": epoch, "strokes": sent}


def line(x: float, y: float, n: int = 12) -> list[tuple[float, float]]:
    return [(x + 4.0 * i, y + 1.5 * i) for i in range(n)]


def test_recorded_strokes_are_paired_with_the_canvas_paths_in_order() -> None:
    drawn = [line(20, 40), line(60, 90), line(200, 30)]
    objects = sample_drawings.canvas_json(drawn)["objects"]
    timing = timed_strokes.PadTiming()
    timing.redraw(None, 0)
    result = timing.update(objects, recorder_value(timing.epoch(0), drawn), now=100.0)
    assert result.untimed == 0 and not result.in_flight
    assert [s["pointerType"] for s in result.strokes] == ["touch"] * 3
    assert [len(s["points"]) for s in result.strokes] == [12, 12, 12]
    first = result.strokes[0]["points"][0]
    assert first == {"x": 20.0, "y": 40.0, "time": 0.0, "pressure": 0.5}
    times = [p["time"] for s in result.strokes for p in s["points"]]
    assert times == sorted(times) and times[12] == 11 * 10 + 300 + 10  # the pen-up gap shows
    assert result.strokes[2]["points"][0]["x"] == 200.0


def test_undo_and_clear_drop_the_matching_timed_strokes_and_keep_the_rest() -> None:
    drawn = [line(20, 40), line(60, 90), line(200, 30)]
    objects = sample_drawings.canvas_json(drawn)["objects"]
    timing = timed_strokes.PadTiming()
    timing.redraw(None, 0)
    timing.update(objects, recorder_value(timing.epoch(0), drawn), now=1.0)

    # Undo: the canvas is redrawn with the first two objects; the recorder starts a new epoch.
    timing.redraw(objects[:2], 1)
    stale = recorder_value(timing.epoch(0), drawn)  # the browser's list before it saw the new epoch
    after_undo = timing.update(objects[:2], stale, now=2.0)
    assert after_undo.untimed == 0 and not after_undo.in_flight
    assert [s["points"][0]["x"] for s in after_undo.strokes] == [20.0, 60.0]

    # A new stroke after the undo continues the drawing's clock.
    extra = [line(100, 150)]
    objects_now = objects[:2] + sample_drawings.canvas_json(extra)["objects"]
    later = recorder_value(timing.epoch(1), extra, start=T0 + 5_000)
    result = timing.update(objects_now, later, now=3.0)
    assert [s["points"][0]["x"] for s in result.strokes] == [20.0, 60.0, 100.0]
    assert result.strokes[2]["points"][0]["time"] == 5_000.0
    # A rerun with the same values changes nothing (no duplicates).
    assert timing.update(objects_now, later, now=4.0) == result

    # Clear: nothing left, nothing timed.
    timing.redraw([], 2)
    cleared = timing.update([], later, now=5.0)
    assert cleared.strokes == [] and cleared.untimed == 0 and not cleared.in_flight


def test_a_stroke_the_canvas_has_not_reported_yet_is_in_flight_then_given_up() -> None:
    drawn = [line(20, 40), line(60, 90)]
    objects = sample_drawings.canvas_json(drawn[:1])["objects"]
    timing = timed_strokes.PadTiming()
    timing.redraw(None, 0)
    value = recorder_value(timing.epoch(0), drawn)
    assert timing.update(objects, value, now=10.0).in_flight
    assert timing.update(objects, value, now=10.0 + timed_strokes.IN_FLIGHT_SECONDS - 0.1).in_flight
    # The canvas never made a path of it (it dropped it): not in flight any more, and not saved.
    late = timing.update(objects, value, now=10.0 + timed_strokes.IN_FLIGHT_SECONDS + 0.1)
    assert not late.in_flight and len(late.strokes) == 1


def test_a_path_without_a_recorded_stroke_makes_the_drawing_untimed() -> None:
    drawn = [line(20, 40), line(60, 90)]
    objects = sample_drawings.canvas_json(drawn)["objects"]
    timing = timed_strokes.PadTiming()
    timing.redraw(None, 0)
    result = timing.update(objects, recorder_value(timing.epoch(0), drawn[1:]), now=1.0)
    assert result.untimed == 1 and result.strokes is None
    # A recorded stroke starting elsewhere is not taken for it.
    moved = [[(x + timed_strokes.START_TOLERANCE_PX + 0.5, y) for x, y in drawn[0]], drawn[1]]
    result = timing.update(objects, recorder_value(timing.epoch(0), moved), now=1.0)
    assert result.untimed == 1


def test_a_stroke_the_canvas_dropped_is_skipped() -> None:
    drawn = [line(20, 40), line(60, 90), line(200, 30)]
    objects = sample_drawings.canvas_json([drawn[0], drawn[2]])["objects"]
    paired = timed_strokes.align(objects, timed_strokes.recorded_strokes(recorder_value("e", drawn), "e"))
    assert [p.start for p in paired] == [(20.0, 40.0), (200.0, 30.0)]


def test_malformed_recorder_data_is_dropped_never_raised() -> None:
    good = {"id": 1, "pointerType": "pen", "points": [[1, 2, T0, 0.4, 10, -20], [3, 4, T0 + 5, 0.6, 11, -21]]}
    assert len(timed_strokes.recorded_strokes({"epoch": "e", "strokes": [good]}, "e")) == 1
    bad_points = [
        [1, 2, float("nan"), 0.5], [1, 2, T0], ["1", 2, T0, 0.5], [True, 2, T0, 0.5], [1, 2, T0, 5.0],
        [1e9, 2, T0, 0.5], [1, 2, T0, 0.5, 200, 0], None, {"x": 1}, [1, 2, 1e20, 0.5],
    ]
    for point in bad_points:
        stroke = dict(good, points=[[1, 2, T0, 0.5], point])
        assert timed_strokes.recorded_strokes({"epoch": "e", "strokes": [stroke]}, "e") == [], point
    for other in (dict(good, pointerType="finger"), dict(good, id=True), dict(good, id="1"),
                  dict(good, points=[]), dict(good, points="x"), "stroke", None, 7):
        assert timed_strokes.recorded_strokes({"epoch": "e", "strokes": [other]}, "e") == [], other
    for value in (None, [], "x", {"epoch": "e"}, {"epoch": "e", "strokes": {"a": 1}},
                  {"epoch": "other", "strokes": [good]}, {"strokes": [good]}):
        assert timed_strokes.recorded_strokes(value, "e") == []
    too_many = {"epoch": "e", "strokes": [dict(good, id=i) for i in range(timed_strokes.MAX_STROKES + 5)]}
    assert len(timed_strokes.recorded_strokes(too_many, "e")) == timed_strokes.MAX_STROKES
    huge = dict(good, points=[[1, 2, T0 + i, 0.5] for i in range(timed_strokes.MAX_POINTS + 1)])
    assert timed_strokes.recorded_strokes({"epoch": "e", "strokes": [huge]}, "e") == []


def test_saved_format_is_relative_rounded_non_decreasing_with_tilt_for_pens() -> None:
    strokes = [
        timed_strokes.TimedStroke("a", "pen", ((1.234567, 2.0, T0 + 0.04, 0.33333, 5.0, -7.0),
                                               (3.0, 4.005, T0 + 8.26, 0.5, 6.0, -8.0))),
        timed_strokes.TimedStroke("b", "mouse", ((10.0, 10.0, T0 + 7.0, 0.5),  # earlier than the last
                                                 (12.0, 11.0, T0 + 20.0, 0.0))),
    ]
    saved = timed_strokes.saved_format(strokes)
    assert saved[0] == {"pointerType": "pen", "points": [
        {"x": 1.23, "y": 2.0, "time": 0.0, "pressure": 0.333, "tiltX": 5.0, "tiltY": -7.0},
        {"x": 3.0, "y": 4.0, "time": 8.2, "pressure": 0.5, "tiltX": 6.0, "tiltY": -8.0}]}
    assert [p["time"] for p in saved[1]["points"]] == [8.2, 20.0]
    assert "tiltX" not in saved[1]["points"][0]
    assert timed_strokes.saved_format([]) == []


def test_a_timed_drawing_is_saved_with_its_strokes_and_passes_the_core_validation() -> None:
    drawn = sample_drawings.signature_strokes("ada")
    raw = sample_drawings.canvas_json(drawn)
    timing = timed_strokes.PadTiming()
    timing.redraw(None, 0)
    timed = timing.update(raw["objects"], recorder_value(timing.epoch(0), drawn), now=1.0)
    drawing = canvas.prepare_drawing(raw, ink(raw["objects"]), "signature", timed=timed.strokes)
    assert isinstance(drawing, canvas.Drawing)
    assert drawing.raw["objects"] is raw["objects"] and drawing.raw["strokes"] == timed.strokes
    assert len(drawing.raw["strokes"]) == len(raw["objects"])
    where = flow.Where("drawing", "signup", "ada", progress=flow.plan_progress("signup"))
    command = flow.save_command(where, step_plan.step_of("signup", 1), drawing.data_url, drawing.raw,
                                drawing.metrics)
    parsed = validation.parse_drawing_step(command)
    assert parsed.raw["strokes"] == timed.strokes


def test_a_drawing_with_a_stroke_in_flight_or_untimed_is_not_saved_yet() -> None:
    raw = signature_json()
    waiting = canvas.prepare_drawing(raw, ink(raw["objects"]), "signature", timed=[], in_flight=True)
    assert isinstance(waiting, canvas.NotReady) and waiting.arriving and "on its way" in waiting.message
    untimed = canvas.prepare_drawing(raw, ink(raw["objects"]), "signature", untimed=1)
    assert isinstance(untimed, canvas.NotReady) and not untimed.arriving and "Clear" in untimed.message


def test_the_words_name_the_screens_button() -> None:
    empty = canvas.prepare_drawing(None, None, "signature", button="Sign")
    assert isinstance(empty, canvas.NotReady) and empty.message.endswith("then tap Sign.")


def test_pad_widget_keys_never_contain_streamlits_event_delimiter() -> None:
    # A session id may contain "__" (base64url); Streamlit refuses component keys containing it.
    from enrollment_app.canvas_widget import widget_key

    keys = {widget_key(f"pad:sess_ab__cd{i}:{n}") for i in range(50) for n in range(1, 12)}
    assert len(keys) == 550 and not any("__" in k for k in keys)


def test_verdicts_are_said_in_words_never_by_their_code() -> None:
    for code, words in flow.VERDICT_WORDS.items():
        assert flow.verdict_words(code) == words
        assert "_" not in words and "(" not in words  # no "(replay)" or "no_match" in what is shown
    assert flow.verdict_words("a_code_added_later") == flow.UNKNOWN_VERDICT


def test_the_support_line_comes_from_the_configuration() -> None:
    line = flow.support_line(Configuration.from_env({"SUPPORT_CONTACT": "help@example.org"}).app)
    assert line == "Need help? Contact help@example.org."
    assert flow.support_line(Configuration.from_env({"SUPPORT_CONTACT": "  "}).app) is None
    assert flow.support_line(Configuration.from_env({}).app) is None
