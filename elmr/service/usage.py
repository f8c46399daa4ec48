"""Normalized instance hours as EMR counts them: for every node, its running time
rounded up to whole hours, times its type's normalization factor."""

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr import catalog
from elmr.store.models import Instance


def normalized_instance_hours(session: Session, cluster_id: str, now: datetime) -> int:
    return normalized_instance_hours_of(session, [cluster_id], now).get(cluster_id, 0)


def normalized_instance_hours_of(session: Session, cluster_ids: list[str], now: datetime) -> dict[str, int]:
    """{cluster id: hours} for a page of clusters, in one query."""
    rows = session.execute(
        select(Instance.cluster_id, Instance.instance_type, Instance.created_at, Instance.ended_at).where(
            Instance.cluster_id.in_(cluster_ids)
        )
    )
    totals = dict.fromkeys(cluster_ids, 0)
    for cluster_id, instance_type, created_at, ended_at in rows:
        seconds = ((ended_at or now) - created_at).total_seconds()
        known_type = catalog.instance_type(instance_type)
        factor = known_type.normalization_factor if known_type else 1
        totals[cluster_id] += math.ceil(max(seconds, 0) / 3600) * factor
    return totals
