"""Spark Connect sessions: StartSession, GetSession, GetSessionEndpoint, ListSessions,
TerminateSession. elmr does not run sessions yet (a later issue builds them): each
operation checks its input as EMR does (the cluster exists and is active, the
session's settings are in range), then answers an EMR-shaped error saying so."""

from elmr.service import lookups
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException
from elmr.store.states import CLUSTER_ACTIVE

MAX_IDLE_TIMEOUT_MINUTES = 10080  # a week
NOT_YET = "elmr does not run Spark Connect sessions yet; run Spark steps (AddJobFlowSteps) instead."


def _active_cluster(ctx: ServiceContext, cluster_id: str) -> None:
    with ctx.store.read() as session:
        cluster = lookups.cluster(session, cluster_id)
        if cluster.state not in CLUSTER_ACTIVE:
            raise InvalidRequestException(f"Cluster {cluster.id} is {cluster.state}.")


def start_session(ctx: ServiceContext, params: dict) -> dict:
    timeout = params.get("SessionIdleTimeoutInMinutes", 60)
    if not 1 <= timeout <= MAX_IDLE_TIMEOUT_MINUTES:
        raise InvalidRequestException(
            f"SessionIdleTimeoutInMinutes must be between 1 and {MAX_IDLE_TIMEOUT_MINUTES}.")
    _active_cluster(ctx, params["ClusterId"])
    raise InvalidRequestException(NOT_YET)


def _no_such_session(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        lookups.cluster(session, params["ClusterId"])
    raise InvalidRequestException(f"Session '{params['SessionId']}' does not exist: {NOT_YET}")


get_session = get_session_endpoint = terminate_session = _no_such_session


def list_sessions(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        lookups.cluster(session, params["ClusterId"])
    raise InvalidRequestException(NOT_YET)
