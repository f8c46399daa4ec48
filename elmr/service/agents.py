"""Heartbeats from node agents: recorded as observations on the node's row, and on
the master node, the steps it reports. The reconciler reads the observations to move
nodes and clusters forward; the reply tells the agent what it should be doing: the
steps to run or cancel and the leaving nodes to decommission (master), to
decommission itself (a leaving node), or to shut down."""

import hmac

from sqlalchemy import select

from elmr.node_protocol import CLUSTER_COUNTS, PHASE_FAILED
from elmr.service import notebook_executions
from elmr.service.context import ServiceContext
from elmr.service.errors import AuthError
from elmr.store import step_rules
from elmr.store.models import Cluster, Instance


def authenticated_node(session, instance_id, token) -> Instance:
    node = session.get(Instance, str(instance_id or ""))
    if node is None or not hmac.compare_digest(node.agent_token, str(token or "")):
        raise AuthError("AccessDeniedException", "Unknown node or agent token.", 403)
    return node


def record_heartbeat(ctx: ServiceContext, heartbeat: dict) -> dict:
    now = ctx.clock()
    with ctx.store.transaction() as session:
        node = authenticated_node(session, heartbeat.get("instance_id"), heartbeat.get("agent_token"))
        changed = _observation_changed(node, heartbeat)
        node.agent_phase = heartbeat.get("phase")
        node.agent_report = {k: v for k, v in heartbeat.items() if k != "agent_token"}
        node.last_heartbeat_at = now
        reply = {"shutdown": node.state == "TERMINATED",
                 "decommission": node.leaving_since is not None and node.state != "TERMINATED"}
        if node.role == "MASTER" and node.state != "TERMINATED":
            cluster = session.get(Cluster, node.cluster_id)
            for report in heartbeat.get("steps") or []:
                changed |= step_rules.apply_report(session, cluster, report, now)
            reply.update(_step_orders(session, cluster))
            notebook_executions.apply_reports(session, cluster, heartbeat.get("notebooks") or [], now)
            reply.update(notebook_executions.orders_for_master(session, cluster))
            reply["decommission_nodes"] = _leaving_nodes(session, cluster.id)
        cluster_id = node.cluster_id
    if changed:
        ctx.wake_reconciler(cluster_id)
    return reply


def _leaving_nodes(session, cluster_id: str) -> list[dict]:
    leaving = session.scalars(select(Instance).where(
        Instance.cluster_id == cluster_id, Instance.state != "TERMINATED",
        Instance.leaving_since.is_not(None)))
    return [{"instance_id": node.id, "address": node.address} for node in leaving]


def _step_orders(session, cluster: Cluster) -> dict:
    running = step_rules.running_steps(session, cluster.id)
    return {
        "run_steps": [{"step_id": step.id, "name": step.name,
                       "hadoop_jar_step": step.hadoop_jar_step} for step in running],
        "cancel_steps": [{"step_id": step.id, "option": step.cancel_option}
                         for step in running if step.cancel_option],
    }


def _observation_changed(node: Instance, heartbeat: dict) -> bool:
    """Only news the reconciler acts on is worth waking it for."""
    previous = node.agent_report or {}
    counts = heartbeat.get("cluster_report")
    counts = counts if isinstance(counts, dict) else {}
    return (
        node.agent_phase != heartbeat.get("phase")
        or any((previous.get("cluster_report") or {}).get(name) != counts.get(name) for name in CLUSTER_COUNTS)
        or heartbeat.get("phase") == PHASE_FAILED
        or any(previous.get(news) != heartbeat.get(news) for news in _NEWS)
    )


# Master's reports the reconciler waits on besides CLUSTER_COUNTS: applications
# starting and ending (idle time), leaving nodes done on the master's side.
_NEWS = ("running_applications", "decommissioned_nodes")
