"""Application UIs: GetOnClusterAppUIPresignedURL (the running cluster's own Spark
UIs), CreatePersistentAppUI / DescribePersistentAppUI and
GetPersistentAppUIPresignedURL (the server's own Spark history server over the
cluster's kept event logs, which answers while the cluster runs and after it ends).

The URLs are the real daemons' addresses; elmr's UIs take no signature, so a
"presigned" URL is the plain one. PresignedURLReady says whether it answers yet:
the persistent history server starts on first need and takes a few seconds."""

from sqlalchemy import select

from elmr import ids
from elmr.service import lookups, security_configurations
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException
from elmr.store.models import Cluster, PersistentAppUI
from elmr.store.states import CLUSTER_ACTIVE

# The on-cluster UIs elmr's clusters run: {OnClusterAppUIType: (application, its
# endpoint)} (the cluster's endpoints, apps/registry.py). An application's own UI
# (ApplicationMaster) is reached through the ResourceManager's proxy, as on EMR.
_ON_CLUSTER_UIS = {
    "SparkHistoryServer": ("Spark", "SparkHistoryServerUrl"),
    "ResourceManager": ("Hadoop", "ResourceManagerWebUiUrl"),
    "ApplicationMaster": ("Hadoop", "ResourceManagerWebUiUrl"),
    "JobHistoryServer": ("Hadoop", "JobHistoryWebUiUrl"),
}


def _on_cluster_url(base: str, ui_type: str, application_id: str | None) -> str:
    if not application_id:
        return base
    if ui_type == "SparkHistoryServer":
        return f"{base}/history/{application_id}/jobs/"
    if ui_type == "ApplicationMaster":
        return f"{base}/proxy/{application_id}/"
    return f"{base}/cluster/app/{application_id}" if ui_type == "ResourceManager" else base


def get_on_cluster_app_ui_presigned_url(ctx: ServiceContext, params: dict) -> dict:
    ui_type = params.get("OnClusterAppUIType") or "SparkHistoryServer"
    with ctx.store.read() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        if cluster.state not in CLUSTER_ACTIVE:
            raise InvalidRequestException(
                f"Cluster {cluster.id} is {cluster.state}; its on-cluster UIs are gone. "
                "Use CreatePersistentAppUI and GetPersistentAppUIPresignedURL for its Spark history.")
        if ui_type not in _ON_CLUSTER_UIS:
            raise InvalidRequestException(
                f"Cluster {cluster.id} runs no {ui_type}; its UIs are {', '.join(_ON_CLUSTER_UIS)}.")
        application, endpoint = _ON_CLUSTER_UIS[ui_type]
        base = (cluster.endpoints or {}).get(application, {}).get(endpoint)
        ready = cluster.state in ("RUNNING", "WAITING") and base is not None
    if params.get("DryRun"):
        return {"PresignedURLReady": ready}
    if not ready:
        return {"PresignedURLReady": False}
    return {"PresignedURLReady": True, "PresignedURL": _on_cluster_url(base, ui_type, params.get("ApplicationId"))}


def _cluster_of_arn(session, ctx: ServiceContext, arn: str) -> Cluster:
    prefix = f"arn:aws:elasticmapreduce:{ctx.region}:{ctx.account_id}:cluster/"
    if not arn.startswith(prefix):
        raise InvalidRequestException(f"TargetResourceArn '{arn}' is not the ARN of a cluster here.")
    return lookups.cluster(session, arn[len(prefix):])


def create_persistent_app_ui(ctx: ServiceContext, params: dict) -> dict:
    """One persistent app UI per cluster: asking again gives the same one."""
    if params.get("EMRContainersConfig"):
        raise InvalidRequestException("EMRContainersConfig is for EMR on EKS; elmr runs EMR clusters only.")
    if params.get("ProfilerType", "SHS") != "SHS":
        raise InvalidRequestException(
            f"ProfilerType {params['ProfilerType']}: elmr keeps Spark history (SHS) only.")
    now = ctx.clock()
    with ctx.store.transaction() as session:
        cluster = _cluster_of_arn(session, ctx, params["TargetResourceArn"])
        existing = session.scalars(select(PersistentAppUI).where(PersistentAppUI.cluster_id == cluster.id)).first()
        if existing is None:
            existing = PersistentAppUI(id=ids.persistent_app_ui_id(), cluster_id=cluster.id,
                                       target_resource_arn=params["TargetResourceArn"], state="ATTACHED",
                                       created_at=now, last_modified_at=now, tags=params.get("Tags", []))
            session.add(existing)
        runtime_roles = security_configurations.runtime_roles_enabled(session, cluster)
    return {"PersistentAppUIId": existing.id, "RuntimeRoleEnabledCluster": runtime_roles}


def _app_ui(session, app_ui_id: str) -> PersistentAppUI:
    found = session.get(PersistentAppUI, app_ui_id)
    if found is None:
        raise InvalidRequestException(f"Persistent app UI '{app_ui_id}' does not exist.")
    return found


def describe_persistent_app_ui(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        app_ui = _app_ui(session, params["PersistentAppUIId"])
        return {"PersistentAppUI": {
            "PersistentAppUIId": app_ui.id, "PersistentAppUITypeList": ["SHS"],
            "PersistentAppUIStatus": app_ui.state, "CreationTime": app_ui.created_at,
            "LastModifiedTime": app_ui.last_modified_at, "Tags": app_ui.tags}}


def get_persistent_app_ui_presigned_url(ctx: ServiceContext, params: dict) -> dict:
    if params.get("PersistentAppUIType", "SHS") != "SHS":
        raise InvalidRequestException(
            f"PersistentAppUIType {params['PersistentAppUIType']}: elmr keeps Spark history (SHS) only.")
    with ctx.store.read() as session:
        _app_ui(session, params["PersistentAppUIId"])
    if ctx.spark_history is None:
        raise InvalidRequestException("This server runs no Spark history server.")
    base = ctx.spark_history.url()
    if base is None:
        ctx.spark_history.ensure_started()
        return {"PresignedURLReady": False}
    return {"PresignedURLReady": True,
            "PresignedURL": _on_cluster_url(base, "SparkHistoryServer", params.get("ApplicationId"))}
