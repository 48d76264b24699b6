"""The contract checks every embedding of tests.embedding.apps must pass (HTTP-CONTRACT
§20): each test module imports these tests and names its app and root.

Every URL an answer carries is followed exactly as given, so a prefix or mount path that
went missing from one fails here; every error must be problem+json, whoever raised it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from tests.embedding.conftest import Served
from tests.support.procs import wait_for

PROBLEM = "application/problem+json"
TERMINAL = {"completed", "failed", "cancelled"}


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=15) as c:
        yield c


def _problem(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM), resp.headers
    body: dict[str, object] = resp.json()
    assert body["status"] == status
    assert str(body["type"]).startswith("https://")
    assert body["title"] and body["detail"]
    assert resp.headers["x-content-type-options"] == "nosniff"
    return body


def _submit(client: httpx.Client, served: Served, path: str, body: object) -> httpx.Response:
    resp = client.post(served.api + path, json=body)
    assert resp.status_code == 202, resp.text
    return resp


def _until_terminal(client: httpx.Client, served: Served, poll_url: str) -> dict[str, object]:
    def check() -> dict[str, object] | None:
        job: dict[str, object] = client.get(poll_url).json()
        return job if job["status"] in TERMINAL else None

    return wait_for(check, timeout=60, what=f"{poll_url} to end", diagnostics=served.group.logs)


def test_submit_answers_urls_that_work_as_given(client: httpx.Client, served: Served) -> None:
    resp = _submit(client, served, "/echo", {"text": "hello"})
    job = resp.json()
    location = resp.headers["location"]
    assert location == f"{served.api}/jobs/{job['job_id']}"
    assert job["poll_url"] == location
    assert job["events_url"] == f"{location}/events"
    assert client.get(location).status_code == 200
    done = _until_terminal(client, served, job["poll_url"])
    assert done["status"] == "completed", done
    assert done["result_url"] == f"{location}/result"
    assert client.get(str(done["result_url"])).json() == {"echo": "hello"}
    polled = client.get(location)
    assert polled.headers["content-location"] == location
    link = polled.json()["result_link"]
    assert link.startswith(f"{served.api}/signed/jobs/")
    assert client.get(link).json() == {"echo": "hello"}


def test_event_stream_and_its_urls(client: httpx.Client, served: Served) -> None:
    job = _submit(client, served, "/echo", {"text": "sse"}).json()
    _until_terminal(client, served, job["poll_url"])
    with client.stream("GET", job["events_url"]) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        data = [line[5:].strip() for line in stream.iter_lines() if line.startswith("data:")]
    last = json.loads(data[-1])
    assert last["status"] == "completed"
    assert last["poll_url"] == job["poll_url"]


def test_file_result_with_range(client: httpx.Client, served: Served) -> None:
    job = _submit(client, served, "/lines", {"lines": 2000}).json()
    done = _until_terminal(client, served, job["poll_url"])
    assert done["status"] == "completed", done
    whole = client.get(str(done["result_url"]))
    assert whole.status_code == 200
    assert whole.text.splitlines()[-1] == "line 2000"
    part = client.get(str(done["result_url"]), headers={"Range": "bytes=0-6"})
    assert part.status_code == 206
    assert part.content == b"line 1\n"
    head = client.head(str(done["result_url"]))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(whole.content))


def test_list_and_cursor_urls(client: httpx.Client, served: Served) -> None:
    for text in ("a", "b", "c"):
        _submit(client, served, "/echo", {"text": text})
    page = client.get(f"{served.api}/jobs", params={"limit": 2})
    assert page.status_code == 200
    body = page.json()
    assert all(item["poll_url"].startswith(f"{served.api}/jobs/") for item in body["items"])
    assert body["next_cursor"]
    more = client.get(f"{served.api}/jobs", params={"limit": 2, "cursor": body["next_cursor"]})
    assert more.status_code == 200
    assert more.json()["items"]


def test_head_answers_like_get_without_a_body(client: httpx.Client, served: Served) -> None:
    job = _submit(client, served, "/echo", {"text": "head"}).json()
    _until_terminal(client, served, job["poll_url"])  # so GET and HEAD see one state
    get = client.get(job["poll_url"])
    head = client.head(job["poll_url"])
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    missing = client.head(f"{served.api}/jobs/no-such-job")
    assert missing.status_code == 404
    assert missing.content == b""
    assert missing.headers["content-type"].startswith(PROBLEM)


def test_problems_for_every_error(client: httpx.Client, served: Served) -> None:
    api = served.api
    _problem(client.get(f"{api}/jobs/no-such-job"), 404)
    _problem(client.post(f"{api}/echo", json={"text": ""}), 422)
    _problem(client.post(f"{api}/echo", json=["not", "an", "object"]), 422)
    _problem(client.post(f"{api}/jobs", json={"operation": "nope", "params": {}}), 422)
    _problem(client.post(f"{api}/echo", content=b"{not json", headers=_json()), 400)
    _problem(client.post(f"{api}/echo", content=b"text=a", headers=_form()), 415)
    _problem(client.post(f"{api}/echo", json={"text": "a"}, headers={"Idempotency-Key": ""}), 400)
    _problem(client.get(f"{api}/jobs", params={"limit": "many"}), 400)
    _problem(client.put(f"{api}/jobs/x"), 405)
    big = b'{"text": "' + b"x" * 2_000_000 + b'"}'
    _problem(client.post(f"{api}/echo", content=big, headers=_json()), 413)

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    _problem(client.post(f"{api}/echo", content=chunks(), headers=_json()), 413)


def test_conflicts_are_problems(client: httpx.Client, served: Served) -> None:
    held = _submit(client, served, "/hold", {}).json()
    wait_for(
        lambda: client.get(held["poll_url"]).json()["status"] == "processing",
        timeout=60,
        what="the hold job to start",
        diagnostics=served.group.logs,
    )
    body = _problem(client.get(held["result_url"] or f"{held['poll_url']}/result"), 409)
    assert body["job_status"] == "processing"
    _problem(client.delete(held["poll_url"]), 409)
    cancelled = client.post(f"{held['poll_url']}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.headers["location"] == held["poll_url"]
    done = _until_terminal(client, served, held["poll_url"])
    assert done["status"] == "cancelled"
    _problem(client.post(f"{held['poll_url']}/cancel"), 409)
    assert client.delete(held["poll_url"]).status_code == 204
    _problem(client.get(held["poll_url"]), 404)


def test_late_registration_gets_a_route(client: httpx.Client, served: Served) -> None:
    resp = _submit(client, served, "/late", {"text": "late"})
    done = _until_terminal(client, served, resp.json()["poll_url"])
    assert done["status"] == "completed", done
    assert client.get(str(done["result_url"])).json() == {"late": "late"}
    schema = client.get(served.openapi).json()
    # A mounted app's document lists its paths below its mount, which it names as server.
    mount = schema.get("servers", [{}])[0].get("url", "")
    api = served.api.removeprefix(mount)
    assert mount + api == served.api
    assert f"{api}/late" in schema["paths"]
    generic = schema["paths"][f"{api}/jobs"]["post"]
    body = generic["requestBody"]["content"]["application/json"]["schema"]
    assert "late" in body["properties"]["operation"]["enum"]


def test_operator_routes(client: httpx.Client, served: Served) -> None:
    assert client.get(f"{served.root}/healthz").json() == {"status": "ok"}
    assert client.get(f"{served.root}/readyz").json() == {"status": "ready"}
    metrics = client.get(f"{served.root}/metrics")
    assert metrics.status_code == 200
    assert "lro_jobs" in metrics.text
    page = client.get(f"{served.root}/dashboard", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.text
    assert f'content="{served.api}"' in html
    for asset in ("dashboard.css", "dashboard.js"):
        url = f"{served.root}/dashboard/static/{asset}"
        assert f'"{url}"' in html
        assert client.get(url).status_code == 200
    _problem(client.get(f"{served.root}/dashboard/static/nope.js"), 404)


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _form() -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded"}


__all__ = [
    "client",
    "test_conflicts_are_problems",
    "test_event_stream_and_its_urls",
    "test_file_result_with_range",
    "test_head_answers_like_get_without_a_body",
    "test_late_registration_gets_a_route",
    "test_list_and_cursor_urls",
    "test_operator_routes",
    "test_problems_for_every_error",
    "test_submit_answers_urls_that_work_as_given",
]
