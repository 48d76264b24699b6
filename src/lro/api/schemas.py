"""Pydantic models that describe the wire format in the OpenAPI document.

Routes render with `lro.resource.job_resource` and parse submit bodies themselves (the
canonical body is the idempotency fingerprint), so these models document and validate
shapes; they are kept next to the renderer's field list by a test of /openapi.json.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lro.labels import MAX_METADATA_BYTES, MAX_TAG_CHARS, MAX_TAGS
from lro.models import Status
from lro.submission import MAX_CALLBACK_URL

MAX_PRIORITY = 2**31 - 1
MAX_DELAY_SECONDS = 366 * 86_400


class ErrorObject(BaseModel):
    """Why a job failed (RFC 9457-shaped), present iff status is `failed`."""

    type: str
    title: str
    detail: str
    code: str
    retryable: bool
    attempts: int


class JobResource(BaseModel):
    """The job resource (HTTP-CONTRACT §2); also the body of 202 answers."""

    job_id: str
    operation: str
    status: Status
    progress_pct: float = Field(ge=0, le=100)
    step: str | None
    attempt: int
    max_attempts: int
    cancel_requested: bool
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    started_at: str | None = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    finished_at: str | None = Field(json_schema_extra={"format": "date-time"})
    expires_at: str | None = Field(json_schema_extra={"format": "date-time"})
    estimated_duration_seconds: float | None
    poll_url: str
    events_url: str
    result_url: str | None
    result_link: str | None = Field(
        None,
        description="A signed, expiring URL of the result that needs no Authorization header "
        "(completed jobs, on GET and list answers).",
    )
    result: Any = None
    error: ErrorObject | None
    tags: list[str] = Field(default_factory=list, description="The submit's tags.")
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="The submit's metadata object ({} when none)."
    )
    batch_id: str | None = Field(None, description="The batch the job was submitted in.")
    depends_on: list[str] = Field(
        default_factory=list, description="Jobs that must complete before this one runs."
    )
    waiting_on: list[str] = Field(
        default_factory=list, description="Those of depends_on that have not ended yet."
    )
    dependency_policy: str | None = Field(
        None, description="`always`: run even when a dependency failed or was cancelled."
    )


class ListedJob(JobResource):
    """A job in a list: in an admin's list, which mixes principals, also its owner."""

    owner: str | None = Field(
        None, description="The principal the job belongs to (in an admin's list only)."
    )


class JobList(BaseModel):
    items: list[ListedJob]
    next_cursor: str | None


class Reserved(BaseModel):
    """The top-level fields of an operation route's body that are not params."""

    model_config = ConfigDict(extra="ignore")

    callback_url: str | None = Field(
        None,
        max_length=MAX_CALLBACK_URL,
        description="Absolute http(s) URL notified when the job ends (Standard Webhooks).",
    )
    priority: int = Field(
        0,
        strict=True,
        ge=-MAX_PRIORITY,
        le=MAX_PRIORITY,
        description="Higher runs first.",
    )
    callback_progress: bool = Field(
        False,
        strict=True,
        description="Also POST `job.progress` webhooks to callback_url while the job runs "
        "(coalesced: at most one pending at a time).",
    )
    # Checked by lro.labels (the same rule for HTTP, batches and lro.submit); declared
    # here so they are never taken for params, and documented.
    tags: list[str] | None = Field(
        None,
        max_length=MAX_TAGS,
        description=f"Up to {MAX_TAGS} labels of 1-{MAX_TAG_CHARS} printable characters; "
        "`GET /jobs?tag=` finds the jobs carrying them.",
        json_schema_extra={"items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_CHARS}},
    )
    metadata: dict[str, Any] | None = Field(
        None,
        description=f"Any JSON object of at most {MAX_METADATA_BYTES} bytes, kept with the job "
        "and shown in its resource and webhooks (not passed to the handler as params).",
    )
    depends_on: list[str] | None = Field(
        None,
        description="Ids of your jobs that must complete first; the job waits queued "
        "(`waiting_on`) and fails with `dependency_failed` if one fails or is cancelled.",
    )
    dependency_policy: Literal["always"] | None = Field(
        None, description="`always`: run even when a dependency failed or was cancelled."
    )


class GenericSubmit(Reserved):
    """Body of `POST {prefix}/jobs`: any registered operation by name."""

    model_config = ConfigDict(extra="forbid")

    operation: str = Field(description="A registered operation name.")
    params: dict[str, Any] = Field(default_factory=dict, description="The operation's parameters.")
    delay_seconds: float | None = Field(
        None,
        ge=0,
        le=MAX_DELAY_SECONDS,
        allow_inf_nan=False,
        description="Run no earlier than this many seconds from now (lro extension).",
    )


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with `$defs` references inlined.

    Request bodies are declared through `openapi_extra`, where a `#/$defs/...` pointer
    would resolve against the whole OpenAPI document and dangle; inlining keeps the schema
    self-contained wherever the router is mounted. A recursive model cannot be inlined,
    so the recursion point becomes a plain object schema.
    """
    schema = model.model_json_schema(mode="validation")
    defs: dict[str, Any] = schema.pop("$defs", {})

    def resolve(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            rest = {k: resolve(v, seen) for k, v in node.items() if k != "$ref"}
            if name in seen or name not in defs:
                return {"type": "object", **rest}
            return {**resolve(copy.deepcopy(defs[name]), seen | {name}), **rest}
        return {k: resolve(v, seen) for k, v in node.items()}

    result: dict[str, Any] = resolve(schema, frozenset())
    return result


def operation_body_schema(params_model: type[BaseModel]) -> dict[str, Any]:
    """An operation route's body: the params model plus the reserved top-level fields."""
    schema = inline_schema(params_model)
    reserved = inline_schema(Reserved)["properties"]
    schema.setdefault("type", "object")
    schema.setdefault("properties", {}).update(reserved)
    return schema
