"""The price catalog billing reads: per instance type, EC2's on-demand price (from
elmr's catalog) and the EMR price charged on top of it, per hour. The EMR price is
the catalog's `emr_usd_per_hour` where it has one, else the published figure or
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


@lru_cache(maxsize=1)
def _uplift() -> dict:
    return json.loads(resources.files(__package__).joinpath("emr_uplift.json").read_text())


def type_prices(instance_type: str) -> TypePrices | None:
    """None for a type the catalog does not know (it cannot be billed)."""
    known = catalog.instance_type(instance_type)
    if known is None:
        return None
    on_demand = Decimal(str(known.on_demand_usd_per_hour))
    from_catalog = getattr(known, "emr_usd_per_hour", None)
    if from_catalog is not None:
        return TypePrices(on_demand, Decimal(str(from_catalog)), "catalog")
    published = _uplift()["published_usd_per_hour"].get(instance_type)
    if published is not None:
        return TypePrices(on_demand, Decimal(published), "published")
    return TypePrices(on_demand, emr_price_by_rule(on_demand), "rule")


def emr_price_by_rule(on_demand: Decimal) -> Decimal:
    rule = _uplift()["rule"]
    return min(on_demand * Decimal(rule["fraction_of_on_demand"]), Decimal(rule["cap_usd_per_hour"]))
