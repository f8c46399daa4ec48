"""PutAutoScalingPolicy and RemoveAutoScalingPolicy: an instance group's automatic
scaling policy (EMR's custom policy: constraints and CloudWatch-triggered rules),
checked as EMR checks it and stored on the group, where ListInstanceGroups shows it
with its status. The control loop attaches the policy and evaluates its rules on
the cluster's metrics (elmr/control/auto_scaling.py); RunJobFlow's groups may carry
a policy too (`check_policy`)."""

from elmr.service import lookups
from elmr.service.context import ServiceContext
from elmr.service.errors import ValidationException
from elmr.store.models import InstanceGroup
from elmr.store.scaling_records import auto_scaling_status


def check_policy(policy: dict, group_role: str, has_auto_scaling_role: bool,
                 has_managed_scaling: bool) -> None:
    if group_role == "MASTER":
        raise ValidationException("An automatic scaling policy applies to CORE and TASK instance groups, not the MASTER one.")
    if not has_auto_scaling_role:
        raise ValidationException(
            "An automatic scaling policy needs the cluster's AutoScalingRole (set it in RunJobFlow).")
    if has_managed_scaling:
        raise ValidationException(
            "The cluster uses managed scaling; a custom automatic scaling policy cannot be added to it.")
    constraints = policy["Constraints"]
    if not 0 <= constraints["MinCapacity"] <= constraints["MaxCapacity"]:
        raise ValidationException(
            "AutoScalingPolicy.Constraints: MinCapacity must be at least 0 and at most MaxCapacity.")
    names = [rule["Name"] for rule in policy["Rules"]]
    if not names:
        raise ValidationException("AutoScalingPolicy.Rules must have at least one rule.")
    if len(set(names)) != len(names) or not all(name.strip() for name in names):
        raise ValidationException("AutoScalingPolicy.Rules: each rule needs a name of its own.")
    for rule in policy["Rules"]:
        alarm = rule["Trigger"]["CloudWatchAlarmDefinition"]
        if alarm.get("EvaluationPeriods", 1) < 1 or alarm["Period"] < 60 or alarm["Period"] % 60:
            raise ValidationException(
                f"Rule {rule['Name']}: Period must be a multiple of 60 seconds and EvaluationPeriods at least 1.")
        if rule["Action"]["SimpleScalingPolicyConfiguration"].get("CoolDown", 0) < 0:
            raise ValidationException(f"Rule {rule['Name']}: CoolDown must not be negative.")


def described(group: InstanceGroup) -> dict | None:
    """The group's policy as EMR describes it (AutoScalingPolicyDescription), with the
    status the control loop gives it (PENDING until it evaluates the policy)."""
    policy = group.auto_scaling_policy
    if not policy:
        return None
    return {"Status": auto_scaling_status(group), "Constraints": policy["Constraints"], "Rules": policy["Rules"]}


def _group(session, cluster_id: str, group_id: str) -> InstanceGroup:
    group = session.get(InstanceGroup, group_id)
    if group is None or group.cluster_id != cluster_id:
        raise ValidationException(f"Instance group '{group_id}' is not valid for cluster {cluster_id}.")
    return group


def put_auto_scaling_policy(ctx: ServiceContext, params: dict) -> dict:
    policy = params["AutoScalingPolicy"]
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        group = _group(session, cluster.id, params["InstanceGroupId"])
        check_policy(policy, group.role, bool(cluster.request_extras.get("AutoScalingRole")),
                     bool(cluster.managed_scaling_policy))
        group.auto_scaling_policy = policy
        answer = {"ClusterId": cluster.id, "InstanceGroupId": group.id, "AutoScalingPolicy": described(group),
                  "ClusterArn": ctx.cluster_arn(cluster.id)}
    ctx.wake_reconciler(answer["ClusterId"])
    return answer


def remove_auto_scaling_policy(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        _group(session, cluster.id, params["InstanceGroupId"]).auto_scaling_policy = None
        cluster_id = cluster.id
    ctx.wake_reconciler(cluster_id)
    return {}
