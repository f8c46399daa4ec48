"""Spot capacity in the control loop, pass by pass, on a fake clock with the market
driven by hand (tests/control_fakes.py): spot launches wait for capacity, an
interruption notice makes its node leave (decommissioned, replaced at once) and the
node is taken at the notice's end with EC2's reason; a fleet falls back to on-demand
as its TimeoutAction says (test_fleet_rules.py has the fleet's own rules)."""

from control_fakes import ProviderWhereNodesRun, World, running_cluster, store, world  # noqa: F401
from elmr.service import clusters, spot
from test_fleet_rules import core_fleet, set_capacity, set_price, spot_spec, types_of


def spot_task_cluster(world, count: int = 2, bid_price: str | None = None) -> str:
    task = {"Name": "Spot task", "InstanceRole": "TASK", "InstanceType": "m5.xlarge",
            "InstanceCount": count, "Market": "SPOT", **({"BidPrice": bid_price} if bid_price else {})}
    master = {"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}
    cluster_id = clusters.run_job_flow(world.ctx, {"Name": "s", "Instances": {
        "InstanceGroups": [master, task], "KeepJobFlowAliveWhenNoSteps": True}})["JobFlowId"]
    world.settle()
    return cluster_id


def interrupt(world, node) -> None:
    spot.interrupt_spot(world.ctx, {"InstanceId": node.ec2_instance_id})  # `elmr spot interrupt i-…`
    world.settle()


def test_spot_instances_launch_only_as_far_as_the_market_has_capacity(world):
    set_capacity(world, "m5.xlarge", 1)
    cluster_id = spot_task_cluster(world, count=3)
    assert len(world.nodes(cluster_id, "TASK")) == 1
    group = world.group(cluster_id, "TASK")
    assert "Waiting for Spot capacity for 2 more instance(s)" in group.state_reason_message
    assert "(1 available, 1 requested)" not in group.state_reason_message
    world.bring_up(cluster_id)
    assert world.cluster(cluster_id).state == "BOOTSTRAPPING", "the cluster waits for its spot nodes"
    set_capacity(world, "m5.xlarge", 3)
    world.run_for(1, cluster_id)
    assert len(world.nodes(cluster_id, "TASK")) == 3
    world.bring_up(cluster_id)
    assert world.cluster(cluster_id).state == "WAITING"


def test_a_bid_under_the_spot_price_waits_for_the_price_to_fall(world):
    set_price(world, "m5.xlarge", "0.09")
    cluster_id = spot_task_cluster(world, count=1, bid_price="0.05")
    assert world.nodes(cluster_id, "TASK") == []
    assert "above the maximum price ($0.05/h)" in world.group(cluster_id, "TASK").state_reason_message
    set_price(world, "m5.xlarge", "0.04")
    world.advance(1)
    assert len(world.nodes(cluster_id, "TASK")) == 1


def test_a_notice_makes_the_node_leave_its_replacement_start_and_the_node_end_at_the_deadline(world):
    cluster_id = spot_task_cluster(world)
    world.bring_up(cluster_id)
    old, kept = world.nodes(cluster_id, "TASK")
    interrupt(world, old)
    noticed = world.node(old.id)
    assert noticed.leaving_since == world.clock() and noticed.decommission_timeout_s == 120
    assert len(world.nodes(cluster_id, "TASK")) == 3, "the replacement starts at once"
    group = world.group(cluster_id, "TASK")
    assert (group.state, group.state_reason_message) == ("RESIZING", "Replacing 1 interrupted Spot instance(s)")
    reply = world.heartbeat(noticed, "RUNNING")
    assert reply["decommission"] is True, "the node's agent is told to decommission"
    world.heartbeat(noticed, "DECOMMISSIONED")
    world.run_for(60, cluster_id)
    assert world.node(old.id).state == "RUNNING", "decommissioned early, it is still EC2's until the notice ends"
    world.run_for(61, cluster_id)
    taken = world.node(old.id)
    assert taken.stop_requested_at is not None
    world.advance(1)
    taken = world.node(old.id)
    assert taken.state == "TERMINATED" and taken.state_reason_code == "INSTANCE_FAILURE"
    assert taken.state_reason_message.startswith("Server.SpotInstanceTermination: Spot instance interrupted")
    assert "interrupted by hand" in taken.state_reason_message
    world.bring_up(cluster_id)
    assert world.group(cluster_id, "TASK").state == "RUNNING"
    assert {n.id for n in world.nodes(cluster_id, "TASK")} >= {kept.id}


def test_a_node_whose_notice_ran_out_before_its_cluster_ended_says_ec2_took_it(world):
    """The notice ends while the loop is behind (no pass in between), then the user
    terminates the cluster: EC2 took the node first, and its reason says so."""
    cluster_id = spot_task_cluster(world, count=1)
    world.bring_up(cluster_id)
    [noticed] = world.nodes(cluster_id, "TASK")
    interrupt(world, noticed)
    world.clock.advance(121)
    clusters.terminate_job_flows(world.ctx, {"JobFlowIds": [cluster_id]})
    world.advance(12)
    taken = world.node(noticed.id)
    assert taken.state == "TERMINATED" and taken.state_reason_code == "INSTANCE_FAILURE"
    assert taken.state_reason_message.startswith("Server.SpotInstanceTermination")
    [replacement] = [n for n in world.nodes(cluster_id, "TASK", live=False) if n.id != noticed.id]
    assert replacement.state_reason_message == "Cluster was terminated."


def test_a_capacity_crunch_interrupts_the_newest_and_the_group_waits_to_replace_them(world):
    set_capacity(world, "m5.xlarge", 5)
    cluster_id = spot_task_cluster(world)
    world.bring_up(cluster_id)
    older, newer = world.nodes(cluster_id, "TASK")
    set_capacity(world, "m5.xlarge", 1)
    world.run_for(1, cluster_id)
    assert world.node(newer.id).leaving_since is not None and world.node(older.id).leaving_since is None
    assert len(world.nodes(cluster_id, "TASK")) == 2, "no capacity for a replacement"
    assert world.group(cluster_id, "TASK").state_reason_message.startswith("Waiting for Spot capacity for 1 more")
    world.run_for(121, cluster_id)
    assert world.node(newer.id).state == "TERMINATED"
    assert "EC2 reclaimed the Spot capacity of m5.xlarge" in world.node(newer.id).state_reason_message
    set_capacity(world, "m5.xlarge", 2)
    world.run_for(1, cluster_id)
    assert len(world.nodes(cluster_id, "TASK")) == 2
    world.bring_up(cluster_id)
    assert world.group(cluster_id, "TASK").state == "RUNNING"


def test_a_spot_master_interrupted_ends_the_cluster_with_ec2s_reason(world):
    cluster_id = clusters.run_job_flow(world.ctx, {"Name": "m", "Instances": {"InstanceGroups": [
        {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1, "Market": "SPOT"}],
        "KeepJobFlowAliveWhenNoSteps": True}})["JobFlowId"]
    world.settle()
    world.bring_up(cluster_id)
    [master] = world.nodes(cluster_id)
    interrupt(world, master)
    world.run_for(121, cluster_id)
    world.advance(12)
    cluster = world.cluster(cluster_id)
    assert cluster.state == "TERMINATED_WITH_ERRORS" and cluster.state_reason_code == "INSTANCE_FAILURE"
    assert "Server.SpotInstanceTermination" in cluster.state_reason_message


def test_a_fleet_replaces_lost_spot_capacity_from_another_pool(world):
    """capacity-optimized: the deeper pool first; once it is interrupted and empty,
    the fleet takes its spot units from the other type."""
    set_capacity(world, "m5.xlarge", 10)
    set_capacity(world, "m5.2xlarge", 2)
    cluster_id = world.run_fleet_cluster(core_fleet(spot=2, LaunchSpecifications=spot_spec(
        5, "SWITCH_TO_ON_DEMAND", "capacity-optimized")))
    world.bring_up(cluster_id)
    assert types_of(world.nodes(cluster_id, "CORE")) == [("m5.xlarge", "SPOT")] * 2
    set_capacity(world, "m5.xlarge", 0)
    world.run_for(1, cluster_id)
    launched = [n for n in world.nodes(cluster_id, "CORE") if n.leaving_since is None]
    assert types_of(launched) == [("m5.2xlarge", "SPOT")], "one m5.2xlarge (weight 2) replaces both"
    world.run_for(125, cluster_id)
    assert types_of(world.nodes(cluster_id, "CORE")) == [("m5.2xlarge", "SPOT")]
    assert world.fleet(cluster_id, "CORE").state == "RUNNING"
