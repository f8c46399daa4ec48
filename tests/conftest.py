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
from contextlib import contextmanager
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from elmr.launcher import ServerProcess, free_port, poll_until
from elmr.providers.local import process_group_alive

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

    def node_process_groups(self) -> list[int]:
        """Every node process group the store knows of (for cleanup and assertions)."""
        database = self.data_dir / "elmr.db"
        if not database.exists():
            return []
        with sqlite3.connect(database) as connection:
            rows = connection.execute("SELECT provider_state FROM instances").fetchall()
        return [json.loads(row[0])["pgid"] for row in rows if "pgid" in json.loads(row[0])]

    def stop_everything(self) -> None:
        """Terminate live clusters through the API, stop the server, then kill any
        node process group that is still there (a failed test must not leak)."""
        if self.process and self.process.poll() is None:
            try:
                emr = self.client()
                live = emr.list_clusters(ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"])
                ids = [c["Id"] for c in live["Clusters"]]
                if ids:
                    emr.set_termination_protection(JobFlowIds=ids, TerminationProtected=False)
                    emr.terminate_job_flows(JobFlowIds=ids)
                    wait_for(lambda: not any(alive_group(g) for g in self.node_process_groups()),
                             40, 0.2, "the nodes to stop")
            except Exception:
                pass
            self.stop()
        for pgid in self.node_process_groups():
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@contextmanager
def running_cluster(emr, waiter: dict, **request):
    """A cluster made by RunJobFlow, WAITING, terminated (and waited for) afterwards."""
    cluster_id = emr.run_job_flow(**request)["JobFlowId"]
    try:
        emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig=waiter)
        yield cluster_id
    finally:
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
        emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=waiter)


def alive_group(pgid: int) -> bool:
    return process_group_alive(pgid)


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
