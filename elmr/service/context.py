"""What every service function is handed: the store, the clock (the same one the
control loop reads), a way to wake the control loop for a cluster after recording
intent for it (so a new cluster starts at once instead of at the next periodic pass),
the spot market's settings, and the server-wide platform services the server runs
(the persistent Spark history server; None where none runs)."""

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

from elmr.market.settings import MarketSettings
from elmr.store.db import Store


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class SparkHistory(Protocol):
    """elmr.platform.spark_history.SparkHistoryService, as the services use it."""

    def keep_event_log(self, cluster_id: str, name: str, data: bytes) -> None: ...
    def has_event_logs(self, cluster_id: str) -> bool: ...
    def url(self) -> str | None: ...
    def ensure_started(self) -> str: ...


@dataclass
class ServiceContext:
    store: Store
    data_dir: Path
    region: str = "us-east-1"
    account_id: str = "123456789012"
    clock: Callable[[], datetime] = utc_now
    # wake_reconciler(cluster_id): work on that cluster now; with no id, on every live one.
    wake_reconciler: Callable[..., None] = field(default=lambda cluster_id=None: None)
    market: MarketSettings = field(default_factory=MarketSettings)
    spark_history: SparkHistory | None = None

    def cluster_arn(self, cluster_id: str) -> str:
        return (
            f"arn:aws:elasticmapreduce:{self.region}:{self.account_id}:cluster/{cluster_id}"
        )
