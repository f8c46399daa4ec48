"""The market at any second, past or present: the seeded series of the epoch that
held then, under the prices and capacities set by hand from the second they were
set. Every question about the market (now, for the control loop and `elmr spot`;
then, for a bill) goes through one MarketHistory, read from the store in one go.

Times are whole seconds since the Unix epoch: EC2 bills per second, and the market
changes only at slot boundaries and at the seconds something was set by hand."""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr.market.pools import Pool
from elmr.market.series import Series, on_demand_price
from elmr.market.settings import DEFAULT_PRICE_PERIOD_S, DEFAULT_SEED
from elmr.store.market_models import SpotMarketEpoch, SpotOverride


def second_of(moment: datetime) -> int:
    return int(moment.timestamp() // 1)


@dataclass(frozen=True)
class Quote:
    value: Decimal | int
    by_hand: bool


@dataclass(frozen=True)
class PriceSegment:
    """The pool's price over the seconds [start, end)."""

    start: int
    end: int
    usd_per_hour: Decimal


class MarketHistory:
    def __init__(self, epochs: list[tuple[int, Series]], overrides: dict):
        # [(first second, series)], oldest first; the first also covers the time before it.
        self.epochs = epochs or [(0, Series(DEFAULT_SEED, DEFAULT_PRICE_PERIOD_S))]
        self._epoch_starts = [start for start, _ in self.epochs]
        # (pool, kind) -> [(second set, value or None)], oldest first
        self.overrides = overrides

    @classmethod
    def load(cls, session: Session) -> "MarketHistory":
        epochs = [
            (second_of(epoch.starts_at), Series(epoch.seed, epoch.price_period_s))
            for epoch in session.scalars(
                select(SpotMarketEpoch).order_by(SpotMarketEpoch.starts_at, SpotMarketEpoch.id))
        ]
        overrides = defaultdict(list)
        for row in session.scalars(select(SpotOverride).order_by(SpotOverride.set_at, SpotOverride.id)):
            overrides[(Pool(row.instance_type, row.zone), row.kind)].append((second_of(row.set_at), row.value))
        return cls(epochs, dict(overrides))

    def series_at(self, second: int) -> Series:
        index = max(bisect_right(self._epoch_starts, second) - 1, 0)
        return self.epochs[index][1]

    def price(self, pool: Pool, second: int) -> Quote:
        by_hand = self._override(pool, "price", second)
        if by_hand is not None:
            return Quote(min(Decimal(by_hand), on_demand_price(pool.instance_type)), True)
        series = self.series_at(second)
        return Quote(series.price(pool, series.slot(second)), False)

    def capacity(self, pool: Pool, second: int) -> Quote:
        by_hand = self._override(pool, "capacity", second)
        if by_hand is not None:
            return Quote(int(by_hand), True)
        series = self.series_at(second)
        return Quote(series.capacity(pool, series.slot(second)), False)

    def price_segments(self, pool: Pool, start: int, end: int) -> list[PriceSegment]:
        """The pool's price over [start, end), one segment per price held (adjacent
        equal prices merged)."""
        segments: list[PriceSegment] = []
        second = start
        while second < end:
            until = min(self.next_change(pool, second), end)
            price = self.price(pool, second).value
            if segments and segments[-1].usd_per_hour == price:
                segments[-1] = PriceSegment(segments[-1].start, until, price)
            else:
                segments.append(PriceSegment(second, until, price))
            second = until
        return segments

    def next_change(self, pool: Pool, second: int) -> int:
        """The first second after `second` at which the pool's price or capacity may
        differ (a slot boundary, a new epoch, something set by hand)."""
        series = self.series_at(second)
        candidates = [series.slot_start(series.slot(second) + 1)]
        later_epoch = bisect_right(self._epoch_starts, second)
        if later_epoch < len(self._epoch_starts):
            candidates.append(self._epoch_starts[later_epoch])
        for kind in ("price", "capacity"):
            rows = self.overrides.get((pool, kind), [])
            later = bisect_right([set_s for set_s, _ in rows], second)
            if later < len(rows):
                candidates.append(rows[later][0])
        return min(candidates)

    def _override(self, pool: Pool, kind: str, second: int) -> str | None:
        rows = self.overrides.get((pool, kind), [])
        index = bisect_right([set_s for set_s, _ in rows], second) - 1
        return rows[index][1] if index >= 0 else None
