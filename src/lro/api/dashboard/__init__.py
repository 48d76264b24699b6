"""The web dashboard at `GET /dashboard` (HTTP-CONTRACT §10): a live view of jobs.

The page is a data-free shell: its HTML, JavaScript and CSS hold no job, count or name,
and every piece of data it shows comes from the API, fetched by the page's script with
`Authorization: Bearer <key>`. A browser cannot attach that header to a navigation, and a
cookie would bring cross-site request forgery to the API, so with API keys configured the
shell itself answers 401 to a navigation (with the shell as its body, which shows a
sign-in form) and the key typed there lives in the tab's sessionStorage. See
docs/dashboard.md.
"""

from __future__ import annotations

from lro.api.dashboard.routes import CSP, add_dashboard_routes

__all__ = ["CSP", "add_dashboard_routes"]
