"""The actuator: the only code that calls the node provider. It performs what the
reconciler decided, saving each checkpoint to the store before the next side effect
(allocate → save → start → save), so a crash at any point leaves a node the next
pass can finish or clean up, and never one started twice."""

import logging
from pathlib import Path

from elmr import catalog
from elmr.control.reconciler import StartNode, StopNode
from elmr.node_protocol import NodeSpec
from elmr.providers.base import NodeProvider, NodeRequest
from elmr.store.db import Store
from elmr.store.models import Cluster, Instance

log = logging.getLogger("elmr.actuator")


class Actuator:
    def __init__(self, store: Store, provider: NodeProvider, server_url: str,
                 heartbeat_interval_s: float = 0.5, object_store_dir: str = ""):
        self.store = store
        self.provider = provider
        self.server_url = server_url
        self.heartbeat_interval_s = heartbeat_interval_s
        self.object_store_dir = object_store_dir

    def perform(self, actions: list) -> None:
        # Masters first: a worker's spec names its master's address.
        starts = sorted((a for a in actions if isinstance(a, StartNode)), key=self._master_first)
        for action in [a for a in actions if isinstance(a, StopNode)] + starts:
            try:
                self._perform_one(action)
            except Exception:  # one node's failure must not stop the others
                log.exception("failed to perform %s", action)

    def _master_first(self, action: StartNode) -> int:
        with self.store.transaction() as session:
            node = session.get(Instance, action.instance_id)
            return 0 if node is not None and node.role == "MASTER" else 1

    def _perform_one(self, action) -> None:
        if isinstance(action, StopNode):
            self._stop(action)
        else:
            self._start(action.instance_id)

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
            configurations=cluster.configurations + _group_configurations(cluster, node),
            bootstrap_actions=[{"name": action.name, "path": action.path, "args": action.args}
                               for action in cluster.bootstrap_actions],
            event_log_dir=str(Path(node.provider_state["node_dir"]) / "spark-events"),
            object_store_dir=self.object_store_dir,
            runs_tasks=node.role == "MASTER" and "spark_worker" in node.ports and not any(
                group.requested_count for group in cluster.groups if group.role != "MASTER"),
        )


def _group_configurations(cluster: Cluster, node: Instance) -> list:
    """An instance group's own Configurations apply to its nodes, over the cluster's."""
    group = next(g for g in cluster.groups if g.id == node.group_id)
    return group.configurations
