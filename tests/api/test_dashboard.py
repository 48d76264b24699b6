"""The dashboard's routes over plain HTTP (the browser tests are in tests/browser): the
shell's auth answers, its headers, and static checks that the shipped page and scripts
cannot run inline code or turn job text into markup."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from tests.api.helpers import make_lro

from lro import LRO
from lro.api.dashboard.routes import STATIC
from lro.submission import SubmitRequest, submit_jobs

KEYS = {"alice": "alice-key-0123456789", "admin": "admin-key-0123"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SCRIPTS = sorted(p.name for p in STATIC.glob("*.js"))


async def client_for(lro: LRO) -> AsyncIterator[httpx.AsyncClient]:
    await lro.start()
    try:
        transport = httpx.ASGITransport(app=lro.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await lro.stop()


@pytest.fixture
async def open_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Auth off."""
    async for client in client_for(make_lro(tmp_path)):
        yield client


@pytest.fixture
async def keyed_lro(tmp_path: Path) -> LRO:
    return make_lro(tmp_path, api_keys=",".join(f"{p}:{k}" for p, k in KEYS.items()))


@pytest.fixture
async def keyed_client(keyed_lro: LRO) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(keyed_lro):
        yield client


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS.get(who, 'not-a-key')}"}


def assert_page_headers(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


# -- the shell: auth and headers -------------------------------------------------------------
async def test_auth_off_serves_the_shell_with_strict_headers(
    open_client: httpx.AsyncClient,
) -> None:
    r = await open_client.get("/dashboard", headers={"Accept": BROWSER_ACCEPT})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    assert_page_headers(r)
    assert '<meta name="lro-api-prefix" content="/api/v1">' in r.text


@pytest.mark.parametrize("who", ["alice", "admin"])
async def test_a_valid_key_gets_the_shell(keyed_client: httpx.AsyncClient, who: str) -> None:
    r = await keyed_client.get("/dashboard", headers={"Accept": BROWSER_ACCEPT, **bearer(who)})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert_page_headers(r)


@pytest.mark.parametrize("key", [None, "wrong"])
async def test_a_browser_without_a_valid_key_gets_401_and_the_sign_in_shell(
    keyed_client: httpx.AsyncClient, key: str | None
) -> None:
    headers = {"Accept": BROWSER_ACCEPT, **(bearer(key) if key else {})}
    r = await keyed_client.get("/dashboard", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="lro"'
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert_page_headers(r)
    ok = await keyed_client.get("/dashboard", headers={"Accept": BROWSER_ACCEPT, **bearer("alice")})
    assert r.text == ok.text  # the very same shell: it has nothing to hide
    assert 'id="sign-in-form"' in r.text


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "text/html;q=0, */*"])
async def test_other_clients_get_a_401_problem(
    keyed_client: httpx.AsyncClient, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    r = await keyed_client.get("/dashboard", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="lro"'
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 401 and problem["instance"] == "/dashboard"
    assert problem["type"].endswith("/unauthorized") and problem["detail"]


async def test_the_shell_carries_no_data(keyed_lro: LRO, keyed_client: httpx.AsyncClient) -> None:
    [inserted] = await submit_jobs(
        keyed_lro, [SubmitRequest(operation="echo", params={"text": "secret"}, owner="alice")]
    )
    r = await keyed_client.get("/dashboard", headers=bearer("admin"))
    assert r.status_code == 200
    for data in (inserted.job.id, "secret", "alice", KEYS["alice"], KEYS["admin"]):
        assert data not in r.text


async def test_the_api_prefix_setting_reaches_the_page(tmp_path: Path) -> None:
    async for client in client_for(make_lro(tmp_path, api_prefix="/jobs-api")):
        r = await client.get("/dashboard")
        assert '<meta name="lro-api-prefix" content="/jobs-api">' in r.text


async def test_the_dashboard_is_not_part_of_the_api_document(
    keyed_client: httpx.AsyncClient,
) -> None:
    paths = (await keyed_client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/dashboard")]


# -- static files --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "media_type"),
    [(name, "text/javascript; charset=utf-8") for name in SCRIPTS]
    + [("dashboard.css", "text/css; charset=utf-8")],
)
async def test_static_files_are_public_with_their_types_and_headers(
    keyed_client: httpx.AsyncClient, name: str, media_type: str
) -> None:
    r = await keyed_client.get(f"/dashboard/static/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"] == media_type
    assert r.headers["cache-control"] == "no-cache"
    assert_page_headers(r)
    assert r.content == (STATIC / name).read_bytes()
    again = await keyed_client.get(
        f"/dashboard/static/{name}", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304 and not again.content


@pytest.mark.parametrize(
    "name", ["nope.js", "dashboard.html", "..%2Froutes.py", "..%2F..%2Fauth.py", "%2e%2e"]
)
async def test_only_the_dashboards_files_are_served(
    keyed_client: httpx.AsyncClient, name: str
) -> None:
    r = await keyed_client.get(f"/dashboard/static/{name}")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


# -- what the page and its scripts may contain ------------------------------------------------
class Shell(HTMLParser):
    """Collects what the CSP would have to block, and the files the page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.loads: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> handler attribute")
            if name == "style":
                self.problems.append(f"<{tag} style=...> attribute")
            if (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}> javascript: URL")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            self._in_script = True
            if not values.get("src"):
                self.problems.append("<script> without src")
            else:
                self.loads.append(str(values["src"]))
        if tag == "link" and values.get("rel") == "stylesheet":
            self.loads.append(str(values["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script body {data.strip()[:40]!r}")


async def test_the_shell_has_no_inline_code(open_client: httpx.AsyncClient) -> None:
    page = (await open_client.get("/dashboard")).text
    shell = Shell()
    shell.feed(page)
    shell.close()
    assert shell.problems == []
    assert sorted(shell.loads) == [
        "/dashboard/static/dashboard.css",
        "/dashboard/static/dashboard.js",
    ]


def test_the_parser_finds_what_it_looks_for() -> None:
    """The check above would catch each of these."""
    shell = Shell()
    shell.feed(
        '<script>alert(1)</script><p onclick="x()" style="color:red">'
        '<a href=" JavaScript:x()">a</a><style>p{}</style>'
    )
    assert len(shell.problems) == 6, shell.problems


FORBIDDEN_JS = {
    "innerHTML": r"\.innerHTML\b",
    "outerHTML": r"\.outerHTML\b",
    "insertAdjacentHTML": r"insertAdjacentHTML",
    "document.write": r"document\.write",
    "eval": r"\beval\s*\(",
    "new Function": r"new\s+Function\b",
    "string timers": r"set(Timeout|Interval)\(\s*['\"`]",
    "style attribute": r"\.style\b|setAttribute\(\s*['\"]style|cssText",
    "javascript: URL": r"javascript:",
    "EventSource (cannot send Authorization)": r"new\s+EventSource",
    "localStorage (the key belongs to the tab)": r"localStorage",
}


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_never_build_markup_from_strings(name: str) -> None:
    source = (STATIC / name).read_text()
    found = [what for what, pattern in FORBIDDEN_JS.items() if re.search(pattern, source)]
    assert found == []


def test_every_script_module_is_shipped() -> None:
    """Every import between the scripts names a file that is served."""
    for name in SCRIPTS:
        for imported in re.findall(r"from '\./([\w.]+)'", (STATIC / name).read_text()):
            assert imported in SCRIPTS, f"{name} imports {imported}"
