"""Starting an `elmr server` as a child process and reaching it with boto3: what the
demo, the benchmarks and the tests share. The child runs in its own process group
and is stopped by its PID: SIGTERM, then SIGKILL after a deadline."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def poll_until(condition, timeout_s: float, interval_s: float = 0.1, what: str = "condition"):
    """Call `condition` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


class ServerProcess:
    """One `elmr server` child process on a loopback port, with its own credentials."""

    def __init__(self, data_dir: Path, port: int | None = None, extra_args: tuple = ()):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_key_id = "AKIA" + secrets.token_hex(8).upper()
        self.secret_access_key = secrets.token_urlsafe(30)
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None

    def env(self) -> dict:
        return {**os.environ, "ELMR_ACCESS_KEY_ID": self.access_key_id,
                "ELMR_SECRET_ACCESS_KEY": self.secret_access_key}

    def start(self, timeout_s: float = 30) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "server-stdout.log", "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "elmr.cli", "server", "--data-dir", str(self.data_dir),
                 "--host", "127.0.0.1", "--port", str(self.port), *self.extra_args],
                env=self.env(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )
        poll_until(lambda: port_answers(self.port) or self.process.poll() is not None,
                   timeout_s, what="the elmr server's port")
        if self.process.poll() is not None:
            raise RuntimeError(f"elmr server exited at start:\n{self.tail_log()}")

    def kill(self, sig: int = signal.SIGKILL, timeout_s: float = 30) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout_s)

    def stop(self, timeout_s: float = 15) -> None:
        """SIGTERM, then SIGKILL if the server has not exited by the deadline."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)

    def tail_log(self, lines: int = 40) -> str:
        text = ""
        for name in ("server-stdout.log", "logs/server.log"):
            path = self.data_dir / name
            if path.exists():
                text += f"--- {name}\n" + "\n".join(path.read_text().splitlines()[-lines:]) + "\n"
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
