"""Child processes of the agent (Hadoop's and Spark's daemons): started in the agent's
own process group, so the provider's killpg reaches them too; watched (alive, and
serving once their ready URL answers); stopped politely, then killed after a grace
period."""

import logging
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from elmr.apps.webhdfs import answers

log = logging.getLogger("elmr.agent.daemons")


@dataclass
class Daemon:
    name: str  # namenode, datanode, resourcemanager…
    command: list
    env: dict
    log_path: Path
    ready_url: str  # answers once the daemon serves (http://…, or tcp://host:port for a Thrift port)
    process: subprocess.Popen | None = field(default=None, repr=False)
    served: bool = False

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT,
            )
        log.info("started %s as pid %s: %s", self.name, self.process.pid, " ".join(self.command))

    def run_to_completion(self, command: list) -> None:
        """A preparation the daemon needs first (formatting its storage); it must succeed."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as output:
            code = subprocess.run(command, env=self.env, stdin=subprocess.DEVNULL, stdout=output,
                                  stderr=subprocess.STDOUT).returncode
        if code != 0:
            raise RuntimeError(f"preparing {self.name} failed with exit code {code}: {self.log_tail()}")

    def serves(self) -> bool:
        if not self.served and self.process is not None and self.exit_code() is None:
            self.served = _serving(self.ready_url)
        return self.served

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def status(self) -> dict:
        code = self.exit_code()
        return {"name": self.name, "pid": self.process.pid if self.process else None,
                "alive": self.process is not None and code is None,
                "ui_url": "/".join(self.ready_url.split("/", 3)[:3]), "exit_code": code}

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _serving(ready_url: str) -> bool:
    """An HTTP URL answers, or a tcp://host:port accepts a connection."""
    if not ready_url.startswith("tcp://"):
        return answers(ready_url)
    host, port = ready_url.removeprefix("tcp://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


def stop_all(daemons: list[Daemon], grace_s: float = 10.0) -> None:
    """SIGTERM every live daemon, then SIGKILL whichever outlives the grace period."""
    running = [d for d in daemons if d.exit_code() is None and d.process is not None]
    for daemon in running:
        daemon.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for daemon in running:
        try:
            daemon.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s ignored SIGTERM for %.0f s; killing it", daemon.name, grace_s)
            daemon.process.kill()
            daemon.process.wait()
