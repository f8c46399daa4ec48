"""What a cluster's end does to the notebook executions it still had: those asked to
stop are STOPPED, the others FAILED (the reconciler ends clusters; this sits beside
step_rules, which it calls)."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr.store.models import NotebookExecution

TERMINAL = {"FINISHED", "FAILED", "STOPPED"}


def end(execution: NotebookExecution, state: str, now: datetime, reason: str) -> None:
    execution.state, execution.ended_at, execution.state_reason_message = state, now, reason


def end_with_cluster(session: Session, cluster_id: str, now: datetime) -> None:
    for execution in session.scalars(select(NotebookExecution).where(
            NotebookExecution.cluster_id == cluster_id, NotebookExecution.state.not_in(TERMINAL))):
        if execution.stop_requested:
            end(execution, "STOPPED", now, "Stopped by user request")
        else:
            end(execution, "FAILED", now, "The cluster terminated before the execution ended")
