"""GetClusterSessionCredentials: temporary HTTP basic credentials for a cluster's
endpoints, tied to a runtime role, as EMR issues them for clusters whose security
configuration turns on runtime roles (EnableApplicationScopedIAMRole). They expire
after an hour; the store keeps a hash of the password, never the password."""

import hashlib
import re
import secrets
from datetime import timedelta

from elmr.service import lookups, security_configurations
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException
from elmr.store.models import ClusterSessionCredential
from elmr.store.states import CLUSTER_ACTIVE

LIFETIME = timedelta(hours=1)


def get_cluster_session_credentials(ctx: ServiceContext, params: dict) -> dict:
    role_arn = params.get("ExecutionRoleArn")
    if not role_arn:
        raise InvalidRequestException("ExecutionRoleArn is required: the credentials act as that runtime role.")
    now = ctx.clock()
    password = secrets.token_urlsafe(24)
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        if cluster.state not in CLUSTER_ACTIVE:
            raise InvalidRequestException(f"Cluster {cluster.id} is {cluster.state}.")
        if not security_configurations.runtime_roles_enabled(session, cluster):
            raise InvalidRequestException(
                f"Cluster {cluster.id} does not use runtime roles: its security configuration must set "
                "AuthorizationConfiguration.IAMConfiguration.EnableApplicationScopedIAMRole.")
        role_name = re.sub(r"[^A-Za-z0-9_.-]", "", role_arn.rsplit("/", 1)[-1])[:64] or "role"
        username = f"{role_name}-{secrets.token_hex(6)}"
        session.add(ClusterSessionCredential(
            username=username, cluster_id=cluster.id, execution_role_arn=role_arn,
            password_sha256=hashlib.sha256(password.encode()).hexdigest(), expires_at=now + LIFETIME))
    return {"Credentials": {"UsernamePassword": {"Username": username, "Password": password}},
            "ExpiresAt": now + LIFETIME}
