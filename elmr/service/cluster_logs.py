"""Where a cluster's logs are kept, as EMR lays them out under LogUri:
<root>/<cluster-id>/steps/<step-id>/{controller,stdout,stderr}.gz and
<root>/<cluster-id>/node/<ec2-instance-id>/… and YARN's container logs under
<root>/<cluster-id>/containers/<application-id>/<container-id>/…. The root is the LogUri: an s3:// URI
lands in the embedded object store's bucket directory, a file:// URI or plain path
on disk; without a LogUri, logs stay in the data dir (DATA_DIR/logs)."""

from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from elmr.node_protocol import OBJECT_STORE_SCHEMES
from elmr.objectstore.errors import S3Error
from elmr.objectstore.objects import bucket_dir_exists, buckets_root
from elmr.service.agents import authenticated_node
from elmr.service.context import ServiceContext
from elmr.service.errors import ValidationException
from elmr.store.models import Cluster


def log_root(data_dir: Path, log_uri: str | None) -> Path:
    if not log_uri:
        return Path(data_dir) / "logs"
    parsed = urlparse(log_uri)
    if parsed.scheme in OBJECT_STORE_SCHEMES:
        return buckets_root(data_dir) / parsed.netloc / parsed.path.lstrip("/")
    if parsed.scheme in ("", "file"):
        return Path(parsed.path)
    raise ValidationException(f"LogUri scheme '{parsed.scheme}' is not supported.")


def check_log_uri(ctx: ServiceContext, log_uri: str | None) -> None:
    """RunJobFlow's check: a LogUri elmr can write to (its bucket exists)."""
    if log_uri:
        log_root(ctx.data_dir, log_uri)  # refuses schemes elmr cannot write
        _require_log_bucket(ctx, log_uri)


def _require_log_bucket(ctx: ServiceContext, log_uri: str | None) -> None:
    """Logs for an s3:// LogUri whose bucket does not exist are refused: writing them
    would make a directory that is not a bucket."""
    parsed = urlparse(log_uri or "")
    if parsed.scheme in OBJECT_STORE_SCHEMES:
        try:
            bucket_dir_exists(ctx, parsed.netloc)
        except S3Error:
            raise ValidationException(f"LogUri {log_uri}: bucket '{parsed.netloc}' does not exist.") from None


def cluster_log_dir(data_dir: Path, cluster: Cluster) -> Path:
    return log_root(data_dir, cluster.log_uri) / cluster.id


# What a cluster's log dir holds: step logs, node logs, Spark's event logs and its
# executors' logs (containers/<application>/<executor>/).
LOG_KINDS = ("steps", "node", "spark-events", "containers")


def _safe_relative(path: str) -> PurePosixPath:
    """Agents name files under the cluster's log dir; never anything outside it."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts \
            or relative.parts[0] not in LOG_KINDS:
        raise ValidationException(f"Log path '{path}' is not valid.")
    return relative


def store_log(ctx: ServiceContext, query: dict, body: bytes) -> dict:
    relative = _safe_relative(query.get("path", ""))
    with ctx.store.transaction() as session:
        node = authenticated_node(session, query.get("instance_id"), query.get("token"))
        cluster = session.get(Cluster, node.cluster_id)
        target = cluster_log_dir(ctx.data_dir, cluster) / relative
    _require_log_bucket(ctx, cluster.log_uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.incoming")
    staging.write_bytes(body)
    staging.replace(target)  # readers see the old file or the new one, never half
    return {}
