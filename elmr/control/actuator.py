"""The actuator: the only code that calls the node provider. It performs what the
reconciler decided, saving each checkpoint to the store before the next side effect
(allocate → save → start → save), so a crash at any point leaves a node the next
pass can finish or clean up, and never one started twice."""

import logging
import secrets

from elmr import catalog, ids
from elmr.apps import registry
from elmr.control.reconciler import StartNode, StopNode
from elmr.node_protocol import CREDENTIALS_PATH, NodeSpec
from elmr.providers.base import NodeProvider, NodeRequest
from elmr.store.db import Store
from elmr.store.models import Cluster, ClusterCredentials, Instance

log = logging.getLogger("elmr.actuator")


class Actuator:
    def __init__(self, store: Store, provider: NodeProvider, server_url: str,
                 heartbeat_interval_s: float = 0.5, region: str = "us-east-1"):
        self.store = store
        self.provider = provider
        self.server_url = server_url
        self.heartbeat_interval_s = heartbeat_interval_s
        self.region = region

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
            master = next((n for n in cluster_nodes(session, cluster) if n.role == "MASTER" and n.address), None)
            if master is None:
                return None  # the master is not allocated yet; a later pass starts this node
            return self._spec(session, cluster, node, master)

    def _allocate(self, cluster: Cluster, node: Instance) -> None:
        """An address with the ports the node's applications declare; the master's
        address is the cluster's DNS name and its ports make the endpoints."""
        checkpoint = self.provider.allocate(
            NodeRequest(cluster.id, node.id, node.role, registry.ports_for(node.role)))
        node.provider = self.provider.name
        node.provider_state = checkpoint
        node.address = checkpoint["address"]
        node.ports = checkpoint["ports"]
        if node.role == "MASTER":
            cluster.master_public_dns_name = node.address
            cluster.endpoints = registry.endpoints(node.address, node.ports)

    def _spec(self, session, cluster: Cluster, node: Instance, master: Instance) -> NodeSpec:
        instance_type = catalog.instance_type(node.instance_type)
        credentials = _cluster_credentials(session, cluster)
        requested = {role: sum(g.requested_count for g in cluster.groups if g.role == role)
                     for role in ("CORE", "TASK")}
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
            ports=node.ports,
            master_address=master.address,
            master_ports=master.ports,
            core_nodes=requested["CORE"],
            task_nodes=requested["TASK"],
            region=self.region,
            heartbeat_interval_s=self.heartbeat_interval_s,
            configurations=cluster.configurations + _group_configurations(cluster, node),
            bootstrap_actions=[{"name": action.name, "path": action.path, "args": action.args}
                               for action in cluster.bootstrap_actions],
            credentials_url=self.server_url.rstrip("/") + CREDENTIALS_PATH,
            credentials_token=credentials.endpoint_token,
            job_flow=_job_flow(cluster, node, master),
            instance_group_id=node.group_id,
        )


def held_node_addresses(store: Store) -> list[str]:
    """The addresses live nodes hold, so a restarted server hands none out again."""
    with store.transaction() as session:
        return [address for (address,) in session.query(Instance.address).filter(
            Instance.state != "TERMINATED", Instance.address.is_not(None))]


def cluster_nodes(session, cluster: Cluster) -> list:
    return session.query(Instance).filter(Instance.cluster_id == cluster.id).all()


def _cluster_credentials(session, cluster: Cluster) -> ClusterCredentials:
    """The cluster's own key, made with its first node's spec."""
    credentials = session.query(ClusterCredentials).filter_by(cluster_id=cluster.id).one_or_none()
    if credentials is None:
        credentials = ClusterCredentials(
            access_key_id=ids.temporary_access_key_id(), cluster_id=cluster.id,
            secret_access_key=ids.secret_access_key(), session_token=secrets.token_urlsafe(64),
            endpoint_token=secrets.token_urlsafe(32), created_at=cluster.created_at)
        session.add(credentials)
        session.flush()
    return credentials


def _job_flow(cluster: Cluster, node: Instance, master: Instance) -> dict:
    """EMR's /mnt/var/lib/info/job-flow.json: the cluster's id and groups, which
    bootstrap scripts read to tell nodes apart."""
    groups = [{"instanceGroupId": g.id, "instanceGroupName": g.name, "instanceRole": g.role.title(),
               "marketType": g.market, "instanceType": g.instance_type, "requestedInstanceCount": g.requested_count}
              for g in cluster.groups]
    return {"jobFlowId": cluster.id, "jobFlowCreationInstant": int(cluster.created_at.timestamp() * 1000),
            "instanceCount": sum(g.requested_count for g in cluster.groups),
            "masterInstanceId": master.ec2_instance_id, "masterPrivateDnsName": master.address,
            "masterInstanceType": master.instance_type, "instanceGroups": groups}


def _group_configurations(cluster: Cluster, node: Instance) -> list:
    """An instance group's own Configurations apply to its nodes, over the cluster's."""
    group = next(g for g in cluster.groups if g.id == node.group_id)
    return group.configurations
