"""Where a cluster's logs are kept, as EMR lays them out under LogUri:
<root>/<cluster-id>/steps/<step-id>/{controller,stdout,stderr}.gz and
<root>/<cluster-id>/node/<ec2-instance-id>/…. The root is the LogUri: an s3:// URI
names a bucket and key prefix of the object store, a file:// URI or plain path a
directory on disk; without a LogUri, logs stay in the data dir (DATA_DIR/logs).
This module says where; the api layer writes a log that goes to a bucket through
the object store (elmr/api/agent_endpoints.py), and writes none where the bucket
does not exist."""

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from elmr.node_protocol import OBJECT_STORE_SCHEMES
from elmr.service.agents import authenticated_node
from elmr.service.context import ServiceContext
from elmr.service.errors import ValidationException
from elmr.store.models import Cluster


@dataclass(frozen=True)
class LogLocation:
    """A path on disk (`directory`), or a place in a bucket (`bucket`, and `key`: a
    log file's key, or the key prefix of a log dir, ending with `/` unless empty)."""

    directory: Path | None = None
    bucket: str | None = None
    key: str = ""

    def joinpath(self, relative: str | PurePosixPath) -> "LogLocation":
        if self.bucket is None:
            return LogLocation(directory=self.directory / relative)
        return LogLocation(bucket=self.bucket, key=f"{self.key}{relative}")


def log_root(data_dir: Path, log_uri: str | None) -> LogLocation:
    if not log_uri:
        return LogLocation(directory=Path(data_dir) / "logs")
    parsed = urlparse(log_uri)
    if parsed.scheme in OBJECT_STORE_SCHEMES:
        prefix = parsed.path.lstrip("/")
        return LogLocation(bucket=parsed.netloc, key=prefix if not prefix or prefix.endswith("/") else prefix + "/")
    if parsed.scheme in ("", "file"):
        return LogLocation(directory=Path(parsed.path))
    raise ValidationException(f"LogUri scheme '{parsed.scheme}' is not supported.")


def cluster_log_location(data_dir: Path, cluster: Cluster) -> LogLocation:
    return log_root(data_dir, cluster.log_uri).joinpath(f"{cluster.id}/")


def _safe_relative(path: str) -> PurePosixPath:
    """Agents name files under the cluster's log dir; never anything outside it."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts \
            or relative.parts[0] not in ("steps", "node"):
        raise ValidationException(f"Log path '{path}' is not valid.")
    return relative


def log_upload_target(ctx: ServiceContext, query: dict) -> LogLocation:
    """Where the log file a node uploads goes (its node token checked)."""
    relative = _safe_relative(query.get("path", ""))
    with ctx.store.transaction() as session:
        node = authenticated_node(session, query.get("instance_id"), query.get("token"))
        return cluster_log_location(ctx.data_dir, session.get(Cluster, node.cluster_id)).joinpath(relative)


def write_log_file(target: Path, body: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.incoming")
    staging.write_bytes(body)
    staging.replace(target)  # readers see the old file or the new one, never half
