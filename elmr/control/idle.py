"""Auto-termination: a cluster with an AutoTerminationPolicy ends once it has been
idle for its IdleTimeout. Idle, as EMR counts it: no step pending or running, no
application running on the cluster's Spark (the master's agent reports how many),
no node being decommissioned. (elmr has no notebook or Spark Connect sessions yet;
when it has, an active one makes the cluster busy here too.)

The idle time counts from `Cluster.idle_since`, kept in the store, so a restarted
server goes on counting; the pass asks to be run again when the timeout falls due.
"""

from datetime import timedelta

from elmr.control.plan import Plan
from elmr.store.models import Cluster
from elmr.store.states import transition

# EMR's ClusterStateChangeReasonCode has no code of its own for an idle timeout; a
# cluster ended by its auto-termination policy ends cleanly (TERMINATED), as one
# whose work is done.
IDLE_TIMEOUT_CODE = "ALL_STEPS_COMPLETED"


def running_applications(nodes: list) -> int:
    master = next((n for n in nodes if n.role == "MASTER" and n.state == "RUNNING"), None)
    return ((master.agent_report or {}).get("running_applications") or 0) if master else 0


def busy(nodes: list, has_steps: bool) -> bool:
    leaving = any(n.leaving_since is not None for n in nodes if n.state != "TERMINATED")
    return has_steps or leaving or running_applications(nodes) > 0


def check(cluster: Cluster, nodes: list, has_steps: bool, plan: Plan) -> None:
    if busy(nodes, has_steps):
        cluster.idle_since = None
        return
    if cluster.idle_since is None:
        cluster.idle_since = plan.now
    timeout_s = (cluster.auto_termination_policy or {}).get("IdleTimeout")
    if timeout_s is None:
        return
    deadline = cluster.idle_since + timedelta(seconds=timeout_s)
    if plan.now >= deadline:
        transition(cluster, "TERMINATING", plan.now, IDLE_TIMEOUT_CODE,
                   f"Cluster was idle for longer than its auto-termination policy's "
                   f"IdleTimeout of {timeout_s} seconds.")
    else:
        plan.recheck(deadline)
