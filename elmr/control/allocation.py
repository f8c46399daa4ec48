"""Allocation strategies: which instance types an instance fleet launches to add
some units of capacity, as a pure function of the fleet's options (each type's
weight, price now and, for spot, how many instances its pool can take now).

EC2 Fleet's strategies, as EMR names them:
- spot `lowest-price`: the pool with the lowest price per unit of capacity first;
- spot `capacity-optimized`: the pool with the most spare capacity first (the one
  least likely to be interrupted);
- spot `capacity-optimized-prioritized`: by the types' Priority (lower first), then
  as capacity-optimized;
- spot `price-capacity-optimized` (EMR's default from 6.9.0): among the pools with
  the most spare capacity (those at least as deep as the median one), the lowest
  price per unit first; the shallower pools after, cheapest first;
- spot `diversified`: across every pool in turn, one instance each;
- on-demand `lowest-price`: the lowest price per unit first; on-demand `prioritized`:
  by Priority, then price.

Instances are added whole until their weights cover the units asked for, so the
last one may overshoot (EMR's fleets do: "may exceed the target capacity"). Options
with no room left are skipped; what cannot be covered is left short, for the fleet
keeper to wait for or fall back from.
"""

from dataclasses import dataclass
from decimal import Decimal

SPOT_STRATEGIES = ("capacity-optimized", "price-capacity-optimized", "lowest-price", "diversified",
                   "capacity-optimized-prioritized")
ON_DEMAND_STRATEGIES = ("lowest-price", "prioritized")


@dataclass(frozen=True)
class Option:
    instance_type: str
    weight: int  # units of capacity one instance gives
    usd_per_hour: Decimal  # what one instance costs now (spot: the pool's price)
    available: int | None = None  # instances the pool can take now (None: no limit)
    priority: float | None = None  # InstanceTypeConfig.Priority (lower goes first)

    @property
    def usd_per_unit(self) -> Decimal:
        return self.usd_per_hour / self.weight

    @property
    def spare_units(self) -> float:
        return float("inf") if self.available is None else self.available * self.weight


def allocate(options: list[Option], units: int, strategy: str) -> dict[str, int]:
    """{instance type: instances to launch} covering `units` (or as much as the
    options' room allows), chosen by `strategy`."""
    if units <= 0:
        return {}
    ordered = _ordered(options, strategy)
    if strategy == "diversified":
        return _round_robin(ordered, units)
    return _fill_in_order(ordered, units)


def covered_units(options: list[Option], launches: dict[str, int]) -> int:
    weights = {option.instance_type: option.weight for option in options}
    return sum(weights[instance_type] * count for instance_type, count in launches.items())


def _ordered(options: list[Option], strategy: str) -> list[Option]:
    by_price = sorted(options, key=lambda o: (o.usd_per_unit, o.instance_type))
    if strategy in ("lowest-price", "diversified"):
        return by_price
    if strategy == "capacity-optimized":
        return sorted(options, key=_deepest_first)
    if strategy == "capacity-optimized-prioritized":
        return sorted(options, key=lambda o: (_priority(o), *_deepest_first(o)))
    if strategy == "prioritized":
        return sorted(options, key=lambda o: (_priority(o), o.usd_per_unit, o.instance_type))
    if strategy == "price-capacity-optimized":
        depths = sorted(o.spare_units for o in options)
        median = depths[(len(depths) - 1) // 2] if depths else 0
        deep = [o for o in by_price if o.spare_units >= median]
        return deep + [o for o in by_price if o.spare_units < median]
    raise ValueError(f"unknown allocation strategy {strategy!r}")


def _deepest_first(option: Option) -> tuple:
    return -option.spare_units, option.usd_per_unit, option.instance_type


def _priority(option: Option) -> float:
    return float("inf") if option.priority is None else option.priority


def _fill_in_order(ordered: list[Option], units: int) -> dict[str, int]:
    launches: dict[str, int] = {}
    for option in ordered:
        if units <= 0:
            break
        room = _room(option)
        count = min(room, -(-units // option.weight))  # whole instances covering the rest
        if count > 0:
            launches[option.instance_type] = count
            units -= count * option.weight
    return launches


def _round_robin(ordered: list[Option], units: int) -> dict[str, int]:
    launches: dict[str, int] = {}
    open_options = [o for o in ordered if _room(o) > 0]
    while units > 0 and open_options:
        for option in list(open_options):
            if units <= 0:
                break
            launches[option.instance_type] = launches.get(option.instance_type, 0) + 1
            units -= option.weight
            if launches[option.instance_type] >= _room(option):
                open_options.remove(option)
    return launches


def _room(option: Option) -> int:
    return 1 << 30 if option.available is None else max(0, option.available)
