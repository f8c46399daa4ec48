"""Spot interruptions, EC2's way: when a pool's capacity falls below the spot
instances running in it, or its price rises above an instance's maximum price, EC2
announces an interruption and takes the instance two minutes later (the server's
--spot-notice-seconds). Notices are rows in the store, so a restart neither forgets
one nor moves its deadline.

`spot_pass` is the control loop's seam: called once per pass with the clock's time,
it records the notices the market gives now and answers which spot instances are
under notice (`warn`: decommission them gracefully) and which have reached the end
of it (`interrupt`: terminate them, with `Notice.state_change_reason`). Answering is
level-triggered: the same instance is in `interrupt` on every pass until it is
TERMINATED."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr.market.history import MarketHistory, second_of
from elmr.market.pools import LiveSpot, Pool, live_spot_instances
from elmr.market.settings import MarketSettings
from elmr.store.market_models import SpotInterruptionNotice

# ListInstances shows an interrupted instance TERMINATED with this code (the only one
# of EMR's InstanceStateChangeReasonCode values that fits) and a message naming
# EC2's own reason, Server.SpotInstanceTermination.
STATE_CHANGE_CODE = "INSTANCE_FAILURE"
_WHY = {
    "capacity": "EC2 reclaimed the Spot capacity of {pool.instance_type} in {pool.zone}",
    "price": "the Spot price of {pool.instance_type} in {pool.zone} rose above the group's maximum price",
    "by-hand": "interrupted by hand (elmr spot interrupt)",
    "block-ended": "its spot block (BlockDurationMinutes) ended",
}


@dataclass(frozen=True)
class Notice:
    instance_id: str
    ec2_instance_id: str
    cluster_id: str
    pool: Pool
    reason: str  # "capacity" | "price" | "by-hand" | "block-ended"
    announced_at: datetime
    takes_effect_at: datetime

    @property
    def state_change_reason(self) -> tuple[str, str]:
        why = _WHY[self.reason].format(pool=self.pool)
        return STATE_CHANGE_CODE, f"Server.SpotInstanceTermination: Spot instance interrupted: {why}."


@dataclass(frozen=True)
class SpotPass:
    warn: list[Notice]  # under notice: decommission gracefully, no new work
    interrupt: list[Notice]  # the notice ran out: terminate now
    wake_at: datetime | None  # when the answer may next change without any write

    def for_cluster(self, cluster_id: str) -> "SpotPass":
        return replace(self, warn=[n for n in self.warn if n.cluster_id == cluster_id],
                       interrupt=[n for n in self.interrupt if n.cluster_id == cluster_id])


def spot_pass(session: Session, settings: MarketSettings, now: datetime) -> SpotPass:
    live = live_spot_instances(session, settings.region)
    if not live:
        return SpotPass([], [], None)
    history = MarketHistory.load(session)
    noticed = set(notices_of(session, [spot.instance_id for spot in live]))
    for spot, reason in decide_interruptions(history, live, noticed, second_of(now), now):
        announce(session, spot, reason, now, settings.notice_s)
    session.flush()
    notices = current_notices(session, live)
    warn = [n for n in notices if n.takes_effect_at > now]
    return SpotPass(
        warn=warn,
        interrupt=[n for n in notices if n.takes_effect_at <= now],
        wake_at=_wake_at(history, live, warn, now),
    )


def decide_interruptions(history: MarketHistory, live: list[LiveSpot], noticed: set[str],
                         second: int, now: datetime | None = None) -> list[tuple[LiveSpot, str]]:
    """The instances the market interrupts at `second` that have no notice yet: spot
    blocks whose block has ended; those whose maximum price is under the pool's
    price, then, where the pool's capacity is below the instances left in it, the
    newest of them (EC2 does not say whom it takes; newest-first keeps the
    longest-running work). A spot block is neither priced nor crowded out before
    its end (it still holds its capacity)."""
    now = now or datetime.fromtimestamp(second, timezone.utc)
    unnoticed = [s for s in live if s.instance_id not in noticed]
    decided = [(s, "block-ended") for s in unnoticed if s.block_ends_at is not None and s.block_ends_at <= now]
    for pool in sorted({spot.pool for spot in live}):
        price = history.price(pool, second).value
        candidates = [s for s in unnoticed if s.pool == pool and s.block_ends_at is None]
        blocks = sum(1 for s in unnoticed if s.pool == pool and s.block_ends_at is not None and s.block_ends_at > now)
        priced_out = [s for s in candidates if s.max_price is not None and s.max_price < price]
        decided += [(spot, "price") for spot in priced_out]
        staying = [s for s in candidates if s not in priced_out]
        excess = len(staying) + blocks - history.capacity(pool, second).value
        if excess > 0:
            newest_first = sorted(staying, key=lambda s: (s.created_at, s.instance_id), reverse=True)
            decided += [(spot, "capacity") for spot in newest_first[:excess]]
    return decided


def announce(session: Session, spot: LiveSpot, reason: str, now: datetime,
             notice_s: float) -> SpotInterruptionNotice:
    row = SpotInterruptionNotice(
        instance_id=spot.instance_id, cluster_id=spot.cluster_id,
        instance_type=spot.pool.instance_type, zone=spot.pool.zone, reason=reason,
        announced_at=now, takes_effect_at=now + timedelta(seconds=notice_s),
    )
    session.add(row)
    return row


def notices_of(session: Session, instance_ids: list[str]) -> dict[str, SpotInterruptionNotice]:
    if not instance_ids:
        return {}
    rows = session.scalars(
        select(SpotInterruptionNotice).where(SpotInterruptionNotice.instance_id.in_(instance_ids)))
    return {row.instance_id: row for row in rows}


def current_notices(session: Session, live: list[LiveSpot]) -> list[Notice]:
    """The notices of these live instances as they stand (nothing is announced)."""
    by_id = {spot.instance_id: spot for spot in live}
    return [_notice(row, by_id[row.instance_id]) for row in notices_of(session, list(by_id)).values()]


def _notice(row: SpotInterruptionNotice, spot: LiveSpot) -> Notice:
    return Notice(
        instance_id=row.instance_id, ec2_instance_id=spot.ec2_instance_id,
        cluster_id=row.cluster_id, pool=Pool(row.instance_type, row.zone), reason=row.reason,
        announced_at=row.announced_at, takes_effect_at=row.takes_effect_at,
    )


def _wake_at(history: MarketHistory, live: list[LiveSpot], warn: list[Notice],
             now: datetime) -> datetime:
    second = second_of(now)
    changes = [datetime.fromtimestamp(history.next_change(pool, second), timezone.utc)
               for pool in {spot.pool for spot in live}]
    block_ends = [spot.block_ends_at for spot in live if spot.block_ends_at is not None and spot.block_ends_at > now]
    return min(changes + block_ends + [notice.takes_effect_at for notice in warn])
