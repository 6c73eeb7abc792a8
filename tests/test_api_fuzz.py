"""Property-based fuzzing of every operation of the checked-in OpenAPI document (schemathesis), sent to a
real uvicorn server on a real PostgreSQL: no server error, and every answer (status, content type,
body) conforms to the document.

Deterministic for CI: Hypothesis is derandomized and keeps no example database, so every run sends
the same cases. The number of cases per operation is printed at the end and written to
artifacts/api-fuzz-summary.json.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.export_openapi import OPENAPI_PATH
from api.main import create_app
from api.schemas import SAVE_DRAWING_EXAMPLE
from bench.api_server import serve
from enrollment_core.config import RateLimitSettings, Settings
from enrollment_core.database import create_pool
from enrollment_core.service import EnrollmentService
from tests.conftest import create_test_database, drop_test_database

MAX_EXAMPLES = 80  # per operation and generation phase; enough to find the bugs it found, CI-sized
# Every fuzz test: the same examples each run (derandomized, no example database), no time limit.
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
SUMMARY_PATH = Path(__file__).resolve().parent.parent / "artifacts" / "api-fuzz-summary.json"

# Schema-violating data must be refused with a client error. 413 is one here: a field over its documented
# maxLength (instruction, signature) is answered payload_too_large, as documented.
# Schema-valid data may still be refused: JSON Schema cannot say "a real PNG", "the next step of this
# session" or "a drawing, not a dot", which the service checks (422, documented), nor know which
# sessions exist (404/410). A 5xx is never acceptable in either list (not_a_server_error also checks).
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": [400, 404, 405, 406, 409, 413, 415, 422]},
            "positive_data_acceptance": {"expected-statuses": ["2xx", 401, 404, 409, 410, 422, 423]},
        }
    }
)
schema = schemathesis.openapi.from_path(OPENAPI_PATH, config=CONFIG)

cases_sent: Counter[str] = Counter()
statuses_seen: defaultdict[str, Counter[int]] = defaultdict(Counter)


@pytest.fixture(scope="module")
def fuzz_api(server_url: str, template_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """One server and one database for all the fuzzing (fuzzing does not need isolation per case)."""
    name, url = create_test_database(server_url, template_url)
    # No rate limits: fuzzing sends thousands of requests from one address (limits: test_abuse_api.py).
    config = Settings(database_url=url, pool_min_size=1, pool_max_size=8, rate_limits=RateLimitSettings.off())
    pool = create_pool(url, config, name="fuzz")
    try:
        with serve(create_app(EnrollmentService(pool, config))) as base_url:
            yield base_url
    finally:
        pool.close()
        drop_test_database(server_url, name)
        _report(request)


def _report(request: pytest.FixtureRequest) -> None:
    summary = {
        "total_cases": sum(cases_sent.values()),
        "operations": {
            op: {"cases": cases_sent[op], "statuses": dict(sorted(statuses_seen[op].items()))}
            for op in sorted(cases_sent)
        },
    }
    SUMMARY_PATH.parent.mkdir(exist_ok=True)
    SUMMARY_PATH.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nAPI fuzzing: {summary['total_cases']} cases")
        for op, data in summary["operations"].items():
            reporter.write_line(f"  {op}: {data['cases']} cases, statuses {data['statuses']}")


@schema.parametrize()
@FUZZ
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case, fuzz_api: str) -> None:
    operation = f"{case.method.upper()} {case.path}"
    response = case.call_and_validate(base_url=fuzz_api, timeout=60)
    cases_sent[operation] += 1
    statuses_seen[operation][response.status_code] += 1


# Schemathesis generates text without NUL or unpaired surrogates often enough to miss them; these are
# exactly what PostgreSQL cannot store, so they get their own property: any text in any free-text or
# JSON field of an otherwise valid drawing is either saved or refused with a 4xx, never a 5xx.
awkward_text = st.text(alphabet=st.characters(codec=None, categories=None), max_size=20) | st.sampled_from(
    ["\x00", "a\x00b", "\ud800", "x\udfffy", "\u2028", "\ufeff", "\U0001f58a"]
)


@given(
    instruction=awkward_text,
    metric_key=awkward_text,
    metric_value=awkward_text,
    raw_note=awkward_text,
    raw_as_text=st.booleans(),
    username=awkward_text,
)
@FUZZ
def test_any_text_in_a_valid_drawing_is_stored_or_refused_never_a_server_error(
    fuzz_api: str,
    instruction: str,
    metric_key: str,
    metric_value: str,
    raw_note: str,
    raw_as_text: bool,
    username: str,
) -> None:
    raw = {**SAVE_DRAWING_EXAMPLE["raw"], "note": raw_note}
    body = {
        **SAVE_DRAWING_EXAMPLE,
        "username": "text_fuzzer",
        "instruction": instruction,
        "metrics": {metric_key: metric_value},
        "raw": json.dumps(raw) if raw_as_text else raw,  # some clients send the strokes as JSON text
    }
    # json.dumps escapes unpaired surrogates as \udXXX, as a JavaScript client's JSON.stringify does.
    json_headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=fuzz_api, timeout=60, headers=json_headers) as http:
        saved = http.post("/api/save-drawing", content=json.dumps(body))
        checked = http.post("/api/check-username", content=json.dumps({"username": username}))
    cases_sent["property: awkward text"] += 2
    for answer in (saved, checked):
        statuses_seen["property: awkward text"][answer.status_code] += 1
        assert answer.status_code in (200, 409, 422), answer.text
        assert answer.json()  # always a JSON body
    if saved.status_code == 422:
        assert saved.json()["error"]["field"] in ("instruction", "metrics", "raw"), saved.text


# Every number a client sends, over the whole int64 range and beyond: the step (an INTEGER column),
# metric values and stroke coordinates (JSON). Each is stored or refused with a 4xx naming the field,
# never a 500 (2**31 as a step used to be NumericValueOutOfRange).
BOUNDARIES = [0, 1, 11, 12, 100, 2**31 - 1, 2**31, 2**32, 2**40, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30]
any_integer = st.sampled_from(BOUNDARIES + [-b for b in BOUNDARIES]) | st.integers(-(2**70), 2**70)


@given(step=any_integer, metric=any_integer, coordinate=any_integer)
@FUZZ
def test_any_integer_in_a_drawing_is_stored_or_refused_naming_its_field(
    fuzz_api: str, step: int, metric: int, coordinate: int
) -> None:
    stroke = [list(point) for point in SAVE_DRAWING_EXAMPLE["raw"]["strokes"][0]]
    stroke[3] = [coordinate, coordinate]
    first = {**SAVE_DRAWING_EXAMPLE, "username": "number_fuzzer"}
    with httpx.Client(base_url=fuzz_api, timeout=60) as http:  # a session to continue (a retry after 1)
        session_id = http.post("/api/save-drawing", json=first).json()["sessionId"]
    bodies = [
        ("step", {**first, "step": step}),
        ("step", {**first, "step": step, "sessionId": session_id}),  # continuing: reaches the database
        ("metrics", {**first, "metrics": {"n": metric}}),
        ("raw", {**first, "raw": {"strokes": [stroke]}}),
    ]
    with httpx.Client(base_url=fuzz_api, timeout=60) as http:
        for field, body in bodies:
            answer = http.post("/api/save-drawing", json=body)
            cases_sent["property: any integer"] += 1
            statuses_seen["property: any integer"][answer.status_code] += 1
            assert answer.status_code in (200, 409, 413, 422), answer.text
            if answer.status_code == 422:  # a step in range may still not be a signature's step: type
                named = ("step", "type") if field == "step" else (field,)
                assert answer.json()["error"]["field"] in named, answer.text
