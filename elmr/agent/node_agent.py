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

from elmr.agent import protocol
from elmr.agent.daemons import Daemon, stop_all
from elmr.apps import spark

log = logging.getLogger("elmr.agent")
# While daemons come up, look often: the cluster is RUNNING only once we say so.
STARTUP_POLL_S = 0.2
HEARTBEAT_TIMEOUT_S = 5.0


class HeartbeatSender:
    """POSTs heartbeats; a server that does not answer is logged, never fatal."""

    def __init__(self, spec: protocol.NodeSpec):
        self.url = spec.server_url.rstrip("/") + protocol.HEARTBEAT_PATH
        self.server_was_reachable = True

    def send(self, heartbeat: protocol.Heartbeat) -> protocol.HeartbeatReply | None:
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
        return protocol.HeartbeatReply(shutdown=bool(reply.get("shutdown")))


def _daemon_for(spec: protocol.NodeSpec, node_dir: Path) -> Daemon:
    env = spark.daemon_env(node_dir, spec.address)
    logs = node_dir / "logs"
    if spec.role == "MASTER":
        ui_port = spec.ports["spark_master_ui"]
        command = spark.master_command(spec.address, spec.ports["spark_master"], ui_port)
        return Daemon("spark-master", command, env, logs / "spark-master.out",
                      f"http://{spec.address}:{ui_port}")
    ui_port = spec.ports["spark_worker_ui"]
    command = spark.worker_command(spec.address, spec.ports["spark_worker"], ui_port,
                                   spec.vcpus, spec.memory_mib, spec.spark_master_url)
    return Daemon("spark-worker", command, env, logs / "spark-worker.out",
                  f"http://{spec.address}:{ui_port}")


class NodeAgent:
    def __init__(self, node_dir: Path):
        self.node_dir = node_dir
        self.spec = protocol.NodeSpec.read(node_dir)
        self.sender = HeartbeatSender(self.spec)
        self.daemon = _daemon_for(self.spec, node_dir)
        self.phase = protocol.PHASE_BOOTSTRAPPING
        self.message = ""
        self.alive_workers: int | None = None
        self.stop_requested = threading.Event()

    def heartbeat(self) -> None:
        reply = self.sender.send(protocol.Heartbeat(
            instance_id=self.spec.instance_id,
            agent_token=self.spec.agent_token,
            phase=self.phase,
            message=self.message,
            agent_pid=os.getpid(),
            daemons=[self.daemon.status()],
            spark_alive_workers=self.alive_workers,
            spark_master_ui_url=self.daemon.ui_url if self.spec.role == "MASTER" else None,
        ))
        if reply is not None and reply.shutdown:
            log.info("the server asked this node to shut down")
            self.stop_requested.set()

    def set_phase(self, phase: str, message: str = "") -> None:
        if phase != self.phase or message != self.message:
            log.info("phase %s %s", phase, message)
            self.phase, self.message = phase, message
            self.heartbeat()

    def start(self) -> None:
        self.heartbeat()  # register at once: the node is BOOTSTRAPPING
        spark.write_conf_dir(self.node_dir, self.spec.spark_conf)
        self.daemon.start()
        self.set_phase(protocol.PHASE_STARTING_DAEMONS)

    def observe(self) -> None:
        """Move the phase from what the daemon says about itself."""
        exit_code = self.daemon.exit_code()
        if exit_code is not None and self.phase != protocol.PHASE_FAILED:
            self.set_phase(protocol.PHASE_FAILED,
                           f"{self.daemon.name} exited with code {exit_code}: {self.daemon.log_tail()}")
            return
        if self.phase == protocol.PHASE_FAILED:
            return
        status = spark.ui_status(self.daemon.ui_url)
        if status is None:
            return
        if self.spec.role == "MASTER":
            if status.get("status") != "ALIVE":
                return
            workers = spark.alive_workers(status)
            if workers != self.alive_workers:
                self.alive_workers = workers
                if self.phase == protocol.PHASE_RUNNING:
                    self.heartbeat()  # the server waits for this count
        self.set_phase(protocol.PHASE_RUNNING)

    def run(self) -> None:
        self.start()
        next_heartbeat = time.monotonic() + self.spec.heartbeat_interval_s
        while not self.stop_requested.is_set():
            self.observe()
            if time.monotonic() >= next_heartbeat:
                self.heartbeat()
                next_heartbeat = time.monotonic() + self.spec.heartbeat_interval_s
            settled = self.phase != protocol.PHASE_STARTING_DAEMONS
            self.stop_requested.wait(self.spec.heartbeat_interval_s / 2 if settled else STARTUP_POLL_S)
        self.shutdown()

    def shutdown(self) -> None:
        self.set_phase(protocol.PHASE_STOPPING)
        stop_all([self.daemon])
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
