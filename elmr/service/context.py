"""What every service function is handed: the store, the clock (the same one the
control loop reads), and a way to wake the control loop for a cluster after
recording intent for it (so a new cluster starts at once instead of at the next
periodic pass)."""

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from elmr.store.db import Store


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ServiceContext:
    store: Store
    data_dir: Path
    region: str = "us-east-1"
    account_id: str = "123456789012"
    clock: Callable[[], datetime] = utc_now
    # wake_reconciler(cluster_id): work on that cluster now; with no id, on every live one.
    wake_reconciler: Callable[..., None] = field(default=lambda cluster_id=None: None)

    def cluster_arn(self, cluster_id: str) -> str:
        return (
            f"arn:aws:elasticmapreduce:{self.region}:{self.account_id}:cluster/{cluster_id}"
        )
