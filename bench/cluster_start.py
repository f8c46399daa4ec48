"""Benchmark: RunJobFlow to WAITING for 1 master + 2 core nodes (m5.xlarge), against
the floor on this machine: the same Spark standalone master and two workers started
by hand with spark-class, timed until the master reports both workers ALIVE.

The two sides alternate, sample by sample, in one run, so they see the same machine.
Run:  .venv/bin/python bench/cluster_start.py [--samples 5]
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from elmr.apps import spark
from elmr.launcher import ServerProcess, free_port, poll_until

CLUSTER = {
    "Name": "bench",
    "ReleaseLabel": "emr-7.2.0",
    "Instances": {
        "InstanceGroups": [
            {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
        ],
        "KeepJobFlowAliveWhenNoSteps": True,
    },
}
M5_XLARGE_CORES, M5_XLARGE_MEMORY_MIB = 4, 16384


def _spawn(command: list, env: dict, log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)


def floor_sample(scratch: Path) -> float:
    """Master and two workers by hand, started at once, as elmr's nodes are; with the
    same daemon settings elmr uses, so the comparison is of the machinery alone."""
    env = spark.daemon_env(scratch, "127.0.0.1")
    spark.write_conf_dir(scratch, {})
    master_port, master_ui = free_port(), free_port()
    master_url = f"spark://127.0.0.1:{master_port}"
    started = time.monotonic()
    processes = [_spawn(spark.master_command("127.0.0.1", master_port, master_ui), env,
                        scratch / "master.out")]
    for index in range(2):
        processes.append(_spawn(
            spark.worker_command("127.0.0.1", free_port(), free_port(), M5_XLARGE_CORES,
                                 M5_XLARGE_MEMORY_MIB, master_url),
            env, scratch / f"worker-{index}.out"))
    try:
        poll_until(lambda: (status := spark.ui_status(f"http://127.0.0.1:{master_ui}"))
                   and spark.alive_workers(status) == 2, 120, 0.05, "two ALIVE workers")
        return time.monotonic() - started
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def elmr_sample(server: ServerProcess) -> float:
    emr = server.client()
    started = time.monotonic()
    cluster_id = emr.run_job_flow(**CLUSTER)["JobFlowId"]
    poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
               == "WAITING", 120, 0.1, "WAITING")
    elapsed = time.monotonic() - started
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
               == "TERMINATED", 60, 0.1, "TERMINATED")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    floor, elmr = [], []
    with tempfile.TemporaryDirectory(prefix="elmr-bench-") as scratch:
        server = ServerProcess(Path(scratch) / "data")
        server.start()
        try:
            for sample in range(args.samples):
                floor_dir = Path(scratch) / f"floor-{sample}"
                floor_dir.mkdir()
                floor.append(floor_sample(floor_dir))
                elmr.append(elmr_sample(server))
                print(f"sample {sample + 1}: floor {floor[-1]:.2f} s, elmr {elmr[-1]:.2f} s", flush=True)
        finally:
            server.stop()
    floor_median, elmr_median = statistics.median(floor), statistics.median(elmr)
    print(f"median floor (spark-class by hand): {floor_median:.2f} s")
    print(f"median elmr (RunJobFlow -> WAITING): {elmr_median:.2f} s")
    print(f"ratio elmr / floor: {elmr_median / floor_median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
