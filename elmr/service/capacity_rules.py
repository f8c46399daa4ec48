"""EMR's rules for changing a running cluster's capacity, shared by the instance
group operations (resize.py), the instance fleet ones (instance_fleets.py) and
their checks: when a cluster may be resized at all, how small its core capacity
may get, and what a managed scaling policy may say, its ComputeLimits and its
Advanced Scaling (policies.py, RunJobFlow)."""

from elmr import catalog
from elmr.service.errors import ValidationException
from elmr.store.models import Cluster
from elmr.store.scaling_records import UTILIZATION_PERFORMANCE_INDEXES
from elmr.store.states import CLUSTER_TERMINAL, termination_pending

# Core capacity never shrinks below its HDFS's replication factor (hdfs-site's
# dfs.replication; 1 when the cluster does not set it).
_HDFS_SITE = "hdfs-site"
_REPLICATION = "dfs.replication"
# EMR's Advanced Scaling (ScalingStrategy ADVANCED) starts with release 7.0.
_ADVANCED_SCALING_SINCE = (7, 0)


def check_cluster_can_resize(cluster: Cluster) -> None:
    if cluster.state in CLUSTER_TERMINAL or cluster.state == "TERMINATING" or termination_pending(cluster):
        raise ValidationException(
            "A job flow that is shutting down, terminated, or finished may not be modified.")
    if cluster.state not in ("RUNNING", "WAITING"):
        raise ValidationException(
            "An instance group may only be modified when the cluster is running or waiting.")


def check_core_count(cluster: Cluster, count: int, what: str, unit: str) -> None:
    minimum = max(1, hdfs_replication(cluster))
    if count < minimum:
        raise ValidationException(
            f"The {what} cannot shrink below {minimum} {unit}: the cluster's HDFS keeps "
            f"{minimum} replica(s) of every block (dfs.replication).")


def hdfs_replication(cluster: Cluster) -> int:
    """The replication factor set by the hdfs-site classification, else 1 (the
    smallest EMR default)."""
    for configuration in cluster.configurations:
        if configuration.get("Classification") == _HDFS_SITE:
            value = (configuration.get("Properties") or {}).get(_REPLICATION)
            if value is not None and str(value).isdigit():
                return int(value)
    return 1


def check_managed_scaling_policy(policy: dict, uses_fleets: bool, release_label: str) -> None:
    """EMR's rules for a ManagedScalingPolicy: its ComputeLimits, and Advanced
    Scaling's: a UtilizationPerformanceIndex only with ScalingStrategy ADVANCED and
    only of the documented values, ADVANCED only on release 7.0 and later."""
    check_compute_limits(policy.get("ComputeLimits"), uses_fleets)
    strategy = policy.get("ScalingStrategy", "DEFAULT")
    index = policy.get("UtilizationPerformanceIndex")
    if index is not None and strategy != "ADVANCED":
        raise ValidationException(
            "ManagedScalingPolicy: a UtilizationPerformanceIndex can be set only with ScalingStrategy ADVANCED.")
    if index is not None and index not in UTILIZATION_PERFORMANCE_INDEXES:
        raise ValidationException(
            f"ManagedScalingPolicy: UtilizationPerformanceIndex {index} is not valid; use one of "
            f"{', '.join(map(str, UTILIZATION_PERFORMANCE_INDEXES))}.")
    if strategy == "ADVANCED" and catalog.release_version(release_label) < _ADVANCED_SCALING_SINCE:
        raise ValidationException(
            f"ManagedScalingPolicy: ScalingStrategy ADVANCED (Advanced Scaling) is available with Amazon EMR "
            f"releases 7.0.0 and later; the cluster runs {release_label}.")


def check_compute_limits(limits: dict | None, uses_fleets: bool) -> None:
    """EMR's rules: minimum <= maximum, the on-demand and core caps within them, and
    a unit the cluster's composition has (instances or vCPUs for instance groups,
    fleet units or vCPUs for instance fleets)."""
    if not limits:
        raise ValidationException("ManagedScalingPolicy.ComputeLimits is required.")
    minimum, maximum = limits["MinimumCapacityUnits"], limits["MaximumCapacityUnits"]
    if minimum < 1 or minimum > maximum:
        raise ValidationException(
            "ManagedScalingPolicy.ComputeLimits: MinimumCapacityUnits must be at least 1 "
            "and not more than MaximumCapacityUnits."
        )
    for cap in ("MaximumOnDemandCapacityUnits", "MaximumCoreCapacityUnits"):
        if cap in limits and not 0 <= limits[cap] <= maximum:
            raise ValidationException(
                f"ManagedScalingPolicy.ComputeLimits: {cap} must not exceed MaximumCapacityUnits."
            )
    unit_type = limits.get("UnitType")
    allowed = ("InstanceFleetUnits", "VCPU") if uses_fleets else ("Instances", "VCPU")
    if unit_type not in allowed:
        raise ValidationException(
            f"ManagedScalingPolicy.ComputeLimits: UnitType {unit_type} does not apply to a cluster of "
            f"instance {'fleets' if uses_fleets else 'groups'}; use {' or '.join(allowed)}.")
