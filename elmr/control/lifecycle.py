"""The cluster's own states: STARTING → BOOTSTRAPPING → RUNNING while a step runs,
WAITING when idle (as EMR shows them); a requested termination applied; a cluster
not kept alive ending when its steps are done; TERMINATING → TERMINATED once every
node is gone, or TERMINATED_WITH_ERRORS when the reason was a failure."""

from datetime import datetime

from sqlalchemy.orm import Session

from elmr.control import idle
from elmr.control.groups import daemons_registered
from elmr.control.nodes import Context, keep_interruption, stop
from elmr.control.plan import Plan
from elmr.store import step_rules
from elmr.store.models import Cluster
from elmr.store.states import termination_pending, transition

# Reasons that end a cluster TERMINATED; every other one ends it TERMINATED_WITH_ERRORS.
_CLEAN_ENDINGS = {"USER_REQUEST", "ALL_STEPS_COMPLETED"}


def apply_termination_request(cluster: Cluster, now: datetime) -> None:
    """What the API recorded (TerminateJobFlows, a step's TERMINATE_CLUSTER), applied
    by the loop, the only mover of a cluster's state."""
    if termination_pending(cluster):
        transition(cluster, "TERMINATING", now, cluster.termination_requested_code,
                   cluster.termination_requested_message)


def wind_down(session: Session, cluster: Cluster, nodes: list, statuses: dict,
              plan: Plan, ctx: Context) -> None:
    """Stop every node; once none is left, the cluster has ended."""
    for node in nodes:
        keep_interruption(node, ctx.notices.get(node.id), plan.now)
        stop(node, statuses.get(node.id), plan, ctx)
    if all(node.state == "TERMINATED" for node in nodes):
        _finish(session, cluster, plan.now)


def _finish(session: Session, cluster: Cluster, now: datetime) -> None:
    step_rules.end_with_cluster(session, cluster, now)
    for holder in [*cluster.groups, *cluster.fleets]:
        if holder.state != "TERMINATED":
            transition(holder, "TERMINATED", now, "CLUSTER_TERMINATED", "Cluster was terminated.")
    clean = cluster.state_reason_code in _CLEAN_ENDINGS
    cluster.idle_since = None
    transition(cluster, "TERMINATED" if clean else "TERMINATED_WITH_ERRORS", now,
               cluster.state_reason_code, cluster.state_reason_message)


def advance(session: Session, cluster: Cluster, nodes: list, plan: Plan) -> None:
    if cluster.state == "STARTING" and nodes and all(n.state in ("BOOTSTRAPPING", "RUNNING") for n in nodes):
        transition(cluster, "BOOTSTRAPPING", plan.now, None, "Running bootstrap actions")
    if cluster.state == "BOOTSTRAPPING" and _daemons_are_up(cluster, nodes):
        transition(cluster, "RUNNING", plan.now, None, "Running step")
    if cluster.state in ("RUNNING", "WAITING"):
        _run_steps_or_wait(session, cluster, nodes, plan)


def _daemons_are_up(cluster: Cluster, nodes: list) -> bool:
    """Every group has its count and every fleet its capacities, all their nodes
    running their daemons (the groups' and fleets' own RUNNING, decided earlier in
    the pass), and the master's NameNode and ResourceManager count them."""
    if not all(holder.state == "RUNNING" for holder in [*cluster.groups, *cluster.fleets]):
        return False
    return daemons_registered([node for node in nodes if node.state == "RUNNING"])


def _run_steps_or_wait(session: Session, cluster: Cluster, nodes: list, plan: Plan) -> None:
    """Start the next steps; a cluster with a step pending or running is RUNNING. With
    none it waits, or, when it is not kept alive, terminates as EMR's auto-terminate
    does; a waiting cluster with an auto-termination policy ends once idle for long
    enough."""
    step_rules.dispatch(session, cluster, plan.now)
    has_steps = bool(step_rules.open_steps(session, cluster.id))
    if has_steps and cluster.state == "WAITING":
        transition(cluster, "RUNNING", plan.now, None, "Running step")
    elif not has_steps and not cluster.keep_alive_when_no_steps:
        transition(cluster, "TERMINATING", plan.now, "ALL_STEPS_COMPLETED", "Steps completed")
        return
    elif not has_steps and cluster.state == "RUNNING":
        transition(cluster, "WAITING", plan.now, None, "Cluster ready to run steps.")
    idle.check(cluster, nodes, has_steps, plan)
