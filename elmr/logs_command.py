"""`elmr logs CLUSTER [STEP] [--stderr|--controller] [--follow]`: a step's logs as
they are written on the master node, or as shipped under the cluster's LogUri (or
the data dir); without a step, the list of the cluster's log files."""

import gzip
import sys
import time
from pathlib import Path

from sqlalchemy import select

from elmr.objectstore.objects import buckets_root
from elmr.service.cluster_logs import LogLocation, cluster_log_location
from elmr.store.db import Store, sqlite_url
from elmr.store.models import Cluster, Instance, Step
from elmr.store.states import STEP_TERMINAL

FOLLOW_POLL_S = 0.5


def _on_disk(data_dir: Path, location: LogLocation) -> Path:
    """Where the logs are read from: their dir, or, under an s3:// LogUri, the files
    of their objects (a log's key is a plain path in its bucket's directory)."""
    if location.bucket is None:
        return location.directory
    return buckets_root(data_dir) / location.bucket / location.key


def _live_step_file(data_dir: Path, master: Instance | None, step_id: str, name: str) -> Path | None:
    if master is None or "node_dir" not in master.provider_state:
        return None
    path = Path(master.provider_state["node_dir"]) / "steps" / step_id / name
    return path if path.exists() else None


def _print_shipped(path: Path) -> bool:
    if not path.exists():
        return False
    sys.stdout.write(gzip.decompress(path.read_bytes()).decode(errors="replace"))
    return True


def _follow(path: Path, step_finished) -> None:
    """Print the file as it grows until the step has ended and nothing more came."""
    with open(path, errors="replace") as handle:
        while True:
            chunk = handle.read()
            if chunk:
                sys.stdout.write(chunk)
                sys.stdout.flush()
            elif step_finished():
                return
            else:
                time.sleep(FOLLOW_POLL_S)


def show_logs(data_dir: Path, database_url: str | None, cluster_id: str, step_id: str | None,
              name: str, follow: bool) -> int:
    store = Store(database_url or sqlite_url(data_dir))
    with store.transaction() as session:
        cluster = session.get(Cluster, cluster_id)
        if cluster is None:
            print(f"elmr logs: no cluster {cluster_id}", file=sys.stderr)
            return 2
        log_dir = _on_disk(data_dir, cluster_log_location(data_dir, cluster))
        master = session.scalars(select(Instance).where(
            Instance.cluster_id == cluster_id, Instance.role == "MASTER")
            .order_by(Instance.created_at.desc())).first()
    if step_id is None:
        for path in sorted(log_dir.rglob("*.gz")) if log_dir.exists() else []:
            print(path)
        return 0

    def step_finished() -> bool:
        with store.transaction() as session:
            step = session.get(Step, step_id)
            return step is None or step.state in STEP_TERMINAL

    live = _live_step_file(data_dir, master, step_id, name)
    if follow and live is not None:
        _follow(live, step_finished)
        return 0
    if _print_shipped(log_dir / "steps" / step_id / f"{name}.gz"):
        return 0
    if live is not None:
        sys.stdout.write(live.read_text(errors="replace"))
        return 0
    print(f"elmr logs: no {name} log for step {step_id} of {cluster_id} yet", file=sys.stderr)
    return 1
