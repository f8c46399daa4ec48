"""The store: Alembic's migrations and the SQLAlchemy models say the same thing, and
SQLite's writers take turns."""

import threading
from datetime import datetime, timezone

from alembic import command
from alembic.config import Config
from sqlalchemy import insert, select, update

from elmr.store.db import MIGRATIONS_DIR, Store, sqlite_url
from elmr.store.object_models import Bucket, StoredObject


def test_migrations_match_the_models(tmp_path):
    store = Store.open(sqlite_url(tmp_path))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.check(config)  # raises if the models have changes no migration holds
    store.close()


def test_concurrent_read_then_write_transactions_take_turns(tmp_path):
    """Two threads each read a counter and write it back plus one, many times over.
    Unless each transaction takes SQLite's write lock as it begins, increments are
    lost (statements outside a transaction) or one thread cannot upgrade its read to
    a write ('database is locked', which busy_timeout does not wait out)."""
    store = Store.open(sqlite_url(tmp_path))
    objects = StoredObject.__table__
    now = datetime.now(timezone.utc)
    with store.core_transaction() as connection:
        connection.execute(insert(Bucket.__table__), {"name": "b", "created_at": now})
        connection.execute(insert(objects), {
            "bucket": "b", "key": "counter", "etag": "-", "size": 0, "content_type": "-",
            "user_metadata": {}, "last_modified": now, "location": "plain", "file_mtime_ns": 0})
    errors = []

    def increment(times: int) -> None:
        try:
            for _ in range(times):
                with store.core_transaction() as connection:
                    seen = connection.execute(select(objects.c.size)).scalar_one()
                    connection.execute(update(objects).values(size=seen + 1))
        except Exception as error:  # asserted on below, in the test's own thread
            errors.append(error)

    workers = [threading.Thread(target=increment, args=(200,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert errors == []
    with store.core_transaction() as connection:
        assert connection.execute(select(objects.c.size)).scalar_one() == 400
    store.close()
