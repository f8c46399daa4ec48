"""The seeded market: for every pool and every slot of `price_period_s` seconds, a
price and a capacity, computed from the seed alone (a hash of seed, pool and slot),
so the same seed gives the same market at the same wall-clock times on any machine,
and any past second can be priced again without storing a series.

Shape, per pool: a "scarcity" in [0, 0.6] that drifts smoothly (value noise with a
knot every KNOT_SLOTS slots), and rare crunches where scarcity is 1 for one slot.
Capacity falls as scarcity rises (to 0 in a crunch); the price rises with it, from
the pool's discount floor (25-45 % of on-demand) to the on-demand price, the cap.
"""

import hashlib
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from elmr import catalog
from elmr.market.prices import on_demand_usd_per_hour
from elmr.market.pools import MarketError, Pool

KNOT_SLOTS = 6
NORMAL_SCARCITY_MAX = 0.6
# Pools of a 2-vCPU type hold 20-60 spot instances; bigger types fewer (÷ √(vCPU/2)).
BASE_POOL_SIZE = 40
# Chance per slot of a crunch, per pool: 10^-4 .. 10^-3 (with 300 s slots, about one
# crunch a month to one every three days), like the Spot advisor's frequency bands.
CRUNCH_LOG10_RANGE = (-4.0, -3.0)
PRICE_STEP = Decimal("0.0001")  # EC2 quotes spot prices to 4 decimals


def unit(seed: int, *parts) -> float:
    """A number in [0, 1) fixed by the seed and the parts (stable across runs and
    machines, unlike hash())."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def on_demand_price(instance_type: str) -> Decimal:
    if catalog.instance_type(instance_type) is None:
        raise MarketError(f"Instance type '{instance_type}' is not in elmr's catalog.")
    return on_demand_usd_per_hour(instance_type)[0]


@dataclass(frozen=True)
class Series:
    seed: int
    price_period_s: int

    def slot(self, second: int) -> int:
        return second // self.price_period_s

    def slot_start(self, slot: int) -> int:
        return slot * self.price_period_s

    def scarcity(self, pool: Pool, slot: int) -> float:
        if unit(self.seed, pool, "crunch", slot) < self._crunch_rate(pool):
            return 1.0
        knot, offset = divmod(slot, KNOT_SLOTS)
        here, there = unit(self.seed, pool, "knot", knot), unit(self.seed, pool, "knot", knot + 1)
        weight = (1 - math.cos(math.pi * offset / KNOT_SLOTS)) / 2
        return NORMAL_SCARCITY_MAX * (here + (there - here) * weight)

    def price(self, pool: Pool, slot: int) -> Decimal:
        cap = on_demand_price(pool.instance_type)
        floor = 0.25 + 0.2 * unit(self.seed, pool, "floor")
        fraction = floor + (1 - floor) * self.scarcity(pool, slot) ** 2
        price = (cap * Decimal(repr(fraction))).quantize(PRICE_STEP, ROUND_HALF_UP)
        return min(cap, max(PRICE_STEP, price))

    def capacity(self, pool: Pool, slot: int) -> int:
        return round(self.pool_size(pool) * (1 - self.scarcity(pool, slot)))

    def pool_size(self, pool: Pool) -> int:
        known = catalog.instance_type(pool.instance_type)
        vcpu = known.vcpu if known else 2
        spread = 0.5 + unit(self.seed, pool, "size")
        return max(1, round(BASE_POOL_SIZE * spread / math.sqrt(max(vcpu, 2) / 2)))

    def _crunch_rate(self, pool: Pool) -> float:
        low, high = CRUNCH_LOG10_RANGE
        return 10 ** (low + (high - low) * unit(self.seed, pool, "crunch-rate"))
