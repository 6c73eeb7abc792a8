"""A sign-in drawing sent again in a new sign-in session is refused as a replay (issue 13, part 3):
each attempt's fingerprint is kept in PostgreSQL, and a new attempt that repeats one of the user's
recent attempts point for point and time for time is rejected, whatever its score. Real timed
signatures (SVC2004 Task 1) drawn through the service as the pad sends them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from enrollment_core.config import Settings
from enrollment_core.database import create_pool
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.service import EnrollmentService
from enrollment_core.verification import svc2004
from tests.flows import pad_raw, signup_with_signatures

DATASET = svc2004.DEFAULT_DATASET
pytestmark = pytest.mark.skipif(
    not (DATASET / "training").is_dir(), reason=f"SVC2004 Task 1 not found at {DATASET}"
)
USER = 5  # a signer whose second-session signatures are all accepted (a rejection is not what is tested)


def enrol(service: EnrollmentService, username: str, genuine: dict[int, list[np.ndarray]]) -> None:
    """A signup whose 5 signature steps carry the user's first 5 timed signatures."""
    service.register(
        username, signup_with_signatures(username, genuine, lambda c: service.save_drawing(c).session_id)
    )


def sign_in(service: EnrollmentService, username: str, strokes: list[np.ndarray]) -> Any:
    command = replace(sample_drawing(username, 1, flow_type="signin"), raw=pad_raw(strokes), metrics=None)
    return service.login(username, service.save_drawing(command).session_id)


@pytest.fixture(scope="module")
def genuine() -> dict[int, list[np.ndarray]]:
    return svc2004.load_user(DATASET, USER)


def test_the_same_sign_in_sent_again_is_a_replay(service, db, genuine) -> None:
    enrol(service, "replayed", genuine)
    first = sign_in(service, "replayed", genuine[12])
    assert first.accepted and first.reason_code == "match"
    again = sign_in(service, "replayed", genuine[12])  # the same drawing, in a new sign-in session
    assert not again.accepted and again.reason_code == "replay"
    # The person's next real signature is a new drawing, not a replay.
    assert sign_in(service, "replayed", genuine[13]).accepted
    rows = db.execute("SELECT reason_code, method, octet_length(fingerprint) AS n FROM login_attempts"
                      " ORDER BY id").fetchall()
    assert [(r["reason_code"], r["method"]) for r in rows] == [
        ("match", "timed"), ("replay", "timed"), ("match", "timed")
    ]  # fmt: skip
    assert all(r["n"] and r["n"] <= 1024 for r in rows)


def test_a_rejected_attempt_cannot_be_replayed_either_and_the_window_is_bounded(db_url, db, genuine) -> None:
    settings = Settings(database_url=db_url, signin_replay_window=2, login_max_failures=100)
    with create_pool(db_url, settings) as pool:
        service = EnrollmentService(pool, settings)
        enrol(service, "windowed", genuine)
        assert sign_in(service, "windowed", genuine[14]).accepted
        assert sign_in(service, "windowed", genuine[14]).reason_code == "replay"
        for sample in (15, 16):  # two newer attempts push the first out of a window of 2
            assert sign_in(service, "windowed", genuine[sample]).accepted
        assert sign_in(service, "windowed", genuine[14]).reason_code == "match"  # outside the window
