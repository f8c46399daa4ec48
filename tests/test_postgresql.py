"""The store on a real PostgreSQL server: the same migrations and operations as on
SQLite. The test starts its own PostgreSQL (Debian's postgresql package, which
scripts/test installs when missing) in a temp dir on a loopback port, and stops it."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from botocore.config import Config

from conftest import ElmrServer, free_port, race_to_create, read_while_overwriting, wait_for

INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def _as_postgres(command: list, **kwargs) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root; run it as the package's postgres user."""
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                          capture_output=True, text=True, **kwargs)


@pytest.fixture
def postgresql_url():
    if not INITDB or os.geteuid() != 0:
        pytest.skip("needs Debian's postgresql package and root to run it as the postgres "
                    "user; scripts/test installs it on Debian-like machines")
    bin_dir = os.path.dirname(INITDB[-1])
    # Outside pytest's tmp dirs, whose root-only parents the postgres user can't enter.
    data_dir = Path(tempfile.mkdtemp(prefix="elmr-pg-"))
    postgres_user = pwd.getpwnam("postgres")
    os.chown(data_dir, postgres_user.pw_uid, postgres_user.pw_gid)
    _as_postgres([f"{bin_dir}/initdb", "-D", str(data_dir), "-A", "trust", "-U", "elmr"])
    port = free_port()
    server = subprocess.Popen(
        ["runuser", "-u", "postgres", "--", f"{bin_dir}/postgres", "-D", str(data_dir),
         "-h", "127.0.0.1", "-p", str(port), "-k", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_for(lambda: subprocess.run(
            [f"{bin_dir}/pg_isready", "-h", "127.0.0.1", "-p", str(port)],
            capture_output=True).returncode == 0, 30, 0.2, "PostgreSQL to accept connections")
        _as_postgres([f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "elmr", "elmr"])
        yield f"postgresql+psycopg://elmr@127.0.0.1:{port}/elmr"
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_server_runs_on_postgresql_and_keeps_state_across_restarts(tmp_path, postgresql_url):
    server = ElmrServer(tmp_path / "data", free_port(),
                        extra_args=("--database-url", postgresql_url, "--max-local-nodes", "0"))
    server.data_dir.mkdir()
    server.start()
    try:
        emr = server.client()
        cluster_id = emr.run_job_flow(Name="on-postgres", Tags=[{"Key": "db", "Value": "pg"}], Instances={
            "MasterInstanceType": "m5.xlarge", "InstanceCount": 2})["JobFlowId"]
        wait_for(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                 == "TERMINATED_WITH_ERRORS", 15, what="the no-room cluster to fail")
        server.kill()
        server.start()  # migrations already at head: a no-op on the second start
        cluster = server.client().describe_cluster(ClusterId=cluster_id)["Cluster"]
        assert cluster["Tags"] == [{"Key": "db", "Value": "pg"}]
        assert cluster["Status"]["StateChangeReason"]["Code"] == "VALIDATION_ERROR"
        assert not (server.data_dir / "elmr.db").exists(), "nothing went to SQLite"
    finally:
        server.stop_everything()


def test_concurrent_writers_and_readers_of_a_key_on_postgresql(tmp_path, postgresql_url):
    """PostgreSQL lets writers run side by side (SQLite takes one at a time): writers
    of one key must still see each other, or two creators could both succeed; and a
    reader must get one whole object while writers replace it."""
    server = ElmrServer(tmp_path / "data", free_port(),
                        extra_args=("--database-url", postgresql_url, "--max-local-nodes", "0"))
    server.data_dir.mkdir()
    server.start()
    try:
        s3 = server.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                               max_pool_connections=16))
        s3.create_bucket(Bucket="race")
        for attempt in range(5):
            outcomes, stored = race_to_create(s3, "race", f"created-once-{attempt}")
            winners = [outcome for outcome in outcomes if outcome != "PreconditionFailed"]
            assert len(winners) == 1 and stored.decode() == winners[0], outcomes
        # Readers of a key being overwritten each get one whole object.
        assert read_while_overwriting(s3, "race", "hot") == []
    finally:
        server.stop_everything()
