"""The control loop's decisions, pass by pass, on a fake clock with node providers
that are fakes named for what they do (tests/control_fakes.py): every transition,
timeout and retry of a cluster's lifecycle and of its nodes. The store, the service
functions, the reconciler, the actuator and the loop's queue are the real ones."""

from concurrent.futures import ThreadPoolExecutor

from conftest import wait_for
from control_fakes import (  # noqa: F401  (store, world: fixtures)
    ProviderSlowToStart,
    ProviderThatAlwaysFailsToStart,
    ProviderThatFailsTwiceThenStarts,
    ProviderWhereNodesRun,
    World,
    running_cluster,
    store,
    world,
)
from elmr.service import clusters, steps, views
from elmr.store.models import Step


def public_state(world, cluster_id) -> str:
    return views.cluster_status(world.cluster(cluster_id))["State"]


# Launching and starting ----------------------------------------------------------

def test_launches_every_node_once_and_never_again(world):
    cluster_id = world.run_job_flow()
    assert len(world.provider.starts) == 3 and len(set(world.provider.starts)) == 3
    world.advance(5)
    restarted = world.restart()
    restarted.loop.resync()
    restarted.advance(5)
    assert len(world.provider.starts) == 3, "a restarted server adopts its nodes, never relaunches"
    assert world.cluster(cluster_id).state == "STARTING"


def test_unfinished_launch_is_finished_not_duplicated(store):
    world = World(store, ProviderWhereNodesRun(), submit=lambda call: None)  # the server dies before starting
    cluster_id = world.run_job_flow()
    assert world.provider.starts == [] and len(world.nodes(cluster_id)) == 3
    restarted = World(store, world.provider, clock=world.clock)
    restarted.loop.resync()
    restarted.settle()
    assert sorted(world.provider.starts) == sorted(n.id for n in world.nodes(cluster_id))


def test_cluster_walks_starting_bootstrapping_running_waiting(world):
    cluster_id = world.run_job_flow()
    assert world.cluster(cluster_id).state == "STARTING"
    world.agents_report(cluster_id, "BOOTSTRAPPING")
    assert world.cluster(cluster_id).state == "BOOTSTRAPPING"
    world.agents_report(cluster_id, "RUNNING", registered=1)  # one of two workers registered
    assert world.cluster(cluster_id).state == "BOOTSTRAPPING"
    world.agents_report(cluster_id, "RUNNING")
    cluster = world.cluster(cluster_id)
    assert cluster.state == "WAITING" and cluster.state_reason_message == "Cluster ready to run steps."
    assert {world.group(cluster_id, role).state for role in ("MASTER", "CORE")} == {"RUNNING"}


def test_cluster_is_running_while_a_step_runs_and_waiting_when_idle(world):
    cluster_id = running_cluster(world)
    [step_id] = steps.add_job_flow_steps(world.ctx, {"JobFlowId": cluster_id, "Steps": [{
        "Name": "s", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]}}]})["StepIds"]
    world.settle()
    assert world.cluster(cluster_id).state == "RUNNING"
    master = world.nodes(cluster_id, "MASTER")[0]
    reply = world.heartbeat(master, "RUNNING", registered=2)
    assert [order["step_id"] for order in reply["run_steps"]] == [step_id]
    world.advance(3)
    assert world.cluster(cluster_id).state == "RUNNING"
    world.heartbeat(master, "RUNNING", registered=2,
                    steps=[{"step_id": step_id, "state": "COMPLETED", "exit_code": 0}])
    world.settle()
    assert world.cluster(cluster_id).state == "WAITING"


def test_cluster_not_kept_alive_ends_when_its_steps_are_done(world):
    cluster_id = world.run_job_flow(keep_alive=False)
    world.bring_up(cluster_id)
    world.advance(11)
    cluster = world.cluster(cluster_id)
    assert (cluster.state, cluster.state_reason_code) == ("TERMINATED", "ALL_STEPS_COMPLETED")


def test_no_room_fails_the_starting_cluster_before_launching(store):
    world = World(store, ProviderWhereNodesRun(room=2))
    cluster_id = world.run_job_flow()
    assert world.provider.starts == []
    cluster = world.cluster(cluster_id)
    assert cluster.state == "TERMINATED_WITH_ERRORS" and cluster.state_reason_code == "VALIDATION_ERROR"


# Provider failures: data, backoff, timeout -------------------------------------

def test_provider_that_always_fails_is_retried_with_backoff_and_fails_the_cluster_at_the_timeout(store):
    provider = ProviderThatAlwaysFailsToStart()
    world = World(store, provider)
    cluster_id = world.run_job_flow(core=1)
    passes = world.advance(60)
    master = world.nodes(cluster_id, "MASTER")[0]
    # Retried at 1, 2, 4, 8, 16, 30, 30 s… after each failure, never in a tight loop.
    assert 6 <= provider.starts.count(master.id) <= 8, provider.starts
    assert passes < 150
    assert master.provider_attempts == provider.starts.count(master.id)
    assert master.provider_error == "RuntimeError: no capacity for m5.xlarge"
    assert master.provider_failing_since == master.created_at  # the first try failed
    assert "no capacity for m5.xlarge" in master.state_reason_message  # ListInstances shows why
    assert world.cluster(cluster_id).state == "STARTING"

    world.advance(125)
    cluster = world.cluster(cluster_id)
    assert cluster.state == "TERMINATED_WITH_ERRORS"
    assert cluster.state_reason_code == "INTERNAL_ERROR"
    assert "elmr could not start the node: RuntimeError: no capacity for m5.xlarge" in cluster.state_reason_message
    assert len(provider.starts) < 40  # every node together, over three minutes
    assert world.nodes(cluster_id) == []


def test_provider_that_fails_twice_then_starts_the_node(store):
    provider = ProviderThatFailsTwiceThenStarts()
    world = World(store, provider)
    cluster_id = world.run_job_flow(core=1)
    world.advance(4)
    nodes = world.nodes(cluster_id)
    assert all("pgid" in n.provider_state for n in nodes)
    assert all(n.provider_attempts == 0 and n.provider_error is None for n in nodes), "success forgets failures"
    world.bring_up(cluster_id)
    assert world.cluster(cluster_id).state == "WAITING"


def test_slow_start_of_one_cluster_holds_up_no_other(store):
    provider = ProviderSlowToStart(slow_cluster="")
    with ThreadPoolExecutor(8) as pool:
        world = World(store, provider, submit=pool.submit)
        slow = world.run_job_flow(core=1, settle=False)
        provider.slow_cluster = slow
        fast = world.run_job_flow(core=1, settle=False)
        try:
            world.settle()
            fast_nodes = {n.id for n in world.nodes(fast)}
            wait_for(lambda: world.settle() >= 0 and fast_nodes <= set(provider.starts), 30,
                     what="the other cluster's nodes to start")
            # Both of the slow cluster's starts are in flight (pool threads call them).
            wait_for(lambda: provider.slow_calls == 2, 30, what="the slow cluster's two starts")
            world.advance(10)
            assert provider.slow_calls == 2, "a start in flight is not started again"
        finally:
            provider.release()
    world.settle()
    assert all("pgid" in n.provider_state for n in world.nodes(slow))


def test_node_that_never_starts_its_daemons_fails_the_cluster_after_the_start_timeout(world):
    cluster_id = world.run_job_flow()
    world.agents_report(cluster_id, "BOOTSTRAPPING")
    world.advance(181, step_s=10)
    cluster = world.cluster(cluster_id)
    assert cluster.state in ("TERMINATING", "TERMINATED_WITH_ERRORS")
    assert cluster.state_reason_code == "INSTANCE_FAILURE"
    assert "did not start its daemons within 180 s" in cluster.state_reason_message


# Losing nodes ------------------------------------------------------------------

def test_killed_core_node_is_reported_and_replaced(world):
    cluster_id = running_cluster(world)
    lost = world.nodes(cluster_id, "CORE")[0]
    world.provider.kill(lost.id)
    world.advance(1)
    lost = world.node(lost.id)
    assert lost.state == "TERMINATED" and lost.state_reason_code == "INSTANCE_FAILURE"
    assert lost.state_reason_message == "The node's processes exited unexpectedly (killed by signal 9)."
    assert world.group(cluster_id, "CORE").state == "RESIZING"
    assert len(world.nodes(cluster_id, "CORE")) == 2  # a replacement is launched
    world.bring_up(cluster_id)
    assert world.group(cluster_id, "CORE").state == "RUNNING"
    assert world.cluster(cluster_id).state == "WAITING"


def test_node_whose_agent_died_is_stopped_and_replaced(world):
    cluster_id = running_cluster(world)
    core = world.nodes(cluster_id, "CORE")[0]
    world.provider.kill_agent(core.id)
    world.advance(1)
    assert (core.id, False) in world.provider.stops, "its daemons are stopped"
    core = world.node(core.id)
    assert core.state == "TERMINATED" and core.state_reason_code == "INSTANCE_FAILURE"
    assert core.state_reason_message.startswith("The node's agent exited")


def test_silent_agent_is_lost_after_the_heartbeat_timeout_though_its_processes_run(world):
    cluster_id = running_cluster(world)
    core = world.nodes(cluster_id, "CORE")[0]
    others = [n for n in world.nodes(cluster_id) if n.id != core.id]
    for _ in range(25):  # everyone but `core` keeps reporting
        world.clock.advance(1)
        for node in others:
            world.heartbeat(node, "RUNNING", registered=2)
        world.settle()
    assert world.node(core.id).state == "RUNNING", "not lost before the timeout"
    for _ in range(10):
        world.clock.advance(1)
        for node in others:
            world.heartbeat(node, "RUNNING", registered=1)
        world.settle()
    core = world.node(core.id)
    assert core.state_reason_code == "INSTANCE_FAILURE"
    assert "has not reported for 3" in core.state_reason_message
    assert (core.id, False) in world.provider.stops
    assert world.node(others[0].id).state == "RUNNING"


def test_restarted_server_does_not_take_its_nodes_for_silent(world):
    cluster_id = running_cluster(world)
    world.clock.advance(300)  # the server was down for five minutes
    restarted = world.restart()
    restarted.loop.resync()
    restarted.settle()
    assert all(n.state == "RUNNING" for n in restarted.nodes(cluster_id))
    restarted.agents_report(cluster_id)
    restarted.advance(5)
    assert restarted.cluster(cluster_id).state == "WAITING"


def test_lost_master_ends_the_cluster(world):
    cluster_id = running_cluster(world)
    world.provider.kill(world.nodes(cluster_id, "MASTER")[0].id)
    world.advance(12)
    cluster = world.cluster(cluster_id)
    assert cluster.state == "TERMINATED_WITH_ERRORS" and cluster.state_reason_code == "INSTANCE_FAILURE"
    assert cluster.state_reason_message.startswith("Master node i-")


# Terminating -------------------------------------------------------------------

def test_termination_is_recorded_by_the_api_and_carried_out_by_the_loop(world):
    cluster_id = running_cluster(world)
    world.ctx.wake_reconciler = lambda cluster_id=None: None  # look before the loop acts
    clusters.terminate_job_flows(world.ctx, {"JobFlowIds": [cluster_id]})
    assert world.cluster(cluster_id).state == "WAITING", "only the loop moves observed state"
    assert public_state(world, cluster_id) == "TERMINATING", "EMR shows it terminating at once"
    world.loop.wake(cluster_id)
    world.settle()  # SIGTERM to every node; they exit; the next pass finds them gone
    assert sorted(force for _, force in world.provider.stops) == [False] * 3
    cluster = world.cluster(cluster_id)
    assert (cluster.state, cluster.state_reason_code) == ("TERMINATED", "USER_REQUEST")
    assert all(n.state_reason_code == "CLUSTER_TERMINATED" for n in world.nodes(cluster_id, live=False))


def test_termination_escalates_to_kill_after_the_grace_period(store):
    world = World(store, ProviderWhereNodesRun(ignores_sigterm=True))
    cluster_id = running_cluster(world)
    clusters.terminate_job_flows(world.ctx, {"JobFlowIds": [cluster_id]})
    world.settle()
    assert sorted(force for _, force in world.provider.stops) == [False] * 3
    world.advance(9)
    assert world.cluster(cluster_id).state == "TERMINATING" and len(world.provider.stops) == 3
    world.advance(2)
    assert sorted(force for _, force in world.provider.stops) == [False] * 3 + [True] * 3
    assert world.cluster(cluster_id).state == "TERMINATED"


def test_a_failed_step_with_terminate_cluster_ends_it_through_the_loop(world):
    cluster_id = running_cluster(world)
    [step_id] = steps.add_job_flow_steps(world.ctx, {"JobFlowId": cluster_id, "Steps": [{
        "Name": "s", "ActionOnFailure": "TERMINATE_CLUSTER",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["false"]}}]})["StepIds"]
    world.settle()
    master = world.nodes(cluster_id, "MASTER")[0]
    world.heartbeat(master, "RUNNING", registered=2,
                    steps=[{"step_id": step_id, "state": "FAILED", "exit_code": 1}])
    world.advance(2)
    cluster = world.cluster(cluster_id)
    assert (cluster.state, cluster.state_reason_code) == ("TERMINATED_WITH_ERRORS", "STEP_FAILURE")
    with world.store.transaction() as session:
        assert session.get(Step, step_id).state == "FAILED"


# The loop's cost ---------------------------------------------------------------

def test_a_steady_cluster_costs_one_pass_per_watch_period(world):
    cluster_id = running_cluster(world)
    passes = world.advance(20, step_s=0.25)
    assert 18 <= passes <= 22
    assert world.provider.stops == [] and world.cluster(cluster_id).state == "WAITING"


def test_a_burst_of_wakes_costs_one_pass(world):
    cluster_id = running_cluster(world)
    for _ in range(50):
        world.loop.wake(cluster_id)
    assert world.settle() == 1
