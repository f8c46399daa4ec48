"""Bootstrap actions: the cluster's scripts (local paths or s3:// URIs), run on this
node in order before Spark starts, each with its Args as an argument vector, executed
directly as EMR does (a script without a #! line runs with /bin/sh). The first that
fails stops the node's start; its message names the action, the node and the exit
code (or why its script could not be fetched)."""

import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from elmr.agent import programs
from elmr.agent.object_fetch import FetchFailed, is_object_uri

log = logging.getLogger("elmr.agent.bootstrap")


class BootstrapFailed(RuntimeError):
    pass


def _runnable_copy(path: str, action_dir: Path, fetch: Callable[[str, Path], Path]) -> Path:
    """A copy of the script in the action's directory, made executable (EMR runs
    bootstrap scripts from a local copy too)."""
    if is_object_uri(path):
        try:
            copy = fetch(path, action_dir)
        except FetchFailed as failure:
            raise BootstrapFailed(str(failure)) from None
    else:
        source = Path(path)
        if not source.is_file():
            raise BootstrapFailed(f"its script {path} does not exist on this node")
        copy = action_dir / source.name
        shutil.copyfile(source, copy)
    copy.chmod(copy.stat().st_mode | stat.S_IXUSR)
    return copy


def run_all(actions: list[dict], node_dir: Path, env: dict, ec2_instance_id: str,
            fetch: Callable[[str, Path], Path]) -> None:
    """`fetch(uri, directory)` brings an s3:// script into `directory`."""
    for position, action in enumerate(actions, start=1):
        action_dir = node_dir / "bootstrap-actions" / str(position)
        action_dir.mkdir(parents=True, exist_ok=True)
        label = f"bootstrap action {position} ({action['name']}) on {ec2_instance_id}"
        try:
            script = _runnable_copy(action["path"], action_dir, fetch)
        except BootstrapFailed as failure:
            raise BootstrapFailed(f"{label} failed: {failure}") from None
        log.info("running %s: %s", label, action["path"])
        try:
            with open(action_dir / "stdout", "ab") as out, open(action_dir / "stderr", "ab") as err:
                code = programs.start([str(script), *action.get("args", [])], cwd=action_dir,
                                      env={**env, "HOME": os.environ.get("HOME", str(action_dir))},
                                      stdin=subprocess.DEVNULL, stdout=out, stderr=err).wait()
        except OSError as error:
            raise BootstrapFailed(f"{label} failed: cannot run its script: {error.strerror}") from None
        if code != 0:
            raise BootstrapFailed(f"{label} failed with exit code {code}")
