"""Cluster metrics, kept as CloudWatch keeps EMR's: per cluster, metric and minute,
the statistics of the samples taken in that minute (sample count, sum, minimum,
maximum: store/metric_models.py), under EMR's metric names.

A reconciler pass that finds a heartbeat of the master it has not sampled yet takes
one sample of every metric (so a minute holds about one sample per heartbeat): YARN's
and HDFS's own figures from the master's report (apps/yarn.py and apps/hdfs.py
`report`), the cluster's nodes from its rows, and IsIdle from the pass's idle check
(idle.py). Once a minute a pass prunes the rows older than `metric_retention_s`.
Automatic scaling rules (auto_scaling.py) read whole periods back (`statistic`).
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from elmr.control.groups import staying
from elmr.control.nodes import Context
from elmr.control.plan import Plan
from elmr.control.scaling_units import vcpu
from elmr.store.metric_models import ClusterMetricMinute
from elmr.store.models import Cluster, Instance
from elmr.store.scaling_records import moment, stamp

PRUNE_EVERY_S = 60
_BYTES_PER_GIB = 1024 ** 3
# EMR's names for YARN's cluster metrics (ResourceManager REST /ws/v1/cluster/metrics).
_YARN_COUNTS = {
    "AppsCompleted": "appsCompleted", "AppsFailed": "appsFailed", "AppsKilled": "appsKilled",
    "AppsPending": "appsPending", "AppsRunning": "appsRunning", "AppsSubmitted": "appsSubmitted",
    "ContainerAllocated": "containersAllocated", "ContainerReserved": "containersReserved",
    "ContainerPending": "containersPending",
    "MemoryTotalMB": "totalMB", "MemoryAvailableMB": "availableMB", "MemoryAllocatedMB": "allocatedMB",
    "MemoryReservedMB": "reservedMB",
    "MRActiveNodes": "activeNodes", "MRLostNodes": "lostNodes", "MRUnhealthyNodes": "unhealthyNodes",
    "MRDecommissionedNodes": "decommissionedNodes",
}
STATISTICS = ("SAMPLE_COUNT", "AVERAGE", "SUM", "MINIMUM", "MAXIMUM")


def sample(session: Session, cluster: Cluster, live: list[Instance], plan: Plan, ctx: Context) -> None:
    """One sample of every metric, if the master has reported since the last one."""
    master = next((n for n in live if n.role == "MASTER" and n.state == "RUNNING"), None)
    if master is None or master.last_heartbeat_at is None:
        return
    state = dict(cluster.scaling_state or {})
    sampled_at = moment(state.get("sampled_at"))
    if sampled_at is not None and master.last_heartbeat_at <= sampled_at:
        return
    record(session, cluster.id, master.last_heartbeat_at, figures(cluster, live, master))
    state["sampled_at"] = stamp(master.last_heartbeat_at)
    pruned_at = moment(state.get("pruned_at"))
    if pruned_at is None or plan.now >= pruned_at + timedelta(seconds=PRUNE_EVERY_S):
        prune(session, plan.now - timedelta(seconds=ctx.settings.metric_retention_s))
        state["pruned_at"] = stamp(plan.now)
    cluster.scaling_state = state


def figures(cluster: Cluster, live: list[Instance], master: Instance) -> dict[str, float]:
    """What one sample holds: {EMR metric name: value}."""
    report = (master.agent_report or {}).get("cluster_report") or {}
    values = {"IsIdle": 1.0 if cluster.idle_since is not None else 0.0}
    values.update(_node_figures(cluster, live))
    yarn = report.get("yarn_metrics")
    if yarn:
        values.update(_yarn_figures(yarn))
    if report.get("hdfs_capacity_bytes"):
        values.update(_hdfs_figures(report, values["CoreNodesRunning"]))
    return values


def _yarn_figures(yarn: dict) -> dict[str, float]:
    values = {name: float(yarn.get(key) or 0) for name, key in _YARN_COUNTS.items()}
    total, pending, allocated = values["MemoryTotalMB"], values["ContainerPending"], values["ContainerAllocated"]
    if total:
        values["YARNMemoryAvailablePercentage"] = 100.0 * values["MemoryAvailableMB"] / total
    # EMR's definition: pending over allocated, or the pending count when none is allocated.
    values["ContainerPendingRatio"] = pending / allocated if allocated else pending
    return values


def _hdfs_figures(report: dict, core_running: float) -> dict[str, float]:
    capacity, used = report["hdfs_capacity_bytes"], report.get("hdfs_used_bytes") or 0
    values = {
        "HDFSUtilization": 100.0 * used / capacity,
        "CapacityRemainingGB": (capacity - used) / _BYTES_PER_GIB,
        "UnderReplicatedBlocks": float(report.get("hdfs_under_replicated_blocks") or 0),
    }
    if core_running:
        # EMR's LiveDataNodes: the percentage of core nodes whose DataNode is live.
        values["LiveDataNodes"] = 100.0 * (report.get("hdfs_live_datanodes") or 0) / core_running
    return values


def _node_figures(cluster: Cluster, live: list[Instance]) -> dict[str, float]:
    """Nodes and vCPUs running and requested (EMR's CoreNodesRunning/Pending,
    TaskNodesRunning/Pending, TotalNodes/VCPU Requested/Running). A group's request
    is its requested count; a fleet's, the nodes it launched for its targets."""
    workers = [n for n in live if n.role in ("CORE", "TASK") and staying(n)]
    running = [n for n in workers if n.state == "RUNNING"]
    requested = {"CORE": 0, "TASK": 0}
    requested_vcpu = 0
    for group in cluster.groups:
        if group.role in requested and group.state != "TERMINATED":
            requested[group.role] += group.requested_count
            requested_vcpu += group.requested_count * vcpu(group.instance_type)
    for node in workers:
        if node.fleet_id is not None:
            requested[node.role] += 1
            requested_vcpu += vcpu(node.instance_type)
    values = {}
    for role, prefix in (("CORE", "Core"), ("TASK", "Task")):
        role_running = sum(1 for n in running if n.role == role)
        values[f"{prefix}NodesRunning"] = float(role_running)
        values[f"{prefix}NodesPending"] = float(max(0, requested[role] - role_running))
    values["TotalNodesRunning"] = float(len(running))
    values["TotalNodesRequested"] = float(sum(requested.values()))
    values["TotalVCPURunning"] = float(sum(vcpu(n.instance_type) for n in running))
    values["TotalVCPURequested"] = float(requested_vcpu)
    return values


def record(session: Session, cluster_id: str, at: datetime, values: dict[str, float]) -> None:
    """Add one sample of each metric to its minute's statistics."""
    minute = at.replace(second=0, microsecond=0)
    rows = {row.name: row for row in session.scalars(select(ClusterMetricMinute).where(
        ClusterMetricMinute.cluster_id == cluster_id, ClusterMetricMinute.minute == minute))}
    for name, value in values.items():
        row = rows.get(name)
        if row is None:
            session.add(ClusterMetricMinute(cluster_id=cluster_id, name=name, minute=minute, sample_count=1,
                                            total=value, minimum=value, maximum=value))
        else:
            row.sample_count += 1
            row.total += value
            row.minimum = min(row.minimum, value)
            row.maximum = max(row.maximum, value)


def statistic(session: Session, cluster_id: str, name: str, start: datetime, end: datetime,
              kind: str = "AVERAGE") -> float | None:
    """`kind` (CloudWatch's Statistic) of metric `name` over the minutes in [start,
    end); None when no sample fell in them (CloudWatch's missing data)."""
    count, total, low, high = session.execute(
        select(func.sum(ClusterMetricMinute.sample_count), func.sum(ClusterMetricMinute.total),
               func.min(ClusterMetricMinute.minimum), func.max(ClusterMetricMinute.maximum))
        .where(ClusterMetricMinute.cluster_id == cluster_id, ClusterMetricMinute.name == name,
               ClusterMetricMinute.minute >= start, ClusterMetricMinute.minute < end)).one()
    if not count:
        return None
    return {"SAMPLE_COUNT": float(count), "AVERAGE": total / count, "SUM": total,
            "MINIMUM": low, "MAXIMUM": high}[kind]


def prune(session: Session, before: datetime) -> None:
    """Forget every cluster's minutes older than `before` (the retention period)."""
    session.execute(delete(ClusterMetricMinute).where(ClusterMetricMinute.minute < before))
