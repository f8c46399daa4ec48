"""Auto-termination and managed scaling policies: stored per cluster. The control
loop enforces both (elmr/control/idle.py, elmr/control/managed_scaling.py)."""

from elmr.service import lookups
from elmr.service.context import ServiceContext
from elmr.service.capacity_rules import check_managed_scaling_policy
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
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        check_managed_scaling_policy(policy, uses_fleets=bool(cluster.fleets), release_label=cluster.release_label)
        if any(group.auto_scaling_policy for group in cluster.groups):
            raise ValidationException(
                "The cluster's instance groups have automatic scaling policies; remove them "
                "(RemoveAutoScalingPolicy) before putting a managed scaling policy.")
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
