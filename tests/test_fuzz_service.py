"""Fuzzed bad input to the core service (hypothesis): every request, a JSON body as a client sends it
(turned into the service's command by api.wire, as the API does), is refused with a typed
EnrollmentError, never another exception, and changes nothing: the row counts stay the same and the
session still accepts its next valid step."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from api.wire import save_drawing_command
from enrollment_core import validation
from enrollment_core.errors import EnrollmentError
from tests.flows import drawing_json

NEXT_STEP = 4  # the fuzzed session has steps 1-3; step 4 is next
FIELDS = ("username", "step", "type", "instruction", "signature", "raw", "metrics", "sessionId", "flowType")

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40)
)
junk = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


PNG = b"\x89PNG\r\n\x1a\n"
bad_signatures = st.one_of(
    junk.filter(lambda v: not isinstance(v, str) or not v.startswith("data:image/")),
    st.text(max_size=60).map(lambda t: "data:image/png;base64," + t + "!"),  # not base64
    st.binary(min_size=60, max_size=400)
    .filter(lambda b: not b.startswith(PNG))
    .map(
        lambda b: "data:image/png;base64," + _b64(b)  # base64, but not a PNG
    ),
    st.binary(max_size=40).map(lambda b: "data:image/png;base64," + _b64(PNG + b)),  # too small
    st.sampled_from(["gif", "svg+xml", "bmp"]).map(
        lambda k: f"data:image/{k};base64," + _b64(PNG + b"x" * 80)
    ),
    st.just("data:image/jpeg;base64," + _b64(PNG + b"x" * 80)),  # says jpeg, is png
    st.just("data:image/png;base64," + "A" * validation.SIGNATURE_MAX_CHARS),  # too large
)
# Raw data that can never be a drawing: scalars, text that is not JSON, empty or junk structures, and
# drawings too small to count (a tap).
bad_raw = st.one_of(
    json_scalars.filter(lambda v: v is not None and not isinstance(v, str)),
    st.text(max_size=30).filter(lambda t: t.strip()[:1] not in ("{", "[")).map(lambda t: t + "}{"),
    st.just(None),
    st.lists(junk, max_size=3),
    st.dictionaries(st.sampled_from(["objects", "strokes", "points", "x"]), junk, max_size=2),
    st.builds(
        lambda x, y: {"objects": [{"type": "path", "path": [["M", x, y], ["L", x + 1, y + 1]]}]},
        st.floats(0, 300),
        st.floats(0, 200),
    ),
    st.just({"objects": [{"type": "path", "path": "M 0 0 L 100 100"}]}),
    st.just({"objects": [{"type": "path", "path": [["M", float("nan"), 1], ["L", 1e300, 1]]}]}),
)


def bad_values_for(base: dict[str, Any]) -> dict[str, st.SearchStrategy[Any]]:
    """For each field, values that make `base` (a valid payload) invalid."""
    other_users = ["someone_else"] if "sessionId" in base else []  # valid name, not the session's
    return {
        "username": st.one_of(
            junk.filter(lambda v: not isinstance(v, str)),
            st.text(max_size=2),
            st.text(min_size=33, max_size=60),
            st.sampled_from(["admin", "Root", "john doe", "_x_y", "bad/name", *other_users]),
        ),
        "step": st.one_of(
            st.integers(1, 11).filter(lambda v: v != base["step"]),  # in the plan, but not the next one
            junk.filter(lambda v: not isinstance(v, int) or isinstance(v, bool) or v != base["step"]),
        ),
        "type": st.one_of(
            st.sampled_from([t for t in ("signature", "shape", "drawing") if t != base["type"]]),
            junk.filter(lambda v: v != base["type"]),
        ),
        "instruction": st.one_of(
            junk.filter(lambda v: v is not None and not isinstance(v, str)),
            st.text(
                min_size=validation.INSTRUCTION_MAX_CHARS + 1, max_size=validation.INSTRUCTION_MAX_CHARS + 50
            ),
        ),
        "signature": bad_signatures,
        "raw": bad_raw,
        "metrics": st.one_of(
            junk.filter(lambda v: v is not None and not isinstance(v, dict)),
            st.just({"nan": float("nan")}),
            st.just({"big": "x" * validation.METRICS_MAX_BYTES}),
            st.just({"not_json": object()}),
        ),
        "sessionId": st.one_of(
            junk.filter(lambda v: v is not None),
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=32, max_size=64).map(
                lambda t: "sess_" + t  # well-formed but unknown
            ),
        ),
        "flowType": junk.filter(lambda v: v not in (None, base["flowType"])),
    }


@st.composite
def bad_payloads(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """A valid next-step payload with one or two fields made bad (or removed when required), or a
    body that is not an object at all."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.one_of(st.lists(junk, max_size=3), st.text(max_size=20), st.integers(), st.none()))
    payload = dict(base)
    bad_values = bad_values_for(base)
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2, unique=True)):
        if field in ("username", "signature", "type", "step") and draw(st.booleans()):
            payload.pop(field)  # a required field missing
        else:
            payload[field] = draw(bad_values[field])
    return payload


def _save(service, body: Any):
    return service.save_drawing(save_drawing_command(body))


def _counts(db) -> tuple[int, int]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM temp_enrollments) AS sessions,"
        " (SELECT count(*) FROM temp_enrollment_steps) AS steps"
    ).fetchone()
    return row["sessions"], row["steps"]


@pytest.fixture
def open_session(service) -> tuple[str, dict[str, Any]]:
    """A signup session with steps 1-3 saved, and the valid payload of its next step."""
    session_id = _save(service, drawing_json("fuzzed_user", 1)).session_id
    for n in (2, 3):
        _save(service, drawing_json("fuzzed_user", n, session_id=session_id))
    return session_id, drawing_json("fuzzed_user", NEXT_STEP, session_id=session_id)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # no example database in the work tree; failures print their reproducing example
)


@FUZZ
@given(data=st.data())
def test_bad_steps_of_an_open_session_are_refused_and_change_nothing(service, db, open_session, data):
    session_id, valid = open_session
    before = _counts(db)
    payload = data.draw(bad_payloads(valid))
    with pytest.raises(EnrollmentError) as refused:
        _save(service, payload)
    assert refused.value.code and refused.value.message  # typed, with a reason the client can show
    event(f"{refused.value.code} ({refused.value.field})")  # --hypothesis-show-statistics: what was hit
    assert _counts(db) == before
    assert service.get_progress(session_id).next_step == NEXT_STEP


@FUZZ
@given(data=st.data())
def test_bad_first_steps_start_no_session(service, db, data):
    valid = drawing_json("fuzzed_first", 1)
    payload = data.draw(bad_payloads(valid))
    before = _counts(db)
    with pytest.raises(EnrollmentError) as refused:
        _save(service, payload)
    event(f"{refused.value.code} ({refused.value.field})")
    assert _counts(db) == before


def test_after_the_fuzzing_the_session_accepts_its_next_step(service, db, open_session):
    """The fixture's session, refused many times, still takes the real step 4 (the hypothesis tests
    above check the same after each example; this is the explicit end-to-end form)."""
    session_id, valid = open_session
    for bad in ({**valid, "signature": "data:image/png;base64,AAAA"}, {**valid, "step": 7}, [valid]):
        with pytest.raises(EnrollmentError):
            _save(service, bad)
    result = _save(service, valid)
    assert (result.progress.completed_steps, result.duplicate) == (NEXT_STEP, False)
