"""The reconciler: one level-triggered pass over one cluster. It observes (the
actuator polls the cluster's started nodes), decides in one transaction what moves
next (the rules in spot, nodes, managed_scaling and auto_scaling, groups or fleets,
lifecycle and idle write the rows and return provider actions; cluster_metrics
samples what was observed), then hands the actions to the actuator. Running a pass
twice changes nothing the second time, so a pass cut short by a crash is simply run
again after a restart. A pass returns when it wants to run again (a retry, a grace
period, a timeout falling due), which the loop turns into a delayed put on its queue.
"""

import logging
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr.control import auto_scaling, cluster_metrics, fleets, groups, lifecycle, managed_scaling, nodes, spot
from elmr.control.actuator import Actuator
from elmr.control.nodes import Context
from elmr.control.plan import Plan
from elmr.control.settings import ControlSettings
from elmr.market.settings import MarketSettings
from elmr.store.db import Store
from elmr.store.models import Cluster, Instance
from elmr.store.states import CLUSTER_TERMINAL

log = logging.getLogger("elmr.reconciler")


class Reconciler:
    def __init__(self, store: Store, actuator: Actuator, clock,
                 settings: ControlSettings = ControlSettings(), market: MarketSettings = MarketSettings()):
        self.store = store
        self.actuator = actuator
        self.clock = clock
        self.settings = settings
        self.market = market
        self.started_at = clock()

    def live_cluster_ids(self) -> list[str]:
        with self.store.transaction() as session:
            return list(session.scalars(
                select(Cluster.id).where(Cluster.state.not_in(CLUSTER_TERMINAL)).order_by(Cluster.created_at)))

    def reconcile(self, cluster_id: str) -> float | None:
        """One pass over `cluster_id`; returns the seconds after which it wants another
        (None: nothing to wait for, e.g. the cluster has ended)."""
        statuses = self.actuator.poll(self._checkpoints(cluster_id))
        plan = Plan(self.clock())
        ctx = Context(self.settings, heartbeat_floor=self.started_at, market=self.market)
        with self.store.transaction() as session:
            cluster = session.get(Cluster, cluster_id)
            if cluster is None or cluster.state in CLUSTER_TERMINAL:
                return None
            decide(session, cluster, statuses, plan, ctx, self.actuator.room_for)
        if plan.actions:
            self.actuator.perform(cluster_id, plan.actions)
        return plan.recheck_after_s()

    def _checkpoints(self, cluster_id: str) -> dict[str, dict]:
        """Every started node's provider checkpoint (read before deciding)."""
        with self.store.transaction() as session:
            rows = session.execute(
                select(Instance.id, Instance.provider_state)
                .where(Instance.cluster_id == cluster_id, Instance.state != "TERMINATED")
            ).all()
        return {node_id: checkpoint for node_id, checkpoint in rows if nodes.started_checkpoint(checkpoint)}


def decide(session: Session, cluster: Cluster, statuses: dict, plan: Plan, ctx: Context, room) -> None:
    """Everything one pass decides for a live cluster, in order: the user's intent
    applied, the spot market's notices, each node's next move, managed scaling's and
    automatic scaling's new intent, the groups or fleets kept at their counts or
    capacities, the cluster's own state; once it is terminating (asked to, or for a
    reason found on the way), its nodes stopped; and a sample of its metrics."""
    lifecycle.apply_termination_request(cluster, plan.now)
    live = _live_nodes(session, cluster.id)
    ctx = replace(ctx, notices=spot.observe(session, cluster, live, plan, ctx.market))
    if cluster.state != "TERMINATING":
        master = next((n for n in live if n.role == "MASTER"), None)
        for node in live:
            nodes.next_move(cluster, node, master, statuses.get(node.id), plan, ctx)
    live = [node for node in live if node.state != "TERMINATED"]
    if cluster.state != "TERMINATING":
        managed_scaling.scale(cluster, live, plan, ctx)  # intent, as the resize operations write it
        for group in cluster.groups:
            auto_scaling.evaluate(session, cluster, group, plan)
        keep = fleets.keep_at_target_capacities if cluster.fleets else groups.keep_at_requested_counts
        changes = keep(session, cluster, live, plan, ctx, room)
        master = next((n for n in live if n.role == "MASTER"), None)
        for node in changes.leaving + changes.launched:  # their first move, in this pass
            nodes.next_move(cluster, node, master, statuses.get(node.id), plan, ctx)
        live += changes.launched
    if cluster.state != "TERMINATING":
        lifecycle.advance(session, cluster, live, plan)
    if cluster.state == "TERMINATING":
        lifecycle.wind_down(session, cluster, live, statuses, plan, ctx)
    if cluster.state not in CLUSTER_TERMINAL:
        cluster_metrics.sample(session, cluster, live, plan, ctx)
        plan.recheck_in(ctx.settings.watch_s)  # a node's processes may die unannounced


def _live_nodes(session: Session, cluster_id: str) -> list[Instance]:
    return list(session.scalars(
        select(Instance).where(Instance.cluster_id == cluster_id, Instance.state != "TERMINATED")
        .order_by(Instance.created_at)))
