"""The reconciler's rules, as small functions over rows: which nodes a cluster is
missing, when a node or a cluster moves to its next state, what a lost node means.
They only write rows; provider calls are the actuator's."""

from datetime import datetime

from sqlalchemy.orm import Session

from elmr import ids
from elmr.node_protocol import PHASE_RUNNING
from elmr.store import step_rules
from elmr.store.models import Cluster, Instance, InstanceGroup
from elmr.store.states import transition

# The phases after the agent registered but before its daemons are up.
_BOOTSTRAP_PHASES = {"BOOTSTRAPPING", "STARTING_DAEMONS"}
# Reasons that end a cluster TERMINATED; every other one ends it TERMINATED_WITH_ERRORS.
_CLEAN_ENDINGS = {"USER_REQUEST", "ALL_STEPS_COMPLETED"}


def launch_missing_nodes(session: Session, cluster: Cluster, live_nodes: list, now, room) -> list:
    """New PROVISIONING rows for every group below its requested count. A cluster
    that cannot fit on the provider fails at once, before anything is launched."""
    live_per_group: dict[str, int] = {}
    for node in live_nodes:
        live_per_group[node.group_id] = live_per_group.get(node.group_id, 0) + 1
    missing = [
        (group, group.requested_count - live_per_group.get(group.id, 0))
        for group in cluster.groups
        if group.state != "TERMINATED" and group.requested_count > live_per_group.get(group.id, 0)
    ]
    wanted = sum(count for _, count in missing)
    if wanted == 0:
        return []
    available = room(session)
    if available is not None and wanted > available:
        transition(cluster, "TERMINATING", now, "VALIDATION_ERROR",
                   f"This host has room for {available} more node(s) but the cluster needs "
                   f"{wanted}; terminate other clusters or ask for fewer nodes.")
        return []
    launched = []
    for group, count in missing:
        if group.state == "RUNNING":
            transition(group, "RESIZING", now, None, "Replacing lost nodes")
        for _ in range(count):
            launched.append(_new_node(cluster, group, now))
    session.add_all(launched)
    return launched


def _new_node(cluster: Cluster, group: InstanceGroup, now) -> Instance:
    return Instance(
        id=ids.instance_id(), ec2_instance_id=ids.ec2_instance_id(),
        cluster_id=cluster.id, group_id=group.id, role=group.role,
        instance_type=group.instance_type, market=group.market,
        state="PROVISIONING", created_at=now, provider="", provider_state={},
        ports={}, agent_token=ids.agent_token(),
    )


def advance_node(node: Instance, now: datetime) -> None:
    """Follow the agent's phase: registered → BOOTSTRAPPING, daemons up → RUNNING."""
    if node.agent_phase in _BOOTSTRAP_PHASES and node.state == "PROVISIONING":
        transition(node, "BOOTSTRAPPING", now)
    elif node.agent_phase == PHASE_RUNNING and node.state != "RUNNING":
        transition(node, "RUNNING", now)


def node_failed(cluster: Cluster, node: Instance, now: datetime, message: str,
                code: str = "INSTANCE_FAILURE") -> None:
    """A node died or failed; the reason stays on the node until it is TERMINATED.
    Losing the master, or any node while the cluster is still starting, ends the
    cluster; a lost core or task node of a running cluster is replaced by the next
    pass (its group is below its requested count)."""
    node.state_reason_code, node.state_reason_message = code, message
    starting = cluster.state in ("STARTING", "BOOTSTRAPPING")
    if (node.role == "MASTER" or starting) and cluster.state != "TERMINATING":
        transition(cluster, "TERMINATING", now, code,
                   f"{node.role.title()} node {node.ec2_instance_id} failed: {message}")


def node_terminated(node: Instance, now: datetime) -> None:
    """No process of the node is left. A failed node keeps the reason of its failure."""
    if node.state_reason_code in ("INSTANCE_FAILURE", "BOOTSTRAP_FAILURE"):
        transition(node, "TERMINATED", now)
    else:
        transition(node, "TERMINATED", now, "CLUSTER_TERMINATED", "Cluster was terminated.")


def advance_cluster(session: Session, cluster: Cluster, nodes: list, now: datetime) -> None:
    _advance_groups(cluster, nodes, now)
    all_registered = all(node.state in ("BOOTSTRAPPING", "RUNNING") for node in nodes)
    if cluster.state == "STARTING" and nodes and all_registered:
        transition(cluster, "BOOTSTRAPPING", now, None, "Running bootstrap actions")
    if cluster.state == "BOOTSTRAPPING" and _daemons_are_up(cluster, nodes):
        transition(cluster, "RUNNING", now, None, "Running step")
    if cluster.state in ("RUNNING", "WAITING"):
        _advance_idle_cluster(session, cluster, now)


def _daemons_are_up(cluster: Cluster, nodes: list) -> bool:
    """Every requested node runs its daemons, and the master's NameNode and
    ResourceManager count every core node's DataNode and every core and task node's
    NodeManager."""
    requested = {role: sum(g.requested_count for g in cluster.groups if g.role == role)
                 for role in ("MASTER", "CORE", "TASK")}
    running = [node for node in nodes if node.state == "RUNNING"]
    if len(running) < sum(requested.values()):
        return False
    master = next((node for node in running if node.role == "MASTER"), None)
    report = ((master.agent_report or {}).get("cluster_report") or {}) if master else {}
    return ((report.get("hdfs_live_datanodes") or 0) >= requested["CORE"]
            and (report.get("yarn_active_nodemanagers") or 0) >= requested["CORE"] + requested["TASK"])


def _advance_groups(cluster: Cluster, nodes: list, now: datetime) -> None:
    for group in cluster.groups:
        members = [node for node in nodes if node.group_id == group.id]
        running = sum(node.state == "RUNNING" for node in members)
        if group.state == "PROVISIONING" and any(n.state != "PROVISIONING" for n in members):
            transition(group, "BOOTSTRAPPING", now)
        if group.state in ("PROVISIONING", "BOOTSTRAPPING", "RESIZING") and running >= group.requested_count:
            transition(group, "RUNNING", now, None, "")


def _advance_idle_cluster(session: Session, cluster: Cluster, now: datetime) -> None:
    """Start the next steps; a cluster with a step running is RUNNING. With nothing
    pending or running it waits, or, when it is not kept alive, terminates as EMR's
    auto-terminate does."""
    step_rules.dispatch(session, cluster, now)
    if step_rules.open_steps(session, cluster.id):
        if cluster.state == "WAITING":
            transition(cluster, "RUNNING", now, None, "Running step")
        return
    if not cluster.keep_alive_when_no_steps:
        transition(cluster, "TERMINATING", now, "ALL_STEPS_COMPLETED", "Steps completed")
    elif cluster.state == "RUNNING":
        transition(cluster, "WAITING", now, None, "Cluster ready to run steps.")


def finish_termination(session: Session, cluster: Cluster, now: datetime) -> None:
    step_rules.end_with_cluster(session, cluster, now)
    for group in cluster.groups:
        if group.state != "TERMINATED":
            transition(group, "TERMINATED", now, "CLUSTER_TERMINATED", "Cluster was terminated.")
    clean = cluster.state_reason_code in _CLEAN_ENDINGS
    transition(
        cluster, "TERMINATED" if clean else "TERMINATED_WITH_ERRORS", now,
        cluster.state_reason_code, cluster.state_reason_message,
    )
