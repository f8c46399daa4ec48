"""EMR's state machines as tables, and the one function that moves a row.

Every legal edge is listed with why it happens; `transition()` refuses any other
move, so a bug shows up as an error instead of a cluster in an impossible state.
It also stamps EMR's timeline (ready / ended) and the StateChangeReason.

States are observed state, moved by the control loop. What a user asks for is
recorded apart (a group's requested count, `request_termination()`), and what EMR
shows is derived from both (`public_cluster_state()`), as Dask Gateway derives its
public states from (status, target).
"""

from datetime import datetime

CLUSTER_TERMINAL = {"TERMINATED", "TERMINATED_WITH_ERRORS"}
CLUSTER_ACTIVE = {"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"}

CLUSTER_EDGES = {
    # The reconciler launched every node it asked for; they run bootstrap actions.
    ("STARTING", "BOOTSTRAPPING"),
    # Every node's daemons are up and the Spark master sees every worker.
    ("BOOTSTRAPPING", "RUNNING"),
    # A step started (the steps issue) while the cluster was idle.
    ("WAITING", "RUNNING"),
    # No step is pending or running and the cluster is kept alive.
    ("RUNNING", "WAITING"),
    # Asked to terminate (user, steps done, step failure, node failure, idle
    # timeout); nodes are being stopped. Allowed from every live state.
    ("STARTING", "TERMINATING"),
    ("BOOTSTRAPPING", "TERMINATING"),
    ("RUNNING", "TERMINATING"),
    ("WAITING", "TERMINATING"),
    # Every node is gone; the reason chosen on entering TERMINATING decides which.
    ("TERMINATING", "TERMINATED"),
    ("TERMINATING", "TERMINATED_WITH_ERRORS"),
}

GROUP_EDGES = {
    ("PROVISIONING", "BOOTSTRAPPING"),  # its nodes are up and registering
    ("BOOTSTRAPPING", "RUNNING"),  # its nodes run their daemons
    ("PROVISIONING", "RUNNING"),  # a group whose nodes came up between two passes
    ("RUNNING", "RESIZING"),  # its requested count changed, or a node is being replaced
    ("RESIZING", "RUNNING"),  # the group has its requested count again, every node up
    ("PROVISIONING", "TERMINATED"),  # the cluster ended before the group came up
    ("BOOTSTRAPPING", "TERMINATED"),
    ("RUNNING", "TERMINATED"),
    ("RESIZING", "TERMINATED"),
}

INSTANCE_EDGES = {
    ("PROVISIONING", "BOOTSTRAPPING"),  # the agent's first heartbeat arrived
    ("BOOTSTRAPPING", "RUNNING"),  # the node's daemons answer
    ("PROVISIONING", "RUNNING"),  # first heartbeat already says RUNNING
    ("PROVISIONING", "TERMINATED"),  # stopped, or failed to start
    ("BOOTSTRAPPING", "TERMINATED"),
    ("RUNNING", "TERMINATED"),
}

STEP_TERMINAL = {"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"}
STEP_EDGES = {
    ("PENDING", "RUNNING"),  # the reconciler handed it to the master node's agent
    ("PENDING", "CANCELLED"),  # CancelSteps, an earlier step's failure, or cluster end
    ("RUNNING", "COMPLETED"),  # its process exited 0
    ("RUNNING", "FAILED"),  # its process exited non-zero
    ("RUNNING", "CANCELLED"),  # CancelSteps stopped it
    ("RUNNING", "INTERRUPTED"),  # the cluster ended (or its master was lost) meanwhile
}

_EDGES_BY_KIND = {
    "Cluster": CLUSTER_EDGES,
    "InstanceGroup": GROUP_EDGES,
    # An instance fleet moves as a group does; RESIZING while its provisioned
    # capacity differs from its targets.
    "InstanceFleet": GROUP_EDGES,
    "Instance": INSTANCE_EDGES,
    "Step": STEP_EDGES,
}
_READY_STATES = {"WAITING", "RUNNING"}
_ENDED_STATES = CLUSTER_TERMINAL | STEP_TERMINAL | {"TERMINATED"}


class IllegalTransition(RuntimeError):
    pass


def transition(
    row, new_state: str, now: datetime, code: str | None = None, message: str | None = None
) -> bool:
    """Move `row` (a Cluster, InstanceGroup, InstanceFleet, Instance or Step) to `new_state`.

    Returns False (and changes nothing) when the row is already there, so callers
    stay idempotent; raises IllegalTransition for a move the table does not list.
    """
    if row.state == new_state:
        return False
    kind = type(row).__name__
    edges = _EDGES_BY_KIND[kind]
    if (row.state, new_state) not in edges:
        raise IllegalTransition(
            f"{type(row).__name__} {row.id}: {row.state} -> {new_state} is not allowed"
        )
    row.state = new_state
    if code is not None or message is not None:
        row.state_reason_code = code
        row.state_reason_message = message
    if kind == "Step":
        if new_state == "RUNNING":
            row.started_at = now
    elif new_state in _READY_STATES and row.ready_at is None:
        row.ready_at = now
    if new_state in _ENDED_STATES:
        row.ended_at = now
    return True


def request_termination(cluster, code: str, message: str) -> bool:
    """Record that `cluster` should end, with the reason EMR will show; the control
    loop moves it to TERMINATING. The first request's reason is kept, and a cluster
    already ending is left alone. Returns whether this call recorded a request."""
    if cluster.state in CLUSTER_TERMINAL or cluster.state == "TERMINATING":
        return False
    if cluster.termination_requested_code is not None:
        return False
    cluster.termination_requested_code = code
    cluster.termination_requested_message = message
    return True


def termination_pending(cluster) -> bool:
    """Asked to terminate, but the control loop has not moved it yet."""
    return cluster.termination_requested_code is not None and cluster.state in CLUSTER_ACTIVE


def public_cluster_state(cluster) -> tuple[str, str | None, str | None]:
    """(State, reason code, reason message) as EMR shows them: a cluster asked to
    terminate reads TERMINATING at once, before the control loop has acted."""
    if termination_pending(cluster):
        return "TERMINATING", cluster.termination_requested_code, cluster.termination_requested_message
    return cluster.state, cluster.state_reason_code, cluster.state_reason_message


def public_group_state(group, running_count: int) -> str:
    """A RUNNING group whose requested count differs from its running nodes reads
    RESIZING at once after ModifyInstanceGroups, before the control loop has acted."""
    if group.state == "RUNNING" and group.requested_count != running_count:
        return "RESIZING"
    return group.state


def public_fleet_state(fleet, provisioned_on_demand: int, provisioned_spot: int) -> str:
    """A RUNNING fleet short of a target reads RESIZING at once after
    ModifyInstanceFleet (a fleet that gave up waiting for spot capacity excepted)."""
    short = (provisioned_on_demand < fleet.target_on_demand
             or provisioned_spot < fleet.target_spot and fleet.spot_gave_up_at is None)
    if fleet.state == "RUNNING" and short:
        return "RESIZING"
    return fleet.state
