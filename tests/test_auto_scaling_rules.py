"""Cluster metrics and automatic scaling rules, pass by pass, on a fake clock
(tests/control_fakes.py): the master's agent reports YARN's and HDFS's figures in real
heartbeats, the loop samples them into one-minute metrics under EMR's names, and an
instance group's PutAutoScalingPolicy rules (CloudWatch alarms with simple scaling
actions) resize the group from them."""

from dataclasses import replace
from datetime import timedelta

import pytest

from control_fakes import SETTINGS, T0, ProviderWhereNodesRun, World, running_cluster, store, world  # noqa: F401
from elmr.control import cluster_metrics
from elmr.control.auto_scaling import adjusted_count, alarm_breaches
from elmr.service import auto_scaling, clusters, instances, policies, resize
from elmr.service.errors import ValidationException
from elmr.store.metric_models import ClusterMetricMinute
from elmr.store.models import InstanceGroup
from elmr.store.scaling_records import moment

MINUTE = timedelta(minutes=1)
HDFS = {"hdfs_capacity_bytes": 100 * 1024 ** 3, "hdfs_used_bytes": 25 * 1024 ** 3,
        "hdfs_under_replicated_blocks": 3}


def yarn(available_mb=9000, total_mb=12000, pending=0, allocated=2) -> dict:
    return {"availableMB": available_mb, "totalMB": total_mb, "allocatedMB": total_mb - available_mb,
            "containersPending": pending, "containersAllocated": allocated, "appsRunning": 1, "appsPending": 0,
            "activeNodes": 2}


def stat(world, cluster_id, name, start, end, kind="AVERAGE"):
    with world.store.transaction() as session:
        return cluster_metrics.statistic(session, cluster_id, name, start, end, kind)


def rule(name="out", metric="YARNMemoryAvailablePercentage", operator="LESS_THAN", threshold=15.0,
         period=60, periods=1, statistic=None, adjustment=1, kind=None, cooldown=None) -> dict:
    alarm = {"ComparisonOperator": operator, "MetricName": metric, "Period": period, "Threshold": threshold,
             "EvaluationPeriods": periods}
    if statistic:
        alarm["Statistic"] = statistic
    action = {"ScalingAdjustment": adjustment}
    if kind:
        action["AdjustmentType"] = kind
    if cooldown is not None:
        action["CoolDown"] = cooldown
    return {"Name": name, "Action": {"SimpleScalingPolicyConfiguration": action},
            "Trigger": {"CloudWatchAlarmDefinition": alarm}}


def rules_cluster(world, *rules, minimum=1, maximum=3, task=1, wake=True) -> tuple[str, str]:
    """A WAITING cluster with a task group of `task` nodes carrying a policy of `rules`."""
    cluster_id = running_cluster(world, core=1, AutoScalingRole="EMR_AutoScaling_DefaultRole")
    [group_id] = resize.add_instance_groups(world.ctx, {"JobFlowId": cluster_id, "InstanceGroups": [
        {"Name": "Task", "InstanceRole": "TASK", "InstanceType": "m5.xlarge", "InstanceCount": task}]}
    )["InstanceGroupIds"]
    world.settle()
    world.bring_up(cluster_id)
    answer = auto_scaling.put_auto_scaling_policy(world.ctx, {
        "ClusterId": cluster_id, "InstanceGroupId": group_id, "AutoScalingPolicy": {
            "Constraints": {"MinCapacity": minimum, "MaxCapacity": maximum}, "Rules": list(rules)}})
    assert answer["AutoScalingPolicy"]["Status"]["State"] == "PENDING", "until the loop attaches it"
    world.settle()
    return cluster_id, group_id


def task_group(world, cluster_id) -> dict:
    groups = instances.list_instance_groups(world.ctx, {"ClusterId": cluster_id})["InstanceGroups"]
    return next(g for g in groups if g["InstanceGroupType"] == "TASK")


# Metrics -------------------------------------------------------------------------------

def test_every_master_heartbeat_is_a_sample_of_emrs_metrics(world):
    cluster_id = running_cluster(world)  # up at T0: the first minute's samples start now
    world.run_for(59, cluster_id, yarn=yarn(available_mb=3000), hdfs=HDFS)
    world.run_for(61, cluster_id, yarn=yarn(available_mb=6000, pending=4, allocated=2), hdfs=HDFS)
    first, second = T0, T0 + MINUTE
    assert stat(world, cluster_id, "YARNMemoryAvailablePercentage", first, second) == 25.0
    assert stat(world, cluster_id, "YARNMemoryAvailablePercentage", first, second, "SAMPLE_COUNT") == 59
    assert stat(world, cluster_id, "YARNMemoryAvailablePercentage", second, second + MINUTE) == 50.0
    assert stat(world, cluster_id, "ContainerPendingRatio", second, second + MINUTE, "MAXIMUM") == 2.0
    assert stat(world, cluster_id, "MemoryAvailableMB", first, second + MINUTE, "MINIMUM") == 3000
    assert stat(world, cluster_id, "HDFSUtilization", first, second) == 25.0
    assert stat(world, cluster_id, "UnderReplicatedBlocks", first, second) == 3
    assert stat(world, cluster_id, "CoreNodesRunning", first, second) == 2
    assert stat(world, cluster_id, "LiveDataNodes", first, second) == 100.0
    assert stat(world, cluster_id, "TotalVCPURunning", first, second) == 8
    assert stat(world, cluster_id, "IsIdle", first, second) == 1.0, "a WAITING cluster with nothing running"
    assert stat(world, cluster_id, "AppsRunning", first, second) == 1.0


def test_no_sample_without_a_new_heartbeat_from_the_master(world):
    cluster_id = running_cluster(world)
    world.run_for(10, cluster_id, yarn=yarn())
    world.advance(20)  # passes, but no agent reports
    assert stat(world, cluster_id, "ContainerPending", T0, T0 + MINUTE, "SAMPLE_COUNT") == 10


def test_minutes_older_than_the_retention_period_are_pruned(store):
    world = World(store, ProviderWhereNodesRun(), replace(SETTINGS, metric_retention_s=120))
    cluster_id = running_cluster(world)
    world.run_for(250, cluster_id, yarn=yarn())
    with store.transaction() as session:
        minutes = sorted({row.minute for row in session.query(ClusterMetricMinute)})
    assert minutes == [T0 + 2 * MINUTE, T0 + 3 * MINUTE, T0 + 4 * MINUTE], "pruned at T0+4 min: before T0+2 min"


def test_a_statistic_reads_whole_minutes_and_none_where_there_is_no_data(store):
    world = World(store, ProviderWhereNodesRun())
    cluster_id = running_cluster(world)
    with store.transaction() as session:
        for second, value in ((5, 1.0), (30, 4.0), (65, 10.0)):
            cluster_metrics.record(session, cluster_id, T0 + timedelta(seconds=second), {"ContainerPending": value})
    expected = {"SAMPLE_COUNT": 3, "AVERAGE": 5.0, "SUM": 15.0, "MINIMUM": 1.0, "MAXIMUM": 10.0}
    for kind, value in expected.items():
        assert stat(world, cluster_id, "ContainerPending", T0, T0 + 2 * MINUTE, kind) == value
    assert stat(world, cluster_id, "ContainerPending", T0, T0 + MINUTE, "SUM") == 5.0
    assert stat(world, cluster_id, "ContainerPending", T0 + 2 * MINUTE, T0 + 3 * MINUTE) is None


# Alarms --------------------------------------------------------------------------------

def alarm(**definition) -> dict:
    return rule(**definition)["Trigger"]["CloudWatchAlarmDefinition"]


def test_an_alarm_needs_every_one_of_its_complete_periods_to_breach(store):
    world = World(store, ProviderWhereNodesRun())
    cluster_id = running_cluster(world)
    with store.transaction() as session:
        for minute, value in enumerate((20.0, 10.0, 10.0, 12.0, 30.0, 5.0)):  # T0 .. T0+5 min
            cluster_metrics.record(session, cluster_id, T0 + minute * MINUTE,
                                   {"YARNMemoryAvailablePercentage": value})

        def breaches(at_minute, seconds=0, **definition):
            return alarm_breaches(session, cluster_id, alarm(**definition),
                                  T0 + at_minute * MINUTE + timedelta(seconds=seconds))

        assert not breaches(1, periods=1), "the minute T0 (20 %) is not under 15 %"
        assert breaches(2, periods=1) and breaches(3, periods=2) and breaches(4, periods=3)
        assert not breaches(4, periods=4), "T0's minute is in the fourth period back"
        assert breaches(2, seconds=59, periods=1), "the minute still running is not complete"
        assert not breaches(5, periods=1), "30 % at T0+4"
        # Periods of two minutes, aligned to the clock: [T0+2, T0+4) averages 11 %.
        assert breaches(4, period=120) and not breaches(6, period=120)
        assert breaches(6, period=120, statistic="MINIMUM")
        assert not breaches(7, period=60), "no data at T0+6: missing data does not breach"
        assert breaches(4, period=180, operator="LESS_THAN_OR_EQUAL", threshold=40.0 / 3, statistic="AVERAGE")
        assert breaches(3, operator="GREATER_THAN_OR_EQUAL", threshold=2, statistic="SAMPLE_COUNT", period=120)
        assert not breaches(3, operator="GREATER_THAN_OR_EQUAL", threshold=3, statistic="SAMPLE_COUNT", period=120)
        assert breaches(4, operator="GREATER_THAN", threshold=21, statistic="SUM", period=120)


@pytest.mark.parametrize("count, action, constraints, expected", [
    (2, {"ScalingAdjustment": 1}, (0, 5), 3),
    (2, {"ScalingAdjustment": -3, "AdjustmentType": "CHANGE_IN_CAPACITY"}, (1, 5), 1),
    (4, {"ScalingAdjustment": 4, "AdjustmentType": "EXACT_CAPACITY"}, (0, 3), 3),
    (10, {"ScalingAdjustment": 25, "AdjustmentType": "PERCENT_CHANGE_IN_CAPACITY"}, (0, 20), 12),
    (3, {"ScalingAdjustment": 10, "AdjustmentType": "PERCENT_CHANGE_IN_CAPACITY"}, (0, 20), 4),
    (3, {"ScalingAdjustment": -10, "AdjustmentType": "PERCENT_CHANGE_IN_CAPACITY"}, (0, 20), 2),
    (10, {"ScalingAdjustment": -55, "AdjustmentType": "PERCENT_CHANGE_IN_CAPACITY"}, (0, 20), 5),
])
def test_adjustments_round_as_ec2_auto_scaling_and_stay_within_constraints(count, action, constraints, expected):
    minimum, maximum = constraints
    assert adjusted_count(count, action, {"MinCapacity": minimum, "MaxCapacity": maximum}) == expected


# Rules on a cluster ----------------------------------------------------------------------

def test_a_rule_scales_out_when_its_alarm_has_breached_for_its_evaluation_periods(world):
    cluster_id, _ = rules_cluster(world, rule(threshold=15.0, periods=2, cooldown=0))
    assert task_group(world, cluster_id)["AutoScalingPolicy"]["Status"]["State"] == "ATTACHED"
    assert world.clock() == T0
    world.run_for(119, cluster_id, yarn=yarn(available_mb=1200))  # 10 % free
    assert task_group(world, cluster_id)["RequestedInstanceCount"] == 1, "one complete period so far"
    world.run_for(1, cluster_id, yarn=yarn(available_mb=1200))
    group = task_group(world, cluster_id)
    assert (group["RequestedInstanceCount"], group["Status"]["State"]) == (2, "RESIZING")
    world.run_for(5, cluster_id, yarn=yarn(available_mb=6000))  # the new node runs; memory is free again
    assert task_group(world, cluster_id)["RunningInstanceCount"] == 2


def test_no_rule_fires_while_its_group_resizes_nor_within_the_cooldown_after(world):
    cluster_id, group_id = rules_cluster(world, rule(threshold=15.0, cooldown=300))
    tight = yarn(available_mb=600)
    world.run_for(60, cluster_id, yarn=tight)  # the first minute breaches
    assert task_group(world, cluster_id)["RequestedInstanceCount"] == 2
    world.run_for(5, cluster_id, yarn=tight)  # the new node runs: the activity is complete
    with world.store.transaction() as session:
        state = session.get(InstanceGroup, group_id).auto_scaling_state
    assert state["last_activity"]["rule"] == "out" and state["last_activity"]["cooldown_s"] == 300
    completed_s = (moment(state["completed_at"]) - T0).total_seconds()
    assert 61 <= completed_s <= 62
    world.run_for(293, cluster_id, yarn=tight)  # still breaching, in the cooldown
    assert task_group(world, cluster_id)["RequestedInstanceCount"] == 2
    world.run_for(10, cluster_id, yarn=tight)
    assert task_group(world, cluster_id)["RequestedInstanceCount"] == 3
    world.run_for(400, cluster_id, yarn=tight)
    assert task_group(world, cluster_id)["RequestedInstanceCount"] == 3, "MaxCapacity"


def test_the_first_breaching_rule_in_the_policys_order_acts_and_scale_in_rules_shrink(world):
    cluster_id, _ = rules_cluster(
        world, rule("out", threshold=15.0),
        rule("in", metric="YARNMemoryAvailablePercentage", operator="GREATER_THAN", threshold=75.0,
             adjustment=-1),
        rule("idle", metric="IsIdle", operator="GREATER_THAN_OR_EQUAL", threshold=1, statistic="MINIMUM",
             adjustment=0, kind="EXACT_CAPACITY"),
        minimum=0, task=2)
    world.run_for(120, cluster_id, yarn=yarn(available_mb=11000))  # 92 % free, idle: "in" comes first
    assert task_group(world, cluster_id)["RequestedInstanceCount"] == 1


def test_the_policy_is_detached_once_the_cluster_ends_and_gone_once_removed(world):
    cluster_id, group_id = rules_cluster(world, rule())
    auto_scaling.remove_auto_scaling_policy(world.ctx, {"ClusterId": cluster_id, "InstanceGroupId": group_id})
    assert task_group(world, cluster_id)["AutoScalingPolicy"] is None  # the wire leaves it out
    auto_scaling.put_auto_scaling_policy(world.ctx, {"ClusterId": cluster_id, "InstanceGroupId": group_id,
                                                     "AutoScalingPolicy": {"Constraints": {"MinCapacity": 0,
                                                                                           "MaxCapacity": 2},
                                                                           "Rules": [rule()]}})
    world.settle()
    assert task_group(world, cluster_id)["AutoScalingPolicy"]["Status"]["State"] == "ATTACHED"
    clusters.terminate_job_flows(world.ctx, {"JobFlowIds": [cluster_id]})
    world.settle()
    world.advance(15)
    assert task_group(world, cluster_id)["AutoScalingPolicy"]["Status"]["State"] == "DETACHED"


def test_managed_scaling_and_automatic_scaling_do_not_mix(world):
    cluster_id, _ = rules_cluster(world, rule())
    with pytest.raises(ValidationException, match="automatic scaling policies"):
        policies.put_managed_scaling_policy(world.ctx, {"ClusterId": cluster_id, "ManagedScalingPolicy": {
            "ComputeLimits": {"UnitType": "Instances", "MinimumCapacityUnits": 1, "MaximumCapacityUnits": 4}}})
