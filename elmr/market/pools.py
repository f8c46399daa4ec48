"""A spot pool is one instance type in one availability zone: the unit that has a
price and a capacity. Which zones a region has, which zone a cluster's instances are
in, and which spot instances are alive in which pool."""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr.store.models import Cluster, Instance, InstanceGroup

# Zone letters elmr's market offers in every region (us-east-1 has a to f).
ZONE_LETTERS = "abcdef"


class MarketError(ValueError):
    """Input the market refuses (an unknown type or zone, a price over the cap…);
    the service layer turns it into EMR's ValidationException."""


@dataclass(frozen=True, order=True)
class Pool:
    instance_type: str
    zone: str


@dataclass(frozen=True)
class LiveSpot:
    """A spot instance that is not TERMINATED, with what the market needs of it."""

    instance_id: str
    ec2_instance_id: str
    cluster_id: str
    group_id: str | None  # its instance group, or None for a fleet's node
    pool: Pool
    created_at: datetime
    max_price: Decimal | None  # the group's BidPrice or the fleet's; None: up to the on-demand price
    block_ends_at: datetime | None = None  # a spot block's end: not interrupted before it


def zones(region: str) -> list[str]:
    return [region + letter for letter in ZONE_LETTERS]


def check_zone(zone: str, region: str) -> str:
    if not re.fullmatch(re.escape(region) + f"[{ZONE_LETTERS}]", zone):
        raise MarketError(f"Availability zone '{zone}' is not one of {', '.join(zones(region))}.")
    return zone


def cluster_zone(cluster: Cluster, region: str) -> str:
    """EMR places a cluster's instance groups in one zone: the one RunJobFlow asked
    for (Placement.AvailabilityZone), else the region's first."""
    attributes = (cluster.request_extras or {}).get("Ec2InstanceAttributes", {})
    return attributes.get("Ec2AvailabilityZone") or region + ZONE_LETTERS[0]


def live_spot_instances(session: Session, region: str) -> list[LiveSpot]:
    rows = session.execute(
        select(Instance, InstanceGroup.bid_price, Cluster)
        .outerjoin(InstanceGroup, Instance.group_id == InstanceGroup.id)
        .join(Cluster, Instance.cluster_id == Cluster.id)
        .where(Instance.market == "SPOT", Instance.state != "TERMINATED")
        .order_by(Instance.created_at, Instance.id)
    ).all()
    return [
        LiveSpot(
            instance_id=node.id, ec2_instance_id=node.ec2_instance_id, cluster_id=node.cluster_id,
            group_id=node.group_id, pool=Pool(node.instance_type, cluster_zone(cluster, region)),
            created_at=node.created_at, max_price=_max_price(node.spot_max_price or bid_price),
            block_ends_at=node.spot_block_ends_at,
        )
        for node, bid_price, cluster in rows
    ]


def _max_price(bid_price: str | None) -> Decimal | None:
    try:
        return Decimal(bid_price) if bid_price else None
    except InvalidOperation:  # RunJobFlow checks BidPrice; an old row may hold anything
        return None


class UnknownInstance(MarketError):
    """No spot instance with that id is alive (EMR's InvalidRequestException)."""
