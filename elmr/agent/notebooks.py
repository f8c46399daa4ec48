"""Running notebook executions on the master node, as EMR runs them: the notebook
fetched from s3://, executed with papermill (its parameters injected into the cell
tagged `parameters`) on a local Python kernel whose Spark is the cluster's (`spark`
is predefined, as in EMR's PySpark kernel, created on first use), then the executed
notebook (and its HTML, when asked) sent to the server for the output location.

Each execution has its own directory (NODE_DIR/notebooks/<execution-id>/) and process
group; the directory is the record that it was started, so a repeated order or an
agent restart never runs it twice."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from elmr import node_protocol
from elmr.agent.failure_reason import failure_line
from elmr.agent.object_fetch import FetchFailed

log = logging.getLogger("elmr.agent.notebooks")
STOP_GRACE_S = 10.0
UPLOAD_TIMEOUT_S = 60.0
# Run in the kernel before the notebook: `spark` and `sc` as EMR's PySpark kernel has
# them, made on first use (a notebook that never touches Spark starts no driver).
SPARK_STARTUP = '''
class _SparkOnFirstUse:
    def __init__(self, make):
        self._make = make

    def __getattr__(self, name):
        value = self._make()
        return getattr(value, name)


def _spark_session():
    from pyspark.sql import SparkSession
    session = SparkSession.builder.getOrCreate()
    globals()["spark"], globals()["sc"] = session, session.sparkContext
    return session


spark = _SparkOnFirstUse(_spark_session)
sc = _SparkOnFirstUse(lambda: _spark_session().sparkContext)
'''


@dataclass
class Execution:
    execution_id: str
    directory: Path
    order: dict
    report: node_protocol.NotebookReport
    process: subprocess.Popen | None = None
    phase: str = "papermill"  # then "html" (nbconvert) when the HTML is asked for
    stop_sent_at: float | None = None

    @property
    def output(self) -> Path:
        return self.directory / "output" / self.notebook_name

    @property
    def notebook_name(self) -> str:
        return urllib.parse.urlparse(self.order["notebook_uri"]).path.rsplit("/", 1)[-1]


class NotebookRunner:
    def __init__(self, spec: node_protocol.NodeSpec, node_dir: Path, env: dict,
                 fetch: Callable[[str, Path], Path]):
        self.spec = spec
        self.root = node_dir / "notebooks"
        self.env = env
        self.fetch = fetch
        self.executions: dict[str, Execution] = {}

    def run(self, orders: list[dict]) -> None:
        for order in orders:
            if order["execution_id"] not in self.executions:
                self.executions[order["execution_id"]] = self._start(order)

    def _start(self, order: dict) -> Execution:
        execution_id = order["execution_id"]
        directory = self.root / execution_id
        running = node_protocol.NotebookReport(execution_id, node_protocol.NOTEBOOK_RUNNING)
        execution = Execution(execution_id, directory, order, running)
        if (directory / "result.json").exists():  # ended before this agent restarted
            execution.report = node_protocol.NotebookReport(**json.loads((directory / "result.json").read_text()))
            return execution
        if directory.exists():
            self._finish(execution, node_protocol.NOTEBOOK_FAILED,
                         "The master node's agent restarted while the notebook ran.")
            return execution
        for sub in ("input", "output", "work", "tmp", "ipython/profile_default/startup"):
            (directory / sub).mkdir(parents=True)
        (directory / "ipython/profile_default/startup/00-spark.py").write_text(SPARK_STARTUP)
        try:
            notebook = self.fetch(order["notebook_uri"], directory / "input")
        except FetchFailed as failure:
            self._finish(execution, node_protocol.NOTEBOOK_FAILED, str(failure))
            return execution
        self._spawn(execution, [
            sys.executable, "-m", "papermill", str(notebook), str(execution.output),
            "--kernel", "python3", "--cwd", str(directory / "work"),
            "--parameters_yaml", json.dumps(order.get("parameters") or {}),  # JSON is YAML
        ])
        log.info("notebook execution %s started", execution_id)
        return execution

    def _spawn(self, execution: Execution, argv: list[str]) -> None:
        env = {**self.env, **{str(k): str(v) for k, v in (execution.order.get("environment") or {}).items()},
               "TMPDIR": str(execution.directory / "tmp"),
               "IPYTHONDIR": str(execution.directory / "ipython")}
        with open(execution.directory / "stdout", "ab") as out, open(execution.directory / "stderr", "ab") as err:
            execution.process = subprocess.Popen(argv, cwd=execution.directory / "work", env=env,
                                                 stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                                 process_group=0)

    def stop(self, execution_ids: list[str]) -> None:
        for execution_id in execution_ids:
            execution = self.executions.get(execution_id)
            if execution is None or execution.report.state != node_protocol.NOTEBOOK_RUNNING:
                continue
            if execution.stop_sent_at is None:
                execution.stop_sent_at = time.monotonic()
                if execution.process is not None:
                    self._signal(execution, signal.SIGTERM)

    def _signal(self, execution: Execution, signum: int) -> None:
        try:
            os.killpg(execution.process.pid, signum)
        except ProcessLookupError:
            pass

    def poll(self) -> bool:
        """Notice runs that ended; True if one did (worth a heartbeat at once)."""
        ended = False
        for execution in self.executions.values():
            if execution.report.state != node_protocol.NOTEBOOK_RUNNING or execution.process is None:
                continue
            code = execution.process.poll()
            if code is None:
                if execution.stop_sent_at and time.monotonic() - execution.stop_sent_at > STOP_GRACE_S:
                    self._signal(execution, signal.SIGKILL)
                continue
            self._signal(execution, signal.SIGKILL)  # the kernel and whatever it left
            if execution.stop_sent_at is None and code == 0 and execution.phase == "papermill" \
                    and execution.order.get("html"):
                execution.phase = "html"
                self._spawn(execution, [sys.executable, "-m", "nbconvert", "--to", "html",
                                        "--output-dir", str(execution.output.parent), str(execution.output)])
                continue
            ended = True
            self._ended(execution, code)
        return ended

    def _ended(self, execution: Execution, code: int) -> None:
        uploaded = self._upload_outputs(execution)
        if execution.stop_sent_at is not None:
            self._finish(execution, node_protocol.NOTEBOOK_STOPPED, "Stopped by user request")
        elif code != 0:
            stderr = (execution.directory / "stderr").read_text(errors="replace")
            self._finish(execution, node_protocol.NOTEBOOK_FAILED,
                         failure_line("", stderr) or f"papermill exited with code {code}")
        elif uploaded:
            self._finish(execution, node_protocol.NOTEBOOK_FINISHED, "Execution is finished")
        else:
            self._finish(execution, node_protocol.NOTEBOOK_FAILED, "The executed notebook could not be saved.")

    def _upload_outputs(self, execution: Execution) -> bool:
        """Send the executed notebook (and its HTML) as it is, even after a failure:
        the failed cell's error is in it."""
        files = [execution.output, execution.output.with_suffix(".html")]
        sent = [self._upload(execution, path) for path in files if path.exists()]
        return bool(sent) and all(sent)

    def _upload(self, execution: Execution, path: Path) -> bool:
        query = urllib.parse.urlencode({
            "instance_id": self.spec.instance_id, "token": self.spec.agent_token,
            "path": f"{node_protocol.NOTEBOOK_OUTPUT_PREFIX}{execution.execution_id}/{path.name}"})
        request = urllib.request.Request(
            f"{self.spec.server_url.rstrip('/')}{node_protocol.LOGS_PATH}?{query}",
            data=path.read_bytes(), method="POST", headers={"Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT_S):
                return True
        except (OSError, urllib.error.URLError) as error:
            log.warning("could not send %s of %s: %s", path.name, execution.execution_id, error)
            return False

    def _finish(self, execution: Execution, state: str, message: str) -> None:
        execution.report = node_protocol.NotebookReport(execution.execution_id, state, message[:10000])
        execution.directory.mkdir(parents=True, exist_ok=True)
        (execution.directory / "result.json").write_text(json.dumps(asdict(execution.report)))
        log.info("notebook execution %s %s", execution.execution_id, state)

    def reports(self, still_listed: set[str]) -> list[dict]:
        """Reports for the runs the server still lists; forget ended ones it no longer does."""
        for execution_id in list(self.executions):
            if execution_id not in still_listed and \
                    self.executions[execution_id].report.state != node_protocol.NOTEBOOK_RUNNING:
                del self.executions[execution_id]
        return [asdict(execution.report) for execution in self.executions.values()]

    def stop_all(self) -> None:
        for execution in self.executions.values():
            if execution.process is not None and execution.process.poll() is None:
                self._signal(execution, signal.SIGKILL)
