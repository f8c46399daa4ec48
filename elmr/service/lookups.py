"""Finding rows by the ids clients send, with EMR's own error for an unknown id."""

from sqlalchemy.orm import Session

from elmr.service.errors import InvalidRequestException, ValidationException
from elmr.store.models import Cluster, Studio


def cluster(session: Session, cluster_id: str) -> Cluster:
    found = session.get(Cluster, cluster_id)
    if found is None:
        raise InvalidRequestException(f"Cluster id '{cluster_id}' is not valid.")
    return found


def job_flow(session: Session, job_flow_id: str) -> Cluster:
    """The older JobFlow operations answer an unknown id with a ValidationException."""
    found = session.get(Cluster, job_flow_id)
    if found is None:
        raise ValidationException(f"Specified job flow ID not valid: '{job_flow_id}'")
    return found


def tag_resource(session: Session, resource_id: str) -> Cluster | Studio:
    """AddTags/RemoveTags take a cluster id or an EMR Studio id; both rows hold `tags`."""
    found = session.get(Studio if resource_id.startswith("es-") else Cluster, resource_id)
    if found is None:
        raise InvalidRequestException(f"Resource id '{resource_id}' is not valid.")
    return found
