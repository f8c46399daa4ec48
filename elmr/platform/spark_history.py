"""The server's own Spark history server: EMR's persistent application UI. A
cluster's Spark event logs are kept by the server (DATA_DIR/spark-history/events,
as the master's agent ships them), so its applications stay browsable after the
cluster and its master's own history server are gone.

One history server for the whole server, over every cluster's event logs (a log is
kept as `<cluster-id>_<its name>`; Spark reads the application's id from inside it).
Started on first need (a persistent app UI's URL asked for), stopped with the server
by its PID; a history server a killed elmr server left behind is stopped by the next
one on the same data dir, also by the PID it recorded."""

import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from elmr.apps import spark

log = logging.getLogger("elmr.platform.spark_history")
STOP_GRACE_S = 10.0
STATE_FILE = "server.json"


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _process_is(pid: int, marker: str) -> bool:
    """Whether `pid` is still the history server this data dir started (a recycled
    PID belongs to someone else)."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


class SparkHistoryService:
    def __init__(self, data_dir: Path, host: str = "127.0.0.1"):
        self.root = Path(data_dir) / "spark-history"
        self.events_dir = self.root / "events"
        self.host = host
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._url: str | None = None

    def start_fresh(self) -> None:
        """At server start: make the directories, stop what a previous server left."""
        self.events_dir.mkdir(parents=True, exist_ok=True)
        state = self._read_state()
        if state and _process_is(state["pid"], str(self.events_dir)):
            log.info("stopping the Spark history server (pid %s) a previous server left", state["pid"])
            self._stop_pid(state["pid"])
        (self.root / STATE_FILE).unlink(missing_ok=True)

    def keep_event_log(self, cluster_id: str, name: str, data: bytes) -> None:
        """Keep (or replace) one of a cluster's event logs: a single-file log (`app-…`)
        or a file of a rolling one (`eventlog_v2_app-…/events_1_app-….zstd`, whose
        directory keeps its prefix: that is how the history server knows it). A
        finished log, or a finished rolling log's status file, replaces its
        in-progress copy."""
        parts = name.split("/")
        if len(parts) > 2 or any(not part or part.startswith(".") for part in parts):
            raise ValueError(f"not an event log name: {name!r}")
        if len(parts) == 2:
            log_dir = self.events_dir / f"eventlog_v2_{cluster_id}_{parts[0].removeprefix('eventlog_v2_')}"
            target = log_dir / parts[1]
        else:
            target = self.events_dir / f"{cluster_id}_{name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.incoming")
        staging.write_bytes(data)
        staging.replace(target)
        if not target.name.endswith(".inprogress"):
            target.with_name(f"{target.name}.inprogress").unlink(missing_ok=True)

    def has_event_logs(self, cluster_id: str) -> bool:
        return any(self.events_dir.glob(f"{cluster_id}_*")) or any(
            self.events_dir.glob(f"eventlog_v2_{cluster_id}_*"))

    def url(self) -> str | None:
        """The history server's URL if it is running and answers, else None."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                return None
            url = self._url
        return url if _answers(url) else None

    def ensure_started(self) -> str:
        """Start the history server if it does not run; its URL (which may take a few
        seconds to answer: see `url`)."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return self._url
            port = _free_port(self.host)
            self._url = f"http://{self.host}:{port}"
            self._process = self._start(port)
            (self.root / STATE_FILE).write_text(json.dumps({"pid": self._process.pid, "url": self._url}))
            log.info("Spark history server started as pid %s on %s", self._process.pid, self._url)
            return self._url

    def _start(self, port: int) -> subprocess.Popen:
        env = {**os.environ, "SPARK_HOME": str(spark.spark_home()), "SPARK_CONF_DIR": str(self.root / "conf"),
               "SPARK_LOG_DIR": str(self.root / "logs"), "SPARK_PID_DIR": str(self.root),
               "SPARK_LOCAL_IP": self.host, "SPARK_PUBLIC_DNS": self.host, "SPARK_DAEMON_MEMORY": "256m",
               "SPARK_DAEMON_JAVA_OPTS": spark.HISTORY_SERVER_OPTS}
        (self.root / "conf").mkdir(parents=True, exist_ok=True)
        env["SPARK_HISTORY_OPTS"] = (f"-Dspark.history.ui.port={port} "
                                     f"-Dspark.history.fs.logDirectory=file://{self.events_dir} "
                                     "-Dspark.history.fs.update.interval=2s")
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        with open(self.root / "logs" / "spark-history-server.out", "ab") as output:
            command = [str(spark.spark_home() / "bin" / "spark-class"), spark.HISTORY_SERVER_CLASS]
            return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                    stdout=output, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.poll() is None:
            self._stop_pid(process.pid)
            process.wait(5)
        (self.root / STATE_FILE).unlink(missing_ok=True)

    def _stop_pid(self, pid: int) -> None:
        """SIGTERM its process group, SIGKILL after the grace period."""
        for signum, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, signum)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                    return
                time.sleep(0.1)

    def _read_state(self) -> dict | None:
        try:
            return json.loads((self.root / STATE_FILE).read_text())
        except (OSError, ValueError):
            return None


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return True


def _answers(url: str | None) -> bool:
    if url is None:
        return False
    try:
        with urllib.request.urlopen(url + "/api/v1/version", timeout=2):
            return True
    except (OSError, urllib.error.URLError):
        return False
