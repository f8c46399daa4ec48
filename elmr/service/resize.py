"""Resizing a running cluster: ModifyInstanceGroups (grow or shrink a core or task
group, with its ShrinkPolicy) and AddInstanceGroups (new task groups). They record
intent (a group's requested count, its shrink policy, a new group row) and return;
the control loop launches nodes, chooses who leaves, decommissions them gracefully
and shows the group RESIZING until it has its count again. A call's changes are
recorded in one transaction: one refused change leaves none recorded (EMR's calls
succeed or fail atomically).
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr.service import lookups
from elmr.service.context import ServiceContext
from elmr.service.capacity_rules import check_cluster_can_resize, check_core_count
from elmr.service.errors import InvalidRequestException, ValidationException
from elmr.service.run_job_flow import MAX_TASK_GROUPS, new_instance_group
from elmr.store.models import Instance, InstanceGroup

def modify_instance_groups(ctx: ServiceContext, params: dict) -> dict:
    changes = params.get("InstanceGroups") or []
    if not changes:
        raise ValidationException("InstanceGroups: name at least one instance group to modify.")
    woken = set()
    with ctx.store.transaction() as session:
        for change in changes:
            group = _group_to_modify(session, params.get("ClusterId"), change["InstanceGroupId"])
            _apply(session, group, change)
            woken.add(group.cluster_id)
    for cluster_id in woken:
        ctx.wake_reconciler(cluster_id)
    return {}


def _group_to_modify(session: Session, cluster_id: str | None, group_id: str) -> InstanceGroup:
    group = session.get(InstanceGroup, group_id)
    if group is None or (cluster_id is not None and group.cluster_id != cluster_id):
        raise InvalidRequestException(f"Instance group id '{group_id}' is not valid.")
    check_cluster_can_resize(group.cluster)
    if group.state not in ("RUNNING", "RESIZING"):
        raise ValidationException(
            f"Instance group {group.id} is {group.state}; it can be resized once it is RUNNING.")
    return group


def _apply(session: Session, group: InstanceGroup, change: dict) -> None:
    if change.get("Configurations") or change.get("ReconfigurationType"):
        raise ValidationException(
            "elmr does not reconfigure a running instance group; its Configurations are "
            "those it was created with.")
    members = _live_members(session, group)
    to_terminate = change.get("EC2InstanceIdsToTerminate") or []
    _check_members(group, members, to_terminate, "EC2InstanceIdsToTerminate")
    count = change.get("InstanceCount")
    if count is None:
        count = group.requested_count - len(to_terminate)
    if count != group.requested_count and group.role == "MASTER":
        raise ValidationException("The master instance group cannot be resized.")
    if count < 0:
        raise ValidationException("InstanceCount must not be negative.")
    if group.role == "CORE":
        check_core_count(group.cluster, count, "core instance group", "instance(s)")
    policy = _shrink_policy(group, members, change.get("ShrinkPolicy") or {}, to_terminate)
    protected = [n for n in members if n.ec2_instance_id in policy.get("InstancesToProtect", [])]
    if count < len(protected):
        raise ValidationException(
            f"Instance group {group.id} cannot shrink to {count}: InstancesToProtect keeps "
            f"{len(protected)} instance(s).")
    group.requested_count = count
    group.shrink_policy = policy


def _live_members(session: Session, group: InstanceGroup) -> list[Instance]:
    return list(session.scalars(select(Instance).where(
        Instance.group_id == group.id, Instance.state != "TERMINATED")))


def _check_members(group: InstanceGroup, members: list, ec2_ids: list, field: str) -> None:
    known = {node.ec2_instance_id for node in members}
    unknown = [ec2_id for ec2_id in ec2_ids if ec2_id not in known]
    if unknown:
        raise ValidationException(
            f"{field}: {', '.join(unknown)} not a running instance of instance group {group.id}.")


def _shrink_policy(group: InstanceGroup, members: list, shrink: dict, to_terminate: list) -> dict:
    """The group's ShrinkPolicy as the loop reads it: this call's, over the one
    stored, with EC2InstanceIdsToTerminate first in InstancesToTerminate."""
    resize = shrink.get("InstanceResizePolicy") or {}
    for field in ("InstancesToTerminate", "InstancesToProtect"):
        _check_members(group, members, resize.get(field) or [], field)
    for field, value in (("DecommissionTimeout", shrink.get("DecommissionTimeout")),
                         ("InstanceTerminationTimeout", resize.get("InstanceTerminationTimeout"))):
        if value is not None and value < 0:
            raise ValidationException(f"{field} must not be negative.")
    policy = dict(group.shrink_policy or {})
    if "DecommissionTimeout" in shrink:
        policy["DecommissionTimeout"] = shrink["DecommissionTimeout"]
    for field in ("InstancesToProtect", "InstanceTerminationTimeout"):
        if field in resize:
            policy[field] = resize[field]
    asked = list(to_terminate) + [i for i in resize.get("InstancesToTerminate") or [] if i not in to_terminate]
    if asked or "InstancesToTerminate" in resize:
        policy["InstancesToTerminate"] = asked
    if set(policy.get("InstancesToTerminate", [])) & set(policy.get("InstancesToProtect", [])):
        raise ValidationException("An instance cannot be both in InstancesToTerminate and InstancesToProtect.")
    return policy


def add_instance_groups(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        cluster = lookups.job_flow(session, params["JobFlowId"])
        check_cluster_can_resize(cluster)
        configs = params["InstanceGroups"]
        if any(config["InstanceRole"] != "TASK" for config in configs):
            raise ValidationException("Only TASK instance groups can be added to a running cluster.")
        task_groups = sum(group.role == "TASK" for group in cluster.groups) + len(configs)
        if task_groups > MAX_TASK_GROUPS:
            raise ValidationException(f"A cluster can have at most {MAX_TASK_GROUPS} TASK instance groups.")
        now = ctx.clock()
        groups = [new_instance_group(cluster.id, config, now) for config in configs]
        session.add_all(groups)
        group_ids = [group.id for group in groups]
    ctx.wake_reconciler(cluster.id)
    return {"JobFlowId": cluster.id, "InstanceGroupIds": group_ids, "ClusterArn": ctx.cluster_arn(cluster.id)}
