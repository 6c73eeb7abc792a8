"""Sign-in that a lying client cannot fool (issue 23), through the real HTTP API (uvicorn) on a real
PostgreSQL: a timed account refuses an untimed drawing with its own reason, a re-sampled copy of an
enrolled drawing is refused as a replay, a genuine signature is accepted; and the service keeps each
account's verification profile in PostgreSQL (built at registration, rebuilt when missing or of another
version) and each attempt's reduced path and deciding check. Real timed signatures (SVC2004 Task 1) as
the pad sends them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import numpy as np
import psycopg
import pytest

from api.main import create_app
from api.wire import save_drawing_json
from bench.api_server import serve
from enrollment_core.commands import SaveDrawing
from enrollment_core.config import Settings
from enrollment_core.database import create_pool
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import EnrollmentService
from enrollment_core.verification import PROFILE_VERSION, Profile, evaluate, svc2004
from enrollment_core.verification.copies import PATH_BYTES
from tests.flows import pad_raw, signup_with_signatures

DATASET = svc2004.DEFAULT_DATASET
pytestmark = pytest.mark.skipif(
    not (DATASET / "training").is_dir(), reason=f"SVC2004 Task 1 not found at {DATASET}"
)
USER = 5  # a signer whose second-session signatures are accepted (a rejection is not what is tested)


@pytest.fixture(scope="module")
def genuine() -> dict[int, list[np.ndarray]]:
    return svc2004.load_user(DATASET, USER)


def enrol_over_http(http: httpx.Client, username: str, genuine: dict[int, list[np.ndarray]]) -> None:
    """A signup whose 5 signature steps carry the user's first 5 timed signatures, then /register."""

    def save(command: SaveDrawing) -> str:
        answer = http.post("/api/save-drawing", json=save_drawing_json(command))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["sessionId"])

    session_id = signup_with_signatures(username, genuine, save)
    body = {"username": username, "sessionId": session_id, "useTemporaryData": True}
    answer = http.post("/register", json=body)
    assert answer.status_code == 201, answer.text


def sign_in_over_http(http: httpx.Client, username: str, raw: Any) -> dict[str, Any]:
    command = replace(sample_drawing(username, 1, flow_type="signin"), raw=raw, metrics=None)
    answer = http.post("/api/save-drawing", json=save_drawing_json(command))
    assert answer.status_code == 200, answer.text
    body = {"username": username, "sessionId": answer.json()["sessionId"], "useTemporaryData": True}
    verdict = http.post("/login", json=body)
    answer_body = verdict.json()
    if verdict.status_code == 401:  # a refused signature: the verdict comes with the error
        assert answer_body["error"]["code"] == "signature_rejected", answer_body
        assert answer_body["error"]["message"] == answer_body["login"]["reason"]
        result: dict[str, Any] = answer_body["login"]
        return result
    assert verdict.status_code == 200, verdict.text
    result = answer_body
    return result


def untimed_raw(strokes: list[np.ndarray]) -> dict[str, Any]:
    """The same drawing as the pad's points without their times ({"strokes": [[[x, y], ...], ...]})."""
    timed = pad_raw(strokes)["strokes"]
    return {"strokes": [[[p["x"], p["y"]] for p in s["points"]] for s in timed]}


def test_through_the_api_untimed_and_copies_are_refused_and_the_owner_gets_in(db_url: str, db,
                                                                              genuine) -> None:
    settings = Settings(database_url=db_url, pool_min_size=1, pool_max_size=4, login_max_failures=5)
    rng = np.random.default_rng(23)
    with (create_pool(db_url, settings, name="lying") as pool,
          serve(create_app(EnrollmentService(pool, settings))) as url,
          httpx.Client(base_url=url, timeout=60) as http):
        enrol_over_http(http, "honest_owner", genuine)

        owner = sign_in_over_http(http, "honest_owner", pad_raw(genuine[12]))
        assert (owner["accepted"], owner["reasonCode"]) == (True, "match"), owner

        # A forger (or a client) that drops the times: refused, not judged by the weaker shape method.
        untimed = sign_in_over_http(http, "honest_owner", untimed_raw(genuine[13]))
        assert (untimed["accepted"], untimed["reasonCode"]) == (False, "untimed"), untimed
        assert "timing" in untimed["reason"] and untimed["failuresLeft"] == 4  # it counts as a failure

        # A copy of an enrolled drawing (shown to staff, stolen): 1.3x the points, times x1.1, jitter.
        copy = evaluate.perturbed_copy(genuine[2], rng, "resampled")
        copy = evaluate.scale_time(evaluate.with_noise(copy, rng, 2.0), 1.1)
        replayed = sign_in_over_http(http, "honest_owner", pad_raw(copy))
        assert (replayed["accepted"], replayed["reasonCode"]) == (False, "replay"), replayed
        assert replayed["failuresLeft"] == 3

        # A copy of the owner's accepted sign-in, perturbed: caught against the stored attempt.
        copy = evaluate.perturbed_copy(genuine[12], rng, "all")
        again = sign_in_over_http(http, "honest_owner", pad_raw(copy))
        assert (again["accepted"], again["reasonCode"]) == (False, "replay"), again

        # The owner signs again: accepted, and the address's failures are cleared.
        back = sign_in_over_http(http, "honest_owner", pad_raw(genuine[14]))
        assert (back["accepted"], back["reasonCode"], back["failuresLeft"]) == (True, "match", 5), back

    rows = db.execute(
        "SELECT a.reason_code, a.decided_by, a.method, octet_length(a.drawing_path) AS n"
        " FROM login_attempts a JOIN users u ON u.id = a.user_id WHERE u.username = 'honest_owner'"
        " ORDER BY a.id"
    ).fetchall()
    assert [(r["reason_code"], r["decided_by"]) for r in rows] == [
        ("match", "match"), ("untimed", "untimed"), ("replay", "copy_enrolled"), ("replay", "copy_recent"),
        ("match", "match"),
    ]  # fmt: skip
    assert {r["method"] for r in rows} == {"timed"} and all(r["n"] == PATH_BYTES for r in rows)


def _profile_row(db: psycopg.Connection, username: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = db.execute(
        "SELECT p.version, p.profile, p.built_at FROM user_verification_profiles p"
        " JOIN users u ON u.id = p.user_id WHERE u.username = %s", (username,),
    ).fetchone()
    return row


def test_the_profile_is_stored_at_registration_and_rebuilt_when_stale(service: EnrollmentService, db,
                                                                       genuine) -> None:
    from tests.test_signin_replay import enrol, sign_in

    enrol(service, "profiled", genuine)
    stored = _profile_row(db, "profiled")
    assert stored is not None and stored["version"] == PROFILE_VERSION
    profile = Profile.from_bytes(stored["profile"])
    assert profile.timed is not None and len(profile.durations) == 5 and len(profile.paths) == 5
    assert sign_in(service, "profiled", genuine[12]).accepted
    assert _profile_row(db, "profiled")["built_at"] == stored["built_at"]  # read, not rebuilt

    # A profile of an older format, a damaged one, or none (an account from before 0013): rebuilt
    # from the enrolled drawings by the next sign-in, stored, and the verdict is the same.
    for sample, damage in ((13, "UPDATE user_verification_profiles SET version = 3"),
                           (14, "UPDATE user_verification_profiles SET profile = '\\x00'::bytea"),
                           (15, "DELETE FROM user_verification_profiles")):
        db.execute(damage)
        assert sign_in(service, "profiled", genuine[sample]).accepted
        rebuilt = _profile_row(db, "profiled")
        assert rebuilt is not None and rebuilt["version"] == PROFILE_VERSION
        assert Profile.from_bytes(rebuilt["profile"]).durations == profile.durations
