"""ListInstanceGroups, ListInstances and ListBootstrapActions: what a cluster is made
of, as EMR describes it (ListInstanceFleets is with the fleets, instance_fleets.py)."""

from sqlalchemy import func, select

from elmr.service import lookups, paging, views
from elmr.service.context import ServiceContext
from elmr.store.models import BootstrapAction, Instance, InstanceGroup

PAGE_SIZE = 50


def running_counts(session, cluster_id: str) -> dict[str, int]:
    """Nodes per group whose daemons are up (EMR's RunningInstanceCount)."""
    rows = session.execute(
        select(Instance.group_id, func.count())
        .where(Instance.cluster_id == cluster_id, Instance.state == "RUNNING")
        .group_by(Instance.group_id)
    )
    return dict(rows.all())


def list_instance_groups(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        counts = running_counts(session, cluster.id)
        groups = session.scalars(
            select(InstanceGroup)
            .where(InstanceGroup.cluster_id == cluster.id)
            .order_by(InstanceGroup.created_at, InstanceGroup.id)
        ).all()
        described = [views.instance_group(g, counts.get(g.id, 0)) for g in groups]
    page, marker = paging.offset_page(described, params.get("Marker"), PAGE_SIZE)
    return _with_marker({"InstanceGroups": page}, marker)


def list_instances(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        query = select(Instance).where(Instance.cluster_id == cluster.id).order_by(Instance.created_at, Instance.id)
        if params.get("InstanceGroupId"):
            query = query.where(Instance.group_id == params["InstanceGroupId"])
        if params.get("InstanceGroupTypes"):
            query = query.where(Instance.role.in_(params["InstanceGroupTypes"]))
        if params.get("InstanceFleetId"):
            query = query.where(Instance.fleet_id == params["InstanceFleetId"])
        if params.get("InstanceFleetType"):
            query = query.where(Instance.role == params["InstanceFleetType"], Instance.fleet_id.is_not(None))
        if params.get("InstanceStates"):
            query = query.where(Instance.state.in_(params["InstanceStates"]))
        described = [views.instance(node) for node in session.scalars(query)]
    page, marker = paging.offset_page(described, params.get("Marker"), PAGE_SIZE)
    return _with_marker({"Instances": page}, marker)


def list_bootstrap_actions(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        actions = session.scalars(
            select(BootstrapAction)
            .where(BootstrapAction.cluster_id == cluster.id)
            .order_by(BootstrapAction.position)
        )
        described = [views.bootstrap_action(action) for action in actions]
    page, marker = paging.offset_page(described, params.get("Marker"), PAGE_SIZE)
    return _with_marker({"BootstrapActions": page}, marker)


def _with_marker(answer: dict, marker: str | None) -> dict:
    if marker:
        answer["Marker"] = marker
    return answer
