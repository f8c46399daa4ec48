"""Auto-termination and managed scaling policies: stored per cluster. The control
loop enforces auto-termination (elmr/control/idle.py); managed scaling is enforced
by the scaling issue."""

from elmr.service import lookups
from elmr.service.context import ServiceContext
from elmr.service.errors import ValidationException
from elmr.service.run_job_flow import check_idle_timeout


def put_auto_termination_policy(ctx: ServiceContext, params: dict) -> dict:
    policy = params.get("AutoTerminationPolicy", {})
    idle_timeout = policy.get("IdleTimeout", 3600)
    check_idle_timeout(idle_timeout)
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        cluster.auto_termination_policy = {"IdleTimeout": idle_timeout}
    ctx.wake_reconciler(cluster.id)
    return {}


def get_auto_termination_policy(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        policy = lookups.cluster(session, params["ClusterId"]).auto_termination_policy
    return {"AutoTerminationPolicy": policy} if policy else {}


def remove_auto_termination_policy(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        lookups.cluster(session, params["ClusterId"]).auto_termination_policy = None
    return {}


def put_managed_scaling_policy(ctx: ServiceContext, params: dict) -> dict:
    policy = params["ManagedScalingPolicy"]
    _check_compute_limits(policy.get("ComputeLimits"))
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        cluster.managed_scaling_policy = policy
    ctx.wake_reconciler(cluster.id)
    return {}


def get_managed_scaling_policy(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        policy = lookups.cluster(session, params["ClusterId"]).managed_scaling_policy
    return {"ManagedScalingPolicy": policy} if policy else {}


def remove_managed_scaling_policy(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        lookups.cluster(session, params["ClusterId"]).managed_scaling_policy = None
    return {}


def _check_compute_limits(limits: dict | None) -> None:
    """EMR's rules: minimum <= maximum, and the on-demand and core caps within them."""
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
