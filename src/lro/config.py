"""Settings from the LRO_* environment, read in one place; CLI flags override them."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of lro. Names follow HTTP-CONTRACT §11 (`LRO_` + upper-case field)."""

    model_config = SettingsConfigDict(env_prefix="LRO_", extra="ignore")

    store_url: str = "sqlite:///./lro.db"
    concurrency: int = Field(10, ge=1, le=10_000)
    queues: str = ""
    """Comma-separated queues a worker serves (LRO_QUEUES, `lro worker --queues`); empty:
    every queue of its app (HTTP-CONTRACT §13)."""
    retention_seconds: float = Field(604_800, gt=0)
    idempotency_ttl_seconds: float = Field(86_400, gt=0)
    tombstone_seconds: float = Field(2_592_000, ge=0)
    lease_seconds: float = Field(30, gt=0)
    max_wait_seconds: float = Field(30, ge=0)
    respond_within_seconds: float = Field(0, ge=0)
    """Default `respond_within` of operations (HTTP-CONTRACT §21): a submit is held this
    long for its job to finish and answered 200 if it does; 0 answers 202 at once."""
    max_body_bytes: int = Field(1_048_576, gt=0)
    headers_timeout_seconds: float = Field(10, ge=0)
    """How long `lro serve` gives a request from its first byte to the end of its headers
    before closing the connection (slow-loris clients); 0 turns it off (lro.http_server)."""
    api_prefix: str = "/api/v1"
    result_dir: str = "./lro-results"
    """The `file` result store's directory, and where the `db` and `s3` stores stage the
    files handlers write (`ctx.result_path()`) before uploading them."""
    result_store: str | None = None
    """Where result files are kept: `file` (LRO_RESULT_DIR), `file:///dir`, `db` (the job
    store itself) or `s3://bucket/prefix[?redirect=1]`; unset means `file` on SQLite and
    `db` on PostgreSQL (HTTP-CONTRACT §20, lro.results)."""
    inline_result_bytes: int = Field(65_536, ge=0)
    """JSON results up to this size are returned inline in the job resource; larger ones
    are stored as a file and served only at result_url."""
    max_partials_bytes: int = Field(67_108_864, gt=0)
    """The most JSON text a job's partial results may hold in all (HTTP-CONTRACT §14); a
    `ctx.partial` beyond it raises ValueError in the handler."""
    max_checkpoint_bytes: int = Field(1_048_576, gt=0)
    """The largest checkpoint (its JSON text)."""
    max_step_result_bytes: int = Field(1_048_576, gt=0)
    """The largest result of one `ctx.run_step` (its JSON text)."""
    shutdown_grace_seconds: float = Field(10, ge=0)
    poll_interval_seconds: float = Field(0.02, gt=0)
    """How often an idle worker or a waiter looks for changes made by other processes
    when the store cannot push notifications (SQLite)."""
    sse_heartbeat_seconds: float = Field(10, gt=0, le=15)
    """Comment lines on idle event streams, so proxies keep them open (contract: <= 15 s)."""
    sweep_interval_seconds: float = Field(60, gt=0)
    sweep_batch_size: int = Field(500, gt=0)
    progress_flush_seconds: float = Field(0.25, ge=0)
    """Progress calls are coalesced: at most one store write per job per this interval."""
    retry_base_seconds: float = Field(1.0, ge=0)
    retry_max_seconds: float = Field(300.0, ge=0)
    webhook_secret: str | None = None
    webhook_allow_private: bool = False
    webhook_allowed_hosts: str = ""
    """Comma-separated host names whose callback URLs may resolve to private addresses
    (an internal receiver in production, without LRO_WEBHOOK_ALLOW_PRIVATE for all)."""
    webhook_timeout_seconds: float = Field(15, gt=0)
    webhook_retry_schedule: str = "5,300,1800,7200,18000,36000,36000"
    webhook_concurrency: int = Field(32, ge=1, le=10_000)
    """Deliveries in flight per process: a slow receiver holds one slot, not the loop."""
    webhook_concurrency_per_host: int = Field(8, ge=1, le=10_000)
    """Of those, how many may go to one host and port: a receiver that never answers
    cannot take every slot and hold up everyone else's webhooks."""
    api_keys: str = ""
    """`principal:key` pairs, comma-separated; empty turns auth off (HTTP-CONTRACT §9)."""
    admin_principals: str = "admin"
    """Principals (comma-separated) that see and manage every principal's jobs."""
    submit_rate_per_second: float = Field(20, ge=0)
    """Per-principal submit budget, refilled this fast (0: unlimited). Auth on only."""
    submit_burst: int = Field(100, ge=1)
    """How many submits a principal may make at once before the rate applies."""
    max_active_jobs: int = Field(10_000, ge=0)
    """Queued plus processing jobs one principal may have (0: unlimited). Auth on only."""
    max_streams_per_principal: int = Field(100, ge=0)
    """Event streams and waiting requests one principal may hold open per API process."""
    max_streams: int = Field(10_000, ge=0)
    """Event streams and waiting requests per API process before it answers 503."""
    result_link_seconds: float = Field(3600, gt=0)
    """How long a signed result link works."""
    result_link_secret: str | None = None
    """Key for signed result links; generated and kept in the store when unset."""

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        parse_schedule(v)
        return v

    @property
    def webhook_retry_delays(self) -> list[float]:
        """The delays between webhook attempts: n delays mean n + 1 attempts."""
        return parse_schedule(self.webhook_retry_schedule)

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, v: str) -> str:
        parse_api_keys(v)
        return v

    @field_validator("result_store")
    @classmethod
    def _result_store(cls, v: str | None) -> str | None:
        spec = (v or "").strip()
        if not spec:
            return None
        if spec in ("file", "db") or spec.startswith(("file://", "s3://")):
            return spec
        raise ValueError(
            f"unsupported result store {spec!r}: use file, file:///path, db or s3://bucket/prefix"
        )

    @field_validator("api_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = "/" + v.strip("/")
        return "" if v == "/" else v


def parse_schedule(text: str) -> list[float]:
    """`5,300,1800` -> [5.0, 300.0, 1800.0]; empty means a single attempt."""
    try:
        delays = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"webhook retry schedule {text!r} is not a list of seconds") from None
    if any(not d >= 0 for d in delays):
        raise ValueError(f"webhook retry schedule {text!r} has a negative delay")
    return delays


def parse_api_keys(spec: str) -> list[tuple[str, str]]:
    """`alice:k1,bob:k2` -> [("alice", "k1"), ("bob", "k2")]. The error names the
    principal of a malformed entry, never a key."""
    pairs: list[tuple[str, str]] = []
    for item in spec.split(","):
        if not item.strip():
            continue
        name, sep, key = item.strip().partition(":")
        if not sep or not name.strip() or not key.strip():
            raise ValueError(
                "LRO_API_KEYS must be comma-separated principal:key pairs "
                f"(the entry for {name.strip() or '?'!r} is malformed)"
            )
        pairs.append((name.strip(), key.strip()))
    return pairs
