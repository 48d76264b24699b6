"""Following the redirect of a result download (HTTP-CONTRACT §20).

A result kept in an object store is served by a redirect to a short-lived presigned URL on
the store's own host. The client follows it itself, one plan step per hop, rather than
letting httpx do it, for three rules httpx would not keep for us:

- each hop is an `exchange`, so a busy object store (503 SlowDown) is retried like the API;
- the API's credentials go only to the API's origin (`Config.request_to`): a presigned URL
  carries its own authorization in its query string;
- an https service never hands the transfer to plain http, and a few hops at most are
  followed, so a misconfigured chain ends in a clear error instead of a loop.

The request's own headers (`Range`, `If-Range`, `Accept`) travel with every hop, so a
resumed download asks the target for the same bytes the first URL was asked for.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from lro.client._calls import exchange
from lro.client._core import Close, Config, Plan, header
from lro.client.errors import ProtocolError

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_HOPS = 5
"""An object store behind a CDN may add a hop or two; more than this is a loop."""


def _target(request: httpx.Request, response: httpx.Response) -> httpx.URL:
    location = header(response, "location")
    if not location:
        raise ProtocolError(f"{request.url} answered {response.status_code} without a Location")
    try:
        url = request.url.join(location.strip())
    except httpx.InvalidURL as exc:
        raise ProtocolError(f"{request.url} redirected to an invalid URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ProtocolError(f"{request.url} redirected to {url}, not an http(s) URL")
    if request.url.scheme == "https" and url.scheme == "http":
        raise ProtocolError(f"{request.url} redirected to plain http ({url.host}); refused")
    return url


def fetch(
    cfg: Config,
    url: httpx.URL,
    headers: Mapping[str, str],
    *,
    stream: bool = False,
) -> Plan[httpx.Response]:
    """GET `url` with `headers` (each try retried as `exchange` does), following redirects
    to the answer that is not one; returned whatever its status, still open when
    `stream`. Its `.request.url` is where the answer really came from."""
    for _hop in range(MAX_HOPS + 1):
        request = cfg.request_to("GET", url, headers=headers)
        response = (yield from exchange(cfg, request, stream=stream)).response
        if response.status_code not in REDIRECTS:
            return response
        if stream:
            yield Close(response)
        url = _target(request, response)
    raise ProtocolError(f"more than {MAX_HOPS} redirects, the last to {url}")
