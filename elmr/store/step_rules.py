"""What happens to steps: which run next (in order, up to StepConcurrencyLevel at a
time), what an agent's report of a finished step means (ActionOnFailure), and what a
cluster's end does to the steps it still had."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr import node_protocol
from elmr.store import notebook_rules
from elmr.store.models import Cluster, Step
from elmr.store.states import STEP_TERMINAL, request_termination, transition

_TERMINATING_ACTIONS = {"TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"}


def open_steps(session: Session, cluster_id: str) -> list[Step]:
    return session.scalars(
        select(Step).where(Step.cluster_id == cluster_id, Step.state.in_(("PENDING", "RUNNING")))
        .order_by(Step.position)
    ).all()


def dispatch(session: Session, cluster: Cluster, now: datetime) -> list[Step]:
    """Set the next PENDING steps RUNNING while fewer than the concurrency level run.
    The master node's agent is told of RUNNING steps in its next heartbeat reply."""
    steps = open_steps(session, cluster.id)
    running = sum(step.state == "RUNNING" for step in steps)
    started = []
    for step in steps:
        if running >= cluster.step_concurrency_level:
            break
        if step.state == "PENDING":
            transition(step, "RUNNING", now)
            running += 1
            started.append(step)
    return started


def running_steps(session: Session, cluster_id: str) -> list[Step]:
    return session.scalars(
        select(Step).where(Step.cluster_id == cluster_id, Step.state == "RUNNING")
        .order_by(Step.position)
    ).all()


def apply_report(session: Session, cluster: Cluster, report: dict, now: datetime) -> bool:
    """Record what the agent says of one step; True if the step just ended."""
    step = session.get(Step, str(report.get("step_id", "")))
    state = report.get("state")
    if step is None or step.cluster_id != cluster.id or step.state != "RUNNING":
        return False
    if state == node_protocol.STEP_COMPLETED:
        transition(step, "COMPLETED", now)
    elif state == node_protocol.STEP_CANCELLED:
        transition(step, "CANCELLED", now, None, "Cancelled by user request")
    elif state == node_protocol.STEP_FAILED:
        step.failure_details = {
            "Reason": report.get("failure_reason") or "Unknown Error.",
            "Message": report.get("failure_message") or "",
            "LogFile": _shipped_stderr(cluster, step) or report.get("log_file") or "",
        }
        transition(step, "FAILED", now)
        _act_on_failure(session, cluster, step, now)
    else:
        return False
    return True


def _shipped_stderr(cluster: Cluster, step: Step) -> str | None:
    """Where the step's stderr is shipped under the cluster's LogUri, as EMR names it
    (s3://…/<cluster-id>/steps/<step-id>/stderr.gz); None without a LogUri, when the
    node's own file is all there is."""
    if not cluster.log_uri:
        return None
    return f"{cluster.log_uri.rstrip('/')}/{cluster.id}/steps/{step.id}/stderr.gz"


def _act_on_failure(session: Session, cluster: Cluster, failed: Step, now: datetime) -> None:
    """EMR's ActionOnFailure: TERMINATE_CLUSTER (and the older TERMINATE_JOB_FLOW)
    cancel what is pending and end the cluster; CANCEL_AND_WAIT cancels what is
    pending and keeps the cluster; CONTINUE goes on with the next step."""
    if failed.action_on_failure == "CONTINUE":
        return
    for step in open_steps(session, cluster.id):
        if step.state == "PENDING":
            transition(step, "CANCELLED", now, None,
                       f"Cancelled because step {failed.id} failed ({failed.action_on_failure})")
    if failed.action_on_failure in _TERMINATING_ACTIONS and cluster.state in ("RUNNING", "WAITING"):
        request_termination(cluster, "STEP_FAILURE", "Shut down as step failed")


def end_with_cluster(session: Session, cluster: Cluster, now: datetime) -> None:
    """The cluster is gone: its pending steps are cancelled, running ones interrupted
    (and its notebook executions ended)."""
    notebook_rules.end_with_cluster(session, cluster.id, now)
    for step in open_steps(session, cluster.id):
        if step.state == "PENDING":
            transition(step, "CANCELLED", now, None, "Cluster terminated")
        elif step.state not in STEP_TERMINAL:
            transition(step, "INTERRUPTED", now, None, "Cluster terminated")
