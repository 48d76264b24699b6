"""lro: long-running operations for Python APIs."""

from lro.app import LRO
from lro.config import Settings
from lro.context import JobContext
from lro.errors import JobCancelled, JobError, PermanentError
from lro.models import TERMINAL, ErrorDetail, Job, Status
from lro.results import File
from lro.submission import SubmitRequest

__all__ = [
    "LRO",
    "TERMINAL",
    "ErrorDetail",
    "File",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobError",
    "PermanentError",
    "Settings",
    "Status",
    "SubmitRequest",
]
