"""The node agent's main loop: register, make the node's Python, lay the node's
applications out, run the bootstrap actions, write the configuration files, start
the daemons of the node's role (NameNode and ResourceManager on the master, DataNode
and NodeManager on core nodes, a NodeManager on task nodes), report heartbeats until
told to stop; on the master, run steps and notebooks, decommission leaving nodes and
ship Spark's event logs. The server may vanish and come back at any time; the agent
keeps its daemons running and keeps reporting.
"""

import json
import logging
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from elmr import node_protocol
from elmr.agent import bootstrap, emr_paths, object_fetch, python_env
from elmr.agent.daemons import stop_all
from elmr.agent.decommission import Decommissioner
from elmr.agent.executor_decommission import ExecutorDecommission
from elmr.agent.log_shipper import LogShipper
from elmr.agent.node_apps import NodeApplications
from elmr.agent.notebooks import NotebookRunner
from elmr.agent.spark_events import EventLogShipper
from elmr.agent.steps import StepRunner
from elmr.apps.artifacts import ArtifactsMissing

log = logging.getLogger("elmr.agent")
# While daemons come up, look often: the cluster is RUNNING only once we say so.
STARTUP_POLL_S = 0.2
# Step logs are shipped when a step ends and this often while it runs; node logs too.
STEP_LOG_SHIPPING_S = 10.0
HEARTBEAT_TIMEOUT_S = 5.0


class HeartbeatSender:
    """POSTs heartbeats; a server that does not answer is logged, never fatal."""

    def __init__(self, spec: node_protocol.NodeSpec):
        self.url = spec.server_url.rstrip("/") + node_protocol.HEARTBEAT_PATH
        self.server_was_reachable = True

    def send(self, heartbeat: node_protocol.Heartbeat) -> node_protocol.HeartbeatReply | None:
        request = urllib.request.Request(
            self.url, data=heartbeat.to_json(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=HEARTBEAT_TIMEOUT_S) as answer:
                reply = json.load(answer)
        except (OSError, ValueError, urllib.error.URLError) as error:
            if self.server_was_reachable:
                log.warning("server unreachable (%s); will keep trying", error)
            self.server_was_reachable = False
            return None
        if not self.server_was_reachable:
            log.info("server reachable again")
        self.server_was_reachable = True
        return node_protocol.HeartbeatReply(
            shutdown=bool(reply.get("shutdown")),
            run_steps=list(reply.get("run_steps") or []),
            cancel_steps=list(reply.get("cancel_steps") or []),
            run_notebooks=list(reply.get("run_notebooks") or []),
            stop_notebooks=list(reply.get("stop_notebooks") or []),
            decommission=bool(reply.get("decommission")),
            decommission_nodes=list(reply.get("decommission_nodes") or []),
        )


class NodeAgent:
    def __init__(self, node_dir: Path):
        self.node_dir = node_dir
        self.spec = node_protocol.NodeSpec.read(node_dir)
        self.sender = HeartbeatSender(self.spec)
        self.shipper = LogShipper(self.spec)
        self.apps = NodeApplications(self.spec, node_dir)
        self.is_master = self.spec.role == "MASTER"
        self.step_runner = StepRunner(node_dir, self.apps.env, self.fetch_object,
                                      self.apps.node.master_url("resourcemanager_web"))
        self.listed_steps: set[str] = set()
        self.notebook_runner = NotebookRunner(self.spec, node_dir, self.apps.env, self.fetch_object)
        self.listed_notebooks: set[str] = set()
        self.event_logs = EventLogShipper(self.shipper, self.apps.node.master_url("namenode_http"))
        self.phase = node_protocol.PHASE_BOOTSTRAPPING
        self.message = ""
        self.failure_code = ""
        self.cluster_report: dict = {}
        self.decommissioner = Decommissioner(self.apps.node, self.apps.env, node_dir / "logs")
        self.executor_decommission = ExecutorDecommission(node_dir)
        self.decommissioned: list[str] = []
        self.stop_requested = threading.Event()

    def fetch_object(self, uri: str, target_dir: Path) -> Path:
        return object_fetch.fetch(self.spec, uri, target_dir)

    def heartbeat(self) -> None:
        reply = self.sender.send(node_protocol.Heartbeat(
            instance_id=self.spec.instance_id,
            agent_token=self.spec.agent_token,
            phase=self.phase,
            message=self.message,
            agent_pid=os.getpid(),
            daemons=[daemon.status() for daemon in self.apps.daemons],
            cluster_report=self.cluster_report,
            failure_code=self.failure_code,
            steps=self.step_runner.reports(self.listed_steps),
            notebooks=self.notebook_runner.reports(self.listed_notebooks),
            running_applications=_running_apps(self.cluster_report),
            decommissioned_nodes=self.decommissioned,
        ))
        if reply is None:
            return
        if reply.decommission and self.phase == node_protocol.PHASE_RUNNING:
            log.info("this node leaves the cluster: no new work; YARN and HDFS decommission its daemons")
            self.set_phase(node_protocol.PHASE_DECOMMISSIONING)
        if reply.shutdown:
            log.info("the server asked this node to shut down")
            self.stop_requested.set()
        elif self.is_master and self.phase == node_protocol.PHASE_RUNNING:
            self.listed_steps = {order["step_id"] for order in reply.run_steps}
            self.step_runner.run(reply.run_steps)
            self.step_runner.cancel(reply.cancel_steps)
            self.listed_notebooks = {order["execution_id"] for order in reply.run_notebooks}
            self.notebook_runner.run(reply.run_notebooks)
            self.notebook_runner.stop(reply.stop_notebooks)
            self.decommissioned = self.decommissioner.update(reply.decommission_nodes)

    def set_phase(self, phase: str, message: str = "") -> None:
        if phase != self.phase or message != self.message:
            log.info("phase %s %s", phase, message)
            self.phase, self.message = phase, message
            self.heartbeat()

    def start(self) -> bool:
        """The node's Python, layout, bootstrap actions, configuration files, daemons;
        False if any failed."""
        self.heartbeat()  # register at once: the node is BOOTSTRAPPING
        try:
            python_env.create(self.node_dir)
        except OSError as error:
            self.set_phase(node_protocol.PHASE_FAILED, f"cannot create the node's Python environment: {error}")
            return False
        try:
            self.apps.lay_out()
        except ArtifactsMissing as missing:
            self.set_phase(node_protocol.PHASE_FAILED, str(missing))
            return False
        emr_paths.lay_out(self.spec, self.node_dir, self.apps.node.hadoop_conf_dir, self.apps.spark_conf_dir)
        log.info("EMR's paths %s", "mounted" if emr_paths.mount(self.node_dir) else f"under {self.node_dir} only")
        try:
            bootstrap.run_all(self.spec.bootstrap_actions, self.node_dir, self.apps.env,
                              self.spec.ec2_instance_id, self.fetch_object)
        except bootstrap.BootstrapFailed as failure:
            self.failure_code = "BOOTSTRAP_FAILURE"
            self.set_phase(node_protocol.PHASE_FAILED, str(failure))
            return False
        self.apps.write_configuration()
        try:
            self.apps.start_daemons()
        except RuntimeError as failure:
            self.set_phase(node_protocol.PHASE_FAILED, str(failure))
            return False
        self.set_phase(node_protocol.PHASE_STARTING_DAEMONS)
        return True

    def observe(self) -> None:
        """Move the phase from what the daemons say about themselves; on the master,
        read what the cluster's daemons report (the server waits for its counts)."""
        if self.phase == node_protocol.PHASE_FAILED:
            return
        failed = self.apps.failed_daemon()
        if failed is not None:
            self.set_phase(node_protocol.PHASE_FAILED,
                           f"{failed.name} exited with code {failed.exit_code()}: {failed.log_tail()}")
            return
        if self.phase == node_protocol.PHASE_STARTING_DAEMONS and self.apps.serving():
            self.set_phase(node_protocol.PHASE_RUNNING)
        if self.phase in (node_protocol.PHASE_DECOMMISSIONING, node_protocol.PHASE_DECOMMISSIONED):
            # Until the node stops: YARN may still start a container it had placed
            # here before it heard of the decommissioning.
            self.executor_decommission.tell_new_executors()
        if self.phase == node_protocol.PHASE_DECOMMISSIONING and self.apps.drained():
            # The NodeManager runs no container (or YARN has shut it down); the
            # master's side reports when HDFS has copied the DataNode's blocks away.
            self.set_phase(node_protocol.PHASE_DECOMMISSIONED)
        if self.is_master and self.phase == node_protocol.PHASE_RUNNING:
            report = self.apps.report()
            counts_changed = any(report.get(key) != self.cluster_report.get(key)
                                 for key in node_protocol.CLUSTER_COUNTS) or _running_apps(report) != \
                _running_apps(self.cluster_report)
            self.cluster_report = report
            if counts_changed:
                self.heartbeat()

    def run(self) -> None:
        self.start()
        next_heartbeat = time.monotonic() + self.spec.heartbeat_interval_s
        next_log_shipping = time.monotonic() + STEP_LOG_SHIPPING_S
        while not self.stop_requested.is_set():
            self.observe()
            if self.phase == node_protocol.PHASE_RUNNING:
                self.apps.start_later_daemons()
            finished = self.step_runner.poll() | self.notebook_runner.poll()
            if finished or time.monotonic() >= next_heartbeat:
                self._ship_step_logs()
                self.heartbeat()
                next_heartbeat = time.monotonic() + self.spec.heartbeat_interval_s
            if time.monotonic() >= next_log_shipping:
                self._ship_step_logs()
                self._ship_node_logs()
                if self.is_master and self.phase == node_protocol.PHASE_RUNNING:
                    self.event_logs.ship_changed()
                next_log_shipping = time.monotonic() + STEP_LOG_SHIPPING_S
            settled = self.phase != node_protocol.PHASE_STARTING_DAEMONS
            self.stop_requested.wait(self.spec.heartbeat_interval_s / 2 if settled else STARTUP_POLL_S)
        self.shutdown()

    def _ship_step_logs(self) -> None:
        for step_id in self.step_runner.steps:
            step_dir = self.node_dir / "steps" / step_id
            for name in ("controller", "stdout", "stderr"):
                self.shipper.ship(step_dir / name, f"steps/{step_id}/{name}")

    def _ship_node_logs(self) -> None:
        node_prefix = f"node/{self.spec.ec2_instance_id}"
        self.shipper.ship_dir(self.node_dir / "logs", f"{node_prefix}/daemons")
        self.shipper.ship_dir(self.node_dir / "bootstrap-actions", f"{node_prefix}/bootstrap-actions")
        # YARN's container logs, where EMR keeps them: containers/<application>/<container>/.
        self.shipper.ship_dir(self.node_dir / "yarn" / "containers", "containers")

    def shutdown(self) -> None:
        self.set_phase(node_protocol.PHASE_STOPPING)
        self.step_runner.stop_all()
        self.notebook_runner.stop_all()
        if self.is_master:
            self.event_logs.ship_changed()  # while HDFS still serves them
        stop_all(self.apps.daemons)
        self._ship_step_logs()
        self._ship_node_logs()
        log.info("stopped")


def _running_apps(report: dict) -> int | None:
    """YARN's running applications, which keep a cluster from being idle."""
    return (report.get("yarn_metrics") or {}).get("appsRunning")


def _configure_logging(node_dir: Path) -> None:
    (node_dir / "logs").mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=node_dir / "logs" / "agent.log", level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run(node_dir: Path) -> int:
    node_dir = Path(node_dir).resolve()
    _configure_logging(node_dir)
    agent = NodeAgent(node_dir)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: agent.stop_requested.set())
    log.info("agent for %s (%s) starting", agent.spec.instance_id, agent.spec.role)
    agent.run()
    return 0
