"""DescribeJobFlows: EMR's original, deprecated view of clusters, still used by older
tools (mrjob among them). Same rows as DescribeCluster, older vocabulary."""

from datetime import timedelta

from sqlalchemy import select

from elmr.service import views
from elmr.service.context import ServiceContext
from elmr.service.instances import running_counts
from elmr.market.cost_report import normalized_instance_hours
from elmr.store.models import Cluster, Instance, InstanceGroup, Step
from elmr.store.states import public_cluster_state, public_group_state

# JobFlowExecutionState for each cluster state; a terminated cluster whose steps
# all finished reads COMPLETED, one that ended on an error FAILED.
_EXECUTION_STATE = {
    "STARTING": "STARTING",
    "BOOTSTRAPPING": "BOOTSTRAPPING",
    "RUNNING": "RUNNING",
    "WAITING": "WAITING",
    "TERMINATING": "SHUTTING_DOWN",
    "TERMINATED": "TERMINATED",
    "TERMINATED_WITH_ERRORS": "FAILED",
}
# Without ids or dates, EMR describes the job flows of the last two weeks.
_DEFAULT_WINDOW = timedelta(days=14)
_MAX_JOB_FLOWS = 2000


def describe_job_flows(ctx: ServiceContext, params: dict) -> dict:
    now = ctx.clock()
    query = select(Cluster).order_by(Cluster.created_at.desc()).limit(_MAX_JOB_FLOWS)
    if params.get("JobFlowIds"):
        query = query.where(Cluster.id.in_(params["JobFlowIds"]))
    elif not params.get("CreatedAfter"):
        query = query.where(Cluster.created_at >= now - _DEFAULT_WINDOW)
    if params.get("CreatedAfter"):
        query = query.where(Cluster.created_at >= params["CreatedAfter"])
    if params.get("CreatedBefore"):
        query = query.where(Cluster.created_at <= params["CreatedBefore"])
    wanted_states = set(params.get("JobFlowStates", []))
    with ctx.store.read() as session:
        details = [_job_flow(session, cluster, now) for cluster in session.scalars(query)]
    if wanted_states:
        details = [d for d in details if d["ExecutionStatusDetail"]["State"] in wanted_states]
    return {"JobFlows": details}


def _execution_state(cluster: Cluster) -> str:
    state, code, _ = public_cluster_state(cluster)
    if state == "TERMINATED" and code == "ALL_STEPS_COMPLETED":
        return "COMPLETED"
    return _EXECUTION_STATE[state]


def _job_flow(session, cluster: Cluster, now) -> dict:
    groups = session.scalars(
        select(InstanceGroup).where(InstanceGroup.cluster_id == cluster.id)
        .order_by(InstanceGroup.created_at)
    ).all()
    steps = session.scalars(
        select(Step).where(Step.cluster_id == cluster.id).order_by(Step.position)
    ).all()
    master_node = session.scalars(
        select(Instance).where(Instance.cluster_id == cluster.id, Instance.role == "MASTER")
        .order_by(Instance.created_at.desc())
    ).first()
    counts = running_counts(session, cluster.id)
    by_role = {group.role: group for group in groups}
    instances = {
        "MasterInstanceType": by_role["MASTER"].instance_type,
        "SlaveInstanceType": (by_role.get("CORE") or by_role["MASTER"]).instance_type,
        "InstanceCount": sum(group.requested_count for group in groups),
        "InstanceGroups": [_group_detail(group, counts.get(group.id, 0)) for group in groups],
        "NormalizedInstanceHours": normalized_instance_hours(session, cluster.id, now),
        "KeepJobFlowAliveWhenNoSteps": cluster.keep_alive_when_no_steps,
        "TerminationProtected": cluster.termination_protected,
        "UnhealthyNodeReplacement": cluster.unhealthy_node_replacement,
    }
    if cluster.master_public_dns_name:
        instances["MasterPublicDnsName"] = cluster.master_public_dns_name
    if master_node is not None:
        instances["MasterInstanceId"] = master_node.ec2_instance_id
    ec2 = cluster.request_extras.get("Ec2InstanceAttributes", {})
    for key in ("Ec2KeyName", "Ec2SubnetId"):
        if key in ec2:
            instances[key] = ec2[key]
    detail = {
        "JobFlowId": cluster.id,
        "Name": cluster.name,
        "ExecutionStatusDetail": _execution_detail(cluster, _execution_state(cluster)),
        "Instances": instances,
        "Steps": [_step_detail(step) for step in steps],
        "BootstrapActions": [
            {"BootstrapActionConfig": {
                "Name": action.name,
                "ScriptBootstrapAction": {"Path": action.path, "Args": action.args},
            }}
            for action in cluster.bootstrap_actions
        ],
        "SupportedProducts": [],
        "VisibleToAllUsers": cluster.visible_to_all_users,
    }
    if cluster.log_uri:
        detail["LogUri"] = cluster.log_uri
    for key in ("JobFlowRole", "ServiceRole", "AutoScalingRole", "ScaleDownBehavior"):
        if key in cluster.request_extras:
            detail[key] = cluster.request_extras[key]
    return detail


def _execution_detail(row, state: str, started_at=None) -> dict:
    detail = {"State": state, "CreationDateTime": row.created_at}
    if started_at or row.ready_at:
        detail["StartDateTime"] = started_at or row.ready_at
    if getattr(row, "ready_at", None):
        detail["ReadyDateTime"] = row.ready_at
    if row.ended_at:
        detail["EndDateTime"] = row.ended_at
    if row.state_reason_message:
        detail["LastStateChangeReason"] = row.state_reason_message
    return detail


def _group_detail(group: InstanceGroup, running: int) -> dict:
    detail = {
        "InstanceGroupId": group.id,
        "Name": group.name,
        "Market": group.market,
        "InstanceRole": group.role,
        "InstanceType": group.instance_type,
        "InstanceRequestCount": group.requested_count,
        "InstanceRunningCount": running,
        **_execution_detail(group, _group_state(public_group_state(group, running))),
    }
    if group.bid_price:
        detail["BidPrice"] = group.bid_price
    return detail


def _group_state(state: str) -> str:
    return "ENDED" if state == "TERMINATED" else state


def _step_detail(step: Step) -> dict:
    status = {"State": step.state, "CreationDateTime": step.created_at}
    if step.started_at:
        status["StartDateTime"] = step.started_at
    if step.ended_at:
        status["EndDateTime"] = step.ended_at
    if step.state_reason_message:
        status["LastStateChangeReason"] = step.state_reason_message
    return {"StepConfig": views.step_config(step), "ExecutionStatusDetail": status}
