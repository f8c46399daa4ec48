"""Can a spot launch be satisfied now? The control loop's seam for launching spot
instances: EC2 fulfils a spot request when the pool has free capacity for every
instance asked for and its price is not above the request's maximum price.

Capacity in use is the pool's live spot instances that are not under an
interruption notice: those are leaving, and the capacity they held is the market's
again (a launch during a crunch still finds none, since the crunch took it)."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from elmr.market.history import MarketHistory, second_of
from elmr.market.interruptions import notices_of
from elmr.market.pools import Pool, live_spot_instances
from elmr.market.series import on_demand_price
from elmr.market.settings import MarketSettings


@dataclass(frozen=True)
class LaunchQuote:
    satisfiable: bool
    usd_per_hour: Decimal  # the pool's spot price now
    available: int  # spot instances the pool could take now
    reason: str | None  # why not, in words for a state change reason


def launch_quote(session: Session, settings: MarketSettings, instance_type: str, zone: str,
                 count: int, now: datetime, max_price: Decimal | None = None) -> LaunchQuote:
    pool = Pool(instance_type, zone)
    history = MarketHistory.load(session)
    second = second_of(now)
    price = history.price(pool, second).value
    available = max(0, history.capacity(pool, second).value - in_use_by_pool(session, settings)[pool])
    limit = max_price if max_price is not None else on_demand_price(instance_type)
    if price > limit:
        return LaunchQuote(False, price, available,
                           f"The Spot price of {instance_type} in {zone} (${price}/h) is above "
                           f"the maximum price (${limit}/h).")
    if available < count:
        return LaunchQuote(False, price, available,
                           f"There is not enough Spot capacity of {instance_type} in {zone} "
                           f"({available} available, {count} requested).")
    return LaunchQuote(True, price, available, None)


def in_use_by_pool(session: Session, settings: MarketSettings) -> Counter:
    """Pool -> its live spot instances that are not under notice."""
    live = live_spot_instances(session, settings.region)
    noticed = notices_of(session, [spot.instance_id for spot in live])
    return Counter(spot.pool for spot in live if spot.instance_id not in noticed)
