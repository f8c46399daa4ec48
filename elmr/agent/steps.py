"""Running steps on the master node. Each step gets its own directory
(NODE_DIR/steps/<step-id>/ with controller, stdout, stderr and a work dir) and its own
process group inside the node's session, so cancelling a step kills its whole tree
and nothing else, while stopping the node still reaches it.

The step directory is the record that a step was started: a step the server lists
again is never run twice.
"""

import json
import logging
import os
import re
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from elmr import node_protocol
from elmr.agent import programs
from elmr.agent.failure_reason import failure_line
from elmr.agent.object_fetch import FetchFailed, is_object_uri
from elmr.apps import step_commands, yarn
from elmr.apps.artifacts import ArtifactsMissing

log = logging.getLogger("elmr.agent.steps")
CANCEL_GRACE_S = 10.0
# How much of the end of stdout and stderr is read for the failure's reason.
FAILURE_TAIL_BYTES = 1024 * 1024
# How YARN names an application in the logs of whatever submitted it.
_APPLICATION_ID = re.compile(rb"application_\d+_\d+")


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - FAILURE_TAIL_BYTES))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def failure_message(step_dir: Path) -> str:
    """The line that says why the step failed (failure_reason.failure_line)."""
    return failure_line(_tail(step_dir / "stdout"), _tail(step_dir / "stderr"))


@dataclass
class RunningStep:
    step_id: str
    step_dir: Path
    process: subprocess.Popen | None
    started: float
    report: node_protocol.StepReport
    cancel_option: str | None = None
    cancel_sent_at: float | None = None

    def controller(self, message: str) -> None:
        with open(self.step_dir / "controller", "a") as controller:
            controller.write(f"{_stamp()} INFO {message}\n")


def yarn_applications(step_dir: Path) -> list[str]:
    """The YARN applications a step submitted, as its logs name them (spark-submit,
    `hadoop jar` and YARN's clients all print the id)."""
    found: list[str] = []
    for name in ("stderr", "stdout"):
        try:
            text = (step_dir / name).read_bytes()
        except OSError:
            continue
        for match in _APPLICATION_ID.findall(text):
            if match.decode() not in found:
                found.append(match.decode())
    return found


class StepRunner:
    def __init__(self, node_dir: Path, env: dict, fetch: Callable[[str, Path], Path],
                 resourcemanager_url: str = ""):
        """`fetch(uri, directory)` brings an s3:// script or JAR into `directory`;
        a cancelled step's YARN applications are killed through `resourcemanager_url`."""
        self.steps_dir = node_dir / "steps"
        self.env = env
        self.fetch = fetch
        self.resourcemanager_url = resourcemanager_url
        self.steps: dict[str, RunningStep] = {}

    def run(self, orders: list[dict]) -> None:
        for order in orders:
            if order["step_id"] not in self.steps:
                self.steps[order["step_id"]] = self._start(order)

    def _start(self, order: dict) -> RunningStep:
        step_dir = self.steps_dir / order["step_id"]
        result_file = step_dir / "result.json"
        if result_file.exists():  # finished before this agent restarted
            report = node_protocol.StepReport(**json.loads(result_file.read_text()))
            return RunningStep(order["step_id"], step_dir, None, time.monotonic(), report)
        if step_dir.exists():
            report = node_protocol.StepReport(order["step_id"], node_protocol.STEP_FAILED,
                                         failure_reason="The node's agent restarted while the step ran.")
            return RunningStep(order["step_id"], step_dir, None, time.monotonic(), report)
        (step_dir / "work").mkdir(parents=True)
        (step_dir / "tmp").mkdir()
        running = RunningStep(order["step_id"], step_dir, None, time.monotonic(),
                              node_protocol.StepReport(order["step_id"], node_protocol.STEP_RUNNING))
        hadoop_jar_step = order["hadoop_jar_step"]
        running.controller(f"Step created jar: {hadoop_jar_step.get('Jar')} name: {order.get('name')}")
        try:
            argv = step_commands.step_argv(hadoop_jar_step, lambda path: self._local_script(path, step_dir))
        except (step_commands.UnsupportedStep, FetchFailed, ArtifactsMissing) as unsupported:
            self._finish(running, None, node_protocol.STEP_FAILED, str(unsupported), str(unsupported))
            return running
        running.controller(f"startExec '{' '.join(argv)}'")
        try:
            with open(step_dir / "stdout", "ab") as out, open(step_dir / "stderr", "ab") as err:
                running.process = programs.start(
                    argv, cwd=step_dir / "work", env={**self.env, "TMPDIR": str(step_dir / "tmp")},
                    stdin=subprocess.DEVNULL,
                    stdout=out, stderr=err, process_group=0,
                )
        except OSError as error:
            self._finish(running, None, node_protocol.STEP_FAILED, f"Cannot run {argv[0]}", str(error))
            return running
        log.info("step %s started as pid %s", order["step_id"], running.process.pid)
        return running

    def _local_script(self, path: str, step_dir: Path) -> str:
        """An s3:// script fetched into the step's directory and made executable."""
        if not is_object_uri(path):
            return path
        script = self.fetch(path, step_dir / "work")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return str(script)

    def cancel(self, orders: list[dict]) -> None:
        for order in orders:
            running = self.steps.get(order["step_id"])
            if running is None or running.process is None or running.report.state != node_protocol.STEP_RUNNING:
                continue
            if running.cancel_option is None:
                running.cancel_option = order.get("option") or "SEND_INTERRUPT"
                forced = running.cancel_option == "TERMINATE_PROCESS"
                running.controller(f"Cancelling step ({running.cancel_option})")
                self._kill_yarn_applications(running)
                self._signal(running, signal.SIGKILL if forced else signal.SIGTERM)
                running.cancel_sent_at = time.monotonic()

    def _kill_yarn_applications(self, running: RunningStep) -> None:
        """What the step submitted to YARN dies with it (a cluster-mode Spark driver
        or a MapReduce job outlives the client process that submitted it)."""
        for application_id in yarn_applications(running.step_dir):
            killed = yarn.kill_application(self.resourcemanager_url, application_id)
            running.controller(f"Killing YARN application {application_id}: {killed}")

    def _signal(self, running: RunningStep, signum: int) -> None:
        try:
            os.killpg(running.process.pid, signum)
        except ProcessLookupError:
            pass

    def poll(self) -> bool:
        """Notice steps that ended; True if one did (worth a heartbeat at once)."""
        ended = False
        for running in self.steps.values():
            if running.process is None or running.report.state != node_protocol.STEP_RUNNING:
                continue
            code = running.process.poll()
            if code is None:
                if running.cancel_sent_at and time.monotonic() - running.cancel_sent_at > CANCEL_GRACE_S:
                    self._signal(running, signal.SIGKILL)
                continue
            self._signal(running, signal.SIGKILL)  # whatever the step left behind
            ended = True
            if running.cancel_option:
                self._finish(running, code, node_protocol.STEP_CANCELLED, "", "")
            elif code == 0:
                self._finish(running, code, node_protocol.STEP_COMPLETED, "", "")
            else:
                self._finish(running, code, node_protocol.STEP_FAILED, f"exit code {code}",
                             failure_message(running.step_dir))
        return ended

    def _finish(self, running: RunningStep, code, state: str, reason: str, message: str) -> None:
        took = time.monotonic() - running.started
        running.report = node_protocol.StepReport(
            running.step_id, state, exit_code=code, failure_reason=reason,
            failure_message=message, log_file=str(running.step_dir / "stderr"),
            run_seconds=round(took, 3),
        )
        verdict = {"COMPLETED": "succeeded", "FAILED": "failed", "CANCELLED": "was cancelled"}[state]
        running.controller(f"total process run time: {took:.0f} seconds")
        running.controller(f"Step {verdict} with exitCode {code} and took {took:.0f} seconds")
        (running.step_dir / "result.json").write_text(json.dumps(asdict(running.report)))
        log.info("step %s %s (exit code %s)", running.step_id, verdict, code)

    def reports(self, still_listed: set[str]) -> list[dict]:
        """Reports for the steps the server still lists as running; forget the rest."""
        for step_id in list(self.steps):
            if step_id not in still_listed and self.steps[step_id].report.state != node_protocol.STEP_RUNNING:
                del self.steps[step_id]
        return [asdict(running.report) for running in self.steps.values()]

    def stop_all(self) -> None:
        for running in self.steps.values():
            if running.process is not None and running.process.poll() is None:
                self._signal(running, signal.SIGKILL)
