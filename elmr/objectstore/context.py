"""What every object-store function is handed: the store (its rows), the data dir
(its bytes, under DATA_DIR/buckets) and the clock. The server's ServiceContext has
all three; the object store names only what it uses, so that it depends on nothing
of the EMR services."""

from datetime import datetime
from pathlib import Path
from typing import Callable, Protocol

from elmr.store.db import Store


class StoreContext(Protocol):
    store: Store
    data_dir: Path
    clock: Callable[[], datetime]
