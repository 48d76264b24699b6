"""Batch plans (HTTP-CONTRACT §17): submit up to 1,000 jobs at once, and poll the batch.
Sans-IO like every plan (`_calls`), run by the sync and async clients alike."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from lro.client._calls import _key_in_progress, call
from lro.client._core import Config, Plan
from lro.client.errors import ProtocolError
from lro.client.models import BatchResource


def _parse(response: httpx.Response) -> BatchResource:
    try:
        return BatchResource.model_validate_json(response.content)
    except ValidationError as exc:
        raise ProtocolError(
            f"the server answered {response.status_code} with a body that is not a batch "
            f"resource: {exc.errors()[0]['msg']}"
        ) from exc


def _job(job: Mapping[str, Any] | tuple[str, Any]) -> dict[str, Any]:
    if isinstance(job, tuple):
        operation, params = job
        job = {"operation": operation, "params": params}
    out = dict(job)
    params = out.get("params")
    if isinstance(params, BaseModel):
        out["params"] = params.model_dump(mode="json")
    return out


def submit_batch(
    cfg: Config,
    jobs: Sequence[Mapping[str, Any] | tuple[str, Any]],
    *,
    callback_url: str | None = None,
    idempotency_key: str | None = None,
) -> Plan[BatchResource]:
    """Submit up to 1,000 jobs as one batch, all or none: each a mapping `{"operation",
    "params", "priority"?, "tags"?, "metadata"?, "ref"?}` or an `(operation, params)`
    pair. One invalid job rejects the batch (Unprocessable, whose `errors` point at it,
    e.g. `/jobs/2/params/rows`). `callback_url` gets one `batch.completed` webhook when
    the last job ends. Safe to retry, as `submit` is: a random key is sent when none is
    given, so a batch whose answer was lost is replayed rather than stored twice."""
    body: dict[str, Any] = {"jobs": [_job(j) for j in jobs]}
    if callback_url is not None:
        body["callback_url"] = callback_url
    headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    request = cfg.request("POST", "/batches", json=body, headers=headers)
    return _parse((yield from call(cfg, request, is_retryable=_key_in_progress)))


def get_batch(cfg: Config, batch_id: str) -> Plan[BatchResource]:
    """The batch's current state: counts, progress and its jobs."""
    request = cfg.request("GET", f"/batches/{quote(batch_id, safe='')}")
    return _parse((yield from call(cfg, request)))
