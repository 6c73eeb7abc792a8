"""The checked-in OpenAPI document (api/openapi.json) is the one the app serves."""

from __future__ import annotations

import json

from api.export_openapi import OPENAPI_PATH, generate, render
from api.main import create_app
from bench.api_server import serve


def test_checked_in_openapi_document_is_up_to_date() -> None:
    checked_in = OPENAPI_PATH.read_text(encoding="utf-8")
    assert checked_in == render(generate()), (
        "api/openapi.json is out of date: run python -m api.export_openapi"
    )


def test_served_openapi_document_is_the_checked_in_one(service) -> None:
    import httpx

    with serve(create_app(service)) as url:
        served = httpx.get(f"{url}/openapi.json", timeout=60)
        docs = httpx.get(f"{url}/docs", timeout=60)
    assert served.json() == json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_every_operation_documents_its_error_statuses() -> None:
    document = generate()
    expected = {
        ("post", "/api/check-username"): {"200", "400", "413", "415", "422", "429", "503"},
        ("post", "/api/check-user-exists"): {"200", "400", "413", "415", "422", "429", "503"},
        ("post", "/api/save-drawing"): {"200", "400", "404", "409", "410", "413", "415", "422", "429", "503"},
        ("get", "/api/progress/{sessionId}"): {"200", "404", "410", "413", "422", "503"},
        ("post", "/register"): {"201", "400", "404", "409", "410", "413", "415", "422", "503"},
        ("post", "/login"): {
            "200", "400", "401", "404", "409", "410", "413", "415", "422", "423", "429", "503"
        },  # fmt: skip
        ("get", "/healthz"): {"200"},
        ("get", "/readyz"): {"200", "503"},
    }
    found = {
        (method, path): set(operation["responses"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert found == expected
    for (method, path), statuses in found.items():
        for status in statuses - {"200", "201"}:
            schema = document["paths"][path][method]["responses"][status]["content"]["application/json"][
                "schema"
            ]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
