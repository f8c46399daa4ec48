"""The cluster metrics elmr keeps for automatic scaling rules (and, later, for
CloudWatch's API): per cluster, metric and minute, the statistics of the samples
taken in that minute, as CloudWatch keeps a metric's one-minute data points. The
control loop samples the master's latest report once per heartbeat; a rule reads
whole periods back (elmr/control/cluster_metrics.py)."""

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from elmr.store.models import Base


class ClusterMetricMinute(Base):
    __tablename__ = "cluster_metric_minutes"

    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # EMR's metric name
    # The minute's first second; indexed for pruning every cluster's old minutes at once.
    minute: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    sample_count: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
