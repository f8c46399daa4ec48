"""Normalized instance hours as EMR counts them (DescribeCluster, ListClusters): for
every node, its running time rounded up to whole hours, times its size's
normalization factor; computed by the billing code, so `elmr cost` agrees."""

from datetime import datetime

from sqlalchemy.orm import Session

from elmr.market.cost_report import normalized_instance_hours as _from_billing


def normalized_instance_hours(session: Session, cluster_id: str, now: datetime) -> int:
    return _from_billing(session, cluster_id, now)
