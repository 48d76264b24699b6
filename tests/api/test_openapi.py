"""The OpenAPI document tells the truth (HTTP-CONTRACT §10): every route, its parameters,
statuses and media types, with problem+json for errors and each operation's params model
as its submit body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

PREFIX = "/api/v1"
PROBLEM = "application/problem+json"


@pytest.fixture
async def doc(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def op(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    result: dict[str, Any] = doc["paths"][path][method]
    return result


def test_every_route_is_documented(doc: dict[str, Any]) -> None:
    expected = {
        f"{PREFIX}/jobs": {"get", "post"},
        f"{PREFIX}/echo": {"post"},
        f"{PREFIX}/ship": {"post"},
        f"{PREFIX}/jobs/{{job_id}}": {"get", "delete"},
        f"{PREFIX}/jobs/{{job_id}}/result": {"get"},
        f"{PREFIX}/jobs/{{job_id}}/cancel": {"post"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    for path, methods in expected.items():
        assert set(doc["paths"][path]) == methods, path


def test_errors_are_problem_json_and_no_fake_422(doc: dict[str, Any]) -> None:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if status == "default" or int(status) >= 400:
                    assert set(response["content"]) == {PROBLEM}, (path, method, status)
            if not path.startswith(PREFIX):
                continue
            # FastAPI's stock 422 (HTTPValidationError, application/json) is never sent.
            # A job's cancel and retry take no body; a bulk action's filter body may be
            # invalid (422).
            if "422" in operation["responses"]:
                # Only routes that read a body answer 422 (PATCH of a schedule, §16).
                assert method in ("post", "patch"), path
                assert not path.endswith(("}/cancel", "}/retry")), path
    assert "HTTPValidationError" not in doc.get("components", {}).get("schemas", {})


def test_statuses_per_route(doc: dict[str, Any]) -> None:
    def statuses(path: str, method: str) -> set[str]:
        return set(op(doc, path, method)["responses"]) - {"default"}

    assert statuses(f"{PREFIX}/echo", "post") == {
        "200",
        "202",
        "400",
        "409",
        "413",
        "415",
        "422",
        "503",
    }
    assert statuses(f"{PREFIX}/jobs/{{job_id}}", "get") == {
        "200",
        "304",
        "400",
        "404",
        "410",
        "503",
    }
    assert {"200", "206", "409", "410", "416"} <= statuses(
        f"{PREFIX}/jobs/{{job_id}}/result", "get"
    )
    assert statuses(f"{PREFIX}/jobs/{{job_id}}", "delete") == {"204", "404", "409", "410", "503"}
    assert "202" in statuses(f"{PREFIX}/jobs/{{job_id}}/cancel", "post")
    assert statuses(f"{PREFIX}/jobs", "get") == {"200", "400", "501", "503"}
    assert "503" in statuses("/readyz", "get")
    assert "Location" in op(doc, f"{PREFIX}/echo", "post")["responses"]["202"]["headers"]


def test_parameters(doc: dict[str, Any]) -> None:
    def params(path: str, method: str) -> dict[str, str]:
        return {p["name"]: p["in"] for p in op(doc, path, method).get("parameters", [])}

    assert params(f"{PREFIX}/jobs/{{job_id}}", "get") == {
        "job_id": "path",
        "wait": "query",
        "If-None-Match": "header",
    }
    assert params(f"{PREFIX}/jobs", "get") == {
        "status": "query",
        "operation": "query",
        "limit": "query",
        "cursor": "query",
        "tag": "query",
        "created_after": "query",
        "created_before": "query",
        "q": "query",
    }
    assert params(f"{PREFIX}/echo", "post") == {"Idempotency-Key": "header", "Prefer": "header"}
    assert params(f"{PREFIX}/jobs/{{job_id}}/result", "get")["Range"] == "header"


def test_submit_bodies_show_the_params_model(doc: dict[str, Any]) -> None:
    echo = op(doc, f"{PREFIX}/echo", "post")["requestBody"]["content"]["application/json"]
    props = echo["schema"]["properties"]
    assert {"text", "count", "callback_url", "priority"} <= set(props)
    assert echo["schema"]["required"] == ["text"]
    assert props["count"]["maximum"] == 10
    # A nested model is inlined, so no reference can dangle.
    ship = op(doc, f"{PREFIX}/ship", "post")["requestBody"]["content"]["application/json"]
    assert ship["schema"]["properties"]["to"]["properties"]["city"]["type"] == "string"
    assert "$ref" not in str(ship)
    generic = op(doc, f"{PREFIX}/jobs", "post")["requestBody"]["content"]["application/json"]
    assert {"operation", "params", "delay_seconds"} <= set(generic["schema"]["properties"])


def test_job_resource_schema_matches_the_renderer(doc: dict[str, Any]) -> None:
    ref = op(doc, f"{PREFIX}/jobs/{{job_id}}", "get")["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    from lro.api.schemas import JobResource

    assert set(schema["properties"]) == set(JobResource.model_fields)
