"""The store: Alembic's migrations and the SQLAlchemy models say the same thing, and
SQLite's writers take turns."""

import sqlite3
import threading
from datetime import datetime, timezone

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from botocore.config import Config
from sqlalchemy import insert, select, update

from conftest import ElmrServer
from elmr.launcher import free_port
from elmr.store.db import MIGRATIONS_DIR, Store, sqlite_url
from elmr.store.object_models import Bucket, StoredObject


def test_migrations_match_the_models(tmp_path):
    store = Store.open(sqlite_url(tmp_path))
    config = AlembicConfig()
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


@pytest.fixture
def nodeless_server(tmp_path):
    """A server that launches no node: its clusters fail at once, their rows stay."""
    running = ElmrServer(tmp_path / "data", free_port(), extra_args=("--max-local-nodes", "0"))
    running.start()
    yield running
    running.stop_everything()


def test_a_read_is_answered_while_a_write_transaction_holds_the_lock(nodeless_server):
    """A long write (the first listing of a large Spark output, a big migration) holds
    SQLite's write lock; DescribeCluster and ListClusters answer meanwhile, from the
    last committed snapshot. The lock is released only after they have answered: had
    they queued behind it, they would have waited out busy_timeout (30 s, past the
    client's read timeout) and failed."""
    emr = nodeless_server.client(config=Config(retries={"max_attempts": 1}, read_timeout=20))
    cluster_id = emr.run_job_flow(
        Name="held", ReleaseLabel="emr-7.2.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1},
    )["JobFlowId"]
    writer = sqlite3.connect(nodeless_server.data_dir / "elmr.db", isolation_level=None, timeout=30)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE clusters SET name = 'renamed, not committed' WHERE id = ?", (cluster_id,))
    try:
        described = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        listed = emr.list_clusters()["Clusters"]
        steps = emr.list_steps(ClusterId=cluster_id)["Steps"]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert described["Name"] == "held"  # the committed snapshot, not the open write
    assert [c["Id"] for c in listed] == [cluster_id] and steps == []
