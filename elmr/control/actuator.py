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
import secrets
import threading
from datetime import timedelta
from pathlib import Path

from elmr import catalog, ids
from elmr.apps import registry
from elmr.apps.spark import decommission_properties
from elmr.control.plan import StartNode, StopNode
from elmr.control.settings import ControlSettings
from elmr.node_protocol import CREDENTIALS_PATH, NodeSpec
from elmr.providers.base import NodeProvider, NodeRequest, NodeStatus
from elmr.store.db import Store
from elmr.store.models import Cluster, ClusterCredentials, Instance

log = logging.getLogger("elmr.actuator")


def run_inline(call) -> None:
    call()


class Actuator:
    def __init__(self, store: Store, provider: NodeProvider, clock, server_url: str = "",
                 settings: ControlSettings = ControlSettings(), heartbeat_interval_s: float = 0.5,
                 region: str = "us-east-1", submit=run_inline):
        self.store = store
        self.provider = provider
        self.clock = clock
        self.server_url = server_url
        self.settings = settings
        self.heartbeat_interval_s = heartbeat_interval_s
        self.region = region
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
            ports=node.ports,
            master_address=master.address,
            master_ports=master.ports,
            core_nodes=_requested(cluster, "CORE"),
            task_nodes=_requested(cluster, "TASK"),
            region=self.region,
            heartbeat_interval_s=self.heartbeat_interval_s,
            # A leaving node's executors hand their blocks to the others (or to a
            # directory every node of the cluster reaches) before they exit.
            spark_conf=decommission_properties(node_dir.parent / "spark-decommission-fallback"),
            configurations=cluster.configurations + _group_configurations(cluster, node),
            bootstrap_actions=[{"name": action.name, "path": action.path, "args": action.args}
                               for action in cluster.bootstrap_actions],
            credentials_url=self.server_url.rstrip("/") + CREDENTIALS_PATH,
            credentials_token=credentials.endpoint_token,
            job_flow=_job_flow(cluster, node, master),
            instance_group_id=node.group_id,
            applications=[application["Name"] for application in cluster.applications],
            runs_tasks=node.role == "MASTER" and not _has_workers(cluster),
            **_worker_figures(cluster, master),
        )


def _requested(cluster: Cluster, role: str) -> int:
    """The capacity the cluster asks of a role: its groups' counts, its fleets' units."""
    return sum(group.requested_count for group in cluster.groups if group.role == role) + sum(
        fleet.target_on_demand + fleet.target_spot for fleet in cluster.fleets if fleet.role == role)


def _has_workers(cluster: Cluster) -> bool:
    return _requested(cluster, "CORE") + _requested(cluster, "TASK") > 0


def _worker_figures(cluster: Cluster, master: Instance) -> dict:
    """NodeSpec's worker_vcpus and worker_memory_mib: the fewest vCPUs and the least
    memory among the core and task groups' types (a fleet's: every type it may
    launch), which Spark's executors must fit; the master's own when there are none."""
    names = [group.instance_type for group in cluster.groups if group.role in ("CORE", "TASK")] + [
        config["InstanceType"] for fleet in cluster.fleets if fleet.role in ("CORE", "TASK")
        for config in fleet.instance_type_configs]
    known = [t for t in map(catalog.instance_type, names) if t] or [catalog.instance_type(master.instance_type)]
    return {"worker_vcpus": min(t.vcpu for t in known), "worker_memory_mib": min(t.memory_mib for t in known)}


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
    """An instance group's own Configurations apply to its nodes, over the cluster's;
    in a fleet, its instance type's Configurations."""
    if node.fleet_id is not None:
        fleet = next(f for f in cluster.fleets if f.id == node.fleet_id)
        return next((config.get("Configurations") or [] for config in fleet.instance_type_configs
                     if config["InstanceType"] == node.instance_type), [])
    group = next(g for g in cluster.groups if g.id == node.group_id)
    return group.configurations
