"""The save's contract: every outcome save_enrollment_step can return is a SaveOutcome, and every
refusal maps to a typed error (so a new outcome in SQL cannot reach a client as a 500)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from enrollment_core.errors import EnrollmentError
from enrollment_core.queries import sql_dir
from enrollment_core.sample_drawings import sample_drawing
from enrollment_core.save_outcome import ACCEPTED, REFUSALS, SaveOutcome, refusal
from enrollment_core.validation import parse_drawing_step


def _function_body(sql: str, name: str) -> str:
    start = sql.index(f"CREATE FUNCTION {name}(")
    return sql[start : sql.index("$$;", start)]


def outcomes_in_sql() -> set[str]:
    """Every value the function assigns to its `outcome` column, in the current schema."""
    body = _function_body((sql_dir() / "schema.sql").read_text(encoding="utf-8"), "save_enrollment_step")
    assignments = re.findall(r"outcome\s*:=\s*(CASE.*?END|'\w+')", body, flags=re.DOTALL)
    return {word for a in assignments for word in re.findall(r"'(\w+)'", a)}


def test_every_outcome_of_the_sql_is_known_and_mapped() -> None:
    in_sql = outcomes_in_sql()
    assert len(in_sql) >= 12
    assert in_sql == {o.value for o in SaveOutcome}
    assert set(REFUSALS) | ACCEPTED == set(SaveOutcome) and not set(REFUSALS) & ACCEPTED


def test_each_refusal_is_a_typed_error_with_a_field() -> None:
    drawing = parse_drawing_step(sample_drawing("ada", 2, session_id="sess_" + "a" * 32))
    row = {"flow_type": "signin", "expected_step": 5, "locked_until": datetime.now(UTC)}
    for outcome in REFUSALS:
        error = refusal(drawing, {**row, "outcome": outcome.value})
        assert isinstance(error, EnrollmentError) and error.code and error.message and error.field
