"""Turning EMR StepConfigs into PENDING step rows, in the order given, after the
cluster's existing steps. Running them is the steps issue's business."""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from elmr import ids
from elmr.store.models import Step


def new_steps(session: Session, cluster_id: str, step_configs: list, now: datetime) -> list[Step]:
    last_position = session.scalar(
        select(func.max(Step.position)).where(Step.cluster_id == cluster_id)
    )
    first = 0 if last_position is None else last_position + 1
    return [
        Step(
            id=ids.step_id(),
            cluster_id=cluster_id,
            position=first + offset,
            name=config["Name"],
            action_on_failure=config.get("ActionOnFailure", "TERMINATE_CLUSTER"),
            hadoop_jar_step=config["HadoopJarStep"],
            state="PENDING",
            created_at=now,
        )
        for offset, config in enumerate(step_configs)
    ]
