"""Driving the market by hand, for tests and teaching (`elmr spot`, POST
/elmr/v1/spot/…): set a pool's price or capacity from now on (or hand it back to the
series), interrupt every spot instance of a pool or one instance (EC2's notice, then
the instance is taken), and show the market as it is now. Each change is a row in
the store, so it survives a restart and bills read it back."""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr import catalog
from elmr.market.history import MarketHistory, second_of
from elmr.market.interruptions import Notice, announce, current_notices, notices_of
from elmr.market.launches import in_use_by_pool
from elmr.market.pools import MarketError, Pool, UnknownInstance, check_zone, cluster_zone, \
    live_spot_instances, zones
from elmr.market.series import on_demand_price
from elmr.market.settings import MarketSettings
from elmr.store.market_models import SpotMarketEpoch, SpotOverride
from elmr.store.models import Cluster, InstanceFleet, InstanceGroup

MAX_CAPACITY = 100_000


def check_pool(settings: MarketSettings, instance_type: str, zone: str) -> Pool:
    if catalog.instance_type(instance_type) is None:
        raise MarketError(f"Instance type '{instance_type}' is not in elmr's catalog.")
    return Pool(instance_type, check_zone(zone, settings.region))


def set_price(session: Session, settings: MarketSettings, pool: Pool, price: str | None,
              now: datetime) -> dict:
    """The pool's spot price from now on (None: the series' again). EC2 caps spot
    prices at the on-demand price, and so does this."""
    value = None
    if price is not None:
        cap = on_demand_price(pool.instance_type)
        try:
            value = Decimal(str(price))
        except InvalidOperation:
            raise MarketError(f"The price '{price}' is not a number of dollars per hour.") from None
        if not (Decimal(0) < value <= cap):
            raise MarketError(f"A spot price of {pool.instance_type} must be above $0 and at most "
                              f"its on-demand price, ${cap}/hour (got {price}).")
    session.add(SpotOverride(instance_type=pool.instance_type, zone=pool.zone, kind="price",
                             value=None if value is None else str(value), set_at=now))
    session.flush()
    return pool_views(session, settings, [pool], now)[0]


def set_capacity(session: Session, settings: MarketSettings, pool: Pool, capacity: int | None,
                 now: datetime) -> dict:
    """How many spot instances the pool holds from now on (None: the series' again).
    Below the instances running in it, the next control pass interrupts the excess."""
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)
                                 or not 0 <= capacity <= MAX_CAPACITY):
        raise MarketError(f"A pool's capacity must be a whole number from 0 to {MAX_CAPACITY} "
                          f"(got {capacity!r}).")
    session.add(SpotOverride(instance_type=pool.instance_type, zone=pool.zone, kind="capacity",
                             value=None if capacity is None else str(capacity), set_at=now))
    session.flush()
    return pool_views(session, settings, [pool], now)[0]


def interrupt_pool(session: Session, settings: MarketSettings, pool: Pool, now: datetime) -> list[Notice]:
    """A notice for every live spot instance of the pool (those already under one keep it)."""
    members = [spot for spot in live_spot_instances(session, settings.region) if spot.pool == pool]
    return _interrupt(session, settings, members, now)


def interrupt_instance(session: Session, settings: MarketSettings, instance_id: str,
                       now: datetime) -> Notice:
    """A notice for one spot instance, named by its EC2 id (i-…) or EMR id (ci-…)."""
    live = live_spot_instances(session, settings.region)
    found = [spot for spot in live if instance_id in (spot.instance_id, spot.ec2_instance_id)]
    if not found:
        raise UnknownInstance(f"Instance '{instance_id}' is not a live spot instance.")
    return _interrupt(session, settings, found, now)[0]


def market_view(session: Session, settings: MarketSettings, now: datetime,
                instance_types: list[str] | None = None, zone_names: list[str] | None = None) -> dict:
    """The market now: its settings, the pools asked for (by default the pools in use,
    set by hand, or wanted by a live cluster's spot group or fleet), and the notices
    pending."""
    for zone in zone_names or []:
        check_zone(zone, settings.region)
    if instance_types:
        pools = [check_pool(settings, t, z) for t in instance_types for z in zone_names or zones(settings.region)]
    else:
        pools = [p for p in _pools_of_interest(session, settings) if not zone_names or p.zone in zone_names]
    live = live_spot_instances(session, settings.region)
    notices = current_notices(session, live)
    epoch = session.scalars(select(SpotMarketEpoch).order_by(SpotMarketEpoch.starts_at.desc())).first()
    return {
        "At": now.isoformat(),
        "Settings": {"Seed": epoch.seed if epoch else None,
                     "PricePeriodSeconds": epoch.price_period_s if epoch else settings.price_period_s,
                     "NoticeSeconds": settings.notice_s, "Region": settings.region},
        "Pools": pool_views(session, settings, pools, now),
        "Notices": [notice_view(notice) for notice in notices],
    }


def pool_views(session: Session, settings: MarketSettings, pools: list[Pool], now: datetime) -> list[dict]:
    history, in_use = MarketHistory.load(session), in_use_by_pool(session, settings)
    return [_pool_view(history, pool, second_of(now), in_use[pool]) for pool in pools]


def _pool_view(history: MarketHistory, pool: Pool, second: int, in_use: int) -> dict:
    price, capacity = history.price(pool, second), history.capacity(pool, second)
    return {
        "InstanceType": pool.instance_type, "AvailabilityZone": pool.zone,
        "OnDemandPrice": str(on_demand_price(pool.instance_type)),
        "SpotPrice": str(price.value), "PriceSetByHand": price.by_hand,
        "Capacity": capacity.value, "CapacitySetByHand": capacity.by_hand,
        "InUse": in_use, "Available": max(0, capacity.value - in_use),
    }


def notice_view(notice: Notice) -> dict:
    return {
        "InstanceId": notice.instance_id, "Ec2InstanceId": notice.ec2_instance_id,
        "ClusterId": notice.cluster_id, "InstanceType": notice.pool.instance_type,
        "AvailabilityZone": notice.pool.zone, "Reason": notice.reason,
        "AnnouncedAt": notice.announced_at.isoformat(), "TakesEffectAt": notice.takes_effect_at.isoformat(),
    }


def _interrupt(session: Session, settings: MarketSettings, members, now: datetime) -> list[Notice]:
    existing = notices_of(session, [spot.instance_id for spot in members])
    for spot in members:
        if spot.instance_id not in existing:
            announce(session, spot, "by-hand", now, settings.notice_s)
    session.flush()
    return current_notices(session, members)


def _pools_of_interest(session: Session, settings: MarketSettings) -> list[Pool]:
    pools = {spot.pool for spot in live_spot_instances(session, settings.region)}
    overridden = session.execute(select(SpotOverride.instance_type, SpotOverride.zone).distinct())
    pools |= {Pool(instance_type, zone) for instance_type, zone in overridden}
    wanted = session.execute(
        select(InstanceGroup.instance_type, Cluster)
        .join(Cluster, InstanceGroup.cluster_id == Cluster.id)
        .where(InstanceGroup.market == "SPOT", InstanceGroup.state != "TERMINATED",
               Cluster.ended_at.is_(None))
    )
    pools |= {Pool(instance_type, cluster_zone(cluster, settings.region)) for instance_type, cluster in wanted}
    fleets = session.execute(
        select(InstanceFleet.instance_type_configs, Cluster)
        .join(Cluster, InstanceFleet.cluster_id == Cluster.id)
        .where(InstanceFleet.target_spot > 0, InstanceFleet.state != "TERMINATED", Cluster.ended_at.is_(None))
    )
    pools |= {Pool(config["InstanceType"], cluster_zone(cluster, settings.region))
              for configs, cluster in fleets for config in configs}
    return sorted(pools)
