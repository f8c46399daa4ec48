"""What clusters cost, from the store's rows: every instance billed over its life
(billing.py) at the catalog's prices (prices.py) and, for spot, at the market's
price of each second (history.py); summed per cluster, per instance group or
instance fleet (and a fleet's instance types and markets), per market, and shared
out to steps: each second of the cluster's cost goes to the steps
running in it, in equal parts. `elmr cost` prints this report; GET /elmr/v1/cost
answers it as JSON for the console.

Figures are exact fractions until they are written out, in USD rounded to 6 places."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr.market import billing
from elmr.market.billing import Charge, Life, Rates
from elmr.market.history import MarketHistory, second_of
from elmr.market.interruptions import notices_of
from elmr.market.pools import Pool, cluster_zone
from elmr.market.prices import type_prices
from elmr.store.market_models import SpotInterruptionNotice
from elmr.store.models import Cluster, Instance, Step

USD_PLACES = 6


@dataclass(frozen=True)
class InstanceBill:
    node: Instance
    life: Life
    rates: Rates
    charge: Charge
    priced: bool  # False: the catalog does not know its type, so it costs nothing here


def cost_report(session: Session, region: str, now: datetime, cluster_ids: list[str] | None = None) -> dict:
    query = select(Cluster).order_by(Cluster.created_at, Cluster.id)
    if cluster_ids is not None:
        query = query.where(Cluster.id.in_(cluster_ids))
    history = MarketHistory.load(session)
    costs = [cluster_cost(session, cluster, history, region, now) for cluster in session.scalars(query)]
    return {
        "AsOf": now.isoformat(),
        "CostUsd": _usd(sum((total for total, _ in costs), Fraction(0))),
        "Clusters": [report for _, report in costs],
    }


def cluster_cost(session: Session, cluster: Cluster, history: MarketHistory, region: str,
                 now: datetime) -> tuple[Fraction, dict]:
    """The cluster's exact total, and its report."""
    zone = cluster_zone(cluster, region)
    nodes = session.scalars(
        select(Instance).where(Instance.cluster_id == cluster.id).order_by(Instance.created_at, Instance.id)
    ).all()
    notices = notices_of(session, [node.id for node in nodes])
    bills = [bill_instance(node, notices.get(node.id), history, zone, now) for node in nodes]
    steps = session.scalars(select(Step).where(Step.cluster_id == cluster.id).order_by(Step.position)).all()
    shares = step_shares(steps, bills, now)
    total = sum((bill.charge.usd for bill in bills), Fraction(0))
    lives = [(bill.life, bill.node.instance_type) for bill in bills]
    return total, {
        "ClusterId": cluster.id,
        "Name": cluster.name,
        "State": cluster.state,
        "AvailabilityZone": zone,
        **_split(bills),
        "NormalizedInstanceHours": _normalized_hours(lives),
        "InstanceGroups": [_group(group, [b for b in bills if b.node.group_id == group.id])
                           for group in cluster.groups],
        "InstanceFleets": [_fleet(fleet, [b for b in bills if b.node.fleet_id == fleet.id])
                           for fleet in cluster.fleets],
        "Markets": [{"Market": market, **_split([b for b in bills if b.node.market == market])}
                    for market in sorted({bill.node.market for bill in bills})],
        "Steps": [_step(step, shares.get(step.id, Fraction(0)), now) for step in steps],
        "OutsideStepsCostUsd": _usd(total - sum(shares.values(), Fraction(0))),
        "Instances": [_instance(bill) for bill in bills],
        "UnpricedInstanceTypes": sorted({b.node.instance_type for b in bills if not b.priced}),
    }


def normalized_instance_hours(session: Session, cluster_id: str, now: datetime) -> int:
    """DescribeCluster's NormalizedInstanceHours, over the same lives as the bill."""
    return normalized_instance_hours_of(session, [cluster_id], now)[cluster_id]


def normalized_instance_hours_of(session: Session, cluster_ids: list[str], now: datetime) -> dict[str, int]:
    """{cluster id: NormalizedInstanceHours} for a page of clusters (ListClusters), in
    two queries whatever the page's size."""
    nodes = session.scalars(select(Instance).where(Instance.cluster_id.in_(cluster_ids))).all()
    notices = notices_of(session, [node.id for node in nodes])
    lives: dict[str, list] = defaultdict(list)
    for node in nodes:
        lives[node.cluster_id].append((life_of(node, notices.get(node.id), now), node.instance_type))
    return {cluster_id: _normalized_hours(lives[cluster_id]) for cluster_id in cluster_ids}


def bill_instance(node: Instance, notice: SpotInterruptionNotice | None, history: MarketHistory,
                  zone: str, now: datetime) -> InstanceBill:
    life = life_of(node, notice, now)
    prices = type_prices(node.instance_type)
    if prices is None:
        rates = billing.on_demand_rates(life, Decimal(0), Decimal(0))
    elif node.market == "SPOT":
        segments = history.price_segments(Pool(node.instance_type, zone), life.start, life.end)
        rates = Rates(segments, prices.emr_usd_per_hour)
    else:
        rates = billing.on_demand_rates(life, prices.on_demand_usd_per_hour, prices.emr_usd_per_hour)
    return InstanceBill(node, life, rates, billing.charge(life, rates), prices is not None)


def life_of(node: Instance, notice: SpotInterruptionNotice | None, now: datetime) -> Life:
    """Billed from the instance's launch (its row's creation) to its end, or now. An
    instance under an interruption notice that ran to the notice's end was taken by
    EC2 there, whenever its row says it ended; one ended earlier was stopped by its
    user, and EC2 bills it as such."""
    start, end = second_of(node.created_at), second_of(node.ended_at or now)
    if notice is not None and end >= second_of(notice.takes_effect_at):
        return Life(start, second_of(notice.takes_effect_at), interrupted=True)
    return Life(start, end)


def step_shares(steps: list[Step], bills: list[InstanceBill], now: datetime) -> dict[str, Fraction]:
    """Each step's share of the cluster's cost: every second a step runs, the cost of
    that second split equally among the steps running then."""
    windows = {step.id: (second_of(step.started_at), second_of(step.ended_at or now))
               for step in steps if step.started_at is not None}
    boundaries = sorted({second for window in windows.values() for second in window})
    shares: dict[str, Fraction] = defaultdict(Fraction)
    for start, end in zip(boundaries, boundaries[1:]):
        running = [step_id for step_id, (a, b) in windows.items() if a <= start and end <= b]
        if not running:
            continue
        cost = sum((billing.window_usd(b.life, b.rates, start, end) for b in bills), Fraction(0))
        for step_id in running:
            shares[step_id] += cost / len(running)
    return dict(shares)


def _normalized_hours(lives: list[tuple[Life, str]]) -> int:
    return billing.normalized_instance_hours(
        [(life, billing.normalization_factor(instance_type)) for life, instance_type in lives])


def _split(bills: list[InstanceBill]) -> dict:
    return {
        "InstanceCount": len(bills),
        "InstanceSeconds": sum(bill.charge.seconds for bill in bills),
        "CostUsd": _usd(sum((bill.charge.usd for bill in bills), Fraction(0))),
        "Ec2CostUsd": _usd(sum((bill.charge.ec2_usd for bill in bills), Fraction(0))),
        "EmrCostUsd": _usd(sum((bill.charge.emr_usd for bill in bills), Fraction(0))),
    }


def _group(group, bills: list[InstanceBill]) -> dict:
    return {"InstanceGroupId": group.id, "Name": group.name, "InstanceGroupType": group.role,
            "InstanceType": group.instance_type, "Market": group.market, **_split(bills)}


def _fleet(fleet, bills: list[InstanceBill]) -> dict:
    """A fleet's cost, and its parts per instance type and market (what its
    allocation strategies chose)."""
    parts = sorted({(b.node.instance_type, b.node.market) for b in bills})
    return {"InstanceFleetId": fleet.id, "Name": fleet.name, "InstanceFleetType": fleet.role,
            "TargetOnDemandCapacity": fleet.target_on_demand, "TargetSpotCapacity": fleet.target_spot,
            **_split(bills),
            "InstanceTypes": [{"InstanceType": instance_type, "Market": market,
                               **_split([b for b in bills if (b.node.instance_type, b.node.market)
                                         == (instance_type, market)])}
                              for instance_type, market in parts]}


def _step(step: Step, share: Fraction, now: datetime) -> dict:
    seconds = 0
    if step.started_at is not None:
        seconds = second_of(step.ended_at or now) - second_of(step.started_at)
    return {"StepId": step.id, "Name": step.name, "State": step.state, "Seconds": seconds,
            "CostUsd": _usd(share)}


def _instance(bill: InstanceBill) -> dict:
    node = bill.node
    return {
        "InstanceId": node.id, "Ec2InstanceId": node.ec2_instance_id,
        "InstanceGroupId": node.group_id, "InstanceFleetId": node.fleet_id, "InstanceType": node.instance_type,
        "Market": node.market, "State": node.state, "Seconds": bill.charge.seconds,
        "BilledSeconds": bill.charge.billed_seconds, "InterruptedByEc2": bill.life.interrupted,
        "CostUsd": _usd(bill.charge.usd), "Ec2CostUsd": _usd(bill.charge.ec2_usd),
        "EmrCostUsd": _usd(bill.charge.emr_usd),
    }


def _usd(amount: Fraction) -> float:
    return float(round(amount, USD_PLACES))
