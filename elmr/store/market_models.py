"""Tables of the simulated spot market. The price and capacity series themselves are
not stored: they are derived from a seed (elmr/market/series.py). What is stored is
what must outlive a server restart and what billing reads back: which seed held from
when (an epoch), the prices and capacities set by hand (each from the second it was
set), and the interruption notices announced (each with the time it takes effect).
"""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from elmr.store.models import Base


class SpotMarketEpoch(Base):
    """From `starts_at` on, the series come from this seed and price period. A server
    started with another --spot-seed starts a new epoch; the seconds before it keep
    the prices they had, so past bills never change."""

    __tablename__ = "spot_market_epochs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    price_period_s: Mapped[int] = mapped_column(Integer)


class SpotOverride(Base):
    """A price or a capacity set by hand for one pool (instance type, zone), from
    `set_at` until the next row of the same pool and kind. `value` None hands the
    pool back to the series."""

    __tablename__ = "spot_overrides"
    __table_args__ = (Index("ix_spot_overrides_pool", "instance_type", "zone", "kind", "set_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_type: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # "price" | "capacity"
    value: Mapped[str | None] = mapped_column(String(32))  # decimal text (USD/hour) or a count
    set_at: Mapped[datetime]


class SpotInterruptionNotice(Base):
    """EC2's two-minute warning for one spot instance: announced at `announced_at`,
    the instance is taken at `takes_effect_at` (announced_at plus the server's notice
    length at that time, kept here so a restart with another setting moves nothing)."""

    __tablename__ = "spot_interruption_notices"

    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(32), index=True)
    instance_type: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(16))  # "capacity" | "price" | "by-hand"
    announced_at: Mapped[datetime]
    takes_effect_at: Mapped[datetime]
