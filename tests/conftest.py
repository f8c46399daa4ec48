"""Fixtures that start the real elmr server as a subprocess on a loopback port and
hand out real boto3 clients and AWS CLI runs against it. Every process a test
starts is stopped by the fixture that started it, by PID."""

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from elmr.providers.local import process_group_alive

REPO_ROOT = Path(__file__).resolve().parent.parent


def wait_for(condition, timeout_s: float, interval_s: float = 0.1, what: str = "condition"):
    """Poll `condition` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class ElmrServer:
    """One `elmr server` subprocess; `start()` may be called again after `kill()`
    on the same data dir, which is how the restart tests work."""

    def __init__(self, data_dir: Path, port: int, extra_args: tuple = ()):
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.access_key_id = "AKIA" + secrets.token_hex(8).upper()
        self.secret_access_key = secrets.token_urlsafe(30)
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None

    def env(self) -> dict:
        return {
            **os.environ,
            "ELMR_ACCESS_KEY_ID": self.access_key_id,
            "ELMR_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def start(self) -> None:
        log = open(self.data_dir / "server-stdout.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "elmr.cli", "server", "--data-dir", str(self.data_dir),
             "--host", "127.0.0.1", "--port", str(self.port), *self.extra_args],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for(lambda: _port_answers(self.port) or self.process.poll() is not None,
                 30, what="the server's port")
        assert self.process.poll() is None, self.tail_log()

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(30)

    def tail_log(self, lines: int = 40) -> str:
        text = ""
        for name in ("server-stdout.log", "logs/server.log"):
            path = self.data_dir / name
            if path.exists():
                text += f"--- {name}\n" + "\n".join(path.read_text().splitlines()[-lines:])
        return text

    def client(self, service: str = "emr", **overrides):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=overrides.pop("access_key_id", self.access_key_id),
            aws_secret_access_key=overrides.pop("secret_access_key", self.secret_access_key),
            config=overrides.pop("config", Config(retries={"max_attempts": 1}, read_timeout=60)),
            **overrides,
        )

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
            self.kill(signal.SIGTERM)
        for pgid in self.node_process_groups():
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def alive_group(pgid: int) -> bool:
    return process_group_alive(pgid)


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
