"""Spark's own graceful decommissioning of a standalone worker, as elmr uses it when a
node leaves its cluster (a shrink): the properties every node's spark-defaults
carries, and how a worker is told to go and when it is done.

With spark.decommission.enabled, a worker that receives SIGPWR tells its master it
is decommissioning: the master places no new executor on it and tells each
application's driver, which stops giving that worker's executors tasks; with
spark.storage.decommission.* the executors hand their shuffle and cached blocks to
the other executors (or to the fallback directory when no other can take them),
finish their running tasks and exit. The worker is done when it runs no executor.
Pure helpers: the agent decides when to call them.
"""

import os
import signal
from pathlib import Path

from elmr.apps import spark

# The signal Spark's Worker registers for decommissioning (spark.worker.decommission.signal).
WORKER_DECOMMISSION_SIGNAL = signal.SIGPWR


def decommission_properties(fallback_dir: Path) -> dict:
    """spark-defaults for every node: read by the workers (which register the
    signal), the drivers and the executors (which migrate their blocks)."""
    return {
        "spark.decommission.enabled": "true",
        "spark.storage.decommission.enabled": "true",
        "spark.storage.decommission.shuffleBlocks.enabled": "true",
        "spark.storage.decommission.rddBlocks.enabled": "true",
        # Spark wants the trailing slash.
        "spark.storage.decommission.fallbackStorage.path": f"file://{fallback_dir}/",
    }


def tell_worker_to_decommission(worker_pid: int) -> None:
    try:
        os.kill(worker_pid, WORKER_DECOMMISSION_SIGNAL)
    except ProcessLookupError:
        pass


def worker_runs_executors(worker_ui_url: str) -> bool | None:
    """Does the worker still run an executor? None while its UI does not answer."""
    status = spark.ui_status(worker_ui_url)
    if status is None:
        return None
    return bool(status.get("executors"))
