"""Heartbeats from node agents: recorded as observations on the node's row. The
reconciler reads them to move nodes and clusters forward; the reply only tells an
agent whose node is no longer wanted to shut down."""

import hmac

from elmr.agent.protocol import PHASE_FAILED
from elmr.service.context import ServiceContext
from elmr.service.errors import AuthError
from elmr.store.models import Instance


def record_heartbeat(ctx: ServiceContext, heartbeat: dict) -> dict:
    with ctx.store.transaction() as session:
        node = session.get(Instance, str(heartbeat.get("instance_id", "")))
        token = str(heartbeat.get("agent_token", ""))
        if node is None or not hmac.compare_digest(node.agent_token, token):
            raise AuthError("AccessDeniedException", "Unknown node or agent token.", 403)
        changed = _observation_changed(node, heartbeat)
        node.agent_phase = heartbeat.get("phase")
        node.agent_report = {k: v for k, v in heartbeat.items() if k != "agent_token"}
        node.last_heartbeat_at = ctx.clock()
        shutdown = node.state == "TERMINATED"
    if changed:
        ctx.wake_reconciler()
    return {"shutdown": shutdown}


def _observation_changed(node: Instance, heartbeat: dict) -> bool:
    """Only news the reconciler acts on is worth waking it for."""
    previous = node.agent_report or {}
    return (
        node.agent_phase != heartbeat.get("phase")
        or previous.get("spark_alive_workers") != heartbeat.get("spark_alive_workers")
        or heartbeat.get("phase") == PHASE_FAILED
    )
