"""Objects a node's agent fetches from the object store: bootstrap action scripts and
script-runner scripts given as s3:// paths. The agent holds no S3 credentials, only
its node's token; a node of a live cluster may read any object, as an EMR cluster's
instance role usually may."""

from typing import BinaryIO
from urllib.parse import urlparse

from elmr.node_protocol import OBJECT_STORE_SCHEMES
from elmr.objectstore import objects
from elmr.objectstore.errors import S3Error
from elmr.service.agents import authenticated_node
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException, ValidationException


def split_object_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key → (bucket, key); anything else is a ValidationException."""
    parsed = urlparse(uri)
    key = parsed.path[1:]  # the key keeps its own slashes, only the separator goes
    if parsed.scheme not in OBJECT_STORE_SCHEMES or not parsed.netloc or not key:
        raise ValidationException(f"'{uri}' is not an s3://bucket/key URI.")
    return parsed.netloc, key


def object_for_node(ctx: ServiceContext, query: dict) -> tuple[objects.ObjectView, BinaryIO]:
    """The object a node asks for, and its file opened (objects.open_object)."""
    with ctx.store.transaction() as session:
        node = authenticated_node(session, query.get("instance_id"), query.get("token"))
        if node.state == "TERMINATED":
            raise ValidationException(f"Node {node.id} is terminated.")
    uri = query.get("uri", "")
    bucket, key = split_object_uri(uri)
    try:
        return objects.open_object(ctx, bucket, key)
    except S3Error as error:  # the agent names the failure in the step or bootstrap message
        raise InvalidRequestException(f"{uri}: {error.message} ({error.code})") from None
