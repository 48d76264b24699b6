"""Routes of the dashboard: the shell at `/dashboard`, its files at `/dashboard/static/`.

Both are left out of the OpenAPI document, like `/docs`: they are a user interface, not
part of the API that clients are generated from and fuzzed against.

Headers. The policy allows scripts, styles and connections to this origin only, and
nothing inline, so even text that slipped into the page as markup could not run. The
route sets it itself; the app's middleware (`ContractMiddleware`) only adds what a response
lacks.
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from lro.api.auth import authenticate
from lro.api.headers import etag_matches
from lro.api.problems import ProblemResponse
from lro.api.routing import root_of
from lro.errors import NotFound, Unauthorized

if TYPE_CHECKING:
    from lro.runtime import Runtime

STATIC = Path(__file__).parent / "static"

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY"}
SHELL_HEADERS = {**HEADERS, "Cache-Control": "no-store"}
ASSET_HEADERS = {**HEADERS, "Cache-Control": "no-cache"}
"""Assets are revalidated on every load (cheap: a 304 by ETag), so an upgrade of lro
never leaves a browser running an old script against a new API."""

MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css"}
HTML_TYPES = ("text/html", "application/xhtml+xml")


class Asset:
    """A static file, read once: the dashboard's files are small and never change while
    the process runs."""

    def __init__(self, path: Path) -> None:
        self.body = path.read_bytes()
        self.media_type = MEDIA_TYPES[path.suffix]
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


def load_assets() -> dict[str, Asset]:
    return {p.name: Asset(p) for p in sorted(STATIC.iterdir()) if p.suffix in MEDIA_TYPES}


def render_shell(template: str, api_prefix: str, root: str) -> str:
    """The shell with the API's path in a meta tag (the one setting its script needs) and
    its files under `root`, where the dashboard itself is mounted."""
    return template.replace("{{api_prefix}}", html.escape(api_prefix, quote=True)).replace(
        "{{root}}", html.escape(root, quote=True)
    )


def wants_html(request: Request) -> bool:
    """Whether the client asked for HTML (a browser's navigation does); `*/*` alone, as
    curl and API clients send, gets the API's problem document instead."""
    for media_range in request.headers.get("accept", "").split(","):
        media_type, *params = (part.strip().lower() for part in media_range.split(";"))
        if media_type not in HTML_TYPES:
            continue
        q = next((p[2:] for p in params if p.startswith("q=")), "1")
        try:
            if float(q) > 0:
                return True
        except ValueError:
            continue
    return False


def add_dashboard_routes(app: APIRouter, lro: Runtime) -> None:
    """The dashboard at `/dashboard` of wherever `app` is mounted. It expects the API
    under the same root (`include_router` both with one prefix, or `create_app`)."""
    template = (STATIC / "dashboard.html").read_text(encoding="utf-8")
    shells: dict[str, str] = {}
    assets = load_assets()

    def shell_for(request: Request) -> str:
        root = root_of(request)
        found = shells.get(root)
        if found is None:
            found = shells[root] = render_shell(template, root + lro.settings.api_prefix, root)
        return found

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        """The shell. Without a valid key it still carries no data, but it answers 401 all
        the same: with keys configured, no route answers 200 to an unauthenticated caller,
        and the status tells scripts and scanners the truth."""
        shell = shell_for(request)
        try:
            authenticate(lro, request)
        except Unauthorized as exc:
            headers = {**SHELL_HEADERS, **exc.headers}
            if wants_html(request):
                return HTMLResponse(shell, status_code=401, headers=headers)
            return ProblemResponse(exc.to_problem(request.url.path), 401, headers=headers)
        return HTMLResponse(shell, headers=SHELL_HEADERS)

    @app.get("/dashboard/static/{name}", include_in_schema=False)
    async def dashboard_asset(name: str, request: Request) -> Response:
        """Public, like /openapi.json: code, no data."""
        asset = assets.get(name)
        if asset is None:
            raise NotFound(f"There is no dashboard file {name!r}.")
        headers = {**ASSET_HEADERS, "ETag": asset.etag}
        if etag_matches(request.headers.getlist("if-none-match"), asset.etag):
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)
