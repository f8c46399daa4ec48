"""The cluster's own credentials, as an instance profile gives them on EMR: code on a
node (the AWS CLI, boto3, S3A in Spark and MapReduce) GETs them from the container-
credentials endpoint with its node's endpoint token and signs its S3 and EMR requests
with them. The server accepts a cluster's key while the cluster lives; its root key
never reaches a node."""

from datetime import timedelta

from sqlalchemy import select

from elmr.credentials import RootCredentials
from elmr.service.context import ServiceContext
from elmr.service.errors import AuthError
from elmr.store.db import Store
from elmr.store.models import Cluster, ClusterCredentials
from elmr.store.states import CLUSTER_TERMINAL

# SDKs fetch again before this passes; the same key comes back while the cluster lives.
VALIDITY = timedelta(hours=6)


class Keyring:
    """The secret for an access key id the server accepts: its root key's, or a live
    cluster's (what the api layer's SigV4 checks ask of `secret_for`)."""

    def __init__(self, root: RootCredentials, store: Store):
        self.root = root
        self.store = store
        self.access_key_id = root.access_key_id

    def secret_for(self, access_key_id: str) -> str | None:
        secret = self.root.secret_for(access_key_id)
        if secret is not None or not access_key_id.startswith("ASIA"):
            return secret
        with self.store.transaction() as session:
            credentials = session.get(ClusterCredentials, access_key_id)
            if credentials is None:
                return None
            cluster = session.get(Cluster, credentials.cluster_id)
            return None if cluster.state in CLUSTER_TERMINAL else credentials.secret_access_key


def credentials_for_node(ctx: ServiceContext, authorization: str) -> dict:
    """The container-credentials answer (ECS's shape, which botocore and the Java
    SDK read) for the node token in the Authorization header."""
    with ctx.store.transaction() as session:
        credentials = session.scalar(select(ClusterCredentials).where(
            ClusterCredentials.endpoint_token == str(authorization or "")))
        cluster = credentials and session.get(Cluster, credentials.cluster_id)
        if cluster is None or cluster.state in CLUSTER_TERMINAL:
            raise AuthError("AccessDeniedException", "Unknown or expired node credentials token.", 403)
        return {
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "Token": credentials.session_token,
            "Expiration": (ctx.clock() + VALIDITY).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RoleArn": f"arn:aws:iam::{ctx.account_id}:role/EMR_EC2_DefaultRole",
        }
