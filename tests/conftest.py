"""Fixtures that start the real elmr server as a subprocess on a loopback port and
hand out real boto3 clients and AWS CLI runs against it. Every process a test
starts is stopped by the fixture that started it, by PID."""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from elmr.launcher import ServerProcess, free_port, poll_until
from elmr.providers.local import node_alive, node_members

REPO_ROOT = Path(__file__).resolve().parent.parent


def wait_for(condition, timeout_s: float, interval_s: float = 0.1, what: str = "condition"):
    """Poll `condition` until it returns something truthy or the deadline passes."""
    try:
        return poll_until(condition, timeout_s, interval_s, what)
    except TimeoutError as error:
        raise AssertionError(str(error)) from None


class ElmrServer(ServerProcess):
    """The real server for tests: `start()` may be called again after `kill()` on the
    same data dir, which is how the restart tests work."""

    def aws(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run the real AWS CLI (v1, from the venv) against this server."""
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
        aws_cli = Path(sys.executable).parent / "aws"
        result = subprocess.run(
            [str(aws_cli), *args, "--endpoint-url", self.url, "--output", "json"],
            env=env, capture_output=True, text=True, timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {result.stderr}")
        return result

    def node_checkpoints(self) -> list[dict]:
        """Every started node's provider checkpoint the store knows of (pgid, node_dir)."""
        database = self.data_dir / "elmr.db"
        if not database.exists():
            return []
        with sqlite3.connect(database) as connection:
            rows = connection.execute("SELECT provider_state FROM instances").fetchall()
        return [state for state in (json.loads(row[0]) for row in rows) if "pgid" in state]

    def stop_everything(self) -> None:
        """Terminate live clusters through the API, stop the server, then kill any
        node process still there, YARN containers included (a failed test must not leak)."""
        if self.process and self.process.poll() is None:
            try:
                emr = self.client()
                live = emr.list_clusters(ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"])
                ids = [c["Id"] for c in live["Clusters"]]
                if ids:
                    emr.set_termination_protection(JobFlowIds=ids, TerminationProtected=False)
                    emr.terminate_job_flows(JobFlowIds=ids)
                    wait_for(lambda: not any(node_alive(c["pgid"], c.get("node_dir"))
                                             for c in self.node_checkpoints()), 40, 0.2, "the nodes to stop")
            except Exception:
                pass
            self.stop()
        for checkpoint in self.node_checkpoints():
            for pid in node_members(checkpoint["pgid"], checkpoint.get("node_dir")):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@contextmanager
def cluster_running(emr, waiter: dict, **request):
    """A cluster run from `request` and waited for until it runs; terminated (and
    waited for) when the block ends."""
    cluster_id = emr.run_job_flow(**request)["JobFlowId"]
    try:
        emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig=waiter)
        yield cluster_id
    finally:
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
        emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=waiter)


def alive_group(pgid: int) -> bool:
    return node_alive(pgid)


def race_to_create(s3, bucket: str, key: str, writers: int = 8) -> tuple[list[str], bytes]:
    """`writers` threads PUT the same new key at once, each its own body, each with
    If-None-Match `*`. Returns each one's outcome (its body if it succeeded, else
    its error code) and the bytes stored under the key at the end."""
    start = threading.Barrier(writers)

    def create(n: int) -> str:
        body = f"writer {n} ".encode() * 100_000
        start.wait(30)
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
            return body.decode()
        except ClientError as refused:
            return refused.response["Error"]["Code"]

    with ThreadPoolExecutor(writers) as pool:
        outcomes = list(pool.map(create, range(writers)))
    return outcomes, s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def read_while_overwriting(s3, bucket: str, key: str, reads: int = 1200) -> list[str]:
    """Two writers replace the object at `key` again and again (bodies of three sizes)
    while four readers GET it `reads` times in all. Returns the answers whose bytes are
    not the object their ETag and Content-Length name."""
    bodies = [b"a" * 1024 * 1024, b"b" * 2 * 1024 * 1024, b"c" * 512 * 1024]
    s3.put_object(Bucket=bucket, Key=key, Body=bodies[0])
    reading = threading.Event()
    reading.set()

    def overwrite(first: int) -> None:
        n = first
        while reading.is_set():
            s3.put_object(Bucket=bucket, Key=key, Body=bodies[n % len(bodies)])
            n += 1

    def read(times: int) -> list[str]:
        wrong = []
        for _ in range(times):
            answer = s3.get_object(Bucket=bucket, Key=key)
            data = answer["Body"].read()
            if hashlib.md5(data).hexdigest() != answer["ETag"].strip('"') or len(data) != answer["ContentLength"]:
                wrong.append(f"{answer['ETag']} {answer['ContentLength']}: {len(data)} bytes of {data[:1]!r}")
        return wrong

    with ThreadPoolExecutor(6) as pool:
        writers = [pool.submit(overwrite, first) for first in (0, 1)]
        readers = [pool.submit(read, reads // 4) for _ in range(4)]
        try:
            return [mismatch for reader in readers for mismatch in reader.result()]
        finally:
            reading.clear()
            for writer in writers:
                writer.result()


def signed_headers(server, method: str, url: str, headers: dict, body: bytes = b"",
                   content_sha256: str | None = None) -> dict:
    """SigV4 headers for a request sent by hand, signed by botocore itself (over plain
    HTTP botocore signs the body's SHA-256 into X-Amz-Content-SHA256; `content_sha256`
    signs that value instead: UNSIGNED-PAYLOAD, STREAMING-…)."""
    credentials = Credentials(server.access_key_id, server.secret_access_key)
    if content_sha256 is None:
        request = AWSRequest(method=method, url=url, headers=headers, data=body)
        S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    else:  # botocore's plain signer takes the header as it is (its S3 one replaces it)
        request = AWSRequest(method=method, url=url, headers={**headers, "X-Amz-Content-SHA256": content_sha256})
        SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def s3_client(server, **overrides):
    config = Config(s3={"addressing_style": overrides.pop("addressing", "path")},
                    retries={"max_attempts": 1})
    return server.client("s3", config=config, **overrides)


@pytest.fixture
def s3(server):
    return s3_client(server)


@pytest.fixture
def bucket(s3, request):
    name = "b-" + hashlib.sha1(request.node.name.encode()).hexdigest()[:12]
    s3.create_bucket(Bucket=name)
    return name


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server for the whole session (tests that need their own use `fresh_server`)."""
    running = ElmrServer(tmp_path_factory.mktemp("elmr-data"), free_port())
    running.start()
    yield running
    running.stop_everything()


@pytest.fixture
def fresh_server(tmp_path):
    running = ElmrServer(tmp_path / "data", free_port())
    running.data_dir.mkdir()
    running.start()
    yield running
    running.stop_everything()


@pytest.fixture
def emr(server):
    return server.client()


SHARED_CLUSTER = "shared_cluster"
END_SHARED_CLUSTER = pytest.StashKey()  # terminates the shared cluster, once started
LAST_ON_SHARED_CLUSTER = pytest.StashKey()  # the last test item that uses it
# What the shared cluster's bootstrap actions leave on each node, for the tests that
# read it back: a marker with the action's argument (test_steps), and what a bootstrap
# script finds there, EMR's commands and paths and no root key (test_hadoop).
MARK_NODE = '#!/bin/sh\necho "$1 on $ELMR_INSTANCE_ID" > "$ELMR_NODE_DIR/bootstrap-marker"\n'
PROBE_NODE = ("#!/bin/sh\n"
              'out="$ELMR_NODE_DIR/bootstrap-probe"\n'
              "for p in spark-submit spark-sql pyspark aws hadoop hdfs yarn mapred hive s3-dist-cp; do\n"
              '  command -v "$p" >/dev/null && echo "found $p" >> "$out"; done\n'
              "grep -q '\"isMaster\": true' /mnt/var/lib/info/instance.json && echo master >> \"$out\"\n"
              'env | grep -c "^ELMR_SECRET_ACCESS_KEY=" >> "$out"\n'
              "true\n")


@pytest.fixture(scope="session")
def shared_cluster(server, tmp_path_factory, pytestconfig):
    """One general-purpose cluster (1 master + 2 core m5.xlarge, emr-7.2.0, Hadoop and
    Spark, kept WAITING) for the modules whose tests only submit steps and read their
    results: a real cluster's start and stop take 30 s and more on a loaded 2-core machine.
    Its bootstrap actions and its one spark-defaults property only record things; a
    test that changes a cluster (resizes it, ends it, needs its own configuration or
    bootstrap, or fails a step with TERMINATE_CLUSTER) starts its own. Tests on it
    find their own steps by id and write under their own prefixes; whatever they
    change (StepConcurrencyLevel) they put back. Ended after the last test that uses it
    (see pytest_runtest_teardown), not at the end of the session."""
    scripts = tmp_path_factory.mktemp("shared-cluster")
    (scripts / "mark-node.sh").write_text(MARK_NODE)
    (scripts / "probe-node.sh").write_text(PROBE_NODE)
    with ExitStack() as running:
        pytestconfig.stash[END_SHARED_CLUSTER] = running.close
        yield running.enter_context(cluster_running(
            server.client(), {"Delay": 1, "MaxAttempts": 300},
            Name="shared", ReleaseLabel="emr-7.2.0", Applications=[{"Name": "Hadoop"}, {"Name": "Spark"}],
            BootstrapActions=[
                {"Name": "mark", "ScriptBootstrapAction": {"Path": str(scripts / "mark-node.sh"),
                                                           "Args": ["bootstrapped"]}},
                {"Name": "probe", "ScriptBootstrapAction": {"Path": str(scripts / "probe-node.sh")}}],
            Configurations=[{"Classification": "spark-defaults",
                             "Properties": {"spark.elmr.test.marker": "from-classification"}}],
            Instances={"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
                       "InstanceCount": 3, "KeepJobFlowAliveWhenNoSteps": True}))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """The modules on the shared cluster run one after another, from where the first of
    them stands, each in its usual order, and the last test that uses the cluster is
    remembered: it must not idle (JVMs, heartbeats) beside the other modules' clusters."""
    users = [item for item in items if SHARED_CLUSTER in getattr(item, "fixturenames", ())]
    if not users:
        return
    modules_on_it = {item.path for item in users}
    first = items.index(users[0])
    in_those_modules = [item for item in items if item.path in modules_on_it]
    items[:] = items[:first] + in_those_modules + [item for item in items[first:] if item.path not in modules_on_it]
    config.stash[LAST_ON_SHARED_CLUSTER] = users[-1]


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """Ends the shared cluster as soon as no test to come needs it."""
    if item is item.config.stash.get(LAST_ON_SHARED_CLUSTER, None):
        end = item.config.stash.get(END_SHARED_CLUSTER, None)
        if end:
            end()


@pytest.fixture
def market_store(tmp_path):
    """A real store (SQLite, migrated) whose spot market starts at market_rows.T0 with
    market_rows.SETTINGS: what the market and billing tests write their rows into."""
    from elmr.market.settings import start_epoch
    from elmr.store.db import Store, sqlite_url
    from market_rows import SETTINGS, T0

    opened = Store.open(sqlite_url(tmp_path))
    with opened.transaction() as session:
        start_epoch(session, SETTINGS, T0)
    yield opened
    opened.close()
