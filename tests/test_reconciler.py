"""The reconciler's decisions, pass by pass, against a real store and providers
that are fakes named for what they do (no process is started here)."""

from datetime import datetime, timedelta, timezone

import pytest

from elmr.control.reconciler import Reconciler, Settings, StartNode, StopNode
from elmr.providers.base import NodeProvider
from elmr.store.db import Store, sqlite_url
from elmr.store.models import Cluster, Instance, InstanceGroup

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


class ProviderWhereNodesStayAlive(NodeProvider):
    """Remembers which nodes were 'started'; they stay alive until stopped with force."""

    name = "fake-alive"

    def __init__(self, room: int | None = None):
        self.alive: set[str] = set()
        self.room = room

    def allocate(self, node):
        return {"node_dir": f"/nowhere/{node.instance_id}", "address": "127.0.0.1", "ports": {}}

    def start(self, spec, checkpoint):
        self.alive.add(spec.instance_id)
        return {"pid": 1, "pgid": spec.instance_id}

    def stop(self, checkpoint, force=False):
        if force:
            self.alive.discard(checkpoint["pgid"])

    def is_alive(self, checkpoint):
        return checkpoint.get("pgid") in self.alive

    def room_for(self, live_nodes):
        return None if self.room is None else self.room - live_nodes


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def store(tmp_path):
    opened = Store.open(sqlite_url(tmp_path))
    yield opened
    opened.close()


def add_cluster(store, core_count=2, keep_alive=True) -> str:
    with store.transaction() as session:
        session.add(Cluster(
            id="j-TEST", name="t", state="STARTING", created_at=T0, release_label="emr-7.2.0",
            applications=[], configurations=[], tags=[], keep_alive_when_no_steps=keep_alive,
            termination_protected=False, visible_to_all_users=True, step_concurrency_level=1,
            request_extras={},
        ))
        session.flush()
        for group_id, role, count in (("ig-M", "MASTER", 1), ("ig-C", "CORE", core_count)):
            session.add(InstanceGroup(
                id=group_id, cluster_id="j-TEST", name=role, role=role, market="ON_DEMAND",
                instance_type="m5.xlarge", requested_count=count, state="PROVISIONING",
                created_at=T0, configurations=[],
            ))
    return "j-TEST"


def mark_started(store, actions, provider):
    """What the actuator would save after starting each node."""
    with store.transaction() as session:
        for action in actions:
            node = session.get(Instance, action.instance_id)
            provider.alive.add(node.id)
            node.provider_state = {"pgid": node.id, "pid": 1}


def report(store, phase, alive_workers=None):
    with store.transaction() as session:
        for node in session.query(Instance).filter(Instance.state != "TERMINATED"):
            node.agent_phase = phase
            counts = {"hdfs_live_datanodes": alive_workers, "yarn_active_nodemanagers": alive_workers}
            node.agent_report = {"cluster_report": counts} if node.role == "MASTER" else {}


def cluster_state(store) -> str:
    with store.transaction() as session:
        return session.get(Cluster, "j-TEST").state


def test_launches_every_node_once_and_never_again(store):
    provider, clock = ProviderWhereNodesStayAlive(), Clock()
    reconciler = Reconciler(store, provider, clock)
    add_cluster(store)
    first = reconciler.run_pass()
    assert len(first) == 3 and all(isinstance(a, StartNode) for a in first)
    mark_started(store, first, provider)
    assert reconciler.run_pass() == []
    assert Reconciler(store, provider, clock).run_pass() == [], "a restarted server adopts, never relaunches"


def test_unfinished_launch_is_finished_not_duplicated(store):
    provider, clock = ProviderWhereNodesStayAlive(), Clock()
    add_cluster(store)
    first = Reconciler(store, provider, clock).run_pass()
    # The server died after recording the nodes but before starting them.
    again = Reconciler(store, provider, clock).run_pass()
    assert sorted(a.instance_id for a in again) == sorted(a.instance_id for a in first)


def test_cluster_walks_starting_bootstrapping_running_waiting(store):
    provider, clock = ProviderWhereNodesStayAlive(), Clock()
    reconciler = Reconciler(store, provider, clock)
    add_cluster(store)
    mark_started(store, reconciler.run_pass(), provider)
    assert cluster_state(store) == "STARTING"
    report(store, "BOOTSTRAPPING")
    reconciler.run_pass()
    assert cluster_state(store) == "BOOTSTRAPPING"
    report(store, "RUNNING", alive_workers=1)  # one of two workers registered
    reconciler.run_pass()
    assert cluster_state(store) == "BOOTSTRAPPING"
    report(store, "RUNNING", alive_workers=2)
    reconciler.run_pass()
    assert cluster_state(store) == "WAITING"


def test_no_room_fails_before_launching(store):
    provider, clock = ProviderWhereNodesStayAlive(room=2), Clock()
    add_cluster(store)
    actions = Reconciler(store, provider, clock).run_pass()
    assert not any(isinstance(a, StartNode) for a in actions)
    assert cluster_state(store) in ("TERMINATING", "TERMINATED_WITH_ERRORS")


def test_node_that_never_starts_fails_the_cluster_after_the_timeout(store):
    provider, clock = ProviderWhereNodesStayAlive(), Clock()
    reconciler = Reconciler(store, provider, clock, Settings(start_timeout_s=60))
    add_cluster(store)
    mark_started(store, reconciler.run_pass(), provider)
    clock.now = T0 + timedelta(seconds=61)
    actions = reconciler.run_pass()
    assert any(isinstance(a, StopNode) for a in actions)
    with store.transaction() as session:
        cluster = session.get(Cluster, "j-TEST")
        assert cluster.state == "TERMINATING" and cluster.state_reason_code == "INSTANCE_FAILURE"


def test_termination_escalates_to_kill_after_the_grace_period(store):
    provider, clock = ProviderWhereNodesStayAlive(), Clock()
    reconciler = Reconciler(store, provider, clock, Settings(stop_grace_s=0))
    add_cluster(store)
    mark_started(store, reconciler.run_pass(), provider)
    with store.transaction() as session:
        cluster = session.get(Cluster, "j-TEST")
        cluster.state, cluster.state_reason_code = "TERMINATING", "USER_REQUEST"
    polite = reconciler.run_pass()
    assert len(polite) == 3 and not any(a.force for a in polite)
    forced = reconciler.run_pass()
    assert len(forced) == 3 and all(a.force for a in forced)
    for action in forced:
        provider.alive.discard(action.instance_id)
    reconciler.run_pass()
    assert cluster_state(store) == "TERMINATED"
