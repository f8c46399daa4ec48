"""The actuator: the only code that calls the node provider. It polls nodes for the
reconciler, asks how much room is left, and performs what the reconciler decided,
saving each checkpoint to the store before the next side effect (allocate → save →
start → save), so a crash at any point leaves a node the next pass can finish or
clean up, and never one started twice.

A provider call that raises is recorded on the node as data (attempts, last error,
since when, next attempt by exponential backoff); the reconciler reads it to retry
or, past its start timeout, to fail the node with EMR's reason. Calls run through
`submit` (a thread pool in the server, so one slow node never holds up the others;
inline in tests), never two at once for one node, and every finished call wakes its
cluster's next pass through `on_done`.
"""

import logging
import threading
from datetime import timedelta
from pathlib import Path

from elmr import catalog
from elmr.apps.spark_decommission import decommission_properties
from elmr.control.plan import StartNode, StopNode
from elmr.control.settings import ControlSettings
from elmr.node_protocol import NodeSpec
from elmr.providers.base import NodeProvider, NodeRequest, NodeStatus
from elmr.store.db import Store
from elmr.store.models import Cluster, Instance

log = logging.getLogger("elmr.actuator")


def run_inline(call) -> None:
    call()


class Actuator:
    def __init__(self, store: Store, provider: NodeProvider, clock, server_url: str = "",
                 settings: ControlSettings = ControlSettings(), heartbeat_interval_s: float = 0.5,
                 object_store_dir: str = "", submit=run_inline):
        self.store = store
        self.provider = provider
        self.clock = clock
        self.server_url = server_url
        self.settings = settings
        self.heartbeat_interval_s = heartbeat_interval_s
        self.object_store_dir = object_store_dir
        self.submit = submit
        self.on_done = lambda cluster_id: None  # the control loop sets this
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()

    # Observing -------------------------------------------------------------------

    def poll(self, checkpoints: dict[str, dict]) -> dict[str, NodeStatus]:
        """Each started node's status; a node the provider could not be asked about
        is left out (the reconciler decides nothing about it this pass)."""
        statuses = {}
        for node_id, checkpoint in checkpoints.items():
            try:
                statuses[node_id] = self.provider.poll(checkpoint)
            except Exception:
                log.exception("could not poll node %s", node_id)
        return statuses

    def room_for(self, live_nodes: int) -> int | None:
        try:
            return self.provider.room_for(live_nodes)
        except Exception:
            log.exception("could not ask the provider for room; assuming none")
            return 0

    # Acting ----------------------------------------------------------------------

    def perform(self, cluster_id: str, actions: list) -> None:
        # Masters first: a worker's spec names its master's address.
        starts = sorted((a for a in actions if isinstance(a, StartNode)), key=self._master_first)
        for action in [a for a in actions if isinstance(a, StopNode)] + starts:
            if self._claim(action.instance_id):
                self.submit(lambda action=action: self._perform_one(cluster_id, action))

    def _claim(self, instance_id: str) -> bool:
        """Never two provider calls for one node at once (a slow start is not
        started again by the next pass)."""
        with self._in_flight_lock:
            if instance_id in self._in_flight:
                return False
            self._in_flight.add(instance_id)
            return True

    def _master_first(self, action: StartNode) -> int:
        with self.store.transaction() as session:
            node = session.get(Instance, action.instance_id)
            return 0 if node is not None and node.role == "MASTER" else 1

    def _perform_one(self, cluster_id: str, action) -> None:
        try:
            if isinstance(action, StopNode):
                self._stop(action)
            else:
                self._start(action.instance_id)
        except Exception as error:  # one node's failure must not stop the others
            log.warning("%s failed: %s: %s", action, type(error).__name__, error)
            log.debug("%s failed", action, exc_info=True)
            self._record_failure(action.instance_id, error)
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(action.instance_id)
            self.on_done(cluster_id)

    def _record_failure(self, instance_id: str, error: Exception) -> None:
        now = self.clock()
        with self.store.transaction() as session:
            node = session.get(Instance, instance_id)
            node.provider_attempts += 1
            node.provider_error = f"{type(error).__name__}: {error}"
            node.provider_failing_since = node.provider_failing_since or now
            delay_s = self.settings.retry_delay_s(node.provider_attempts)
            node.next_attempt_at = now + timedelta(seconds=delay_s)

    def _record_success(self, node: Instance) -> None:
        node.provider_attempts = 0
        node.provider_error = None
        node.provider_failing_since = None
        node.next_attempt_at = None

    def _stop(self, action: StopNode) -> None:
        with self.store.transaction() as session:
            checkpoint = session.get(Instance, action.instance_id).provider_state
        log.info("stopping node %s%s", action.instance_id, " (kill)" if action.force else "")
        self.provider.stop(checkpoint, force=action.force)

    def _start(self, instance_id: str) -> None:
        spec = self._allocate_and_describe(instance_id)
        if spec is None:
            return
        with self.store.transaction() as session:
            checkpoint = session.get(Instance, instance_id).provider_state
        started = self.provider.start(spec, checkpoint)
        with self.store.transaction() as session:
            node = session.get(Instance, instance_id)
            node.provider_state = {**node.provider_state, **started}
            self._record_success(node)
        log.info("started node %s (%s) as %s", instance_id, spec.role, started)

    def _allocate_and_describe(self, instance_id: str) -> NodeSpec | None:
        with self.store.transaction() as session:
            node = session.get(Instance, instance_id)
            if node is None or node.state == "TERMINATED" or "pgid" in node.provider_state:
                return None
            cluster = session.get(Cluster, node.cluster_id)
            if "node_dir" not in node.provider_state:
                self._allocate(cluster, node)
            if cluster.spark_master_url is None:
                return None  # the master is not allocated yet; a later pass starts this node
            return self._spec(cluster, node)

    def _allocate(self, cluster: Cluster, node: Instance) -> None:
        checkpoint = self.provider.allocate(NodeRequest(cluster.id, node.id, node.role))
        node.provider = self.provider.name
        node.provider_state = checkpoint
        node.address = checkpoint["address"]
        node.ports = checkpoint["ports"]
        if node.role == "MASTER":
            cluster.master_public_dns_name = node.address
            cluster.spark_master_url = f"spark://{node.address}:{node.ports['spark_master']}"
            cluster.spark_master_ui_url = f"http://{node.address}:{node.ports['spark_master_ui']}"
            cluster.spark_history_ui_url = f"http://{node.address}:{node.ports['spark_history_ui']}"

    def _spec(self, cluster: Cluster, node: Instance) -> NodeSpec:
        instance_type = catalog.instance_type(node.instance_type)
        node_dir = Path(node.provider_state["node_dir"])
        return NodeSpec(
            server_url=self.server_url,
            cluster_id=cluster.id,
            instance_id=node.id,
            ec2_instance_id=node.ec2_instance_id,
            agent_token=node.agent_token,
            role=node.role,
            instance_type=node.instance_type,
            vcpus=instance_type.vcpu,
            memory_mib=instance_type.memory_mib,
            address=node.address,
            spark_master_url=cluster.spark_master_url,
            ports=node.ports,
            heartbeat_interval_s=self.heartbeat_interval_s,
            # A leaving node's executors hand their blocks to the others (or to a
            # directory every node of the cluster reaches) before they exit.
            spark_conf=decommission_properties(node_dir.parent / "spark-decommission-fallback"),
            configurations=cluster.configurations + _group_configurations(cluster, node),
            bootstrap_actions=[{"name": action.name, "path": action.path, "args": action.args}
                               for action in cluster.bootstrap_actions],
            event_log_dir=str(node_dir / "spark-events"),
            object_store_dir=self.object_store_dir,
            runs_tasks=node.role == "MASTER" and "spark_worker" in node.ports and not _has_workers(cluster),
        )


def _has_workers(cluster: Cluster) -> bool:
    """The cluster asks for core or task capacity (a count, or a fleet's units)."""
    return any(group.requested_count for group in cluster.groups if group.role != "MASTER") or any(
        fleet.target_on_demand + fleet.target_spot for fleet in cluster.fleets if fleet.role != "MASTER")


def _group_configurations(cluster: Cluster, node: Instance) -> list:
    """An instance group's own Configurations apply to its nodes, over the cluster's;
    in a fleet, its instance type's Configurations."""
    if node.fleet_id is not None:
        fleet = next(f for f in cluster.fleets if f.id == node.fleet_id)
        return next((config.get("Configurations") or [] for config in fleet.instance_type_configs
                     if config["InstanceType"] == node.instance_type), [])
    group = next(g for g in cluster.groups if g.id == node.group_id)
    return group.configurations
