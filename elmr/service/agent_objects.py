"""Which nodes may fetch objects from the object store (bootstrap action scripts and
script-runner scripts given as s3:// paths). The agent holds no S3 credentials, only
its node's token; a node of a live cluster may read any object, as an EMR cluster's
instance role usually may. The api layer checks this, then reads the object
(elmr/api/agent_endpoints.py): the EMR services never touch the object store."""

from elmr.service.agents import authenticated_node
from elmr.service.context import ServiceContext
from elmr.service.errors import ValidationException


def check_node_may_read(ctx: ServiceContext, instance_id, token) -> None:
    """AccessDeniedException for anything but a known node with its token;
    ValidationException for a node that is terminated."""
    with ctx.store.transaction() as session:
        node = authenticated_node(session, instance_id, token)
        if node.state == "TERMINATED":
            raise ValidationException(f"Node {node.id} is terminated.")
