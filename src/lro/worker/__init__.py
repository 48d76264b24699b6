"""Workers: the claim loop and slots (runner), one attempt (executor), leases (lease),
batched writes (buffer), and the rescuer and retention sweeper (maintenance)."""

from lro.worker.maintenance import Maintenance
from lro.worker.runner import Worker
from lro.worker.stats import WorkerStats

__all__ = ["Maintenance", "Worker", "WorkerStats"]
