"""One node's next move, as rules over its row and what was observed of it: launch
(or retry a failed launch after its backoff), notice a loss (its processes gone, its
agent gone or silent, a failure it reported, a start that took too long), follow its
agent's phases, decommission it when it leaves, take it at the end of a spot
interruption notice, and stop it (SIGTERM, then SIGKILL after the grace period).
The rules write rows and add provider actions to the plan; the actuator performs them.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from elmr.control.plan import Plan, StartNode, StopNode
from elmr.control.settings import ControlSettings
from elmr.market.interruptions import Notice
from elmr.market.settings import MarketSettings
from elmr.node_protocol import (
    PHASE_BOOTSTRAPPING,
    PHASE_DECOMMISSIONED,
    PHASE_FAILED,
    PHASE_RUNNING,
    PHASE_STARTING_DAEMONS,
)
from elmr.providers.base import NodeStatus
from elmr.store.models import Cluster, Instance
from elmr.store.states import transition

_BOOTSTRAP_PHASES = {PHASE_BOOTSTRAPPING, PHASE_STARTING_DAEMONS}
# Reasons a node keeps when it is TERMINATED; any other node ends CLUSTER_TERMINATED
# unless the loop recorded why it stopped it.
_FAILURE_CODES = {"INSTANCE_FAILURE", "BOOTSTRAP_FAILURE", "INTERNAL_ERROR"}


@dataclass(frozen=True)
class Context:
    """What every rule of one pass may consult besides the rows."""

    settings: ControlSettings
    # Heartbeat ages count from no earlier than this (the loop's start), so a
    # restarted server does not take every node for lost.
    heartbeat_floor: datetime
    market: MarketSettings = MarketSettings()
    # The cluster's nodes under a spot interruption notice this pass (spot.observe).
    notices: dict = field(default_factory=dict)


def started_checkpoint(checkpoint: dict) -> bool:
    """The provider saved a process group for the node: there is something to poll."""
    return "pgid" in checkpoint


def started(node: Instance) -> bool:
    return started_checkpoint(node.provider_state)


def stopping(node: Instance) -> bool:
    return node.stop_requested_at is not None


def next_move(cluster: Cluster, node: Instance, master: Instance | None,
              status: NodeStatus | None, plan: Plan, ctx: Context) -> None:
    """What happens to `node` in a cluster that is not terminating."""
    if node.state == "TERMINATED":
        return
    notice = ctx.notices.get(node.id)
    if notice is not None and not stopping(node):
        _under_notice(cluster, node, notice, status, plan, ctx)
    elif stopping(node):
        stop(node, status, plan, ctx)
    elif not started(node) and node.leaving_since is not None:
        _stop_leaving(node, f"Removed before it started, as its {_holder(node)} was shrunk.", status, plan, ctx)
    elif not started(node):
        _launch(cluster, node, plan, ctx)
    elif status is None:
        plan.recheck_in(ctx.settings.watch_s)  # the provider could not be asked
    elif (loss := _loss(node, status, plan.now, ctx)) is not None:
        code, message = loss
        fail(cluster, node, code, message, plan.now)
        stop(node, status, plan, ctx)
    else:
        _follow_agent(node, plan.now)
        if node.leaving_since is not None:
            _decommission(node, master, status, plan, ctx)
        _watch(node, plan, ctx)


def _under_notice(cluster: Cluster, node: Instance, notice: Notice, status: NodeStatus | None,
                  plan: Plan, ctx: Context) -> None:
    """A spot node under EC2's interruption notice: marked leaving (spot.observe), it
    decommissions like any leaving node, but EC2 takes it only at the notice's end,
    however early it is done: then it is stopped with the interruption's reason.
    Losing the master this way ends the cluster."""
    if plan.now < notice.takes_effect_at:
        loss = _loss(node, status, plan.now, ctx) if started(node) and status is not None else None
        if loss is not None:
            fail(cluster, node, *loss, plan.now)
            stop(node, status, plan, ctx)
            return
        if status is not None:
            _follow_agent(node, plan.now)
        plan.recheck(notice.takes_effect_at)
        return
    code, message = notice.state_change_reason
    if node.role == "MASTER":
        fail(cluster, node, code, message, plan.now)
    node.state_reason_code, node.state_reason_message = code, message
    stop(node, status, plan, ctx)


def keep_interruption(node: Instance, notice: Notice | None, now: datetime) -> None:
    """A spot node whose notice ran out before anyone asked it to stop was taken by
    EC2 then, even when the cluster's termination reaches it before a pass of the
    loop did (a loaded machine): it ends with the interruption's reason, as its bill
    already says (cost_report.life_of)."""
    asked_to_stop_at = node.stop_requested_at or now
    if notice is not None and notice.takes_effect_at <= asked_to_stop_at:
        node.state_reason_code, node.state_reason_message = notice.state_change_reason


def _launch(cluster: Cluster, node: Instance, plan: Plan, ctx: Context) -> None:
    """Start a node never started (or whose start was cut short: the provider
    adopts an agent already running). A start that failed waits for its backoff;
    past the start timeout the node has failed."""
    deadline = node.created_at + timedelta(seconds=ctx.settings.start_timeout_s)
    if plan.now >= deadline:
        if node.provider_error:
            fail(cluster, node, "INTERNAL_ERROR",
                 f"elmr could not start the node: {node.provider_error} "
                 f"({node.provider_attempts} attempt(s) in {ctx.settings.start_timeout_s:.0f} s).", plan.now)
        else:
            fail(cluster, node, "INSTANCE_FAILURE",
                 f"The node did not start within {ctx.settings.start_timeout_s:.0f} s.", plan.now)
        terminated(node, plan.now)
        return
    if node.next_attempt_at is not None and node.next_attempt_at > plan.now:
        node.state_reason_message = (
            f"Retrying: {node.provider_attempts} attempt(s) to start the node failed since "
            f"{node.provider_failing_since:%H:%M:%S}; last error: {node.provider_error}")
        plan.recheck(min(node.next_attempt_at, deadline))
        return
    plan.act(StartNode(node.id))
    plan.recheck(min(plan.now + timedelta(seconds=ctx.settings.watch_s), deadline))


def _loss(node: Instance, status: NodeStatus, now: datetime, ctx: Context) -> tuple[str, str] | None:
    """(code, message) if a started node has failed or been lost, else None."""
    if status.state != NodeStatus.RUNNING:
        return "INSTANCE_FAILURE", status.describe()
    if node.agent_phase == PHASE_FAILED:
        report = node.agent_report or {}
        return (report.get("failure_code") or "INSTANCE_FAILURE",
                report.get("message") or "The node's agent reported a failure.")
    if node.state != "RUNNING":
        if (now - node.created_at).total_seconds() > ctx.settings.start_timeout_s:
            return ("INSTANCE_FAILURE",
                    f"The node did not start its daemons within {ctx.settings.start_timeout_s:.0f} s.")
        return None
    silent_s = (now - _heard_from(node, ctx)).total_seconds()
    if silent_s > ctx.settings.heartbeat_timeout_s:
        return ("INSTANCE_FAILURE",
                f"The node's agent has not reported for {silent_s:.0f} s "
                f"(the limit is {ctx.settings.heartbeat_timeout_s:.0f} s).")
    return None


def _heard_from(node: Instance, ctx: Context) -> datetime:
    last = node.last_heartbeat_at or node.ready_at or node.created_at
    return max(last, ctx.heartbeat_floor)


def _watch(node: Instance, plan: Plan, ctx: Context) -> None:
    """When to look again: at the process watch period, and at the latest when the
    agent's silence would make the node lost."""
    plan.recheck_in(ctx.settings.watch_s)
    if node.state == "RUNNING":
        plan.recheck(_heard_from(node, ctx) + timedelta(seconds=ctx.settings.heartbeat_timeout_s))


def _follow_agent(node: Instance, now: datetime) -> None:
    """Registered → BOOTSTRAPPING, daemons up → RUNNING (a leaving node stays RUNNING
    while it decommissions, as EMR shows it)."""
    if node.agent_phase in _BOOTSTRAP_PHASES and node.state == "PROVISIONING":
        transition(node, "BOOTSTRAPPING", now)
    elif node.agent_phase == PHASE_RUNNING and node.state != "RUNNING":
        transition(node, "RUNNING", now)


def _decommission(node: Instance, master: Instance | None, status: NodeStatus,
                  plan: Plan, ctx: Context) -> None:
    """A leaving node is stopped once its own agent and the master's both report its
    daemons decommissioned, or when its decommission timeout runs out. One that never
    got its daemons up has nothing to hand over and stops at once."""
    deadline = node.leaving_since + timedelta(seconds=node.decommission_timeout_s or 0)
    if node.state != "RUNNING":
        _stop_leaving(node, f"Removed while starting, as its {_holder(node)} was shrunk.", status, plan, ctx)
    elif _decommissioned(node, master):
        _stop_leaving(node, f"Decommissioned gracefully, as its {_holder(node)} was shrunk.", status, plan, ctx)
    elif plan.now >= deadline:
        _stop_leaving(node, f"Its {_holder(node)} was shrunk; it did not finish decommissioning "
                            f"within {node.decommission_timeout_s} s.", status, plan, ctx)
    else:
        plan.recheck(deadline)


def _holder(node: Instance) -> str:
    return "instance fleet" if node.fleet_id else "instance group"


def _decommissioned(node: Instance, master: Instance | None) -> bool:
    """The node's own daemons (its agent's phase) and the master's side (the ids the
    master's agent lists) are both done. A cluster whose master is gone has no
    master side left to wait for."""
    own_side = node.agent_phase == PHASE_DECOMMISSIONED
    master_side = master is None or node.id in ((master.agent_report or {}).get("decommissioned_nodes") or [])
    return own_side and master_side


def _stop_leaving(node: Instance, message: str, status: NodeStatus, plan: Plan, ctx: Context) -> None:
    node.state_reason_code, node.state_reason_message = None, message
    stop(node, status, plan, ctx)


def fail(cluster: Cluster, node: Instance, code: str, message: str, now: datetime) -> None:
    """A node died or failed; the reason stays on the node until it is TERMINATED.
    Losing the master, or any node while the cluster is still starting, ends the
    cluster; a lost core or task node of a running cluster is replaced (its group is
    below its requested count)."""
    node.state_reason_code, node.state_reason_message = code, message
    starting = cluster.state in ("STARTING", "BOOTSTRAPPING")
    if (node.role == "MASTER" or starting) and cluster.state != "TERMINATING":
        transition(cluster, "TERMINATING", now, code,
                   f"{node.role.title()} node {node.ec2_instance_id} failed: {message}")


def stop(node: Instance, status: NodeStatus | None, plan: Plan, ctx: Context) -> None:
    """SIGTERM a node once, SIGKILL it after the grace period, and mark it
    TERMINATED once none of its processes is left."""
    if node.state == "TERMINATED":
        return
    if not started(node) or (status is not None and status.state == NodeStatus.GONE):
        terminated(node, plan.now)
        return
    grace = timedelta(seconds=ctx.settings.stop_grace_s)
    if node.stop_requested_at is None:
        node.stop_requested_at = plan.now
        plan.act(StopNode(node.id, force=False))
        plan.recheck(plan.now + grace)
    elif plan.now >= node.stop_requested_at + grace:
        plan.act(StopNode(node.id, force=True))
        plan.recheck_in(ctx.settings.watch_s)
    else:
        plan.recheck(node.stop_requested_at + grace)


def terminated(node: Instance, now: datetime) -> None:
    """No process of the node is left. It keeps the reason the loop recorded (a
    failure, a shrink); otherwise it went with its cluster."""
    if node.state_reason_code in _FAILURE_CODES or (node.leaving_since and node.state_reason_message):
        transition(node, "TERMINATED", now)
    else:
        transition(node, "TERMINATED", now, "CLUSTER_TERMINATED", "Cluster was terminated.")
