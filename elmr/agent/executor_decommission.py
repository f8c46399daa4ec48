"""Spark's own decommissioning of the executors YARN runs on a leaving node. YARN's
graceful decommissioning places no new container on the node but waits for the
running ones, and Spark's application master does not hear of the node from the
ResourceManager: so the node's agent tells each executor itself, with the signal
Spark's executors on YARN register for (SIGPWR). An executor told so tells its
driver, which gives it no new task; it hands its shuffle and cached blocks to the
other executors (spark.storage.decommission.*, apps/spark.py), finishes what runs
and exits, and its container ends: the node is drained.

An executor is told once it has installed its handler (SIGPWR's default would kill
it) and has registered with its driver (one signalled before cannot pass the word
on); an executor whose log never says it registered (a log4j configuration hiding
INFO) is told once it has caught the signal for REGISTRATION_GRACE_S."""

import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger("elmr.agent.executor_decommission")
EXECUTOR_CLASS = b"org.apache.spark.executor.YarnCoarseGrainedExecutorBackend"
DECOMMISSION_SIGNAL = signal.SIGPWR
REGISTERED = b"Successfully registered with driver"
REGISTRATION_GRACE_S = 15.0
_SIGNAL_BIT = 1 << (DECOMMISSION_SIGNAL - 1)
_LOG_HEAD_BYTES = 256 * 1024  # the line comes within an executor's first lines


class ExecutorDecommission:
    def __init__(self, node_dir: Path):
        self.node_dir = Path(node_dir)
        self.told: set[int] = set()
        self.catching_since: dict[int, float] = {}  # executor pid -> handler first seen

    def tell_new_executors(self) -> None:
        now = time.monotonic()
        for pid, work_dir in _executors(self.node_dir):
            if pid in self.told or not catches_signal(pid):
                continue
            since = self.catching_since.setdefault(pid, now)
            if not (self._registered(work_dir) or now - since >= REGISTRATION_GRACE_S):
                continue
            try:
                os.kill(pid, DECOMMISSION_SIGNAL)
            except ProcessLookupError:
                continue
            log.info("told executor pid %s (%s) to decommission", pid, work_dir.name)
            self.told.add(pid)

    def _registered(self, work_dir: Path) -> bool:
        """From the container's own stderr (yarn/containers/<application>/<container>/)."""
        stderr = self.node_dir / "yarn" / "containers" / work_dir.parent.name / work_dir.name / "stderr"
        try:
            with open(stderr, "rb") as opened:
                return REGISTERED in opened.read(_LOG_HEAD_BYTES)
        except OSError:
            return False


def _executors(node_dir: Path):
    """(pid, container work dir) of every Spark executor running in this node's
    containers (their work dirs are under the node's directory)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if EXECUTOR_CLASS not in (entry / "cmdline").read_bytes():
                continue
            work_dir = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if work_dir.is_relative_to(node_dir):
            yield int(entry.name), work_dir


def catches_signal(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0")
    return bool(int(caught, 16) & _SIGNAL_BIT)
