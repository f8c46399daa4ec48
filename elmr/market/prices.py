"""The price catalog billing reads: per instance type, EC2's on-demand price and the
EMR price charged on top of it, per hour. The on-demand price is the catalog's
published one where it has one (115 types); for the others (the catalog covers every
type EMR accepts, 1,200+, from data that carries no prices) it is estimated from the
published ones: the family's price per normalized unit where a size of the family is
priced, else a fit of price on vCPUs and memory over every priced type. The EMR price
is the catalog's `emr_usd_per_hour` where it has one, else the published figure or
EMR's rule from emr_uplift.json (its source is named there)."""

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from elmr import catalog


@dataclass(frozen=True)
class TypePrices:
    on_demand_usd_per_hour: Decimal
    emr_usd_per_hour: Decimal
    emr_price_from: str  # "catalog" | "published" | "rule"
    on_demand_price_from: str = "catalog"  # "catalog" | "estimated"


@lru_cache(maxsize=1)
def _uplift() -> dict:
    return json.loads(resources.files(__package__).joinpath("emr_uplift.json").read_text())


def type_prices(instance_type: str) -> TypePrices | None:
    """None for a type the catalog does not know (it cannot be billed)."""
    known = catalog.instance_type(instance_type)
    if known is None:
        return None
    on_demand, on_demand_from = on_demand_usd_per_hour(instance_type)
    from_catalog = getattr(known, "emr_usd_per_hour", None)
    if from_catalog is not None:
        return TypePrices(on_demand, Decimal(str(from_catalog)), "catalog", on_demand_from)
    published = _uplift()["published_usd_per_hour"].get(instance_type)
    if published is not None:
        return TypePrices(on_demand, Decimal(published), "published", on_demand_from)
    return TypePrices(on_demand, emr_price_by_rule(on_demand), "rule", on_demand_from)


def on_demand_usd_per_hour(instance_type: str) -> tuple[Decimal, str]:
    """(EC2's on-demand price per hour, "catalog" or "estimated") of a known type."""
    known = catalog.instance_type(instance_type)
    if known.on_demand_usd_per_hour is not None:
        return Decimal(str(known.on_demand_usd_per_hour)), "catalog"
    per_unit = _family_price_per_unit().get(known.family)
    if per_unit is not None:
        estimate = per_unit * known.normalization_factor
    else:
        per_vcpu, per_gib = _price_fit()
        estimate = per_vcpu * known.vcpu + per_gib * known.memory_gib
    return Decimal(repr(max(estimate, 0.001))).quantize(Decimal("0.001")), "estimated"


@lru_cache(maxsize=1)
def _family_price_per_unit() -> dict[str, float]:
    """{family: median published price per normalized unit} over the priced sizes."""
    by_family: dict[str, list[float]] = {}
    for known in _priced():
        by_family.setdefault(known.family, []).append(known.on_demand_usd_per_hour / known.normalization_factor)
    return {family: sorted(units)[len(units) // 2] for family, units in by_family.items()}


@lru_cache(maxsize=1)
def _price_fit() -> tuple[float, float]:
    """Least-squares price = a * vCPUs + b * GiB (no intercept) over the priced types."""
    priced = _priced()
    vv = sum(t.vcpu * t.vcpu for t in priced)
    mm = sum(t.memory_gib * t.memory_gib for t in priced)
    vm = sum(t.vcpu * t.memory_gib for t in priced)
    vp = sum(t.vcpu * t.on_demand_usd_per_hour for t in priced)
    mp = sum(t.memory_gib * t.on_demand_usd_per_hour for t in priced)
    determinant = vv * mm - vm * vm
    return (vp * mm - mp * vm) / determinant, (mp * vv - vp * vm) / determinant


def _priced() -> list:
    return [t for t in catalog.instance_types() if t.on_demand_usd_per_hour is not None and t.normalization_factor]


def emr_price_by_rule(on_demand: Decimal) -> Decimal:
    rule = _uplift()["rule"]
    return min(on_demand * Decimal(rule["fraction_of_on_demand"]), Decimal(rule["cap_usd_per_hour"]))
