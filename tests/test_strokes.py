"""Parsing of raw drawing formats, input hardening, metrics and near-empty detection."""

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrollment_core.strokes import (
    MAX_POINTS,
    MAX_STROKES,
    InvalidRawData,
    compute_metrics,
    is_near_empty,
    parse_strokes,
    raw_is_near_empty,
)

# Shaped like streamlit-drawable-canvas 0.13 json_data for two freedraw strokes (Fabric 4 PencilBrush).
FABRIC_SAMPLE = {
    "version": "4.4.0",
    "objects": [
        {
            "type": "path", "version": "4.4.0", "originX": "left", "originY": "top",
            "left": 40.5, "top": 70.5, "width": 61, "height": 21, "fill": None,
            "stroke": "#000000", "strokeWidth": 3, "strokeLineCap": "round",
            "scaleX": 1, "scaleY": 1, "angle": 0,
            "path": [["M", 42, 90], ["Q", 42, 90, 50, 80], ["Q", 58, 70, 70, 75],
                     ["Q", 82, 80, 102, 72], ["L", 102, 72]],
        },
        {"type": "rect", "left": 0, "top": 0, "width": 10, "height": 10},
        {
            "type": "path", "left": 119, "top": 59, "width": 1, "height": 31,
            "path": [["M", 120, 60], ["Q", 120, 60, 120, 75], ["L", 120, 90]],
        },
    ],
    "background": "#eee",
}


def test_fabric_paths_become_strokes_in_canvas_coordinates() -> None:
    strokes = parse_strokes(FABRIC_SAMPLE)
    assert len(strokes) == 2  # the rect is not a pen stroke
    first, second = strokes
    assert first.shape[1] == 3 and first.dtype == np.float64
    assert first[0, :2].tolist() == [42, 90]
    assert first[-1, :2].tolist() == [102, 72]
    # Quadratic segment sampled at its midpoint: 0.25*p0 + 0.5*c + 0.25*p1.
    assert first[1, :2].tolist() == [0.25 * 42 + 0.5 * 42 + 0.25 * 50, 0.25 * 90 + 0.5 * 90 + 0.25 * 80]
    assert np.isnan(first[:, 2]).all()
    assert second[:, 0].tolist() == [120] * len(second)
    assert compute_metrics(strokes)["has_timing"] is False


def test_fabric_7_capitalised_path_type() -> None:
    newer = {"version": "7.0.0", "objects": [dict(FABRIC_SAMPLE["objects"][0], type="Path")]}
    assert parse_strokes(newer)[0].tolist()[0][:2] == [42, 90]


def test_fabric_json_text_and_empty_canvas() -> None:
    assert len(parse_strokes(json.dumps(FABRIC_SAMPLE))) == 2
    assert parse_strokes({"version": "4.4.0", "objects": []}) == []


def test_signature_pad_to_data_format() -> None:
    raw = [
        {"penColor": "black", "dotSize": 0, "minWidth": 0.5, "maxWidth": 2.5, "velocityFilterWeight": 0.7,
         "points": [{"x": 10, "y": 20, "time": 1700000000000, "pressure": 0.5},
                    {"x": 15.5, "y": 22, "time": 1700000000016, "pressure": 0.5}]},
        {"points": [{"x": 30, "y": 20, "time": 1700000000200}]},
    ]
    for payload in (raw, {"strokes": raw}):
        strokes = parse_strokes(payload)
        assert [len(s) for s in strokes] == [2, 1]
        assert strokes[0][1].tolist() == [15.5, 22, 1700000000016]


def test_signature_pad_v2_and_triples() -> None:
    v2 = [[{"x": 1, "y": 2, "time": 5, "color": "black"}, {"x": 3, "y": 4, "time": 9}]]
    assert parse_strokes(v2)[0].tolist() == [[1, 2, 5], [3, 4, 9]]
    triples = {"strokes": [[[1, 2, 0], [3, 4, 10]], [[5, 6]]]}
    strokes = parse_strokes(triples)
    assert strokes[0].tolist() == [[1, 2, 0], [3, 4, 10]]
    assert strokes[1][0, :2].tolist() == [5, 6] and math.isnan(strokes[1][0, 2])


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (42, "expected a JSON object or list"),
        ("{not json", "not valid JSON"),
        ({"foo": 1}, "neither 'objects'"),
        ({"objects": {}}, "objects is not a list"),
        ({"objects": [{"type": "path", "path": "M 0 0"}]}, "objects[0].path is not a list"),
        ({"objects": [{"type": "path"}, {"type": "path", "path": [["M", 1, 2], ["Z"]]}]},
         "objects[0].path is not a list"),
        ({"objects": [{"type": "path", "path": [["M", 1, 2], ["Z"]]}]}, "unsupported path command"),
        ({"objects": [{"type": "path", "path": [["L", 1, 2]]}]}, "before any 'M'"),
        ({"objects": [{"type": "path", "path": [["Q", 1, 2]]}]}, "needs 4 numbers"),
        ({"objects": [{"type": "path", "path": [["M", "1", 2]]}]}, "objects[0].path[0][1] is not a number"),
        ({"strokes": [[[1, True]]]}, "is not a number"),
        ({"strokes": [[[1, float("nan")]]]}, "not finite"),
        ({"strokes": [[[1e300, 0]]]}, "out of range"),
        ([{"points": [{"x": 1}]}], "has no x/y"),
        ([{"points": 3}], "is not a list of points"),
        ({"strokes": [[[1, 2, 3, 4]]]}, "is not a point"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(raw: object, fragment: str) -> None:
    with pytest.raises(InvalidRawData) as info:
        parse_strokes(raw)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_limits() -> None:
    too_many_strokes = {"strokes": [[[0, 0]]] * (MAX_STROKES + 1)}
    with pytest.raises(InvalidRawData, match="too many strokes"):
        parse_strokes(too_many_strokes)
    too_many_points = {"strokes": [[[0, 0]] * (MAX_POINTS // 2 + 1)] * 2}
    with pytest.raises(InvalidRawData, match="too many points"):
        parse_strokes(too_many_points)
    with pytest.raises(InvalidRawData, match="not valid JSON"):
        parse_strokes("[" * 100_000 + "]" * 100_000)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.sampled_from(["objects", "strokes", "type", "path", "points", "x", "y", "time"])
        | st.text(max_size=3),
        children, max_size=5),
    max_leaves=30,
)
path_cmds = st.lists(
    st.lists(st.sampled_from(["M", "L", "Q", "C", "Z"]) | st.integers() | st.floats() | st.none(),
             max_size=8),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_garbage_never_raises_anything_but_invalid_raw_data(raw: object) -> None:
    try:
        strokes = parse_strokes(raw)
    except InvalidRawData:
        return
    compute_metrics(strokes)  # whatever parses must also be measurable
    is_near_empty(strokes)


@settings(max_examples=200, deadline=None)
@given(path_cmds, st.sampled_from(["path", "rect", 3]))
def test_garbage_fabric_paths(path: list, kind: object) -> None:
    try:
        strokes = parse_strokes({"objects": [{"type": kind, "path": path}]})
    except InvalidRawData:
        return
    metrics = compute_metrics(strokes)
    assert all(np.isfinite(s[:, :2]).all() for s in strokes)
    json.dumps(metrics)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_bytes(raw: bytes) -> None:
    try:
        parse_strokes(raw)
    except InvalidRawData:
        pass


def _square(side: float = 100.0, step: float = 10.0) -> list[np.ndarray]:
    # Walk the square's outline with evenly spaced points, 10 ms apart.
    n = int(side / step)
    corners = [(0, 0), (side, 0), (side, side), (0, side), (0, 0)]
    pts = []
    for (x0, y0), (x1, y1) in itertools.pairwise(corners):
        for k in range(n):
            pts.append((x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n))
    pts.append((0, 0))
    arr = np.array([(x, y, 10.0 * i) for i, (x, y) in enumerate(pts)])
    return [arr]


def test_metrics_of_a_square() -> None:
    m = compute_metrics(_square())
    json.dumps(m)
    assert m["stroke_count"] == 1 and m["pen_lift_count"] == 0
    assert m["point_count"] == 41
    assert m["path_length"] == pytest.approx(400.0)
    assert m["bbox"] == {"min_x": 0.0, "min_y": 0.0, "max_x": 100.0, "max_y": 100.0,
                         "width": 100.0, "height": 100.0}
    assert m["aspect_ratio"] == pytest.approx(1.0)
    assert m["centroid"] == {"x": pytest.approx(50.0), "y": pytest.approx(50.0)}
    assert m["direction_changes"] == 3  # three 90° corners inside the single stroke
    assert m["total_turning_deg"] == pytest.approx(270.0)
    assert m["duration_ms"] == pytest.approx(400.0)
    assert m["mean_speed"] == pytest.approx(1.0)  # 10 px per 10 ms
    assert m["max_speed"] == pytest.approx(1.0)


def test_metrics_without_timing_and_with_pen_lifts() -> None:
    strokes = parse_strokes({"strokes": [[[0, 0], [30, 40]], [[100, 0], [100, 10]]]})
    m = compute_metrics(strokes)
    assert m["stroke_count"] == 2 and m["pen_lift_count"] == 1
    assert m["path_length"] == pytest.approx(60.0)  # the pen-up jump is not ink
    assert m["has_timing"] is False
    assert m["duration_ms"] is None and m["mean_speed"] is None and m["max_speed"] is None


def test_metrics_of_nothing() -> None:
    m = compute_metrics([])
    assert m["point_count"] == 0 and m["path_length"] == 0 and m["aspect_ratio"] is None
    json.dumps(m)


def test_near_empty() -> None:
    assert is_near_empty([])
    assert is_near_empty(parse_strokes({"strokes": [[[5, 5]]]}))  # a tap
    assert is_near_empty([np.array([[i * 0.5, 0, np.nan] for i in range(20)])])  # 10 px scribble
    assert is_near_empty([np.array([[0, 0, np.nan], [200, 0, np.nan]])])  # too few points
    assert not is_near_empty(_square())
    assert not is_near_empty(parse_strokes(FABRIC_SAMPLE))


def _outcome(check, raw: object) -> object:
    try:
        return check(raw)
    except InvalidRawData as exc:
        return str(exc)


coordinate = st.floats(0, 40) | st.integers(0, 40)
step = st.floats(-0.1, 0.4)  # ~100 of them make a stroke near the ink and extent thresholds
bad_element = st.sampled_from([True, "3", None, math.nan, math.inf, 10**400, 2e6, ["Q"], "Z", "q"])


@st.composite
def pencil_drawings(draw: st.DrawFn) -> dict:
    """Canvas drawings shaped like PencilBrush's (M, Q..., L), small enough to sit near the near-empty
    thresholds, sometimes with one element spoilt or a shape or an odd command added."""
    paths = []
    long_walks = draw(st.booleans())  # long paths of small steps: the sampled bounds are tried first
    for _ in range(draw(st.integers(1, 3))):
        path = [["M", draw(coordinate), draw(coordinate)]]
        if long_walks:
            x, y = path[0][1:]
            for _ in range(draw(st.integers(40, 120))):
                x, y = x + draw(step), y + draw(step)
                path.append(["Q", x, draw(coordinate), x, y])
        else:
            path += [["Q", *(draw(coordinate) for _ in range(4))] for _ in range(draw(st.integers(0, 12)))]
        path.append(["L", draw(coordinate), draw(coordinate)])
        paths.append(path)
    objects = [{"type": draw(st.sampled_from(["path", "Path", "PATH"])), "path": p} for p in paths]
    if draw(st.booleans()):  # spoil one element, or one command's length, or add a command
        path = draw(st.sampled_from(paths))
        cmd = draw(st.sampled_from(path))
        how = draw(st.sampled_from(["element", "shorter", "longer", "insert"]))
        if how == "element":
            cmd[draw(st.integers(0, len(cmd) - 1))] = draw(bad_element)
        elif how == "shorter":
            cmd.pop()
        elif how == "longer":
            cmd.append(draw(coordinate))
        else:
            path.insert(draw(st.integers(0, len(path))), [draw(st.sampled_from("MLQC")), 1, 2])
    if draw(st.booleans()):
        objects.insert(draw(st.integers(0, len(objects))), {"type": "rect", "left": 0})
    return {"objects": objects}


@settings(max_examples=500, deadline=None)
@given(pencil_drawings())
def test_fast_near_empty_check_agrees_with_parsing(raw: dict) -> None:
    # The save's fast check must answer exactly as parsing and is_near_empty do, errors included.
    expected = _outcome(lambda r: is_near_empty(parse_strokes(r)), raw)
    assert _outcome(raw_is_near_empty, raw) == expected


def test_fast_near_empty_check_on_the_canvas_sample() -> None:
    assert raw_is_near_empty(FABRIC_SAMPLE) is False
    tiny = {"objects": [{"type": "path", "path": [["M", 1, 1], ["Q", 1, 1, 2, 2], ["L", 3, 3]]}]}
    assert raw_is_near_empty(tiny) is True


# --- the app's drawing: the canvas JSON plus the same drawing's timed points --------------------------

TIMED_STROKES = [
    {"pointerType": "touch", "points": [
        {"x": 42.0, "y": 90.0, "time": 0.0, "pressure": 0.5, "tiltX": 0, "tiltY": 0},
        {"x": 50.0, "y": 80.0, "time": 16.0, "pressure": 0.5},
        {"x": 70.0, "y": 75.0, "time": 33.0},
        {"x": 102.0, "y": 72.0, "time": 49.0},
    ]},
    {"pointerType": "touch", "points": [
        {"x": 120.0, "y": 60.0, "time": 210.0}, {"x": 120.0, "y": 75.0, "time": 226.0},
        {"x": 120.0, "y": 90.0, "time": 226.0},  # the same ms twice: time may stand still
    ]},
]


def app_drawing(strokes: object = None) -> dict:
    return dict(FABRIC_SAMPLE, strokes=TIMED_STROKES if strokes is None else strokes)


def test_the_apps_drawing_gives_its_timed_points() -> None:
    strokes = parse_strokes(app_drawing())
    assert [len(s) for s in strokes] == [4, 3]
    assert strokes[0][1].tolist() == [50.0, 80.0, 16.0] and strokes[1][2].tolist() == [120.0, 90.0, 226.0]
    assert compute_metrics(strokes)["has_timing"] is True
    from_text = parse_strokes(json.dumps(app_drawing()))
    assert len(from_text) == 2 and all(np.array_equal(a, b) for a, b in zip(from_text, strokes))
    # A recorder that caught nothing leaves the canvas's strokes (without time).
    fallback = parse_strokes(app_drawing([]))
    assert len(fallback) == 2 and np.isnan(fallback[0][:, 2]).all()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (app_drawing([{"points": [{"x": 1, "y": 2, "time": 5}, {"x": 3, "y": 4, "time": 4}]}]),
         "raw: strokes[0].points[1].time goes backwards"),
        (app_drawing([{"points": [{"x": 0, "y": 0, "time": t}
                                  for t in (0, 1, 2, 3, 4, 3)]}] * 3),
         "raw: strokes[0].points[5].time goes backwards"),
        ({"strokes": [[[0, 0, 1], [1, 1, 2], [2, 2, 1]]]}, "raw: strokes[0][2][2] goes backwards"),
        ([{"points": [{"x": 0, "y": 0, "time": 9}, {"x": 1, "y": 1}, {"x": 2, "y": 2, "time": 8}]}],
         "raw: raw[0].points[2].time goes backwards"),  # a point without time does not hide it
        (app_drawing([{"points": [{"x": 0, "y": 0, "time": float("inf")}]}]),
         "raw: strokes[0].points[0].time is not finite"),
        (app_drawing([{"points": [{"x": 0, "y": 0, "time": 0, "pressure": float("nan")}]}]),
         "raw: strokes[0].points[0].pressure is not finite"),
        (app_drawing([{"points": [{"x": 0, "y": 0, "time": 0, "tiltX": "up"}]}]),
         "raw: strokes[0].points[0].tiltX is not a number"),
        (app_drawing([{"points": [{"x": 0, "y": 0, "time": 0, "tiltY": True}]}]),
         "raw: strokes[0].points[0].tiltY is not a number"),
        (dict(app_drawing(), objects=[{"type": "path", "path": [["M", 1, "2"]]}]),
         "raw: objects[0].path[0][2] is not a number"),  # the canvas part is checked too
        (dict(app_drawing(), objects={}), "raw: objects is not a list"),
        (app_drawing({"points": []}), "raw: strokes is not a list of strokes"),
    ],
)
def test_the_apps_drawing_is_checked_in_both_parts(raw: object, message: str) -> None:
    with pytest.raises(InvalidRawData) as info:
        parse_strokes(raw)
    assert str(info.value) == message


def test_pen_extras_are_accepted_and_time_may_be_epoch_ms() -> None:
    raw = [{"pointerType": "pen", "points": [
        {"x": 1, "y": 2, "time": 1_700_000_000_000, "pressure": 0.3, "tiltX": -12.5, "tiltY": 40},
        {"x": 3, "y": 4, "time": 1_700_000_000_008, "pressure": None},
    ]}]
    assert parse_strokes(raw)[0][:, 2].tolist() == [1_700_000_000_000, 1_700_000_000_008]


def test_the_limits_count_the_whole_document() -> None:
    half = MAX_POINTS // 2 + 1
    canvas = [{"type": "path", "path": [["M", 0, 0], *(["L", i % 50, i % 7] for i in range(half - 1))]}]
    timed = [{"points": [{"x": i % 50, "y": i % 7, "time": i} for i in range(half)]}]
    assert len(parse_strokes({"objects": canvas})[0]) == half  # each part alone is fine
    assert len(parse_strokes({"strokes": timed})[0]) == half
    with pytest.raises(InvalidRawData, match="too many points"):
        parse_strokes({"objects": canvas, "strokes": timed})
    dots = MAX_STROKES // 2 + 1
    canvas = [{"type": "path", "path": [["M", i, 0], ["L", i, 1]]} for i in range(dots)]
    timed = [{"points": [{"x": i, "y": 0, "time": i}]} for i in range(dots)]
    with pytest.raises(InvalidRawData, match="too many strokes"):
        parse_strokes({"objects": canvas, "strokes": timed})
    with pytest.raises(InvalidRawData, match="larger than 1000000 bytes"):
        parse_strokes(" " * 1_000_001)


timed_points = st.lists(
    st.fixed_dictionaries({"x": coordinate, "y": coordinate, "time": st.floats(0, 500) | st.integers(0, 500)},
                          optional={"pressure": st.floats(0, 1) | bad_element}),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(pencil_drawings(), st.lists(st.fixed_dictionaries({"points": timed_points}), max_size=3)
       | st.sampled_from([None, [], "x", [{"points": [{"x": 1}]}]]))
def test_fast_near_empty_check_agrees_with_parsing_on_the_apps_drawings(canvas: dict, timed: object) -> None:
    # With timed points beside the canvas, the save's check must still answer as parsing does.
    raw = dict(canvas, strokes=timed)
    expected = _outcome(lambda r: is_near_empty(parse_strokes(r)), raw)
    assert _outcome(raw_is_near_empty, raw) == expected
