"""Decommissioning on the node's side (node_protocol's Decommissioning): what this
node's agent does when the server says nodes are leaving the cluster.

On a leaving core or task node: once told (and once its worker is up), it tells its
Spark worker and each of the worker's executors to decommission, with Spark's own
mechanism (elmr/apps/spark_decommission.py), and reports DECOMMISSIONING; when the
worker runs no executor any more, their blocks handed over and their tasks
finished, DECOMMISSIONED. The server then stops the node.

On the master: Spark's standalone master has nothing to do for a leaving worker (the
worker tells it itself), so every leaving node the server names is reported done on
the master's side at once.
"""

import logging
import time

from elmr.agent.daemons import Daemon
from elmr.apps.spark_decommission import (
    catches_decommission_signal,
    decommission,
    executor_pids,
    executor_registered,
    worker_runs_executors,
)
from elmr.node_protocol import PHASE_DECOMMISSIONED, PHASE_DECOMMISSIONING, HeartbeatReply

log = logging.getLogger("elmr.agent.decommission")
# An executor the master placed just before it heard of the decommissioning may still
# be on its way: the worker must have run none for this long after the signal.
SETTLE_S = 2.0
# An executor whose log never says it registered with its driver (a log4j config
# that hides INFO) is told once it has caught the signal for this long (it
# registers about a second after it installs its handler).
REGISTRATION_GRACE_S = 15.0


class NodeDecommission:
    def __init__(self, worker: Daemon | None):
        self.worker = worker  # None on the master
        self.signalled_at: float | None = None
        self.signalled: set[int] = set()  # the worker and executors told
        self.catching_since: dict[int, float] = {}  # executor pid -> handler first seen
        self.done_on_master_side: list[str] = []

    def on_reply(self, reply: HeartbeatReply, running: bool) -> str | None:
        """The new phase when this reply starts the node's own decommissioning."""
        self.done_on_master_side = [node["instance_id"] for node in reply.decommission_nodes]
        if not (reply.decommission and running and self.worker is not None and self.signalled_at is None):
            return None
        log.info("decommissioning the Spark worker (pid %s) and its executors", self.worker.process.pid)
        self.signalled_at = time.monotonic()
        self._signal_new_daemons()
        return PHASE_DECOMMISSIONING

    def _signal_new_daemons(self) -> None:
        """The worker, and each of its executors once it has registered with its
        driver (each one once)."""
        now = time.monotonic()
        worker_pid = self.worker.process.pid
        for pid in [worker_pid, *executor_pids(worker_pid)]:
            if pid in self.signalled or not catches_decommission_signal(pid):
                continue
            catching_since = self.catching_since.setdefault(pid, now)
            ready = pid == worker_pid or executor_registered(pid) or now - catching_since >= REGISTRATION_GRACE_S
            if ready and decommission(pid):
                log.info("told pid %s to decommission", pid)
                self.signalled.add(pid)

    def progress(self, phase: str) -> str | None:
        """DECOMMISSIONED once the worker has handed everything over."""
        if phase != PHASE_DECOMMISSIONING:
            return None
        self._signal_new_daemons()
        if time.monotonic() - self.signalled_at < SETTLE_S:
            return None
        if worker_runs_executors(self.worker.ui_url) is False:
            log.info("the Spark worker runs no executor any more: decommissioned")
            return PHASE_DECOMMISSIONED
        return None
