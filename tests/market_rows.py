"""Rows for the market and billing tests: clusters, groups, fleets, instances and steps
written straight into a real store, with the times a test chooses (no server, no
process: the market and billing read nothing else)."""

from datetime import datetime, timedelta, timezone

from elmr.market.settings import MarketSettings
from elmr.store.models import Cluster, Instance, InstanceFleet, InstanceGroup, Step

# 2026-01-01T12:00:00Z: a whole number of 300 s price slots since the Unix epoch.
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
# The market the tests run in from T0: seed 5, prices holding 300 s, EMR's 120 s notice.
SETTINGS = MarketSettings(seed=5, notice_s=120.0, price_period_s=300)



def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def add_cluster(session, cluster_id: str = "j-COST", zone: str | None = None, name: str = "costed") -> Cluster:
    extras = {"Ec2InstanceAttributes": {"Ec2AvailabilityZone": zone} if zone else {}}
    cluster = Cluster(
        id=cluster_id, name=name, state="WAITING", created_at=T0, release_label="emr-7.2.0",
        applications=[], configurations=[], tags=[], keep_alive_when_no_steps=True,
        termination_protected=False, visible_to_all_users=True, step_concurrency_level=2,
        request_extras=extras,
    )
    session.add(cluster)
    session.flush()
    return cluster


def add_group(session, cluster_id: str, group_id: str, role: str = "CORE", instance_type: str = "m5.xlarge",
              market: str = "ON_DEMAND", bid_price: str | None = None) -> InstanceGroup:
    group = InstanceGroup(
        id=group_id, cluster_id=cluster_id, name=role.title(), role=role, market=market,
        bid_price=bid_price, instance_type=instance_type, requested_count=1, state="RUNNING",
        created_at=T0, configurations=[],
    )
    session.add(group)
    session.flush()
    return group


def add_instance(session, group: InstanceGroup, instance_id: str, start_s: float, end_s: float | None = None,
                 instance_type: str | None = None) -> Instance:
    node = Instance(
        id=instance_id, ec2_instance_id="i-" + instance_id.lower().replace("-", "")[:17],
        cluster_id=group.cluster_id, group_id=group.id, role=group.role,
        instance_type=instance_type or group.instance_type, market=group.market,
        state="TERMINATED" if end_s is not None else "RUNNING", created_at=at(start_s),
        ended_at=None if end_s is None else at(end_s), provider="fake", provider_state={},
        ports={}, agent_token="t",
    )
    session.add(node)
    session.flush()
    return node


def add_fleet(session, cluster_id: str, fleet_id: str, role: str = "CORE", on_demand: int = 0,
              spot: int = 0, configs: list | None = None) -> InstanceFleet:
    fleet = InstanceFleet(
        id=fleet_id, cluster_id=cluster_id, name=role.title(), role=role, target_on_demand=on_demand,
        target_spot=spot, instance_type_configs=configs or [{"InstanceType": "m5.xlarge"}],
        state="RUNNING", created_at=T0,
    )
    session.add(fleet)
    session.flush()
    return fleet


def add_fleet_instance(session, fleet: InstanceFleet, instance_id: str, instance_type: str, market: str,
                       weight: int, start_s: float, end_s: float | None = None) -> Instance:
    node = Instance(
        id=instance_id, ec2_instance_id="i-" + instance_id.lower().replace("-", "")[:17],
        cluster_id=fleet.cluster_id, fleet_id=fleet.id, role=fleet.role, instance_type=instance_type,
        market=market, weighted_capacity=weight, state="TERMINATED" if end_s is not None else "RUNNING",
        created_at=at(start_s), ended_at=None if end_s is None else at(end_s), provider="fake",
        provider_state={}, ports={}, agent_token="t",
    )
    session.add(node)
    session.flush()
    return node


def add_step(session, cluster_id: str, step_id: str, position: int, start_s: float | None,
             end_s: float | None) -> Step:
    state = "PENDING" if start_s is None else "RUNNING" if end_s is None else "COMPLETED"
    step = Step(
        id=step_id, cluster_id=cluster_id, position=position, name=step_id.lower(),
        action_on_failure="CONTINUE", hadoop_jar_step={"Jar": "command-runner.jar", "Args": []},
        state=state, created_at=T0, started_at=None if start_s is None else at(start_s),
        ended_at=None if end_s is None else at(end_s),
    )
    session.add(step)
    session.flush()
    return step
