"""Managed scaling, pass by pass, on a fake clock (tests/control_fakes.py): the master's
agent reports YARN's cluster metrics in real heartbeats, the policy is put with
PutManagedScalingPolicy's service function, and managed scaling writes the groups'
requested counts or the fleets' targets that the keepers act on. The default waits
(ControlSettings): a backlog scales out after 5 s, not within 30 s of the last
scale-out; spare capacity scales in after 120 s, not within 120 s of a resize."""

from dataclasses import replace
from datetime import timedelta

import pytest

from control_fakes import SETTINGS, T0, ProviderWhereNodesRun, World, running_cluster, store, world  # noqa: F401
from elmr.control.scaling_units import Holder, Limits, resize
from elmr.service import instance_fleets, instances, policies, resize as resize_ops
from elmr.service.errors import ValidationException
from elmr.store.scaling_records import moment

NODEMANAGER_MB = 12288  # what an m5.xlarge's NodeManager offers YARN (apps/yarn.py)


def yarn(pending=0, pending_mb=0, apps_pending=0, allocated_mb=0, total_mb=NODEMANAGER_MB) -> dict:
    """The ResourceManager's cluster metrics as the master's agent reports them."""
    return {"containersPending": pending, "pendingMB": pending_mb, "appsPending": apps_pending,
            "allocatedMB": allocated_mb, "reservedMB": 0, "totalMB": total_mb,
            "availableMB": total_mb - allocated_mb, "appsRunning": 1 if allocated_mb else 0}


BACKLOG = yarn(pending=3, pending_mb=3 * 1408, allocated_mb=6000)
BUSY = yarn(allocated_mb=10000)
IDLE = yarn()


def put_policy(world, cluster_id, minimum=1, maximum=4, unit_type="Instances", advanced=None, **caps) -> None:
    """`advanced`: ScalingStrategy ADVANCED with that UtilizationPerformanceIndex."""
    limits = {"UnitType": unit_type, "MinimumCapacityUnits": minimum, "MaximumCapacityUnits": maximum, **caps}
    policy = {"ComputeLimits": limits}
    if advanced is not None:
        policy.update(ScalingStrategy="ADVANCED", UtilizationPerformanceIndex=advanced)
    policies.put_managed_scaling_policy(world.ctx, {"ClusterId": cluster_id, "ManagedScalingPolicy": policy})
    world.settle()


def add_task_group(world, cluster_id, market="ON_DEMAND", count=0, name="Task") -> str:
    [group_id] = resize_ops.add_instance_groups(world.ctx, {"JobFlowId": cluster_id, "InstanceGroups": [
        {"Name": name, "InstanceRole": "TASK", "InstanceType": "m5.xlarge", "InstanceCount": count,
         "Market": market}]})["InstanceGroupIds"]
    world.settle()
    world.bring_up(cluster_id)
    return group_id


def scaling_cluster(world, core=1, task=0, **policy) -> str:
    """A WAITING cluster of `core` core nodes and a task group of `task` nodes, with a
    managed scaling policy (by default: 1-4 instances, core capped at `core`)."""
    cluster_id = running_cluster(world, core=core)
    add_task_group(world, cluster_id, count=task)
    put_policy(world, cluster_id, **{"MaximumCoreCapacityUnits": core, **policy})
    return cluster_id


def requested(world, cluster_id) -> dict:
    return {g["InstanceGroupType"]: g["RequestedInstanceCount"]
            for g in instances.list_instance_groups(world.ctx, {"ClusterId": cluster_id})["InstanceGroups"]}


def decisions(world, cluster_id) -> list[dict]:
    return (world.cluster(cluster_id).scaling_state or {}).get("decisions", [])


# Scaling out ------------------------------------------------------------------------

def test_a_backlog_scales_out_once_it_has_lasted_and_the_decision_is_recorded(world):
    cluster_id = scaling_cluster(world)
    world.run_for(10, cluster_id, yarn=BUSY)
    assert requested(world, cluster_id)["TASK"] == 0, "busy is not a backlog"
    world.run_for(1, cluster_id, yarn=BACKLOG)
    backlog_at = world.clock()  # the master's first report of it
    world.run_for(4, cluster_id, yarn=BACKLOG)
    assert requested(world, cluster_id)["TASK"] == 0, "a backlog must last 5 s"
    world.run_for(1, cluster_id, yarn=BACKLOG)
    assert requested(world, cluster_id)["TASK"] == 1
    [decision] = decisions(world, cluster_id)
    assert moment(decision["at"]) - backlog_at == timedelta(seconds=5)
    assert (decision["direction"], decision["from_units"], decision["to_units"]) == ("OUT", 1, 2)
    assert decision["reason"] == "YARN has 3 pending container(s) (4224 MB) and 0 pending application(s)"
    [task_node] = world.nodes(cluster_id, "TASK")
    shown = instances.list_instances(world.ctx, {"ClusterId": cluster_id, "InstanceGroupTypes": ["TASK"]})
    created = shown["Instances"][0]["Status"]["Timeline"]["CreationDateTime"]
    assert created == moment(decision["at"]), "the node is requested in the pass that decided"
    assert task_node.state == "PROVISIONING"


def test_pending_applications_alone_scale_out_by_one_node(world):
    cluster_id = scaling_cluster(world)
    world.run_for(6, cluster_id, yarn=yarn(apps_pending=2, allocated_mb=12000))
    assert requested(world, cluster_id)["TASK"] == 1


def test_nodes_still_launching_count_toward_the_backlog(world):
    cluster_id = scaling_cluster(world)
    world.run_for(6, cluster_id, yarn=BACKLOG)
    [launching] = world.nodes(cluster_id, "TASK")
    master = world.nodes(cluster_id, "MASTER")[0]
    for _ in range(60):  # the new node's agent is slow to report; the backlog stays
        world.clock.advance(1)
        for node in world.nodes(cluster_id):
            if node.id != launching.id:
                world.heartbeat(node, "RUNNING", **({"registered": 1, "yarn": BACKLOG} if node.id == master.id else {}))
        world.settle()
    assert requested(world, cluster_id)["TASK"] == 1
    assert len(decisions(world, cluster_id)) == 1


def test_a_growing_backlog_scales_out_again_only_after_the_cooldown(world):
    cluster_id = scaling_cluster(world)
    world.run_for(6, cluster_id, yarn=BACKLOG)
    first = moment(decisions(world, cluster_id)[0]["at"])
    bigger = yarn(pending=20, pending_mb=2 * NODEMANAGER_MB, allocated_mb=20000, total_mb=2 * NODEMANAGER_MB)
    world.run_for(28, cluster_id, yarn=bigger)  # the task node runs; two nodes' worth still pending
    assert world.nodes(cluster_id, "TASK")[0].state == "RUNNING"
    assert requested(world, cluster_id)["TASK"] == 1
    world.run_for(2, cluster_id, yarn=bigger)
    assert requested(world, cluster_id)["TASK"] == 3
    assert moment(decisions(world, cluster_id)[-1]["at"]) - first == timedelta(seconds=30)


def test_scale_out_stops_at_maximum_capacity_and_says_so(world):
    cluster_id = scaling_cluster(world, maximum=2)
    huge = yarn(pending=50, pending_mb=10 * NODEMANAGER_MB, allocated_mb=12000)
    world.run_for(6, cluster_id, yarn=huge)
    assert requested(world, cluster_id) == {"MASTER": 1, "CORE": 1, "TASK": 1}
    state = world.cluster(cluster_id).scaling_state
    assert state["limited"] == "Wanted 11 unit(s); the ComputeLimits and the cluster's groups allow 2."


def test_core_grows_first_up_to_maximum_core_capacity_then_task(world):
    cluster_id = scaling_cluster(world, maximum=5, MaximumCoreCapacityUnits=2)
    world.run_for(6, cluster_id, yarn=yarn(pending=16, pending_mb=3 * NODEMANAGER_MB, allocated_mb=12000))
    assert requested(world, cluster_id) == {"MASTER": 1, "CORE": 2, "TASK": 2}


def test_on_demand_capacity_is_capped_and_the_rest_goes_to_spot_task_nodes(world):
    cluster_id = scaling_cluster(world, maximum=6, MaximumOnDemandCapacityUnits=2)
    spot_group = add_task_group(world, cluster_id, market="SPOT", name="Spot task")
    world.run_for(6, cluster_id, yarn=yarn(pending=16, pending_mb=3 * NODEMANAGER_MB, allocated_mb=12000))
    groups = {g["Id"]: g["RequestedInstanceCount"]
              for g in instances.list_instance_groups(world.ctx, {"ClusterId": cluster_id})["InstanceGroups"]
              if g["InstanceGroupType"] == "TASK"}
    on_demand_group = next(group_id for group_id in groups if group_id != spot_group)
    assert (groups[on_demand_group], groups[spot_group]) == (1, 2)


def test_vcpu_units_count_each_node_by_its_vcpus(world):
    cluster_id = scaling_cluster(world, unit_type="VCPU", minimum=4, maximum=12, MaximumCoreCapacityUnits=4)
    world.run_for(6, cluster_id, yarn=yarn(pending=8, pending_mb=NODEMANAGER_MB, allocated_mb=12000))
    assert requested(world, cluster_id)["TASK"] == 1, "one m5.xlarge: 4 vCPUs"
    assert decisions(world, cluster_id)[-1]["to_units"] == 8


# Limits held at once -------------------------------------------------------------------

def test_minimum_capacity_is_reached_at_once_without_any_load(world):
    cluster_id = running_cluster(world, core=1)
    add_task_group(world, cluster_id)
    put_policy(world, cluster_id, minimum=3, maximum=5, MaximumCoreCapacityUnits=1)
    assert requested(world, cluster_id)["TASK"] == 2
    assert decisions(world, cluster_id)[-1]["reason"].startswith("Within ComputeLimits: 3-5 Instances")


def test_core_above_maximum_core_capacity_moves_to_task_nodes(world):
    cluster_id = running_cluster(world, core=2)
    add_task_group(world, cluster_id)
    put_policy(world, cluster_id, minimum=1, maximum=4, MaximumCoreCapacityUnits=1)
    assert requested(world, cluster_id) == {"MASTER": 1, "CORE": 1, "TASK": 1}
    decision = decisions(world, cluster_id)[-1]
    assert (decision["direction"], decision["from_units"], decision["to_units"]) == ("MOVE", 2, 2)


# Scaling in -------------------------------------------------------------------------

def test_spare_capacity_scales_in_task_nodes_first_once_it_has_lasted(world):
    cluster_id = scaling_cluster(world, core=2, task=2, minimum=2, maximum=6)
    task_nodes = {n.id for n in world.nodes(cluster_id, "TASK")}
    world.run_for(120, cluster_id, yarn=IDLE)  # spare from the first report, a second in
    assert requested(world, cluster_id) == {"MASTER": 1, "CORE": 2, "TASK": 2}
    world.run_for(1, cluster_id, yarn=IDLE)
    assert requested(world, cluster_id) == {"MASTER": 1, "CORE": 2, "TASK": 0}
    assert {n.id for n in world.nodes(cluster_id) if n.leaving_since is not None} == task_nodes
    decision = decisions(world, cluster_id)[-1]
    assert (decision["direction"], decision["from_units"], decision["to_units"]) == ("IN", 4, 2)


def test_scale_in_keeps_what_the_allocations_need(world):
    cluster_id = scaling_cluster(world, core=1, task=3, minimum=1, maximum=6)
    world.run_for(121, cluster_id, yarn=yarn(allocated_mb=2 * NODEMANAGER_MB - 100, total_mb=4 * NODEMANAGER_MB))
    assert requested(world, cluster_id)["TASK"] == 1


def test_a_backlog_resets_the_spare_time(world):
    cluster_id = scaling_cluster(world, core=1, task=1, maximum=2)
    world.run_for(100, cluster_id, yarn=IDLE)
    world.run_for(2, cluster_id, yarn=yarn(pending=1, pending_mb=1000, allocated_mb=20000))
    world.run_for(119, cluster_id, yarn=IDLE)
    assert requested(world, cluster_id)["TASK"] == 1, "spare for 120 s since the backlog"
    world.run_for(2, cluster_id, yarn=IDLE)
    assert requested(world, cluster_id)["TASK"] == 0


def test_scale_in_waits_for_the_cooldown_after_a_scale_out(store):
    world = World(store, ProviderWhereNodesRun(), replace(SETTINGS, scale_in_after_s=10))
    cluster_id = scaling_cluster(world)
    world.run_for(6, cluster_id, yarn=BACKLOG)
    scaled_out = moment(decisions(world, cluster_id)[-1]["at"])
    world.run_for(119, cluster_id, yarn=IDLE)  # the job ended at once: spare, but within the cooldown
    assert requested(world, cluster_id)["TASK"] == 1
    world.run_for(1, cluster_id, yarn=IDLE)
    assert requested(world, cluster_id)["TASK"] == 0
    scaled_in = moment(decisions(world, cluster_id)[-1]["at"])
    assert scaled_in - scaled_out == timedelta(seconds=120)


def test_core_never_shrinks_below_the_hdfs_replication(world):
    cluster_id = running_cluster(world, core=3, Configurations=[
        {"Classification": "hdfs-site", "Properties": {"dfs.replication": "2"}}])
    put_policy(world, cluster_id, minimum=1, maximum=4)
    world.run_for(121, cluster_id, yarn=IDLE)
    assert requested(world, cluster_id)["CORE"] == 2


def test_no_scaling_without_yarn_figures_or_once_the_policy_is_removed(store):
    world = World(store, ProviderWhereNodesRun(), replace(SETTINGS, scale_in_after_s=10))
    cluster_id = scaling_cluster(world, core=1, task=1)
    world.run_for(15, cluster_id)  # the master reports no YARN metrics
    assert requested(world, cluster_id)["TASK"] == 1 and decisions(world, cluster_id) == []
    policies.remove_managed_scaling_policy(world.ctx, {"ClusterId": cluster_id})
    world.run_for(15, cluster_id, yarn=IDLE)
    assert requested(world, cluster_id)["TASK"] == 1


# Advanced Scaling: ScalingStrategy ADVANCED and its UtilizationPerformanceIndex ---------

FOUR_NODES_PENDING = yarn(pending=32, pending_mb=4 * NODEMANAGER_MB, allocated_mb=12000)


@pytest.mark.parametrize("index, backlog_s, task_nodes", [
    (None, 5, 4),  # DEFAULT: the whole backlog once it has lasted 5 s
    (100, 5, 4),  # performance optimized: the same
    (50, 5, 2),  # balanced: half of it
    (25, 10, 1),  # a quarter, once it has lasted twice as long
    (1, 15, 1),  # utilization optimized: one node, after three times as long
])
def test_the_utilization_performance_index_sets_how_much_of_a_backlog_and_how_soon(world, index, backlog_s,
                                                                                  task_nodes):
    cluster_id = scaling_cluster(world, maximum=5, advanced=index)
    world.run_for(backlog_s, cluster_id, yarn=FOUR_NODES_PENDING)  # the first report a second in
    assert requested(world, cluster_id)["TASK"] == 0
    world.run_for(1, cluster_id, yarn=FOUR_NODES_PENDING)
    assert requested(world, cluster_id)["TASK"] == task_nodes
    assert len(world.nodes(cluster_id, "TASK")) == task_nodes


def test_utilization_optimized_ramps_up_a_step_per_scale_out_cooldown(world):
    cluster_id = scaling_cluster(world, maximum=5, advanced=1)
    world.run_for(16, cluster_id, yarn=FOUR_NODES_PENDING)
    assert requested(world, cluster_id)["TASK"] == 1
    # The node joins and takes a quarter; YARN still has three nodes' worth pending.
    three_pending = yarn(pending=24, pending_mb=3 * NODEMANAGER_MB, allocated_mb=24000, total_mb=2 * NODEMANAGER_MB)
    world.run_for(29, cluster_id, yarn=three_pending)
    assert requested(world, cluster_id)["TASK"] == 1
    world.run_for(1, cluster_id, yarn=three_pending)
    assert requested(world, cluster_id)["TASK"] == 2, "the next step, 30 s after the last scale-out"
    assert decisions(world, cluster_id)[-1]["reason"].endswith(
        "covering 1% of it at once (UtilizationPerformanceIndex)")


@pytest.mark.parametrize("index, spare_s", [(None, 20), (1, 5), (100, 40)])
def test_the_index_sets_how_long_spare_capacity_is_kept(store, index, spare_s):
    world = World(store, ProviderWhereNodesRun(), replace(SETTINGS, scale_in_after_s=20))
    cluster_id = scaling_cluster(world, core=1, task=2, maximum=4, advanced=index)
    world.run_for(spare_s, cluster_id, yarn=IDLE)  # spare from the first report, a second in
    assert requested(world, cluster_id)["TASK"] == 2
    world.run_for(1, cluster_id, yarn=IDLE)
    assert requested(world, cluster_id)["TASK"] == 0
    assert decisions(world, cluster_id)[-1]["reason"].endswith(f"the rest spare for {spare_s:g} s")


def test_utilization_optimized_scales_in_sooner_after_a_scale_out(store):
    world = World(store, ProviderWhereNodesRun(), replace(SETTINGS, scale_in_after_s=10))
    cluster_id = scaling_cluster(world, advanced=1)
    world.run_for(16, cluster_id, yarn=BACKLOG)
    scaled_out = moment(decisions(world, cluster_id)[-1]["at"])
    world.run_for(29, cluster_id, yarn=IDLE)
    assert requested(world, cluster_id)["TASK"] == 1
    world.run_for(1, cluster_id, yarn=IDLE)
    assert requested(world, cluster_id)["TASK"] == 0
    assert moment(decisions(world, cluster_id)[-1]["at"]) - scaled_out == timedelta(seconds=30), \
        "a quarter of the 120 s cooldown (DEFAULT: test_scale_in_waits_for_the_cooldown_after_a_scale_out)"


# A cluster of instance groups without a task group ------------------------------------

def task_groups(world, cluster_id) -> list[dict]:
    return [g for g in instances.list_instance_groups(world.ctx, {"ClusterId": cluster_id})["InstanceGroups"]
            if g["InstanceGroupType"] == "TASK"]


def test_growth_past_the_core_cap_adds_an_on_demand_task_group(world):
    cluster_id = running_cluster(world, core=1)
    put_policy(world, cluster_id, maximum=4, MaximumCoreCapacityUnits=1)
    world.run_for(6, cluster_id, yarn=yarn(pending=16, pending_mb=2 * NODEMANAGER_MB, allocated_mb=12000))
    [group] = task_groups(world, cluster_id)
    assert (group["Market"], group["InstanceType"], group["RequestedInstanceCount"]) == ("ON_DEMAND", "m5.xlarge", 2)
    assert group["Name"] == "Task (On-Demand, added by managed scaling)"
    assert {n.group_id for n in world.nodes(cluster_id, "TASK")} == {group["Id"]}
    assert decisions(world, cluster_id)[-1]["changes"][group["Id"]] == [0, 2]
    world.bring_up(cluster_id)
    assert world.group(cluster_id, "TASK").state == "RUNNING"
    assert [n.state for n in world.nodes(cluster_id, "TASK")] == ["RUNNING", "RUNNING"]


def test_growth_past_the_on_demand_cap_adds_a_spot_task_group(world):
    cluster_id = running_cluster(world, core=1)
    put_policy(world, cluster_id, maximum=4, MaximumOnDemandCapacityUnits=1)
    world.run_for(6, cluster_id, yarn=yarn(pending=16, pending_mb=2 * NODEMANAGER_MB, allocated_mb=12000))
    [group] = task_groups(world, cluster_id)
    assert (group["Market"], group["RequestedInstanceCount"]) == ("SPOT", 2)
    assert requested(world, cluster_id)["CORE"] == 1


def test_core_grows_without_a_task_group_while_its_cap_allows(world):
    cluster_id = running_cluster(world, core=1)
    put_policy(world, cluster_id, maximum=4)
    world.run_for(6, cluster_id, yarn=yarn(pending=16, pending_mb=2 * NODEMANAGER_MB, allocated_mb=12000))
    assert requested(world, cluster_id)["CORE"] == 3 and task_groups(world, cluster_id) == []


def test_a_backlog_not_yet_due_adds_no_task_group(world):
    cluster_id = running_cluster(world, core=1)
    put_policy(world, cluster_id, maximum=4, MaximumCoreCapacityUnits=1)
    world.run_for(4, cluster_id, yarn=yarn(pending=16, pending_mb=2 * NODEMANAGER_MB, allocated_mb=12000))
    assert task_groups(world, cluster_id) == []


# Instance fleets ----------------------------------------------------------------------

def test_a_fleet_cluster_scales_its_task_fleet_within_the_on_demand_cap(world):
    cluster_id = world.run_fleet_cluster({
        "Name": "Core", "InstanceFleetType": "CORE", "TargetOnDemandCapacity": 1,
        "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}]})
    world.bring_up(cluster_id)
    instance_fleets.add_instance_fleet(world.ctx, {"ClusterId": cluster_id, "InstanceFleet": {
        "Name": "Task", "InstanceFleetType": "TASK", "TargetOnDemandCapacity": 0, "TargetSpotCapacity": 0,
        "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}]}})
    world.settle()
    world.bring_up(cluster_id)
    put_policy(world, cluster_id, unit_type="InstanceFleetUnits", maximum=5, MaximumCoreCapacityUnits=1,
               MaximumOnDemandCapacityUnits=2)
    world.run_for(6, cluster_id, yarn=yarn(pending=16, pending_mb=3 * NODEMANAGER_MB, allocated_mb=12000))
    task = world.fleet(cluster_id, "TASK")
    assert (task.target_on_demand, task.target_spot) == (1, 2)
    assert world.fleet(cluster_id, "CORE").target_on_demand == 1


# EMR's refusals ------------------------------------------------------------------------

def test_a_policy_must_count_in_a_unit_the_cluster_has(world):
    cluster_id = running_cluster(world)
    with pytest.raises(ValidationException, match="UnitType InstanceFleetUnits does not apply"):
        put_policy(world, cluster_id, unit_type="InstanceFleetUnits")


def test_advanced_scaling_takes_only_the_documented_index_values(world):
    cluster_id = running_cluster(world)
    for index in (0, 33, 99):
        with pytest.raises(ValidationException, match=f"UtilizationPerformanceIndex {index} is not valid"):
            put_policy(world, cluster_id, advanced=index)
    put_policy(world, cluster_id, advanced=75)
    shown = policies.get_managed_scaling_policy(world.ctx, {"ClusterId": cluster_id})["ManagedScalingPolicy"]
    assert (shown["ScalingStrategy"], shown["UtilizationPerformanceIndex"]) == ("ADVANCED", 75)


@pytest.mark.parametrize("strategy", [None, "DEFAULT"])
def test_an_index_needs_the_advanced_strategy(world, strategy):
    cluster_id = running_cluster(world)
    policy = {"ComputeLimits": {"UnitType": "Instances", "MinimumCapacityUnits": 1, "MaximumCapacityUnits": 4},
              "UtilizationPerformanceIndex": 50, **({"ScalingStrategy": strategy} if strategy else {})}
    with pytest.raises(ValidationException, match="only with ScalingStrategy ADVANCED"):
        policies.put_managed_scaling_policy(world.ctx, {"ClusterId": cluster_id, "ManagedScalingPolicy": policy})


def test_advanced_scaling_needs_release_7(world):
    cluster_id = running_cluster(world, ReleaseLabel="emr-6.15.0")
    with pytest.raises(ValidationException, match="releases 7.0.0 and later; the cluster runs emr-6.15.0"):
        put_policy(world, cluster_id, advanced=50)
    with pytest.raises(ValidationException, match="releases 7.0.0 and later"):
        world.run_job_flow(ReleaseLabel="emr-6.15.0", ManagedScalingPolicy={
            "ComputeLimits": {"UnitType": "Instances", "MinimumCapacityUnits": 1, "MaximumCapacityUnits": 4},
            "ScalingStrategy": "ADVANCED", "UtilizationPerformanceIndex": 50})
    put_policy(world, running_cluster(world, ReleaseLabel="emr-7.0.0"), advanced=50)


# Where units go: a pure function -------------------------------------------------------

class Row:
    def __init__(self, row_id, created):
        self.id, self.created_at, self.state = row_id, created, "RUNNING"


def test_shrinking_gives_back_spot_before_on_demand_and_task_before_core():
    holders = [Holder(Row(name, T0), role, market, steps, 1, NODEMANAGER_MB) for name, role, market, steps in (
        ("core", "CORE", "ON_DEMAND", 2), ("task-od", "TASK", "ON_DEMAND", 2), ("task-spot", "TASK", "SPOT", 2))]
    limits = Limits("Instances", 1, 10, 10, 10)
    assert resize(holders, limits, 5, core_min=1) == {"core/ON_DEMAND": 2, "task-od/ON_DEMAND": 2,
                                                       "task-spot/SPOT": 1}
    assert resize(holders, limits, 3, core_min=1) == {"core/ON_DEMAND": 2, "task-od/ON_DEMAND": 1,
                                                       "task-spot/SPOT": 0}
    assert resize(holders, limits, 1, core_min=1) == {"core/ON_DEMAND": 1, "task-od/ON_DEMAND": 0,
                                                       "task-spot/SPOT": 0}
