"""The reconciler: one level-triggered pass at a time. It observes (is each node's
process group alive?), then decides in one transaction what the store says should
happen next for every live cluster, and returns the provider actions (start or stop
a node) for the actuator to perform. Running a pass twice changes nothing the
second time, so a pass interrupted by a crash is simply run again after restart.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from elmr.control import decisions
from elmr.node_protocol import PHASE_FAILED
from elmr.providers.base import NodeProvider
from elmr.store.db import Store
from elmr.store.models import Cluster, Instance
from elmr.store.states import CLUSTER_TERMINAL

log = logging.getLogger("elmr.reconciler")


@dataclass(frozen=True)
class StartNode:
    instance_id: str


@dataclass(frozen=True)
class StopNode:
    instance_id: str
    force: bool  # SIGKILL now, after the grace period for SIGTERM ran out


@dataclass
class Settings:
    stop_grace_s: float = 10.0  # SIGTERM, then SIGKILL after this long
    start_timeout_s: float = 180.0  # a node not RUNNING by then has failed


class Reconciler:
    def __init__(self, store: Store, provider: NodeProvider, clock, settings: Settings = Settings()):
        self.store = store
        self.provider = provider
        self.clock = clock
        self.settings = settings

    def run_pass(self) -> list:
        alive = self._observe()
        now = self.clock()
        actions: list = []
        with self.store.transaction() as session:
            for cluster in _live_clusters(session):
                actions += self._decide_cluster(session, cluster, alive, now)
        return actions

    def _observe(self) -> dict[str, bool]:
        """Which non-terminated nodes still have processes (read before deciding)."""
        with self.store.transaction() as session:
            nodes = session.execute(
                select(Instance.id, Instance.provider_state).where(Instance.state != "TERMINATED")
            ).all()
        return {node_id: self.provider.is_alive(checkpoint) for node_id, checkpoint in nodes}

    def _decide_cluster(self, session: Session, cluster: Cluster, alive: dict, now) -> list:
        nodes = session.scalars(
            select(Instance).where(Instance.cluster_id == cluster.id, Instance.state != "TERMINATED")
        ).all()
        actions = []
        if cluster.state != "TERMINATING":
            for node in nodes:
                actions += self._decide_node(cluster, node, alive.get(node.id, False), now)
        if cluster.state == "TERMINATING":
            acted_on = {action.instance_id for action in actions}
            for node in nodes:
                if node.id not in acted_on:
                    actions += self._stop(node, alive.get(node.id, False), now)
            if all(node.state == "TERMINATED" for node in nodes):
                decisions.finish_termination(session, cluster, now)
            return actions
        wanted = [node for node in nodes if node.state != "TERMINATED" and not _stopping(node)]
        launched = decisions.launch_missing_nodes(session, cluster, wanted, now, self._room)
        actions += [StartNode(node.id) for node in launched]
        if cluster.state != "TERMINATING":
            decisions.advance_cluster(session, cluster, wanted + launched, now)
        return actions

    def _room(self, session: Session) -> int | None:
        live = session.scalar(
            select(func.count()).select_from(Instance).where(Instance.state != "TERMINATED")
        )
        return self.provider.room_for(live)

    def _decide_node(self, cluster: Cluster, node: Instance, is_alive: bool, now) -> list:
        if _stopping(node):
            return self._stop(node, is_alive, now)
        if "pgid" not in node.provider_state:
            return [StartNode(node.id)]  # launch was cut short; finish it (idempotent)
        if not is_alive:
            decisions.node_failed(cluster, node, now, "The node's processes exited unexpectedly.")
            decisions.node_terminated(node, now)
            return []
        failure = self._failure(node, now)
        if failure:
            code = (node.agent_report or {}).get("failure_code") or "INSTANCE_FAILURE"
            decisions.node_failed(cluster, node, now, failure, code)
            return self._stop(node, is_alive, now)
        decisions.advance_node(node, now)
        return []

    def _failure(self, node: Instance, now) -> str | None:
        """Why a node whose processes still run has nevertheless failed, if it has."""
        if node.agent_phase == PHASE_FAILED:
            return (node.agent_report or {}).get("message") or "The node's agent reported a failure."
        if node.state != "RUNNING" and _age_s(node.created_at, now) > self.settings.start_timeout_s:
            return f"The node did not start its daemons within {self.settings.start_timeout_s:.0f} s."
        return None

    def _stop(self, node: Instance, is_alive: bool, now) -> list:
        """SIGTERM a node once, SIGKILL it after the grace period, and mark it
        TERMINATED once none of its processes is left."""
        if node.state == "TERMINATED":
            return []
        if not is_alive or "pgid" not in node.provider_state:
            decisions.node_terminated(node, now)
            return []
        requested = node.provider_state.get("stop_requested_at")
        if requested is None:
            node.provider_state = {**node.provider_state, "stop_requested_at": time.time()}
            return [StopNode(node.id, force=False)]
        if time.time() - requested > self.settings.stop_grace_s:
            return [StopNode(node.id, force=True)]
        return []


def _stopping(node: Instance) -> bool:
    return "stop_requested_at" in node.provider_state


def _live_clusters(session: Session) -> list[Cluster]:
    return session.scalars(
        select(Cluster).where(Cluster.state.not_in(CLUSTER_TERMINAL)).order_by(Cluster.created_at)
    ).all()


def _age_s(since: datetime, now: datetime) -> float:
    return (now - since).total_seconds()

