"""Resize, graceful decommissioning and auto-termination, pass by pass, on a fake
clock (tests/control_fakes.py): ModifyInstanceGroups and AddInstanceGroups through
the service functions, the agents' side of decommissioning through real heartbeats,
every timeout by moving the clock."""

import pytest

from control_fakes import ProviderWhereNodesRun, World, running_cluster, store, world  # noqa: F401
from elmr.service import instances, policies, resize, steps
from elmr.service.errors import InvalidRequestException, ValidationException
from elmr.store.models import Cluster


def modify(world, cluster_id, role, **change):
    group = world.group(cluster_id, role)
    resize.modify_instance_groups(world.ctx, {"ClusterId": cluster_id, "InstanceGroups": [
        {"InstanceGroupId": group.id, **change}]})
    world.settle()


def listed_group(world, cluster_id, role) -> dict:
    groups = instances.list_instance_groups(world.ctx, {"ClusterId": cluster_id})["InstanceGroups"]
    return next(g for g in groups if g["InstanceGroupType"] == role)


def grown_to_four(world) -> str:
    cluster_id = running_cluster(world)
    world.run_for(10, cluster_id)  # the new nodes are ten seconds younger
    modify(world, cluster_id, "CORE", InstanceCount=4)
    world.bring_up(cluster_id)
    assert world.group(cluster_id, "CORE").state == "RUNNING"
    return cluster_id


# Growing -----------------------------------------------------------------------

def test_a_grown_group_is_resizing_until_its_new_workers_run_and_register(world):
    cluster_id = running_cluster(world)
    world.ctx.wake_reconciler = lambda cluster_id=None: None  # look before the loop acts
    group = world.group(cluster_id, "CORE")
    resize.modify_instance_groups(world.ctx, {"InstanceGroups": [{"InstanceGroupId": group.id, "InstanceCount": 4}]})
    shown = listed_group(world, cluster_id, "CORE")
    assert (shown["Status"]["State"], shown["RequestedInstanceCount"]) == ("RESIZING", 4), "shown at once"
    world.ctx.wake_reconciler = world.loop.wake
    world.loop.wake(cluster_id)
    world.settle()
    assert len(world.nodes(cluster_id, "CORE")) == 4 and len(world.provider.starts) == 5
    assert world.group(cluster_id, "CORE").state == "RESIZING"
    assert world.group(cluster_id, "CORE").state_reason_message == "Expanding to 4 instance(s)"
    world.agents_report(cluster_id, "RUNNING", registered=2)  # up, not yet registered
    assert world.group(cluster_id, "CORE").state == "RESIZING"
    world.agents_report(cluster_id, "RUNNING")  # the master counts four workers
    assert world.group(cluster_id, "CORE").state == "RUNNING"
    assert listed_group(world, cluster_id, "CORE")["RunningInstanceCount"] == 4
    assert world.cluster(cluster_id).state == "WAITING"


def test_growing_past_the_hosts_room_launches_what_fits_and_waits(store):
    world = World(store, ProviderWhereNodesRun(room=4))
    cluster_id = running_cluster(world)
    modify(world, cluster_id, "CORE", InstanceCount=4)
    assert len(world.nodes(cluster_id, "CORE")) == 3
    group = world.group(cluster_id, "CORE")
    assert group.state == "RESIZING" and "room on this host for 1 more node" in group.state_reason_message
    assert world.cluster(cluster_id).state == "WAITING", "a running cluster is not failed for it"
    world.provider.room = 5
    world.run_for(31, cluster_id)
    assert len(world.nodes(cluster_id, "CORE")) == 4


# Shrinking: graceful decommissioning ------------------------------------------

def test_shrink_decommissions_the_newest_nodes_then_stops_them(world):
    cluster_id = grown_to_four(world)
    newest = {n.id for n in world.nodes(cluster_id, "CORE")[2:]}
    modify(world, cluster_id, "CORE", InstanceCount=2, ShrinkPolicy={"DecommissionTimeout": 600})
    leaving = [n for n in world.nodes(cluster_id, "CORE") if n.leaving_since is not None]
    assert {n.id for n in leaving} == newest
    assert all(n.decommission_timeout_s == 600 for n in leaving)
    assert world.group(cluster_id, "CORE").state == "RESIZING"

    # The leaving nodes' agents are told to decommission; the master is told who leaves.
    replies = {n.id: world.heartbeat(n, "RUNNING") for n in world.nodes(cluster_id, "CORE")}
    assert {node_id for node_id, reply in replies.items() if reply["decommission"]} == newest
    master = world.nodes(cluster_id, "MASTER")[0]
    reply = world.heartbeat(master, "RUNNING", registered=2)
    assert {n["instance_id"] for n in reply["decommission_nodes"]} == newest

    for node in leaving:
        world.heartbeat(node, "DECOMMISSIONING")
    world.run_for(60, cluster_id, decommissioned_nodes=sorted(newest))
    assert world.provider.stops == [], "no node stops before its own side is done"
    for node in leaving:
        world.heartbeat(node, "DECOMMISSIONED")
    world.settle()
    assert sorted(world.provider.stops) == sorted((node_id, False) for node_id in newest)
    for node_id in newest:
        node = world.node(node_id)
        assert node.state == "TERMINATED" and node.state_reason_code is None
        assert node.state_reason_message == "Decommissioned gracefully, as its instance group was shrunk."
    assert world.group(cluster_id, "CORE").state == "RUNNING"
    assert listed_group(world, cluster_id, "CORE")["RunningInstanceCount"] == 2


def test_a_leaving_node_waits_for_the_masters_side_too(world):
    cluster_id = grown_to_four(world)
    modify(world, cluster_id, "CORE", InstanceCount=3)
    [leaving] = [n for n in world.nodes(cluster_id, "CORE") if n.leaving_since is not None]
    world.heartbeat(leaving, "DECOMMISSIONED")
    master = world.nodes(cluster_id, "MASTER")[0]
    world.run_for(30, cluster_id, decommissioned_nodes=[])
    assert world.node(leaving.id).state == "RUNNING"
    world.heartbeat(master, "RUNNING", registered=3, decommissioned_nodes=[leaving.id])
    world.settle()
    assert world.node(leaving.id).state == "TERMINATED"


def test_a_node_that_does_not_finish_decommissioning_is_stopped_at_its_timeout(world):
    cluster_id = grown_to_four(world)
    modify(world, cluster_id, "CORE", InstanceCount=3, ShrinkPolicy={"DecommissionTimeout": 120})
    [leaving] = [n for n in world.nodes(cluster_id, "CORE") if n.leaving_since is not None]
    world.heartbeat(leaving, "DECOMMISSIONING")
    world.run_for(119, cluster_id)  # every agent keeps reporting
    assert world.node(leaving.id).state == "RUNNING"
    world.clock.advance(1)
    world.agents_report(cluster_id)
    node = world.node(leaving.id)
    assert node.state == "TERMINATED"
    assert node.state_reason_message.endswith("did not finish decommissioning within 120 s.")


def test_instances_to_terminate_leave_first_and_protected_ones_never(world):
    cluster_id = grown_to_four(world)
    oldest, second, third, newest = world.nodes(cluster_id, "CORE")
    modify(world, cluster_id, "CORE", InstanceCount=2, ShrinkPolicy={"InstanceResizePolicy": {
        "InstancesToTerminate": [oldest.ec2_instance_id], "InstancesToProtect": [newest.ec2_instance_id],
        "InstanceTerminationTimeout": 30}})
    leaving = {n.id: n.decommission_timeout_s for n in world.nodes(cluster_id, "CORE") if n.leaving_since}
    assert leaving == {oldest.id: 30, third.id: 3600}
    shrink = listed_group(world, cluster_id, "CORE")["ShrinkPolicy"]["InstanceResizePolicy"]
    assert shrink["InstancesToProtect"] == [newest.ec2_instance_id]


def test_ec2_instance_ids_to_terminate_lower_the_requested_count(world):
    cluster_id = running_cluster(world)
    first, _ = world.nodes(cluster_id, "CORE")
    modify(world, cluster_id, "CORE", EC2InstanceIdsToTerminate=[first.ec2_instance_id])
    assert world.group(cluster_id, "CORE").requested_count == 1
    assert world.node(first.id).leaving_since is not None


def test_a_node_not_yet_running_leaves_first_and_at_once(world):
    cluster_id = running_cluster(world)
    world.run_for(5, cluster_id)
    modify(world, cluster_id, "CORE", InstanceCount=3)
    [starting] = [n for n in world.nodes(cluster_id, "CORE") if n.state == "PROVISIONING"]
    modify(world, cluster_id, "CORE", InstanceCount=2)
    node = world.node(starting.id)
    assert node.state == "TERMINATED" and node.state_reason_message.startswith("Removed while starting")
    assert world.group(cluster_id, "CORE").state == "RUNNING"


# Task groups --------------------------------------------------------------------

def test_task_group_added_then_shrunk_to_nothing(world):
    cluster_id = running_cluster(world)
    answer = resize.add_instance_groups(world.ctx, {"JobFlowId": cluster_id, "InstanceGroups": [{
        "Name": "Task", "InstanceRole": "TASK", "InstanceType": "m5.large", "InstanceCount": 2}]})
    [task_id] = answer["InstanceGroupIds"]
    world.settle()
    assert world.group(cluster_id, "TASK").state == "PROVISIONING" and len(world.nodes(cluster_id, "TASK")) == 2
    world.agents_report(cluster_id, "BOOTSTRAPPING")
    assert world.group(cluster_id, "TASK").state == "BOOTSTRAPPING"
    world.agents_report(cluster_id, "RUNNING")
    assert world.group(cluster_id, "TASK").state == "RUNNING"

    modify(world, cluster_id, "TASK", InstanceCount=0)
    for node in world.nodes(cluster_id, "TASK"):
        world.heartbeat(node, "DECOMMISSIONED")
    world.agents_report(cluster_id, decommissioned_nodes=[n.id for n in world.nodes(cluster_id, "TASK")])
    assert world.nodes(cluster_id, "TASK") == []
    group = world.group(cluster_id, "TASK")
    assert (group.id, group.state, group.requested_count) == (task_id, "RUNNING", 0)


# What EMR refuses ---------------------------------------------------------------

def test_resizing_is_refused_where_emr_refuses_it(world):
    cluster_id = world.run_job_flow()  # still STARTING
    core = world.group(cluster_id, "CORE")
    with pytest.raises(ValidationException, match="only be modified when the cluster is running or waiting"):
        resize.modify_instance_groups(world.ctx, {"InstanceGroups": [{"InstanceGroupId": core.id, "InstanceCount": 3}]})
    world.bring_up(cluster_id)
    master = world.group(cluster_id, "MASTER")
    with pytest.raises(ValidationException, match="master instance group cannot be resized"):
        resize.modify_instance_groups(world.ctx, {"InstanceGroups": [{"InstanceGroupId": master.id, "InstanceCount": 2}]})
    with pytest.raises(InvalidRequestException):
        resize.modify_instance_groups(world.ctx, {"ClusterId": "j-OTHERCLUSTER", "InstanceGroups": [
            {"InstanceGroupId": core.id, "InstanceCount": 3}]})
    with pytest.raises(ValidationException, match="InstancesToProtect keeps 2"):
        protect = [n.ec2_instance_id for n in world.nodes(cluster_id, "CORE")]
        resize.modify_instance_groups(world.ctx, {"InstanceGroups": [{
            "InstanceGroupId": core.id, "InstanceCount": 1,
            "ShrinkPolicy": {"InstanceResizePolicy": {"InstancesToProtect": protect}}}]})
    assert world.group(cluster_id, "CORE").requested_count == 2, "a refused call records nothing"


def test_core_group_does_not_shrink_below_the_hdfs_replication(world):
    cluster_id = running_cluster(world, core=3)
    with world.store.transaction() as session:  # (RunJobFlow takes hdfs-site once HDFS runs)
        session.get(Cluster, cluster_id).configurations = [
            {"Classification": "hdfs-site", "Properties": {"dfs.replication": "2"}}]
    core = world.group(cluster_id, "CORE")
    with pytest.raises(ValidationException, match="cannot shrink below 2"):
        resize.modify_instance_groups(world.ctx, {"InstanceGroups": [{"InstanceGroupId": core.id, "InstanceCount": 1}]})


# Auto-termination ----------------------------------------------------------------

def test_idle_cluster_ends_after_its_idle_timeout(world):
    cluster_id = running_cluster(world, AutoTerminationPolicy={"IdleTimeout": 60})
    assert world.cluster(cluster_id).idle_since == world.clock.now
    world.run_for(59, cluster_id)
    assert world.cluster(cluster_id).state == "WAITING"
    world.clock.advance(1)
    world.agents_report(cluster_id)
    world.advance(1)
    cluster = world.cluster(cluster_id)
    assert (cluster.state, cluster.state_reason_code) == ("TERMINATED", "ALL_STEPS_COMPLETED")
    assert cluster.state_reason_message == (
        "Cluster was idle for longer than its auto-termination policy's IdleTimeout of 60 seconds.")


def test_a_running_application_or_step_keeps_the_cluster_busy(world):
    cluster_id = running_cluster(world, AutoTerminationPolicy={"IdleTimeout": 60})
    world.run_for(100, cluster_id, running_applications=1)  # an application runs on its Spark
    assert world.cluster(cluster_id).state == "WAITING" and world.cluster(cluster_id).idle_since is None
    world.clock.advance(1)
    world.agents_report(cluster_id, running_applications=0)
    assert world.cluster(cluster_id).idle_since == world.clock.now
    world.run_for(30, cluster_id)
    steps.add_job_flow_steps(world.ctx, {"JobFlowId": cluster_id, "Steps": [{
        "Name": "s", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["sleep", "600"]}}]})
    world.settle()
    assert world.cluster(cluster_id).idle_since is None
    world.run_for(90, cluster_id)
    assert world.cluster(cluster_id).state == "RUNNING"


def test_a_policy_put_later_applies_and_one_removed_stops_applying(world):
    cluster_id = running_cluster(world)
    world.run_for(30, cluster_id)
    policies.put_auto_termination_policy(world.ctx, {"ClusterId": cluster_id, "AutoTerminationPolicy": {"IdleTimeout": 60}})
    policies.remove_auto_termination_policy(world.ctx, {"ClusterId": cluster_id})
    world.run_for(120, cluster_id)
    assert world.cluster(cluster_id).state == "WAITING"
    policies.put_auto_termination_policy(world.ctx, {"ClusterId": cluster_id, "AutoTerminationPolicy": {"IdleTimeout": 120}})
    world.settle()  # idle for 150 s already: past the new timeout
    assert world.cluster(cluster_id).state in ("TERMINATING", "TERMINATED")


def test_idle_time_survives_a_server_restart(world):
    cluster_id = running_cluster(world, AutoTerminationPolicy={"IdleTimeout": 60})
    world.run_for(40, cluster_id)
    restarted = world.restart()
    restarted.loop.resync()
    restarted.settle()
    restarted.run_for(19, cluster_id)
    assert restarted.cluster(cluster_id).state == "WAITING"
    restarted.run_for(2, cluster_id)
    assert restarted.cluster(cluster_id).state in ("TERMINATING", "TERMINATED")
