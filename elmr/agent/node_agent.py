"""The node agent's main loop: register, write the node's Spark configuration, start
its daemon (a Spark master on the master node, a worker elsewhere), report heartbeats
until told to stop. The server may vanish and come back at any time; the agent keeps
its daemons running and keeps reporting.
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
from elmr.agent import bootstrap, object_fetch, python_env
from elmr.agent.decommission import NodeDecommission
from elmr.agent.daemons import Daemon, stop_all
from elmr.agent.log_shipper import LogShipper
from elmr.agent.notebooks import NotebookRunner
from elmr.agent.steps import StepRunner
from elmr.apps import spark, spark_conf

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


def node_env(spec: node_protocol.NodeSpec, node_dir: Path) -> dict:
    """The environment of everything the node runs (bootstrap actions, daemons and
    the executors they start, steps): Spark's settings, the node's own Python, and
    who this node is, as EMR's /mnt/var/lib/info tells its scripts."""
    env = spark.daemon_env(node_dir, spec.address)
    env.update(python_env.variables(node_dir, env.get("PATH", "")))
    env.update(ELMR_NODE_DIR=str(node_dir), ELMR_CLUSTER_ID=spec.cluster_id,
               ELMR_INSTANCE_ID=spec.ec2_instance_id, ELMR_INSTANCE_ROLE=spec.role,
               ELMR_INSTANCE_TYPE=spec.instance_type)
    return env


def _daemon_for(spec: node_protocol.NodeSpec, node_dir: Path) -> Daemon:
    env = node_env(spec, node_dir)
    logs = node_dir / "logs"
    if spec.role == "MASTER":
        ui_port = spec.ports["spark_master_ui"]
        command = spark.master_command(spec.address, spec.ports["spark_master"], ui_port)
        return Daemon("spark-master", command, env, logs / "spark-master.out",
                      f"http://{spec.address}:{ui_port}")
    return _worker_for(spec, node_dir)


def _worker_for(spec: node_protocol.NodeSpec, node_dir: Path) -> Daemon:
    env = node_env(spec, node_dir)
    logs = node_dir / "logs"
    ui_port = spec.ports["spark_worker_ui"]
    command = spark.worker_command(spec.address, spec.ports["spark_worker"], ui_port,
                                   spec.vcpus, spec.memory_mib, spec.spark_master_url)
    return Daemon("spark-worker", command, env, logs / "spark-worker.out",
                  f"http://{spec.address}:{ui_port}")


def _history_server_for(spec: node_protocol.NodeSpec, node_dir: Path) -> Daemon:
    """Keeps finished applications browsable from their event logs."""
    ui_port = spec.ports["spark_history_ui"]
    env = node_env(spec, node_dir)
    env["SPARK_HISTORY_OPTS"] = (f"-Dspark.history.ui.port={ui_port} "
                                 f"-Dspark.history.fs.logDirectory=file://{spec.event_log_dir}")
    return Daemon("spark-history-server", spark.history_server_command(), env,
                  node_dir / "logs" / "spark-history-server.out", f"http://{spec.address}:{ui_port}")


class NodeAgent:
    def __init__(self, node_dir: Path):
        self.node_dir = node_dir
        self.spec = node_protocol.NodeSpec.read(node_dir)
        self.sender = HeartbeatSender(self.spec)
        self.shipper = LogShipper(self.spec)
        self.daemon = _daemon_for(self.spec, node_dir)
        self.is_master = self.spec.role == "MASTER"
        self.history_server = _history_server_for(self.spec, node_dir) if self.is_master else None
        # A single-node cluster's master runs its tasks too, as on EMR.
        self.task_worker = _worker_for(self.spec, node_dir) if self.spec.runs_tasks else None
        self.step_runner = StepRunner(node_dir, node_env(self.spec, node_dir), self.fetch_object)
        self.listed_steps: set[str] = set()
        self.notebook_runner = NotebookRunner(self.spec, node_dir, node_env(self.spec, node_dir), self.fetch_object)
        self.listed_notebooks: set[str] = set()
        self.phase = node_protocol.PHASE_BOOTSTRAPPING
        self.message = ""
        self.failure_code = ""
        self.alive_workers: int | None = None
        self.running_applications: int | None = None
        self.decommission = NodeDecommission(None if self.is_master else self.daemon)
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
            daemons=[daemon.status() for daemon in self._node_daemons()],
            spark_alive_workers=self.alive_workers,
            spark_master_ui_url=self.daemon.ui_url if self.is_master else None,
            failure_code=self.failure_code,
            steps=self.step_runner.reports(self.listed_steps),
            notebooks=self.notebook_runner.reports(self.listed_notebooks),
            running_applications=self.running_applications,
            decommissioned_nodes=self.decommission.done_on_master_side,
        ))
        if reply is None:
            return
        decommissioning = self.decommission.on_reply(reply, self.phase == node_protocol.PHASE_RUNNING)
        if decommissioning:
            self.set_phase(decommissioning)
        if reply.shutdown:
            log.info("the server asked this node to shut down")
            self.stop_requested.set()
        elif self.is_master and self.phase == node_protocol.PHASE_RUNNING:
            self.listed_steps = {order["step_id"] for order in reply.run_steps}
            if any(order["step_id"] not in self.step_runner.steps for order in reply.run_steps):
                self.write_conf_files()  # buckets created since the last step
            self.step_runner.run(reply.run_steps)
            self.step_runner.cancel(reply.cancel_steps)
            self.listed_notebooks = {order["execution_id"] for order in reply.run_notebooks}
            self.notebook_runner.run(reply.run_notebooks)
            self.notebook_runner.stop(reply.stop_notebooks)

    def set_phase(self, phase: str, message: str = "") -> None:
        if phase != self.phase or message != self.message:
            log.info("phase %s %s", phase, message)
            self.phase, self.message = phase, message
            self.heartbeat()

    def start(self) -> bool:
        """Bootstrap actions, configuration files, daemons; False if bootstrap failed."""
        self.heartbeat()  # register at once: the node is BOOTSTRAPPING
        try:
            python_env.create(self.node_dir)
        except OSError as error:
            self.set_phase(node_protocol.PHASE_FAILED, f"cannot create the node's Python environment: {error}")
            return False
        try:
            bootstrap.run_all(self.spec.bootstrap_actions, self.node_dir, node_env(self.spec, self.node_dir),
                              self.spec.ec2_instance_id, self.fetch_object)
        except bootstrap.BootstrapFailed as failure:
            self.failure_code = "BOOTSTRAP_FAILURE"
            self.set_phase(node_protocol.PHASE_FAILED, str(failure))
            return False
        spark.write_conf_dir(self.node_dir, {})
        Path(self.spec.event_log_dir).mkdir(parents=True, exist_ok=True)
        self.write_conf_files()
        for daemon in self._node_daemons():
            daemon.start()
        self.set_phase(node_protocol.PHASE_STARTING_DAEMONS)
        return True

    def write_conf_files(self) -> None:
        spark_conf.write_conf_files(self.node_dir / "spark" / "conf", self._spark_defaults(),
                                    self.spec.configurations, self._hive_defaults())

    def _spark_defaults(self) -> dict:
        """What every spark-submit on the cluster starts from, as EMR's spark-defaults
        does: the cluster's master, event logs for the history server, and a
        warehouse for Spark SQL."""
        hive_dir = self.node_dir / "hive"
        return {
            "spark.master": self.spec.spark_master_url,
            "spark.submit.deployMode": "client",
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": f"file://{self.spec.event_log_dir}",
            "spark.history.fs.logDirectory": f"file://{self.spec.event_log_dir}",
            "spark.sql.warehouse.dir": f"file://{hive_dir / 'warehouse'}",
            "spark.driver.host": self.spec.address,
            # Spark's scratch files stay in the cluster's directories, not /tmp: the
            # driver's under this node, each executor's in its own work dir.
            "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={self.node_dir / 'spark' / 'local'}",
            "spark.executor.extraJavaOptions": "-Djava.io.tmpdir=.",
            **spark_conf.object_store_properties(self.spec.object_store_dir),
            **self.spec.spark_conf,
        }

    def _hive_defaults(self) -> dict:
        metastore = self.node_dir / "hive" / "metastore_db"
        return {
            "javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={metastore};create=true",
            "hive.metastore.warehouse.dir": f"file://{self.node_dir / 'hive' / 'warehouse'}",
        }

    def _node_daemons(self) -> list[Daemon]:
        """The daemons the node's role runs from its start (not the history server)."""
        return [d for d in (self.daemon, self.task_worker) if d is not None]

    def observe(self) -> None:
        """Move the phase from what the daemons say about themselves."""
        for daemon in self._node_daemons():
            exit_code = daemon.exit_code()
            if exit_code is not None and self.phase != node_protocol.PHASE_FAILED:
                self.set_phase(node_protocol.PHASE_FAILED,
                               f"{daemon.name} exited with code {exit_code}: {daemon.log_tail()}")
                return
        if self.phase == node_protocol.PHASE_FAILED:
            return
        if self.phase in (node_protocol.PHASE_DECOMMISSIONING, node_protocol.PHASE_DECOMMISSIONED):
            self.set_phase(self.decommission.progress(self.phase) or self.phase)
            return
        if self.phase == node_protocol.PHASE_RUNNING and not self.is_master:
            return  # a worker's UI was checked once; the master counts its workers
        status = spark.ui_status(self.daemon.ui_url)
        if status is None:
            return
        if self.is_master:
            if status.get("status") != "ALIVE":
                return
            workers = spark.alive_workers(status)
            applications = len(status.get("activeapps") or [])
            if (workers, applications) != (self.alive_workers, self.running_applications):
                self.alive_workers, self.running_applications = workers, applications
                if self.phase == node_protocol.PHASE_RUNNING:
                    self.heartbeat()  # the server waits for these counts
        self.set_phase(node_protocol.PHASE_RUNNING)

    def run(self) -> None:
        self.start()
        next_heartbeat = time.monotonic() + self.spec.heartbeat_interval_s
        next_log_shipping = time.monotonic() + STEP_LOG_SHIPPING_S
        while not self.stop_requested.is_set():
            self.observe()
            self._start_history_server_once_running()
            finished = self.step_runner.poll() | self.notebook_runner.poll()
            if finished or time.monotonic() >= next_heartbeat:
                self._ship_step_logs()
                self.heartbeat()
                next_heartbeat = time.monotonic() + self.spec.heartbeat_interval_s
            if time.monotonic() >= next_log_shipping:
                self._ship_step_logs()
                self._ship_node_logs()
                next_log_shipping = time.monotonic() + STEP_LOG_SHIPPING_S
            settled = self.phase != node_protocol.PHASE_STARTING_DAEMONS
            self.stop_requested.wait(self.spec.heartbeat_interval_s / 2 if settled else STARTUP_POLL_S)
        self.shutdown()

    def _start_history_server_once_running(self) -> None:
        """Started after the master is up, so it does not slow the cluster's start."""
        history = self.history_server
        if history is not None and history.process is None and self.phase == node_protocol.PHASE_RUNNING:
            history.start()

    def _ship_step_logs(self) -> None:
        for step_id in self.step_runner.steps:
            step_dir = self.node_dir / "steps" / step_id
            for name in ("controller", "stdout", "stderr"):
                self.shipper.ship(step_dir / name, f"steps/{step_id}/{name}")

    def _ship_node_logs(self) -> None:
        node_prefix = f"node/{self.spec.ec2_instance_id}"
        self.shipper.ship_dir(self.node_dir / "logs", f"{node_prefix}/daemons")
        self.shipper.ship_dir(self.node_dir / "bootstrap-actions", f"{node_prefix}/bootstrap-actions")
        self._ship_spark_logs()

    def _ship_spark_logs(self) -> None:
        """Event logs (the master's: the server keeps them for the persistent history
        server) and executor logs, as EMR's containers/<application>/<container>/."""
        events = Path(self.spec.event_log_dir)
        if self.is_master and events.is_dir():
            # Spark 4 writes rolling event logs (eventlog_v2_<app>/events_N_<app>.zstd and
            # an appstatus file); Hadoop's .crc files beside them are not logs.
            for path in sorted(events.rglob("*")):
                if path.is_file() and not path.name.endswith(".crc"):
                    self.shipper.ship(path, f"spark-events/{path.relative_to(events)}")
        for log_file in sorted((self.node_dir / "spark" / "work").glob("*/*/std*")):
            executor_dir = log_file.parent
            self.shipper.ship(log_file, f"containers/{executor_dir.parent.name}/{executor_dir.name}/{log_file.name}")

    def shutdown(self) -> None:
        self.set_phase(node_protocol.PHASE_STOPPING)
        self.step_runner.stop_all()
        self.notebook_runner.stop_all()
        stop_all([d for d in (*self._node_daemons(), self.history_server) if d is not None])
        self._ship_step_logs()
        self._ship_node_logs()
        log.info("stopped")


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
