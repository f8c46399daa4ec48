"""What node agents POST to the upload endpoint (node_protocol.LOGS_PATH), by path:
executed notebooks go to their execution's output location; everything else is a
log kept under the cluster's LogUri (cluster_logs), and Spark's event logs are also
kept by the server for its own history server (EMR's persistent application UI)."""

import gzip
import zlib
from pathlib import PurePosixPath

from elmr.node_protocol import NOTEBOOK_OUTPUT_PREFIX
from elmr.service import cluster_logs, notebook_executions
from elmr.service.agents import authenticated_node
from elmr.service.context import ServiceContext
from elmr.service.errors import ValidationException
from elmr.store.models import Cluster

EVENT_LOG_PREFIX = "spark-events/"


def store_upload(ctx: ServiceContext, query: dict, body: bytes) -> dict:
    path = query.get("path", "")
    if path.startswith(NOTEBOOK_OUTPUT_PREFIX):
        with ctx.store.read() as session:
            node = authenticated_node(session, query.get("instance_id"), query.get("token"))
        notebook_executions.store_output(ctx, node, PurePosixPath(path[len(NOTEBOOK_OUTPUT_PREFIX):]), body)
        return {}
    if path.startswith(EVENT_LOG_PREFIX):
        _keep_event_log(ctx, query, path[len(EVENT_LOG_PREFIX):], body)
    return cluster_logs.store_log(ctx, query, body)


def _keep_event_log(ctx: ServiceContext, query: dict, name: str, body: bytes) -> None:
    """`<log>.gz` or `eventlog_v2_<app>/<file>.gz` (Spark's rolling event logs), shipped by
    the master: kept whole for the history server; a finished log's in-progress copy
    under LogUri goes when the finished one comes."""
    relative = PurePosixPath(name)
    if not name.endswith(".gz") or len(relative.parts) > 2 or any(
            part.startswith(".") or part == ".." for part in relative.parts):
        raise ValidationException(f"Event log '{name}' is not valid.")
    with ctx.store.read() as session:
        node = authenticated_node(session, query.get("instance_id"), query.get("token"))
        cluster = session.get(Cluster, node.cluster_id)
    try:
        data = gzip.decompress(body)
    except (OSError, EOFError, zlib.error):
        raise ValidationException(f"Event log '{name}' is not gzipped.") from None
    log_path = relative.with_name(relative.name.removesuffix(".gz"))
    if ctx.spark_history is not None:
        ctx.spark_history.keep_event_log(cluster.id, str(log_path), data)
    if not log_path.name.endswith(".inprogress"):
        stale = cluster_logs.cluster_log_dir(ctx.data_dir, cluster) / "spark-events" / log_path.parent / \
            f"{log_path.name}.inprogress.gz"
        stale.unlink(missing_ok=True)
