"""Billing, as a pure function of an instance's life and the price of each second of
it, the way AWS bills an EMR instance:

- per second, with a one-minute minimum per instance (EC2 and EMR alike);
- the EC2 part at the on-demand price, or for spot at the market price of each
  second the instance ran; the EMR part at the type's EMR price, whatever the market;
- a spot instance that EC2 interrupts within its first hour costs nothing for EC2
  ("Billing for interrupted Spot Instances", EC2 User Guide: Linux, interrupted by
  Amazon EC2 in the first hour: no charge). elmr still charges its EMR part: EMR's
  current pricing says nothing of a refund.

NormalizedInstanceHours, as DescribeCluster reports it: per instance, its running
time rounded up to whole hours, times its size's normalization factor (EMR's weights
in m1.small hours: small 1, medium 2, large 4, xlarge 8, and 8 per xlarge above:
2xlarge 16 … 24xlarge 192; the EC2 normalization factors)."""

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from elmr import catalog
from elmr.market.history import PriceSegment

SECONDS_PER_HOUR = 3600
MINIMUM_BILLED_S = 60
EC2_FREE_IF_INTERRUPTED_WITHIN_S = 3600
_SIZE_FACTORS = {"nano": 0.25, "micro": 0.5, "small": 1, "medium": 2, "large": 4, "xlarge": 8}


@dataclass(frozen=True)
class Life:
    """The seconds [start, end) an instance is billed for: from its launch to its end,
    to EC2 taking it, or to now if it still runs."""

    start: int
    end: int
    interrupted: bool = False  # EC2 took it (a spot interruption), not its user

    @property
    def seconds(self) -> int:
        return max(0, self.end - self.start)


@dataclass(frozen=True)
class Rates:
    ec2: list[PriceSegment]  # the EC2 price over the life, segment by segment
    emr_usd_per_hour: Decimal


@dataclass(frozen=True)
class Charge:
    seconds: int
    billed_seconds: int
    ec2_usd: Fraction
    emr_usd: Fraction

    @property
    def usd(self) -> Fraction:
        return self.ec2_usd + self.emr_usd


NO_CHARGE = Charge(0, 0, Fraction(0), Fraction(0))


def charge(life: Life, rates: Rates) -> Charge:
    if life.seconds == 0:
        return NO_CHARGE
    top_up = max(0, MINIMUM_BILLED_S - life.seconds)
    ec2 = Fraction(0)
    if not _ec2_waived(life):
        ec2 = _ec2_usd(rates.ec2, life.start, life.end)
        if top_up:  # the minute's remainder at the last second's price
            ec2 += Fraction(rates.ec2[-1].usd_per_hour) * top_up / SECONDS_PER_HOUR
    emr = Fraction(rates.emr_usd_per_hour) * (life.seconds + top_up) / SECONDS_PER_HOUR
    return Charge(life.seconds, life.seconds + top_up, ec2, emr)


def window_usd(life: Life, rates: Rates, start: int, end: int) -> Fraction:
    """What the instance's seconds within [start, end) cost at its per-second rates
    (a step's share of the cluster; the one-minute minimum is nobody's share)."""
    start, end = max(start, life.start), min(end, life.end)
    if end <= start:
        return Fraction(0)
    ec2 = Fraction(0) if _ec2_waived(life) else _ec2_usd(rates.ec2, start, end)
    return ec2 + Fraction(rates.emr_usd_per_hour) * (end - start) / SECONDS_PER_HOUR


def on_demand_rates(life: Life, on_demand_usd_per_hour: Decimal, emr_usd_per_hour: Decimal) -> Rates:
    return Rates([PriceSegment(life.start, life.end, on_demand_usd_per_hour)], emr_usd_per_hour)


def normalized_instance_hours(lives: list[tuple[Life, float]]) -> int:
    """EMR's NormalizedInstanceHours for instances given as (life, factor)."""
    total = sum(math.ceil(life.seconds / SECONDS_PER_HOUR) * factor for life, factor in lives)
    return math.ceil(total)  # only nano and micro factors are fractions


def normalization_factor(instance_type: str) -> float:
    """EMR's weight of one hour of the type, in m1.small hours: the catalog's, or for a
    type the catalog lacks (t3.nano…), from its size."""
    known = catalog.instance_type(instance_type)
    if known is not None:
        return known.normalization_factor
    family, _, size = instance_type.partition(".")
    if size in _SIZE_FACTORS:
        return _SIZE_FACTORS[size]
    sized = re.fullmatch(r"(\d+)xlarge|metal-(\d+)xl", size)
    if sized:
        return 8 * int(sized.group(1) or sized.group(2))
    return _metal_factor(family)


def _metal_factor(family: str) -> float:
    """A bare-metal type the catalog lacks weighs as its family's largest known size."""
    sizes = [t.normalization_factor for t in catalog.instance_types()
             if t.family == family and "metal" not in t.type]
    return max(sizes) if sizes else _SIZE_FACTORS["large"]


def _ec2_waived(life: Life) -> bool:
    return life.interrupted and life.seconds < EC2_FREE_IF_INTERRUPTED_WITHIN_S


def _ec2_usd(segments: list[PriceSegment], start: int, end: int) -> Fraction:
    total = Fraction(0)
    for segment in segments:
        overlap = min(end, segment.end) - max(start, segment.start)
        if overlap > 0:
            total += Fraction(segment.usd_per_hour) * overlap
    return total / SECONDS_PER_HOUR
