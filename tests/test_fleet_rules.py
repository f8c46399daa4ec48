"""Instance fleets, pass by pass, on a fake clock (tests/control_fakes.py): the
allocation strategies choosing instance types (a pure function), fleets reaching
their target capacities with weights, spot capacity waited for and the launch
specifications' TimeoutAction, ModifyInstanceFleet up and down, spot blocks."""

from decimal import Decimal

import pytest

from control_fakes import ProviderWhereNodesRun, World, running_cluster, store, world  # noqa: F401
from elmr.control.allocation import Option, allocate
from elmr.control.fleets import default_spot_strategy
from elmr.market import by_hand
from elmr.market.pools import Pool
from elmr.service import instance_fleets, instances
from elmr.service.errors import InvalidRequestException, ValidationException

ZONE = "us-east-1a"


def set_capacity(world, instance_type: str, capacity: int | None) -> None:
    with world.store.transaction() as session:
        by_hand.set_capacity(session, world.market, Pool(instance_type, ZONE), capacity, world.clock())


def set_price(world, instance_type: str, price: str | None) -> None:
    with world.store.transaction() as session:
        by_hand.set_price(session, world.market, Pool(instance_type, ZONE), price, world.clock())


def listed_fleet(world, cluster_id: str, role: str) -> dict:
    fleets = instance_fleets.list_instance_fleets(world.ctx, {"ClusterId": cluster_id})["InstanceFleets"]
    return next(f for f in fleets if f["InstanceFleetType"] == role)


def fleet_nodes(world, cluster_id: str, role: str = "CORE", live: bool = True) -> list:
    return world.nodes(cluster_id, role, live=live)


def types_of(nodes) -> list[tuple[str, str]]:
    return sorted((n.instance_type, n.market) for n in nodes)


def core_fleet(on_demand=0, spot=0, configs=None, **extra) -> dict:
    return {"Name": "Core", "InstanceFleetType": "CORE", "TargetOnDemandCapacity": on_demand,
            "TargetSpotCapacity": spot,
            "InstanceTypeConfigs": configs or [{"InstanceType": "m5.xlarge", "WeightedCapacity": 1},
                                               {"InstanceType": "m5.2xlarge", "WeightedCapacity": 2}], **extra}


def spot_spec(timeout_min: int, action: str, strategy: str | None = None, **extra) -> dict:
    spec = {"TimeoutDurationMinutes": timeout_min, "TimeoutAction": action, **extra}
    if strategy:
        spec["AllocationStrategy"] = strategy
    return {"SpotSpecification": spec}


# Allocation strategies: a pure function ---------------------------------------------

CHEAP_SHALLOW = Option("c5.xlarge", 1, Decimal("0.05"), available=2)
DEAR_DEEP = Option("m5.xlarge", 1, Decimal("0.08"), available=40)
MIDDLE = Option("r5.xlarge", 2, Decimal("0.14"), available=10)  # 0.07 a unit


def test_lowest_price_takes_the_cheapest_unit_first_then_the_next():
    assert allocate([DEAR_DEEP, CHEAP_SHALLOW, MIDDLE], 5, "lowest-price") == {"c5.xlarge": 2, "r5.xlarge": 2}


def test_capacity_optimized_takes_the_deepest_pool():
    assert allocate([CHEAP_SHALLOW, MIDDLE, DEAR_DEEP], 5, "capacity-optimized") == {"m5.xlarge": 5}


def test_price_capacity_optimized_takes_the_cheapest_of_the_deeper_pools():
    # The deeper half (r5: 20 units, m5: 40) holds the cheaper unit in r5.xlarge.
    assert allocate([CHEAP_SHALLOW, MIDDLE, DEAR_DEEP], 4, "price-capacity-optimized") == {"r5.xlarge": 2}


def test_diversified_spreads_over_every_pool():
    # One instance of each pool in turn, cheapest unit first: c5, r5 (2 units), m5, then c5, r5.
    assert allocate([CHEAP_SHALLOW, MIDDLE, DEAR_DEEP], 6, "diversified") == {
        "c5.xlarge": 2, "r5.xlarge": 2, "m5.xlarge": 1}


def test_prioritized_follows_the_priorities_then_the_price():
    first, second = Option("m5.xlarge", 1, Decimal("0.19"), priority=0), Option("c5.xlarge", 1, Decimal("0.17"), priority=1)
    assert allocate([second, first], 2, "prioritized") == {"m5.xlarge": 2}
    assert allocate([second, first], 2, "lowest-price") == {"c5.xlarge": 2}


def test_weights_cover_the_units_and_may_overshoot_by_the_last_instance():
    assert allocate([Option("m5.4xlarge", 4, Decimal("0.4"))], 5, "lowest-price") == {"m5.4xlarge": 2}
    assert allocate([CHEAP_SHALLOW], 5, "lowest-price") == {"c5.xlarge": 2}, "no more than the pool takes"
    assert allocate([CHEAP_SHALLOW], 0, "lowest-price") == {}


def test_emrs_default_spot_strategy_changed_in_6_9_0():
    assert default_spot_strategy("emr-6.8.0") == "capacity-optimized"
    assert default_spot_strategy("emr-6.9.0") == "price-capacity-optimized"
    assert default_spot_strategy("emr-7.2.0") == "price-capacity-optimized"


# Reaching target capacities -----------------------------------------------------------

def test_a_fleet_reaches_its_on_demand_target_with_weights(world):
    """lowest-price on-demand: c5.2xlarge (weight 2, $0.17 a unit) before m5.xlarge
    (weight 1, $0.192): 5 units are three c5.2xlarge, 6 units provisioned."""
    cluster_id = world.run_fleet_cluster(core_fleet(on_demand=5, configs=[
        {"InstanceType": "m5.xlarge", "WeightedCapacity": 1}, {"InstanceType": "c5.2xlarge", "WeightedCapacity": 2}]))
    assert types_of(fleet_nodes(world, cluster_id)) == [("c5.2xlarge", "ON_DEMAND")] * 3
    assert all(n.weighted_capacity == 2 and n.fleet_id and n.group_id is None for n in fleet_nodes(world, cluster_id))
    assert listed_fleet(world, cluster_id, "CORE")["Status"]["State"] in ("PROVISIONING", "BOOTSTRAPPING")
    world.bring_up(cluster_id)
    assert world.cluster(cluster_id).state == "WAITING"
    shown = listed_fleet(world, cluster_id, "CORE")
    assert shown["Status"]["State"] == "RUNNING"
    assert (shown["ProvisionedOnDemandCapacity"], shown["ProvisionedSpotCapacity"]) == (6, 0)
    listed = instances.list_instances(world.ctx, {"ClusterId": cluster_id, "InstanceFleetType": "CORE"})["Instances"]
    assert len(listed) == 3 and all(i["InstanceFleetId"] == shown["Id"] and i["Market"] == "ON_DEMAND" for i in listed)
    assert "InstanceGroupId" not in listed[0]


def test_spot_capacity_comes_from_the_pools_the_strategy_prefers(world):
    set_capacity(world, "m5.xlarge", 1)
    set_capacity(world, "m5.2xlarge", 30)
    cluster_id = world.run_fleet_cluster(core_fleet(spot=4, LaunchSpecifications=spot_spec(
        10, "SWITCH_TO_ON_DEMAND", "capacity-optimized")))
    assert types_of(fleet_nodes(world, cluster_id)) == [("m5.2xlarge", "SPOT")] * 2
    assert all(n.spot_max_price is None for n in fleet_nodes(world, cluster_id)), "up to the on-demand price"


def test_no_spot_capacity_waits_then_switches_to_on_demand_at_the_timeout(world):
    for instance_type in ("m5.xlarge", "m5.2xlarge"):
        set_capacity(world, instance_type, 0)
    cluster_id = world.run_fleet_cluster(core_fleet(spot=3, LaunchSpecifications=spot_spec(5, "SWITCH_TO_ON_DEMAND")))
    assert fleet_nodes(world, cluster_id) == []
    fleet = world.fleet(cluster_id, "CORE")
    assert "Waiting for Spot capacity for 3 more unit(s)" in fleet.state_reason_message
    assert "not enough Spot capacity" in fleet.state_reason_message
    world.bring_up(cluster_id)  # the master comes up; the core fleet waits
    world.run_for(298, cluster_id)
    assert fleet_nodes(world, cluster_id) == [], "still within TimeoutDurationMinutes"
    world.run_for(2, cluster_id)
    # lowest-price on-demand: both types cost $0.192 a unit; the tie goes by name.
    assert types_of(fleet_nodes(world, cluster_id)) == [("m5.2xlarge", "ON_DEMAND")] * 2
    fleet = world.fleet(cluster_id, "CORE")
    assert (fleet.target_on_demand, fleet.target_spot) == (3, 0)
    assert "switched to On-Demand" in fleet.state_reason_message
    world.bring_up(cluster_id)
    assert world.cluster(cluster_id).state == "WAITING"


def test_no_spot_capacity_within_the_timeout_terminates_the_cluster_when_asked(world):
    for instance_type in ("m5.xlarge", "m5.2xlarge"):
        set_capacity(world, instance_type, 0)
    cluster_id = world.run_fleet_cluster(core_fleet(spot=2, LaunchSpecifications=spot_spec(5, "TERMINATE_CLUSTER")))
    world.bring_up(cluster_id)  # the master comes up; the core fleet waits
    world.run_for(301, cluster_id)
    cluster = world.cluster(cluster_id)
    assert cluster.state == "TERMINATED_WITH_ERRORS"
    assert cluster.state_reason_code == "INSTANCE_FLEET_TIMEOUT"
    assert "TERMINATE_CLUSTER" in cluster.state_reason_message


def test_spot_arriving_within_the_timeout_is_taken_and_the_fleet_runs(world):
    for instance_type in ("m5.xlarge", "m5.2xlarge"):
        set_capacity(world, instance_type, 0)
    cluster_id = world.run_fleet_cluster(core_fleet(spot=2, LaunchSpecifications=spot_spec(5, "TERMINATE_CLUSTER")))
    world.bring_up(cluster_id)
    world.run_for(60, cluster_id)
    set_capacity(world, "m5.xlarge", 5)
    world.run_for(1, cluster_id)
    assert types_of(fleet_nodes(world, cluster_id)) == [("m5.xlarge", "SPOT")] * 2
    world.bring_up(cluster_id)
    world.run_for(300, cluster_id)
    assert world.cluster(cluster_id).state == "WAITING"
    assert world.fleet(cluster_id, "CORE").spot_short_since is None


def running_fleet_cluster(world, **fleet) -> str:
    cluster_id = world.run_fleet_cluster(core_fleet(**fleet))
    world.bring_up(cluster_id)
    assert world.cluster(cluster_id).state == "WAITING"
    return cluster_id


def modify_fleet(world, cluster_id: str, **targets) -> None:
    fleet = world.fleet(cluster_id, "CORE")
    instance_fleets.modify_instance_fleet(world.ctx, {"ClusterId": cluster_id, "InstanceFleet": {
        "InstanceFleetId": fleet.id, **targets}})
    world.settle()


def test_modify_instance_fleet_grows_then_shrinks_gracefully_keeping_the_target_covered(world):
    cluster_id = running_fleet_cluster(world, on_demand=2, configs=[{"InstanceType": "m5.xlarge", "WeightedCapacity": 1}])
    world.run_for(5, cluster_id)
    modify_fleet(world, cluster_id, TargetOnDemandCapacity=4)
    assert len(fleet_nodes(world, cluster_id)) == 4
    assert listed_fleet(world, cluster_id, "CORE")["Status"]["State"] == "RESIZING"
    world.bring_up(cluster_id)
    assert listed_fleet(world, cluster_id, "CORE")["ProvisionedOnDemandCapacity"] == 4
    newest = {n.id for n in fleet_nodes(world, cluster_id)[2:]}

    modify_fleet(world, cluster_id, TargetOnDemandCapacity=2)
    leaving = {n.id for n in fleet_nodes(world, cluster_id) if n.leaving_since is not None}
    assert leaving == newest, "the newest leave first"
    world.agents_report(cluster_id, "RUNNING", decommissioned_nodes=sorted(leaving))
    for node in fleet_nodes(world, cluster_id):
        if node.id in leaving:
            world.heartbeat(node, "DECOMMISSIONED")
    world.advance(11)
    gone = [n for n in fleet_nodes(world, cluster_id, live=False) if n.id in leaving]
    assert all(n.state == "TERMINATED" and n.state_reason_message.startswith(
        "Decommissioned gracefully, as its instance fleet was shrunk") for n in gone)
    world.agents_report(cluster_id)
    assert world.fleet(cluster_id, "CORE").state == "RUNNING"


def test_a_smaller_target_keeps_nodes_whose_weight_is_still_needed(world):
    """Weights 2: 3 units need two nodes; shrinking to 3 from 6 removes one."""
    cluster_id = running_fleet_cluster(world, on_demand=6, configs=[{"InstanceType": "c5.2xlarge", "WeightedCapacity": 2}])
    modify_fleet(world, cluster_id, TargetOnDemandCapacity=3)
    assert sum(n.leaving_since is not None for n in fleet_nodes(world, cluster_id)) == 1


def test_modify_instance_fleet_refusals(world):
    cluster_id = running_fleet_cluster(world, on_demand=1, configs=[{"InstanceType": "m5.xlarge"}])
    master = world.fleet(cluster_id, "MASTER")
    with pytest.raises(ValidationException, match="master instance fleet"):
        instance_fleets.modify_instance_fleet(world.ctx, {"ClusterId": cluster_id, "InstanceFleet": {
            "InstanceFleetId": master.id, "TargetOnDemandCapacity": 2}})
    with pytest.raises(ValidationException, match="cannot shrink below 1"):
        modify_fleet(world, cluster_id, TargetOnDemandCapacity=0)
    with pytest.raises(InvalidRequestException, match="negative"):
        modify_fleet(world, cluster_id, TargetSpotCapacity=-1)
    with pytest.raises(InvalidRequestException, match="TASK"):
        instance_fleets.add_instance_fleet(world.ctx, {"ClusterId": cluster_id, "InstanceFleet": core_fleet(on_demand=1)})


def test_a_task_fleet_is_added_to_a_running_cluster(world):
    cluster_id = running_fleet_cluster(world, on_demand=1, configs=[{"InstanceType": "m5.xlarge"}])
    answer = instance_fleets.add_instance_fleet(world.ctx, {"ClusterId": cluster_id, "InstanceFleet": {
        "InstanceFleetType": "TASK", "TargetOnDemandCapacity": 2,
        "InstanceTypeConfigs": [{"InstanceType": "c5.xlarge"}]}})
    world.settle()
    assert types_of(fleet_nodes(world, cluster_id, "TASK")) == [("c5.xlarge", "ON_DEMAND")] * 2
    world.bring_up(cluster_id)
    assert listed_fleet(world, cluster_id, "TASK")["Id"] == answer["InstanceFleetId"]
    assert listed_fleet(world, cluster_id, "TASK")["Status"]["State"] == "RUNNING"
    with pytest.raises(InvalidRequestException, match="already has its TASK instance fleet"):
        instance_fleets.add_instance_fleet(world.ctx, {"ClusterId": cluster_id, "InstanceFleet": {
            "InstanceFleetType": "TASK", "TargetOnDemandCapacity": 1,
            "InstanceTypeConfigs": [{"InstanceType": "c5.xlarge"}]}})


def test_a_resize_that_gets_no_spot_stops_provisioning_at_its_timeout(world):
    cluster_id = running_fleet_cluster(world, on_demand=1, configs=[{"InstanceType": "m5.xlarge"}],
                                       ResizeSpecifications={"SpotResizeSpecification": {"TimeoutDurationMinutes": 5}})
    set_capacity(world, "m5.xlarge", 0)
    modify_fleet(world, cluster_id, TargetSpotCapacity=2)
    assert listed_fleet(world, cluster_id, "CORE")["Status"]["State"] == "RESIZING"
    world.run_for(301, cluster_id)
    fleet = world.fleet(cluster_id, "CORE")
    assert fleet.state == "RUNNING" and fleet.spot_gave_up_at is not None
    assert "Stopped provisioning Spot capacity" in fleet.state_reason_message
    set_capacity(world, "m5.xlarge", 5)
    world.run_for(2, cluster_id)
    assert len(fleet_nodes(world, cluster_id)) == 1, "a resize that timed out is over"
    modify_fleet(world, cluster_id, TargetSpotCapacity=1)
    assert types_of(fleet_nodes(world, cluster_id)) == [("m5.xlarge", "ON_DEMAND"), ("m5.xlarge", "SPOT")]


def test_bid_prices_and_percentages_set_each_spot_nodes_maximum_price(world):
    set_price(world, "m5.xlarge", "0.10")
    set_price(world, "m5.2xlarge", "0.10")
    cluster_id = world.run_fleet_cluster(core_fleet(spot=4, configs=[
        {"InstanceType": "m5.xlarge", "WeightedCapacity": 1, "BidPriceAsPercentageOfOnDemandPrice": 40},
        {"InstanceType": "m5.2xlarge", "WeightedCapacity": 2, "BidPrice": "0.2"}]))
    # m5.xlarge at 40 % of $0.192 bids $0.0768, under the $0.10 asked: only m5.2xlarge is launched.
    nodes = fleet_nodes(world, cluster_id)
    assert types_of(nodes) == [("m5.2xlarge", "SPOT")] * 2
    assert {n.spot_max_price for n in nodes} == {"0.2"}


def test_a_spot_block_is_not_interrupted_before_its_end_then_is(world):
    set_capacity(world, "m5.xlarge", 5)
    cluster_id = running_fleet_cluster(world, spot=1, configs=[{"InstanceType": "m5.xlarge"}],
                                       LaunchSpecifications=spot_spec(5, "TERMINATE_CLUSTER", BlockDurationMinutes=60))
    [block] = fleet_nodes(world, cluster_id)
    assert (block.spot_block_ends_at - block.created_at).total_seconds() == 3600
    set_capacity(world, "m5.xlarge", 0)  # a crunch: an ordinary spot node would be interrupted now
    world.run_for(10, cluster_id)
    assert world.node(block.id).leaving_since is None
    set_capacity(world, "m5.xlarge", 5)
    world.clock.now = block.spot_block_ends_at
    world.agents_report(cluster_id)
    noticed = world.node(block.id)
    assert noticed.leaving_since is not None, "the block's end is announced"
    world.run_for(121, cluster_id)
    ended = world.node(block.id)
    assert ended.state == "TERMINATED" and "spot block (BlockDurationMinutes) ended" in ended.state_reason_message
    assert len(fleet_nodes(world, cluster_id)) == 1, "replaced"
