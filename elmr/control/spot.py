"""The spot market, seen from the control loop (the market's seams, docs/spot-and-cost.md).

- `observe`: once per pass of a cluster that has live spot nodes, the market's
  answer for them (`spot_pass`): a node under an interruption notice is marked
  leaving, with what is left of the notice as its decommission timeout, so the node
  rules decommission it gracefully and its group or fleet launches a replacement at
  once; at the notice's end the node rules stop it with the interruption's reason
  (nodes.py). The answer is level-triggered, so a restarted server picks up where
  it was.
- `offers`: what the market can launch now for a group or fleet (`launch_quote`):
  each pool's price and how many instances it can take at the maximum price asked.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from elmr.control.plan import Plan
from elmr.market.interruptions import Notice, spot_pass
from elmr.market.launches import launch_quote
from elmr.market.pools import cluster_zone
from elmr.market.series import on_demand_price
from elmr.market.settings import MarketSettings
from elmr.store.models import Cluster, Instance


def observe(session: Session, cluster: Cluster, live: list[Instance], plan: Plan,
            market: MarketSettings) -> dict[str, Notice]:
    """{node id: its notice} for the cluster's nodes under an interruption notice."""
    if not any(node.market == "SPOT" for node in live):
        return {}
    answer = spot_pass(session, market, plan.now).for_cluster(cluster.id)
    if answer.wake_at is not None:
        plan.recheck(answer.wake_at)
    notices = {notice.instance_id: notice for notice in answer.warn + answer.interrupt}
    for node in live:
        notice = notices.get(node.id)
        if notice is not None and node.leaving_since is None:
            node.leaving_since = plan.now
            left_s = (notice.takes_effect_at - plan.now).total_seconds()
            node.decommission_timeout_s = max(0, math.ceil(left_s))
    return notices


@dataclass(frozen=True)
class Offer:
    instance_type: str
    usd_per_hour: Decimal  # the pool's spot price now
    available: int  # instances the pool can take now at the maximum price asked (0: none)
    reason: str | None  # why none, in words for a state change message


def offer(session: Session, market: MarketSettings, cluster: Cluster, instance_type: str,
          max_price: Decimal | None, now: datetime) -> Offer:
    quote = launch_quote(session, market, instance_type, cluster_zone(cluster, market.region),
                         1, now, max_price)
    if quote.satisfiable:
        return Offer(instance_type, quote.usd_per_hour, quote.available, None)
    return Offer(instance_type, quote.usd_per_hour, 0, quote.reason)


def max_price_of(bid_price: str | None, percentage: float | None, instance_type: str) -> Decimal | None:
    """A spot request's maximum price: its BidPrice, else BidPriceAsPercentageOfOnDemandPrice
    of the on-demand price, else (None) the on-demand price, EC2's default."""
    if bid_price:
        return Decimal(str(bid_price))
    if percentage is not None:
        return (on_demand_price(instance_type) * Decimal(str(percentage)) / 100).quantize(Decimal("0.0001"))
    return None
