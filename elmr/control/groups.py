"""Instance groups: keeping each group at its requested count, the user's intent.
A group below it gets new nodes (PROVISIONING rows for the actuator to start); a
group above it chooses which nodes leave (EMR's ShrinkPolicy: the instances asked
for first, never a protected one, then nodes not yet up, then the newest) and marks
them leaving: the node rules decommission them gracefully, then stop them. A group
shows RESIZING until it has exactly its count, every node RUNNING and registered
with the cluster's Spark master, and nothing leaving.

A spot group launches only as far as the market has capacity at its BidPrice and
waits for the rest; a node under a spot interruption notice is leaving (spot.py),
so its group launches its replacement at once. Instance fleets (fleets.py) keep
their target capacities over the same node rules and the same helpers.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from elmr import ids
from elmr.control import spot
from elmr.control.nodes import Context, stopping
from elmr.control.plan import Plan
from elmr.store.models import Cluster, Instance, InstanceGroup
from elmr.store.states import transition

_STARTING_STATES = ("STARTING", "BOOTSTRAPPING")


def staying(node: Instance) -> bool:
    """A node that counts toward its group (not leaving, not being stopped)."""
    return node.state != "TERMINATED" and node.leaving_since is None and not stopping(node)


@dataclass
class Changes:
    """What keeping the groups at their counts changed in one pass."""

    launched: list = field(default_factory=list)  # new node rows
    leaving: list = field(default_factory=list)  # nodes chosen to leave


def keep_at_requested_counts(session: Session, cluster: Cluster, live_nodes: list,
                             plan: Plan, ctx: Context, room) -> Changes:
    """Launch what each group lacks and choose who leaves a group that has too many.
    A cluster still starting that cannot fit on the provider fails at once; a
    running one launches what fits and waits for room."""
    groups = [g for g in cluster.groups if g.state != "TERMINATED"]
    changes = Changes()
    missing = {}
    for group in groups:
        members = [n for n in live_nodes if n.group_id == group.id and staying(n)]
        excess = len(members) - group.requested_count
        if excess > 0:
            changes.leaving += _choose_leavers(group, members, excess, plan.now, ctx)
        elif excess < 0:
            missing[group.id] = -excess
    changes.launched = _launch(session, cluster, groups, missing, plan, ctx, room)
    nodes = live_nodes + changes.launched
    registered = workers_registered(cluster, nodes)
    for group in groups:
        _advance_group(group, [n for n in nodes if n.group_id == group.id], registered, plan.now, ctx.notices)
    return changes


def _launch(session: Session, cluster: Cluster, groups: list, missing: dict, plan: Plan,
            ctx: Context, room) -> list[Instance]:
    budget = launch_budget(session, cluster, sum(missing.values()), plan, ctx, room)
    launched = []
    for group in groups:
        wanted = missing.get(group.id, 0)
        count = min(wanted, budget - len(launched))
        if count < wanted:
            group.state_reason_message = f"Waiting for room on this host for {wanted - count} more node(s)."
        if count and group.market == "SPOT":
            count = _spot_fits(session, cluster, group, count, plan, ctx)
        launched += [new_node(cluster, group.role, group.instance_type, group.market, plan.now,
                              group_id=group.id) for _ in range(count)]
    session.add_all(launched)
    return launched


def launch_budget(session: Session, cluster: Cluster, wanted: int, plan: Plan, ctx: Context, room) -> int:
    """How many of `wanted` new nodes the provider has room for. A cluster still
    starting that cannot fit fails at once; a running one launches what fits and
    waits for room."""
    if wanted == 0:
        return 0
    available = room(_live_node_count(session))
    if available is None or wanted <= available:
        return wanted
    if cluster.state in _STARTING_STATES:
        transition(cluster, "TERMINATING", plan.now, "VALIDATION_ERROR",
                   f"This host has room for {available} more node(s) but the cluster needs "
                   f"{wanted}; terminate other clusters or ask for fewer nodes.")
        return 0
    plan.recheck_in(ctx.settings.retry_max_s)  # room may free up
    return max(0, available)


def _spot_fits(session: Session, cluster: Cluster, group: InstanceGroup, count: int, plan: Plan,
               ctx: Context) -> int:
    """Spot instances launch only as far as the market has capacity at the group's
    BidPrice; an instance group waits for the rest (EMR's groups do not fall back
    to on-demand; fleets can)."""
    max_price = spot.max_price_of(group.bid_price, None, group.instance_type)
    offer = spot.offer(session, ctx.market, cluster, group.instance_type, max_price, plan.now)
    fits = min(count, offer.available)
    if fits < count:
        group.state_reason_message = (f"Waiting for Spot capacity for {count - fits} more instance(s): "
                                      f"{offer.reason or 'the pool is full.'}")
        plan.recheck_in(ctx.settings.watch_s)
    return fits


def _live_node_count(session: Session) -> int:
    """Nodes of every cluster that still hold (or will hold) a place on the provider."""
    return session.scalar(select(func.count()).select_from(Instance).where(Instance.state != "TERMINATED"))


def new_node(cluster: Cluster, role: str, instance_type: str, market: str, now: datetime, **holder) -> Instance:
    """A node row to launch; `holder`: group_id, or fleet_id with the fleet's
    weighted_capacity, spot_max_price and spot_block_ends_at."""
    return Instance(
        id=ids.instance_id(), ec2_instance_id=ids.ec2_instance_id(),
        cluster_id=cluster.id, role=role, instance_type=instance_type, market=market,
        state="PROVISIONING", created_at=now, provider="", provider_state={},
        ports={}, agent_token=ids.agent_token(), provider_attempts=0, **holder,
    )


def _choose_leavers(group: InstanceGroup, members: list, count: int, now: datetime, ctx: Context) -> list:
    policy = group.shrink_policy or {}
    protected = set(policy.get("InstancesToProtect") or [])
    asked_for = list(policy.get("InstancesToTerminate") or [])
    candidates = [n for n in members if n.ec2_instance_id not in protected]
    candidates.sort(key=lambda n: _leaving_order(n, asked_for))
    for node in candidates[:count]:
        node.leaving_since = now
        node.decommission_timeout_s = _decommission_timeout(node, policy, asked_for, ctx)
    if len(candidates) < count:
        group.state_reason_message = (f"{count - len(candidates)} instance(s) cannot leave: "
                                      "InstancesToProtect keeps them.")
    return candidates[:count]


def _leaving_order(node: Instance, asked_for: list) -> tuple:
    """Asked-for instances first (in the order given), then nodes not yet running,
    then the newest: the oldest running nodes hold the most work and cached data."""
    asked = asked_for.index(node.ec2_instance_id) if node.ec2_instance_id in asked_for else len(asked_for)
    return asked, node.state == "RUNNING", -node.created_at.timestamp()


def _decommission_timeout(node: Instance, policy: dict, asked_for: list, ctx: Context) -> int:
    """InstanceTerminationTimeout for the instances named in InstancesToTerminate,
    DecommissionTimeout for the others, else EMR's default."""
    resize = policy.get("InstanceTerminationTimeout")
    if node.ec2_instance_id in asked_for and resize is not None:
        return resize
    decommission = policy.get("DecommissionTimeout")
    return ctx.settings.decommission_timeout_s if decommission is None else decommission


def _advance_group(group: InstanceGroup, members: list, registered: bool, now: datetime, noticed: dict) -> None:
    live = [n for n in members if n.state != "TERMINATED"]
    complete = len(live) == group.requested_count and all(n.state == "RUNNING" and staying(n) for n in live)
    if group.state == "PROVISIONING" and any(n.state != "PROVISIONING" for n in live):
        transition(group, "BOOTSTRAPPING", now)
    if group.state in ("PROVISIONING", "BOOTSTRAPPING", "RESIZING") and complete and registered:
        transition(group, "RUNNING", now, None, "")
    elif group.state == "RUNNING" and not complete:
        transition(group, "RESIZING", now, None, _resizing_message(group, live, noticed))


def workers_registered(cluster: Cluster, nodes: list) -> bool:
    """While the cluster starts, its own start waits for this; after, a group that
    grew is RUNNING only once the master's daemons count its nodes (daemons_registered)."""
    if cluster.state in _STARTING_STATES:
        return True
    return daemons_registered([n for n in nodes if n.state == "RUNNING" and staying(n)])


def daemons_registered(running: list) -> bool:
    """The master's NameNode counts a live DataNode for every running core node, and
    its ResourceManager an active NodeManager for every running core and task node
    (a decommissioning NodeManager is not active: pass only the nodes that stay)."""
    master = next((n for n in running if n.role == "MASTER"), None)
    report = ((master.agent_report or {}).get("cluster_report") or {}) if master else None
    if not report:
        return False
    core = sum(1 for n in running if n.role == "CORE")
    task = sum(1 for n in running if n.role == "TASK")
    return ((report.get("hdfs_live_datanodes") or 0) >= core
            and (report.get("yarn_active_nodemanagers") or 0) >= core + task)


def _resizing_message(group: InstanceGroup, live: list, noticed: dict) -> str:
    """Why a group is RESIZING: what this pass found it waiting for (room, spot
    capacity), else whether it replaces interrupted spot nodes, shrinks or grows."""
    if (group.state_reason_message or "").startswith("Waiting for"):
        return group.state_reason_message
    interrupted = sum(1 for n in live if n.id in noticed)
    if interrupted:
        return f"Replacing {interrupted} interrupted Spot instance(s)"
    have = sum(1 for n in live if staying(n))
    if have > group.requested_count or any(not staying(n) for n in live):
        return f"Shrinking to {group.requested_count} instance(s)"
    return f"Expanding to {group.requested_count} instance(s)"
