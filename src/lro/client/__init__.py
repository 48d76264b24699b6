"""The Python client of lro-based services: `pip install lro`, then

    from lro.client import Client

    with Client("http://127.0.0.1:8000", api_key="...") as client:
        job = client.submit("reports.generate", {"rows": 1000, "delay_seconds": 2})
        done = client.wait(job.job_id, on_progress=lambda j: print(j.progress_pct, j.step))
        if done.status == "completed":
            client.download(done.job_id, "report.csv")

`AsyncClient` has the same methods as coroutines. Both retry what is safe to retry
(network errors, 429/502/503/504, honouring Retry-After), make every submit idempotent,
and follow jobs over Server-Sent Events with a polling fallback; see docs/client.md.
Errors are drawn in `lro.client.errors`. This package imports nothing else of lro and none
of the server's packages (import-linter holds both lines), so it works against any lro
server with only `pip install lro`, without the `server` extra.
"""

from lro.client._async import AsyncClient
from lro.client._core import Backoff
from lro.client._sync import Client
from lro.client.errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    Gone,
    NotFound,
    ProtocolError,
    RateLimited,
    ServiceUnavailable,
    TransportFailure,
    Unauthorized,
    Unprocessable,
    WaitTimeout,
)
from lro.client.models import (
    TERMINAL_STATUSES,
    BatchResource,
    JobErrorInfo,
    JobEvent,
    JobPage,
    JobResource,
    OperationInfo,
    Partial,
    ScheduleResource,
    WorkerResource,
)

__all__ = [
    "TERMINAL_STATUSES",
    "ApiError",
    "AsyncClient",
    "Backoff",
    "BadRequest",
    "BatchResource",
    "Client",
    "ClientError",
    "Conflict",
    "Gone",
    "JobErrorInfo",
    "JobEvent",
    "JobPage",
    "JobResource",
    "NotFound",
    "OperationInfo",
    "Partial",
    "ProtocolError",
    "RateLimited",
    "ScheduleResource",
    "ServiceUnavailable",
    "TransportFailure",
    "Unauthorized",
    "Unprocessable",
    "WaitTimeout",
    "WorkerResource",
]
