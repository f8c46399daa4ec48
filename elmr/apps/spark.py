"""Spark, as the PySpark package installs it: where it lives, the environment and
command lines of the standalone master and worker daemons, spark-defaults.conf, and
what a daemon's web UI says about it. Pure helpers; the agent decides when to call
them. Imports nothing heavy (the agent's start-up time is part of a cluster's)."""

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
HISTORY_SERVER_CLASS = "org.apache.spark.deploy.history.HistoryServer"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# The daemons only coordinate: a small heap is enough, and C1-only JIT starts a
# JVM faster on small hosts (measured: see docs/benchmarks.md).
DAEMON_MEMORY = "512m"
DAEMON_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def spark_home() -> Path:
    """The pyspark package directory: it carries bin/spark-class and jars/. Found
    next to this interpreter's site-packages without importing pyspark (slow)."""
    for entry in sys.path:
        candidate = Path(entry) / "pyspark"
        if (candidate / "bin" / "spark-class").exists():
            return candidate
    raise RuntimeError("PySpark is not installed in this Python environment")


def daemon_env(node_dir: Path, address: str, base_env: dict | None = None) -> dict:
    """Everything a daemon writes stays under the node's directory, and it binds
    to the node's address only (its web UI would otherwise listen on 0.0.0.0)."""
    node_dir = Path(node_dir)
    env = dict(os.environ if base_env is None else base_env)
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_CONF_DIR=str(node_dir / "spark" / "conf"),
        SPARK_LOG_DIR=str(node_dir / "logs"),
        SPARK_WORKER_DIR=str(node_dir / "spark" / "work"),
        SPARK_LOCAL_DIRS=str(node_dir / "spark" / "local"),
        SPARK_PID_DIR=str(node_dir / "spark"),
        SPARK_LOCAL_IP=address,
        SPARK_LOCAL_HOSTNAME=address,
        SPARK_PUBLIC_DNS=address,
        SPARK_MASTER_HOST=address,
        SPARK_DAEMON_MEMORY=DAEMON_MEMORY,
        SPARK_DAEMON_JAVA_OPTS=DAEMON_JAVA_OPTS,
        PYSPARK_PYTHON=sys.executable,
    )
    return env


def master_command(address: str, port: int, ui_port: int) -> list[str]:
    return [str(spark_home() / "bin" / "spark-class"), MASTER_CLASS,
            "--host", address, "--port", str(port), "--webui-port", str(ui_port)]


def worker_command(address: str, port: int, ui_port: int, cores: int, memory_mib: int,
                   master_url: str) -> list[str]:
    return [str(spark_home() / "bin" / "spark-class"), WORKER_CLASS,
            "--host", address, "--port", str(port), "--webui-port", str(ui_port),
            "--cores", str(cores), "--memory", f"{memory_mib}m", master_url]


def history_server_command() -> list[str]:
    return [str(spark_home() / "bin" / "spark-class"), HISTORY_SERVER_CLASS]


def render_spark_defaults(properties: dict) -> str:
    return "".join(f"{key} {value}\n" for key, value in sorted(properties.items()))


def write_conf_dir(node_dir: Path, properties: dict) -> Path:
    conf_dir = Path(node_dir) / "spark" / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("work", "local"):
        (Path(node_dir) / "spark" / sub).mkdir(parents=True, exist_ok=True)
    (conf_dir / "spark-defaults.conf").write_text(render_spark_defaults(properties))
    return conf_dir


def ui_status(ui_url: str, timeout_s: float = 1.0) -> dict | None:
    """A daemon's /json/ page, or None while it does not answer."""
    try:
        with urllib.request.urlopen(ui_url.rstrip("/") + "/json/", timeout=timeout_s) as answer:
            return json.load(answer)
    except (OSError, ValueError, urllib.error.URLError):
        return None


def alive_workers(master_status: dict) -> int:
    return sum(1 for worker in master_status.get("workers", []) if worker.get("state") == "ALIVE")
