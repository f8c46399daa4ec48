"""Billing checked against figures computed by hand: instances' lives written as
rows with chosen times, the report read back as `elmr cost` gets it. Prices used
(us-east-1): m5.xlarge EC2 $0.192/h + EMR $0.048/h; m5.8xlarge EC2 $1.536/h + EMR
$0.27/h (EMR's cap)."""

from decimal import Decimal

import pytest

from elmr import catalog
from elmr.market import billing, by_hand
from elmr.market.cost_report import cost_report, normalized_instance_hours
from elmr.market.history import second_of
from elmr.market.interruptions import announce
from elmr.market.pools import LiveSpot, Pool
from elmr.market.prices import type_prices
from elmr.market.series import Series
from market_rows import SETTINGS, T0, add_cluster, add_fleet, add_fleet_instance, add_group, add_instance, add_step, at

POOL = Pool("m5.xlarge", "us-east-1a")


def report(market_store, now_s: float, cluster_id: str = "j-COST") -> dict:
    with market_store.transaction() as session:
        return cost_report(session, "us-east-1", at(now_s), [cluster_id])["Clusters"][0]


def interrupt(session, node, announced_s: float, notice_s: float = 120) -> None:
    spot = LiveSpot(node.id, node.ec2_instance_id, node.cluster_id, node.group_id, POOL, node.created_at, None)
    announce(session, spot, "capacity", at(announced_s), notice_s)


def test_on_demand_instances_cost_ec2_plus_emr_per_second(market_store):
    with market_store.transaction() as session:
        add_cluster(session)
        master = add_group(session, "j-COST", "ig-M", "MASTER")
        core = add_group(session, "j-COST", "ig-C", "CORE")
        add_instance(session, master, "ci-M", 0, 9000)  # 2 h 30 min
        add_instance(session, core, "ci-C1", 0, 9000)
        add_instance(session, core, "ci-C2", 0, 9000)
    cluster = report(market_store, 10_000)
    # Each: 2.5 h × ($0.192 + $0.048) = $0.48 + $0.12 = $0.60.
    assert (cluster["CostUsd"], cluster["Ec2CostUsd"], cluster["EmrCostUsd"]) == (1.8, 1.44, 0.36)
    groups = {g["InstanceGroupId"]: g for g in cluster["InstanceGroups"]}
    assert groups["ig-M"]["CostUsd"] == 0.6 and groups["ig-C"]["CostUsd"] == 1.2
    assert groups["ig-C"]["InstanceCount"] == 2 and groups["ig-C"]["InstanceSeconds"] == 18_000
    assert cluster["Markets"] == [{"Market": "ON_DEMAND", "InstanceCount": 3, "InstanceSeconds": 27_000,
                                   "CostUsd": 1.8, "Ec2CostUsd": 1.44, "EmrCostUsd": 0.36}]
    assert cluster["NormalizedInstanceHours"] == 72  # 3 instances × 3 started hours × 8 (xlarge)


def test_a_fleet_is_billed_per_instance_type_and_market(market_store):
    """A core fleet of two types: two c5.2xlarge on-demand (EC2 $0.34/h + EMR $0.085/h)
    for 2 h, one m5.xlarge spot at $0.06/h (set by hand; EMR $0.048/h) for 30 min."""
    with market_store.transaction() as session:
        add_cluster(session)
        fleet = add_fleet(session, "j-COST", "if-CORE", on_demand=4, spot=1, configs=[
            {"InstanceType": "c5.2xlarge", "WeightedCapacity": 2}, {"InstanceType": "m5.xlarge"}])
        add_fleet_instance(session, fleet, "ci-OD1", "c5.2xlarge", "ON_DEMAND", 2, 0, 7200)
        add_fleet_instance(session, fleet, "ci-OD2", "c5.2xlarge", "ON_DEMAND", 2, 0, 7200)
        add_fleet_instance(session, fleet, "ci-SP1", "m5.xlarge", "SPOT", 1, 600, 2400)
        by_hand.set_price(session, SETTINGS, POOL, "0.06", T0)
    cluster = report(market_store, 8000)
    [core] = cluster["InstanceFleets"]
    # On-demand: 2 × 2 h × ($0.34 + $0.085) = $1.36 + $0.34 = $1.70.
    # Spot: 0.5 h × $0.06 = $0.03 EC2, 0.5 h × $0.048 = $0.024 EMR: $0.054.
    assert (core["InstanceFleetId"], core["InstanceFleetType"]) == ("if-CORE", "CORE")
    assert (core["TargetOnDemandCapacity"], core["TargetSpotCapacity"]) == (4, 1)
    assert (core["CostUsd"], core["Ec2CostUsd"], core["EmrCostUsd"]) == (1.754, 1.39, 0.364)
    assert core["InstanceTypes"] == [
        {"InstanceType": "c5.2xlarge", "Market": "ON_DEMAND", "InstanceCount": 2, "InstanceSeconds": 14_400,
         "CostUsd": 1.7, "Ec2CostUsd": 1.36, "EmrCostUsd": 0.34},
        {"InstanceType": "m5.xlarge", "Market": "SPOT", "InstanceCount": 1, "InstanceSeconds": 1800,
         "CostUsd": 0.054, "Ec2CostUsd": 0.03, "EmrCostUsd": 0.024}]
    assert cluster["InstanceGroups"] == [] and cluster["CostUsd"] == 1.754
    assert {n["InstanceFleetId"] for n in cluster["Instances"]} == {"if-CORE"}


def test_a_running_instance_is_billed_up_to_now_with_a_one_minute_minimum(market_store):
    with market_store.transaction() as session:
        add_cluster(session)
        group = add_group(session, "j-COST", "ig-C")
        add_instance(session, group, "ci-SHORT", 0, 30)  # 30 s, billed as 60 s
        add_instance(session, group, "ci-LIVE", 100)  # still running
    nodes = {n["InstanceId"]: n for n in report(market_store, 1000)["Instances"]}
    assert (nodes["ci-SHORT"]["Seconds"], nodes["ci-SHORT"]["BilledSeconds"]) == (30, 60)
    assert nodes["ci-SHORT"]["CostUsd"] == 0.004  # $0.240/h × 60 s
    assert (nodes["ci-LIVE"]["Seconds"], nodes["ci-LIVE"]["CostUsd"]) == (900, 0.06)  # $0.240/h × 900 s


def test_spot_is_billed_at_the_price_of_each_second_it_ran(market_store):
    with market_store.transaction() as session:
        add_cluster(session)
        group = add_group(session, "j-COST", "ig-T", "TASK", market="SPOT")
        add_instance(session, group, "ci-SPOT", 600, 4200)  # one hour, across a price change
        by_hand.set_price(session, SETTINGS, POOL, "0.05", T0)
        by_hand.set_price(session, SETTINGS, POOL, "0.08", at(1800))
    node = report(market_store, 5000)["Instances"][0]
    # EC2: 1200 s at $0.05/h + 2400 s at $0.08/h = $0.016667 + $0.053333 = $0.07; EMR: 1 h × $0.048.
    assert (node["Ec2CostUsd"], node["EmrCostUsd"], node["CostUsd"]) == (0.07, 0.048, 0.118)
    assert not node["InterruptedByEc2"]


def test_spot_follows_the_seeded_series_when_nothing_is_set_by_hand(market_store):
    with market_store.transaction() as session:
        add_cluster(session)
        group = add_group(session, "j-COST", "ig-T", "TASK", market="SPOT")
        add_instance(session, group, "ci-SPOT", 150, 750)  # half of slot 0, all of slot 1, half of slot 2
    series, first_slot = Series(5, 300), second_of(T0) // 300
    prices = [series.price(POOL, first_slot + n) for n in range(3)]
    expected_ec2 = (prices[0] * 150 + prices[1] * 300 + prices[2] * 150) / 3600
    node = report(market_store, 1000)["Instances"][0]
    assert node["Ec2CostUsd"] == float(round(expected_ec2, 6))
    assert node["EmrCostUsd"] == float(round(Decimal("0.048") * 600 / 3600, 6))


def test_ec2_does_not_bill_a_spot_instance_it_interrupts_in_its_first_hour(market_store):
    with market_store.transaction() as session:
        add_cluster(session)
        group = add_group(session, "j-COST", "ig-T", "TASK", market="SPOT")
        by_hand.set_price(session, SETTINGS, POOL, "0.06", T0)
        early = add_instance(session, group, "ci-EARLY", 0, 3000)  # its row ended late
        late = add_instance(session, group, "ci-LATE", 0, 5000)
        quit_ = add_instance(session, group, "ci-QUIT", 0, 1000)  # its user ended it during the notice
        interrupt(session, early, 1000)  # taken at 1120 s: within the first hour
        interrupt(session, late, 4000)  # taken at 4120 s: after it
        interrupt(session, quit_, 950)  # would be taken at 1070 s
    nodes = {n["InstanceId"]: n for n in report(market_store, 6000)["Instances"]}
    assert nodes["ci-EARLY"]["InterruptedByEc2"] and nodes["ci-EARLY"]["Seconds"] == 1120
    assert nodes["ci-EARLY"]["Ec2CostUsd"] == 0  # no EC2 charge
    assert nodes["ci-EARLY"]["EmrCostUsd"] == round(0.048 * 1120 / 3600, 6)  # $0.014933
    assert nodes["ci-LATE"]["InterruptedByEc2"] and nodes["ci-LATE"]["Seconds"] == 4120
    assert nodes["ci-LATE"]["Ec2CostUsd"] == round(0.06 * 4120 / 3600, 6)  # $0.068667
    assert not nodes["ci-QUIT"]["InterruptedByEc2"]
    assert nodes["ci-QUIT"]["Ec2CostUsd"] == round(0.06 * 1000 / 3600, 6)  # $0.016667


def test_a_steps_share_is_the_clusters_cost_while_it_ran_split_among_concurrent_steps(market_store):
    with market_store.transaction() as session:
        add_cluster(session)
        group = add_group(session, "j-COST", "ig-C")
        for n in range(3):
            add_instance(session, group, f"ci-{n}", 0, 3600)  # $0.72 per hour for the cluster
        add_step(session, "j-COST", "s-ALONE", 0, 600, 1200)
        add_step(session, "j-COST", "s-LONG", 1, 1200, 2400)
        add_step(session, "j-COST", "s-SHARED", 2, 1800, 2400)
        add_step(session, "j-COST", "s-PENDING", 3, None, None)
    cluster = report(market_store, 4000)
    steps = {s["StepId"]: s for s in cluster["Steps"]}
    # s-ALONE: 600 s × $0.72/h = $0.12. s-LONG: 600 s alone ($0.12) + half of 600 s ($0.06).
    assert steps["s-ALONE"]["CostUsd"] == 0.12 and steps["s-ALONE"]["Seconds"] == 600
    assert steps["s-LONG"]["CostUsd"] == 0.18
    assert steps["s-SHARED"]["CostUsd"] == 0.06
    assert (steps["s-PENDING"]["CostUsd"], steps["s-PENDING"]["Seconds"]) == (0, 0)
    assert cluster["OutsideStepsCostUsd"] == 0.36  # $0.72 - $0.36
    assert cluster["CostUsd"] == 0.72


def test_emr_prices_come_from_the_published_table_or_emrs_rule():
    assert type_prices("m5.xlarge").emr_usd_per_hour == Decimal("0.048")
    assert type_prices("m5.xlarge").emr_price_from == "published"
    large = type_prices("m5.8xlarge")  # a quarter of $1.536 is over EMR's $0.27 cap
    assert (large.emr_usd_per_hour, large.emr_price_from) == (Decimal("0.27"), "rule")
    assert type_prices("m6g.large").emr_usd_per_hour == Decimal("0.01925")  # a quarter of $0.077
    assert type_prices("x9.nothing") is None
    for listed in ("m5.xlarge", "r5.2xlarge", "c5.4xlarge", "i3.xlarge"):  # the rule agrees, to the cent
        prices = type_prices(listed)
        assert abs(billing_rule(prices.on_demand_usd_per_hour) - prices.emr_usd_per_hour) < Decimal("0.001")


def billing_rule(on_demand: Decimal) -> Decimal:
    from elmr.market.prices import emr_price_by_rule

    return emr_price_by_rule(on_demand)


def test_normalization_factors_follow_the_size():
    factors = {name: billing.normalization_factor(name) for name in (
        "t3.nano", "t3.micro", "m1.small", "t3.medium", "m5.large", "m5.xlarge", "m5.2xlarge",
        "c5.9xlarge", "m5.24xlarge", "m7i.metal-48xl", "m5.metal")}
    assert factors == {"t3.nano": 0.25, "t3.micro": 0.5, "m1.small": 1, "t3.medium": 2, "m5.large": 4,
                       "m5.xlarge": 8, "m5.2xlarge": 16, "c5.9xlarge": 72, "m5.24xlarge": 192,
                       "m7i.metal-48xl": 384, "m5.metal": 192}
    # A metal type the catalog lacks weighs as its family's largest known size.
    assert billing.normalization_factor("m5.metal-future") == 192


def test_normalized_hours_round_each_instance_up_to_whole_hours(market_store):
    with market_store.transaction() as session:
        add_cluster(session)
        group = add_group(session, "j-COST", "ig-C")
        for n in range(3):
            add_instance(session, group, f"ci-LONG{n}", 0, 3900)  # 65 min: 2 hours each
        add_instance(session, group, "ci-HALF1", 0, 1800)  # 30 min: 1 hour each, not 1 hour together
        add_instance(session, group, "ci-HALF2", 1800, 3600)
        add_instance(session, group, "ci-BIG", 0, 10, instance_type="m5.8xlarge")
    assert report(market_store, 5000)["NormalizedInstanceHours"] == 3 * 2 * 8 + 2 * 8 + 64
    with market_store.transaction() as session:  # what DescribeCluster reports
        assert normalized_instance_hours(session, "j-COST", at(5000)) == 3 * 2 * 8 + 2 * 8 + 64


def test_every_cluster_and_the_total(market_store):
    with market_store.transaction() as session:
        for cluster_id in ("j-ONE", "j-TWO"):
            add_cluster(session, cluster_id)
            add_instance(session, add_group(session, cluster_id, "ig-" + cluster_id), "ci-" + cluster_id, 0, 3600)
        add_cluster(session, "j-EMPTY")
        everything = cost_report(session, "us-east-1", at(4000))
    assert [(c["ClusterId"], c["CostUsd"]) for c in everything["Clusters"]] == [
        ("j-EMPTY", 0), ("j-ONE", 0.24), ("j-TWO", 0.24)]
    assert everything["CostUsd"] == 0.48



def test_a_type_without_a_published_price_is_billed_at_an_estimate_from_its_peers():
    """The catalog covers every type EMR accepts, most without a published price: those
    are estimated from the priced ones and say so, rather than being unbillable."""
    assert type_prices("m5.xlarge").on_demand_price_from == "catalog"
    unpriced = [t for t in catalog.instance_types() if t.on_demand_usd_per_hour is None]
    estimates = {t.type: type_prices(t.type) for t in unpriced}
    assert estimates and all(p.on_demand_usd_per_hour > 0 and p.on_demand_price_from == "estimated"
                             for p in estimates.values())
    # Within a family with published sizes, an estimate follows the size as AWS's prices do.
    m5_xlarge = catalog.instance_type("m5.xlarge")
    m5_unpriced = next(t for t in unpriced if t.family == "m5")
    expected = Decimal(str(m5_xlarge.on_demand_usd_per_hour)) * m5_unpriced.normalization_factor / 8
    assert estimates[m5_unpriced.type].on_demand_usd_per_hour == pytest.approx(expected, rel=0.05)
