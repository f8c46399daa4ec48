"""Cluster operations: RunJobFlow, DescribeCluster, ListClusters, TerminateJobFlows,
the Set* switches, tags and ModifyCluster.

They record intent and return; the reconciler launches and stops nodes. Each takes
the request as a dict already checked against botocore's model and returns the
response dict.
"""

from sqlalchemy import and_, case, or_, select

from elmr.service import cluster_logs, lookups, paging, views
from elmr.service.context import ServiceContext
from elmr.service.errors import ValidationException
from elmr.service.run_job_flow import build_cluster, check_step_concurrency
from elmr.market.cost_report import normalized_instance_hours, normalized_instance_hours_of
from elmr.store.models import Cluster
from elmr.store.states import CLUSTER_ACTIVE, CLUSTER_TERMINAL, request_termination

CLUSTERS_PAGE_SIZE = 50  # EMR's page size for ListClusters


def run_job_flow(ctx: ServiceContext, params: dict) -> dict:
    cluster_logs.check_log_uri(ctx, params.get("LogUri"))
    with ctx.store.transaction() as session:
        cluster = build_cluster(session, params, ctx.clock())
    ctx.wake_reconciler(cluster.id)
    return {"JobFlowId": cluster.id, "ClusterArn": ctx.cluster_arn(cluster.id)}


def describe_cluster(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        hours = normalized_instance_hours(session, cluster.id, ctx.clock())
        uses_fleets = bool(cluster.fleets)
    return {"Cluster": views.cluster(cluster, ctx.cluster_arn(cluster.id), hours, _persistent_history(ctx, cluster),
                                     uses_fleets)}


def _persistent_history(ctx: ServiceContext, cluster: Cluster) -> str | None:
    """The server's own history server, for an ended cluster whose event logs it keeps
    (None unless it answers now: DescribeCluster shows no URL that does not)."""
    if cluster.state not in CLUSTER_TERMINAL or ctx.spark_history is None:
        return None
    if not ctx.spark_history.has_event_logs(cluster.id):
        return None
    return ctx.spark_history.url()


def list_clusters(ctx: ServiceContext, params: dict) -> dict:
    """Newest first, 50 a page; the marker is the last (created, id) handed out."""
    query = select(Cluster).order_by(Cluster.created_at.desc(), Cluster.id.desc())
    if params.get("ClusterStates"):
        query = query.where(_public_state.in_(params["ClusterStates"]))
    if params.get("CreatedAfter"):
        query = query.where(Cluster.created_at >= params["CreatedAfter"])
    if params.get("CreatedBefore"):
        query = query.where(Cluster.created_at <= params["CreatedBefore"])
    if params.get("Marker"):
        last_created, last_id = paging.decode_keyset_marker(params["Marker"])
        query = query.where(
            or_(
                Cluster.created_at < last_created,
                and_(Cluster.created_at == last_created, Cluster.id < last_id),
            )
        )
    with ctx.store.read() as session:
        page = session.scalars(query.limit(CLUSTERS_PAGE_SIZE + 1)).all()
        hours = normalized_instance_hours_of(session, [c.id for c in page[:CLUSTERS_PAGE_SIZE]], ctx.clock())
        summaries = [views.cluster_summary(c, ctx.cluster_arn(c.id), hours[c.id]) for c in page[:CLUSTERS_PAGE_SIZE]]
    answer = {"Clusters": summaries}
    if len(page) > CLUSTERS_PAGE_SIZE:
        last = page[CLUSTERS_PAGE_SIZE - 1]
        answer["Marker"] = paging.encode_keyset_marker(last.created_at, last.id)
    return answer


# The state ListClusters filters on: the one DescribeCluster shows, TERMINATING as
# soon as a termination is requested (states.public_cluster_state).
_public_state = case(
    (and_(Cluster.termination_requested_code.is_not(None), Cluster.state.in_(CLUSTER_ACTIVE)), "TERMINATING"),
    else_=Cluster.state,
)


def terminate_job_flows(ctx: ServiceContext, params: dict) -> dict:
    """All or nothing: if one of the clusters is protected, none is terminated. The
    request is recorded; the control loop stops the nodes."""
    with ctx.store.transaction() as session:
        clusters = [lookups.job_flow(session, job_flow_id) for job_flow_id in params["JobFlowIds"]]
        if any(c.termination_protected and c.state not in CLUSTER_TERMINAL for c in clusters):
            raise ValidationException(
                "Could not shut down one or more job flows since they are termination protected."
            )
        for cluster in clusters:
            request_termination(cluster, "USER_REQUEST", "Terminated by user request")
    for cluster in clusters:
        ctx.wake_reconciler(cluster.id)
    return {}


def _set_flag(ctx: ServiceContext, job_flow_ids: list, attribute: str, value: bool) -> dict:
    with ctx.store.transaction() as session:
        for job_flow_id in job_flow_ids:
            cluster = lookups.job_flow(session, job_flow_id)
            setattr(cluster, attribute, value)
            ctx.wake_reconciler(cluster.id)
    return {}


def set_termination_protection(ctx: ServiceContext, params: dict) -> dict:
    return _set_flag(ctx, params["JobFlowIds"], "termination_protected",
                     params["TerminationProtected"])


def set_keep_job_flow_alive_when_no_steps(ctx: ServiceContext, params: dict) -> dict:
    return _set_flag(ctx, params["JobFlowIds"], "keep_alive_when_no_steps",
                     params["KeepJobFlowAliveWhenNoSteps"])


def set_visible_to_all_users(ctx: ServiceContext, params: dict) -> dict:
    return _set_flag(ctx, params["JobFlowIds"], "visible_to_all_users",
                     params["VisibleToAllUsers"])


def set_unhealthy_node_replacement(ctx: ServiceContext, params: dict) -> dict:
    return _set_flag(ctx, params["JobFlowIds"], "unhealthy_node_replacement",
                     params["UnhealthyNodeReplacement"])


def add_tags(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        resource = lookups.tag_resource(session, params["ResourceId"])
        tags = {tag["Key"]: tag.get("Value", "") for tag in resource.tags}
        for tag in params["Tags"]:
            if not tag.get("Key"):
                raise ValidationException("Tags: a tag key must not be empty.")
            tags[tag["Key"]] = tag.get("Value", "")
        resource.tags = [{"Key": key, "Value": value} for key, value in tags.items()]
    return {}


def remove_tags(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        resource = lookups.tag_resource(session, params["ResourceId"])
        removed = set(params["TagKeys"])
        resource.tags = [tag for tag in resource.tags if tag["Key"] not in removed]
    return {}


def modify_cluster(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        if cluster.state in CLUSTER_TERMINAL or cluster.state == "TERMINATING":
            raise ValidationException(
                f"Cluster {cluster.id} is in state {cluster.state} and cannot be modified."
            )
        if "StepConcurrencyLevel" in params:
            cluster.step_concurrency_level = check_step_concurrency(
                params["StepConcurrencyLevel"]
            )
        if "ExtendedSupport" in params:
            cluster.request_extras = {
                **cluster.request_extras, "ExtendedSupport": params["ExtendedSupport"]
            }
        answer = {"StepConcurrencyLevel": cluster.step_concurrency_level}
        if "ExtendedSupport" in cluster.request_extras:
            answer["ExtendedSupport"] = cluster.request_extras["ExtendedSupport"]
    ctx.wake_reconciler(cluster.id)
    return answer

