"""The node agents' endpoints (elmr/node_protocol.py): heartbeats, log uploads,
object downloads and the cluster's credentials, each authenticated with the node's own token. Where an endpoint
touches the object store (a log under an s3:// LogUri, an s3:// script), this
module composes the service's node check with the object store's read or write:
the EMR services never import the object store, and the object store knows nothing
of nodes."""

import json
from contextlib import contextmanager
from typing import BinaryIO
from urllib.parse import urlparse

from elmr.node_protocol import OBJECT_STORE_SCHEMES
from elmr.objectstore import objects
from elmr.objectstore.errors import S3Error
from elmr.service import agent_objects, agent_uploads, agents, cluster_credentials
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException, ValidationException


def heartbeat(ctx: ServiceContext, body: bytes) -> dict:
    try:
        received = json.loads(body or b"{}")
    except ValueError:
        raise ValidationException("A heartbeat must be a JSON object.") from None
    if not isinstance(received, dict):
        raise ValidationException("A heartbeat must be a JSON object.")
    return agents.record_heartbeat(ctx, received)


def credentials(ctx: ServiceContext, authorization: str) -> dict:
    """The cluster's own key for code on its nodes, in ECS's container-credentials
    shape, for the node's credentials token (the Authorization header)."""
    return cluster_credentials.credentials_for_node(ctx, authorization)


def store_log(ctx: ServiceContext, query: dict, body: bytes) -> None:
    """A file a node uploads (agent_uploads): a log kept under its cluster's LogUri (a
    plain file in the bucket's directory under an s3:// one, which the object store
    lists as an object; never in a bucket that does not exist), an executed notebook."""
    agent_uploads.store_upload(ctx, query, body)


def object_for_node(ctx: ServiceContext, query: dict) -> tuple[objects.ObjectView, BinaryIO]:
    """The object a node asks for (`uri`), and its file opened (objects.open_object)."""
    agent_objects.check_node_may_read(ctx, query.get("instance_id"), query.get("token"))
    uri = query.get("uri", "")
    bucket, key = split_object_uri(uri)
    with _as_emr_error(uri):
        return objects.open_object(ctx, bucket, key)


def split_object_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key → (bucket, key); anything else is a ValidationException."""
    parsed = urlparse(uri)
    key = parsed.path[1:]  # the key keeps its own slashes, only the separator goes
    if parsed.scheme not in OBJECT_STORE_SCHEMES or not parsed.netloc or not key:
        raise ValidationException(f"'{uri}' is not an s3://bucket/key URI.")
    return parsed.netloc, key


@contextmanager
def _as_emr_error(uri: str):
    """S3's error as the agent reads errors: the agent names the failure (S3's code
    included) in the step's or bootstrap action's message."""
    try:
        yield
    except S3Error as error:
        raise InvalidRequestException(f"{uri}: {error.message} ({error.code})") from None
