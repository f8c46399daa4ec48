"""Spark's own graceful decommissioning of a standalone worker, as elmr uses it when a
node leaves its cluster (a shrink): the properties every node's spark-defaults
carries, and how a worker is told to go and when it is done.

With spark.decommission.enabled, a worker that receives SIGPWR tells its master it
is decommissioning, and the master places no new executor on it. Each of its
executors is sent SIGPWR too, once it has registered with its driver: the master's
word to the drivers misses an executor still starting (it then takes tasks like any
other), and an executor signalled before it has registered cannot pass the word on
and loses its handler. The executor tells its driver, which gives it no new task;
with spark.storage.decommission.* it hands its shuffle and cached blocks to the
other executors (or to the fallback directory when no other can take them),
finishes its running tasks and exits. The worker is done when it runs no executor.
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
        # How often a leaving executor looks again for blocks left to hand over; it
        # exits only after a round finds none (Spark's default: 30 s a round).
        "spark.storage.decommission.replicationReattemptInterval": "5s",
    }


EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend"
# What an executor logs (to stderr, in its work dir) once its driver knows it.
EXECUTOR_REGISTERED = b"Successfully registered with driver"
_SIGNAL_BIT = 1 << (WORKER_DECOMMISSION_SIGNAL - 1)
_LOG_HEAD_BYTES = 256 * 1024  # the line comes within the executor's first lines


def decommission(pid: int) -> bool:
    """Send a Spark daemon (worker or executor) the decommission signal if it has its
    handler installed. Returns whether it was sent."""
    if not catches_decommission_signal(pid):
        return False
    try:
        os.kill(pid, WORKER_DECOMMISSION_SIGNAL)
    except ProcessLookupError:
        return False
    return True


def executor_registered(pid: int) -> bool:
    """Has the executor registered with its driver (read from its own log, in its
    work dir)? With the spark-log4j2 classification hiding INFO lines, it never
    says so; the agent then goes by how long it has caught the signal."""
    try:
        with open(f"/proc/{pid}/cwd/stderr", "rb") as log:
            return EXECUTOR_REGISTERED in log.read(_LOG_HEAD_BYTES)
    except OSError:
        return False


def catches_decommission_signal(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0")
    return bool(int(caught, 16) & _SIGNAL_BIT)


def executor_pids(worker_pid: int) -> list[int]:
    """The executor processes a worker started (its children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat[stat.rindex(")") + 2:].split()[1]) == worker_pid and \
                    EXECUTOR_CLASS.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return pids


def worker_runs_executors(worker_ui_url: str) -> bool | None:
    """Does the worker still run an executor? None while its UI does not answer."""
    status = spark.ui_status(worker_ui_url)
    if status is None:
        return None
    return bool(status.get("executors"))
