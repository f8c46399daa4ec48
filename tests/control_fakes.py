"""A control loop on a fake clock, with node providers that are fakes named for what
they do, for the reconciler tests: no process is started, and a timeout is the
clock moved forward. Everything else is real: the store, the service functions the
API calls (RunJobFlow, ModifyInstanceGroups, heartbeats…), the spot market (driven
by hand on the same clock), the reconciler, the actuator, the loop and its queue."""

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from elmr.apps import registry
from elmr.control.actuator import Actuator
from elmr.control.loop import ControlLoop
from elmr.control.reconciler import Reconciler
from elmr.control.settings import ControlSettings
from elmr.control.workqueue import WorkQueue
from elmr.market.settings import MarketSettings
from elmr.providers.base import NodeProvider, NodeStatus
from elmr.service import agents, clusters
from elmr.service.context import ServiceContext
from elmr.store.db import Store, sqlite_url
from elmr.store.models import Cluster, Instance, InstanceFleet, InstanceGroup

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SETTINGS = ControlSettings(start_timeout_s=180, heartbeat_timeout_s=30, stop_grace_s=10,
                           retry_base_s=1, retry_max_s=30, watch_s=1)
# The spot market the loop sees: seed 5, EMR's two-minute notice.
MARKET = MarketSettings(seed=5, notice_s=120.0, price_period_s=300)


class FakeClock:
    def __init__(self):
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ProviderWhereNodesRun(NodeProvider):
    """Started nodes run until stopped; SIGTERM ends them unless `ignores_sigterm`.
    A test kills a node (`kill`) or only its agent (`kill_agent`)."""

    name = "fake-running"

    def __init__(self, room: int | None = None, ignores_sigterm: bool = False):
        self.room = room
        self.ignores_sigterm = ignores_sigterm
        self.running: dict[str, str] = {}  # node id -> NodeStatus state
        self.starts: list[str] = []
        self.stops: list[tuple[str, bool]] = []
        self._lock = threading.Lock()

    def allocate(self, node):
        return {"node_dir": f"/nowhere/{node.cluster_id}/{node.instance_id}", "address": "127.0.0.1",
                "ports": registry.ports_for(node.role)}

    def start(self, spec, checkpoint):
        with self._lock:
            self.starts.append(spec.instance_id)
            self.running[spec.instance_id] = NodeStatus.RUNNING
        return {"pid": 1, "pgid": spec.instance_id}

    def stop(self, checkpoint, force=False):
        self.stops.append((checkpoint["pgid"], force))
        if force or not self.ignores_sigterm:
            self.running.pop(checkpoint["pgid"], None)

    def poll(self, checkpoint):
        return NodeStatus(self.running.get(checkpoint.get("pgid"), NodeStatus.GONE), exit_code=-9)

    def room_for(self, live_nodes):
        return None if self.room is None else self.room - live_nodes

    def kill(self, node_id: str) -> None:
        self.running.pop(node_id, None)

    def kill_agent(self, node_id: str) -> None:
        self.running[node_id] = NodeStatus.AGENT_GONE


class ProviderThatAlwaysFailsToStart(ProviderWhereNodesRun):
    name = "fake-failing"

    def start(self, spec, checkpoint):
        self.starts.append(spec.instance_id)
        raise RuntimeError("no capacity for m5.xlarge")


class ProviderThatFailsTwiceThenStarts(ProviderWhereNodesRun):
    name = "fake-flaky"

    def start(self, spec, checkpoint):
        if self.starts.count(spec.instance_id) < 2:
            self.starts.append(spec.instance_id)
            raise RuntimeError("transient error")
        return super().start(spec, checkpoint)


class ProviderSlowToStart(ProviderWhereNodesRun):
    """Starting a node of `slow_cluster` blocks until the test calls `release()`."""

    name = "fake-slow"

    def __init__(self, slow_cluster: str):
        super().__init__()
        self.slow_cluster = slow_cluster
        self.released = threading.Event()
        self.slow_calls = 0

    def start(self, spec, checkpoint):
        if spec.cluster_id == self.slow_cluster:
            self.slow_calls += 1
            assert self.released.wait(30), "the test never released the slow start"
        return super().start(spec, checkpoint)

    def release(self) -> None:
        self.released.set()


@dataclass
class World:
    """The control loop, the service functions and the store, on one fake clock."""

    store: object
    provider: NodeProvider
    settings: ControlSettings = SETTINGS
    clock: FakeClock = field(default_factory=FakeClock)
    submit: object = None
    market: MarketSettings = MARKET

    def __post_init__(self):
        self.actuator = Actuator(self.store, self.provider, self.clock, "http://127.0.0.1:1",
                                 self.settings, **({"submit": self.submit} if self.submit else {}))
        self.queue = WorkQueue(self.clock)
        self.reconciler = Reconciler(self.store, self.actuator, self.clock, self.settings, self.market)
        self.loop = ControlLoop(self.reconciler, self.queue)
        self.actuator.on_done = self.loop.wake
        self.ctx = ServiceContext(store=self.store, data_dir=None, clock=self.clock,
                                  wake_reconciler=self.loop.wake, market=self.market)

    def restart(self) -> "World":
        """A new server on the same store (and provider: the nodes outlive it)."""
        return World(self.store, self.provider, self.settings, self.clock, market=self.market)

    def settle(self) -> int:
        return self.loop.run_due()

    def advance(self, seconds: float, step_s: float = 1.0) -> int:
        """Move the clock forward in steps, working what falls due at each."""
        passes = 0
        while seconds > 0:
            self.clock.advance(min(step_s, seconds))
            seconds -= step_s
            passes += self.settle()
        return passes

    # What the API does ----------------------------------------------------------

    def run_job_flow(self, core=2, keep_alive=True, task=0, settle=True, **extra) -> str:
        groups = [{"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                  {"Name": "Core", "InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": core}]
        if task:
            groups.append({"Name": "Task", "InstanceRole": "TASK", "InstanceType": "m5.xlarge",
                           "InstanceCount": task})
        cluster_id = clusters.run_job_flow(self.ctx, {"Name": "t", "Instances": {
            "InstanceGroups": groups, "KeepJobFlowAliveWhenNoSteps": keep_alive}, **extra})["JobFlowId"]
        if settle:
            self.settle()
        return cluster_id

    def run_fleet_cluster(self, *fleets: dict, settle=True, **extra) -> str:
        """A cluster of a MASTER fleet (one m5.xlarge on-demand) and `fleets`."""
        master = {"Name": "Primary", "InstanceFleetType": "MASTER", "TargetOnDemandCapacity": 1,
                  "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}]}
        cluster_id = clusters.run_job_flow(self.ctx, {"Name": "f", "ReleaseLabel": "emr-7.2.0", "Instances": {
            "InstanceFleets": [master, *fleets], "KeepJobFlowAliveWhenNoSteps": True}, **extra})["JobFlowId"]
        if settle:
            self.settle()
        return cluster_id

    # What the agents do --------------------------------------------------------

    def heartbeat(self, node: Instance, phase: str, registered: int | None = None, yarn: dict | None = None,
                  hdfs: dict | None = None, **report) -> dict:
        """`registered`: a master's report of that many DataNodes and NodeManagers;
        `yarn`: its ResourceManager's cluster metrics; `hdfs`: its NameNode's figures."""
        if registered is not None:
            report["cluster_report"] = {"hdfs_live_datanodes": registered, "yarn_active_nodemanagers": registered}
        if yarn is not None:
            report.setdefault("cluster_report", {})["yarn_metrics"] = yarn
        if hdfs is not None:
            report.setdefault("cluster_report", {}).update(hdfs)
        return agents.record_heartbeat(self.ctx, {"instance_id": node.id, "agent_token": node.agent_token,
                                                  "phase": phase, **report})

    def agents_report(self, cluster_id: str, phase: str = "RUNNING", **master_report) -> None:
        """Every started node's agent reports `phase` (a decommissioning one, its own);
        the master's counts its workers (every other started node that is not
        leaving) unless told otherwise."""
        started = [n for n in self.nodes(cluster_id) if "pgid" in n.provider_state]
        workers = sum(1 for n in started if n.role != "MASTER" and n.leaving_since is None)
        for node in started:
            if node.role == "MASTER":
                self.heartbeat(node, phase, **{"registered": workers, **master_report})
            elif node.agent_phase in ("DECOMMISSIONING", "DECOMMISSIONED"):
                self.heartbeat(node, node.agent_phase)
            else:
                self.heartbeat(node, phase)
        self.settle()

    def run_for(self, seconds: int, cluster_id: str, **master_report) -> None:
        """Let `seconds` pass, every agent of the cluster reporting each second."""
        for _ in range(seconds):
            self.clock.advance(1)
            self.agents_report(cluster_id, **master_report)

    def bring_up(self, cluster_id: str) -> None:
        self.agents_report(cluster_id, "BOOTSTRAPPING")
        self.agents_report(cluster_id, "RUNNING")

    # What the store says -------------------------------------------------------

    def cluster(self, cluster_id: str) -> Cluster:
        with self.store.transaction() as session:
            return session.get(Cluster, cluster_id)

    def nodes(self, cluster_id: str, role: str | None = None, live: bool = True) -> list[Instance]:
        with self.store.transaction() as session:
            # Ids break ties of one instant, as the market's newest-first does.
            query = select(Instance).where(Instance.cluster_id == cluster_id) \
                .order_by(Instance.created_at, Instance.id)
            if role:
                query = query.where(Instance.role == role)
            if live:
                query = query.where(Instance.state != "TERMINATED")
            return list(session.scalars(query))

    def node(self, node_id: str) -> Instance:
        with self.store.transaction() as session:
            return session.get(Instance, node_id)

    def group(self, cluster_id: str, role: str) -> InstanceGroup:
        with self.store.transaction() as session:
            return session.scalars(select(InstanceGroup).where(
                InstanceGroup.cluster_id == cluster_id, InstanceGroup.role == role)).first()

    def fleet(self, cluster_id: str, role: str) -> InstanceFleet:
        with self.store.transaction() as session:
            return session.scalars(select(InstanceFleet).where(
                InstanceFleet.cluster_id == cluster_id, InstanceFleet.role == role)).first()


@pytest.fixture
def store(tmp_path):
    opened = Store.open(sqlite_url(tmp_path))
    yield opened
    opened.close()


@pytest.fixture
def world(store):
    return World(store, ProviderWhereNodesRun())


def running_cluster(world: World, **options) -> str:
    """A cluster run through RunJobFlow and brought up by its agents: WAITING."""
    cluster_id = world.run_job_flow(**options)
    world.bring_up(cluster_id)
    assert world.cluster(cluster_id).state == "WAITING"
    return cluster_id
