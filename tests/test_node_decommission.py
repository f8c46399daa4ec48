"""The node side of Spark's decommissioning, against real processes standing in for
a worker's executors (Python ones: no JVM is needed to tell whether a process
catches SIGPWR, is a worker's child, or has logged its registration)."""

import os
import signal
import subprocess
import sys

from conftest import wait_for
from elmr.apps.spark_decommission import (
    EXECUTOR_CLASS,
    catches_decommission_signal,
    decommission,
    executor_pids,
    executor_registered,
)

# Installs a SIGPWR handler only once told to on stdin; says when it gets the signal.
LATE_HANDLER = """
import signal, sys, time
sys.stdin.readline()
signal.signal(signal.SIGPWR, lambda *_: print("decommissioning", flush=True))
print("handler installed", flush=True)
time.sleep(60)
"""


def test_a_daemon_is_signalled_only_once_it_catches_the_signal():
    daemon = subprocess.Popen([sys.executable, "-c", LATE_HANDLER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert not decommission(daemon.pid), "SIGPWR would have killed it"
        assert daemon.poll() is None
        daemon.stdin.write("go\n")
        daemon.stdin.flush()
        assert daemon.stdout.readline() == "handler installed\n"
        wait_for(lambda: catches_decommission_signal(daemon.pid), 10, what="the handler")
        assert decommission(daemon.pid)
        assert daemon.stdout.readline() == "decommissioning\n"
    finally:
        daemon.kill()
        daemon.wait()


def test_executors_are_found_among_the_workers_children_and_their_registration_in_their_log(tmp_path):
    (tmp_path / "stderr").write_text("INFO CoarseGrainedExecutorBackend: Connecting to driver\n")
    worker = subprocess.Popen([sys.executable, "-c", f"""
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{EXECUTOR_CLASS}"], cwd=sys.argv[1])
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "not-an-executor"])
time.sleep(60)
""", str(tmp_path)], start_new_session=True)
    try:
        [executor] = wait_for(lambda: executor_pids(worker.pid), 10, what="the executor")
        assert not executor_registered(executor)
        with open(tmp_path / "stderr", "a") as log:
            log.write("INFO CoarseGrainedExecutorBackend: Successfully registered with driver\n")
        assert executor_registered(executor)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and the children it started
        worker.wait()
