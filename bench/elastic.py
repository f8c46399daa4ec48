"""Benchmark: growing a running cluster. On a WAITING 1 master + 2 core cluster
(m5.xlarge), the time from ModifyInstanceGroups (core 2 -> 4) to the cluster's Spark
master reporting the two new workers ALIVE, against the floor on this machine: the
same two workers started by hand with spark-class against the same Spark master,
timed the same way. (Managed scaling's and spot interruption's parts of issue 17's
benchmark come with those features.)

The two sides alternate, sample by sample, in one run, so they see the same machine.
After each elmr sample the group shrinks back to 2 (decommissioned, untimed); the
time until it reads RUNNING again is printed too.
Run:  .venv/bin/python bench/elastic.py [--samples 5]
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
    "Name": "bench-elastic",
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
ADDED = 2


def _alive_workers(master_ui_url: str) -> int:
    status = spark.ui_status(master_ui_url)
    return spark.alive_workers(status) if status else -1


def floor_sample(master_url: str, master_ui_url: str, scratch: Path) -> float:
    """Two workers by hand against the cluster's own Spark master, started at once,
    with the daemon settings elmr's nodes use."""
    env = spark.daemon_env(scratch, "127.0.0.1")
    spark.write_conf_dir(scratch, {})
    before = _alive_workers(master_ui_url)
    started = time.monotonic()
    workers = []
    for index in range(ADDED):
        with open(scratch / f"worker-{index}.out", "ab") as output:
            workers.append(subprocess.Popen(
                spark.worker_command("127.0.0.1", free_port(), free_port(), M5_XLARGE_CORES,
                                     M5_XLARGE_MEMORY_MIB, master_url),
                env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True))
    try:
        poll_until(lambda: _alive_workers(master_ui_url) == before + ADDED, 180, 0.05, "the new workers ALIVE")
        return time.monotonic() - started
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
        poll_until(lambda: _alive_workers(master_ui_url) == before, 120, 0.1, "the hand-started workers gone")


def elmr_sample(emr, cluster_id: str, group_id: str, master_ui_url: str) -> tuple[float, float]:
    """(seconds to the new workers ALIVE, seconds for the shrink back to settle)."""
    before = _alive_workers(master_ui_url)
    started = time.monotonic()
    emr.modify_instance_groups(InstanceGroups=[{"InstanceGroupId": group_id, "InstanceCount": 2 + ADDED}])
    poll_until(lambda: _alive_workers(master_ui_url) == before + ADDED, 180, 0.05, "the new workers ALIVE")
    grown = time.monotonic() - started
    poll_until(lambda: _group(emr, cluster_id, group_id)["Status"]["State"] == "RUNNING", 120, 0.1, "RUNNING")
    shrink_started = time.monotonic()
    emr.modify_instance_groups(InstanceGroups=[{"InstanceGroupId": group_id, "InstanceCount": 2,
                                                "ShrinkPolicy": {"DecommissionTimeout": 120}}])
    poll_until(lambda: (g := _group(emr, cluster_id, group_id))["Status"]["State"] == "RUNNING"
               and g["RunningInstanceCount"] == 2, 300, 0.1, "the shrink back")
    return grown, time.monotonic() - shrink_started


def _group(emr, cluster_id: str, group_id: str) -> dict:
    groups = emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
    return next(group for group in groups if group["Id"] == group_id)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    floor, elmr, shrinks = [], [], []
    with tempfile.TemporaryDirectory(prefix="elmr-bench-") as scratch:
        server = ServerProcess(Path(scratch) / "data")
        server.start()
        emr = server.client()
        cluster_id = emr.run_job_flow(**CLUSTER)["JobFlowId"]
        try:
            poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                       == "WAITING", 180, 0.2, "WAITING")
            cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
            info = next(a for a in cluster["Applications"] if a["Name"] == "Spark")["AdditionalInfo"]
            core = next(g for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
                        if g["InstanceGroupType"] == "CORE")
            for sample in range(args.samples):
                floor_dir = Path(scratch) / f"floor-{sample}"
                floor_dir.mkdir()
                floor.append(floor_sample(info["SparkMasterUrl"], info["SparkMasterWebUiUrl"], floor_dir))
                grown, shrunk = elmr_sample(emr, cluster_id, core["Id"], info["SparkMasterWebUiUrl"])
                elmr.append(grown)
                shrinks.append(shrunk)
                print(f"sample {sample + 1}: floor {floor[-1]:.2f} s, elmr {elmr[-1]:.2f} s "
                      f"(shrink back {shrunk:.2f} s)", flush=True)
        finally:
            emr.terminate_job_flows(JobFlowIds=[cluster_id])
            poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                       == "TERMINATED", 120, 0.2, "TERMINATED")
            server.stop()
    floor_median, elmr_median = statistics.median(floor), statistics.median(elmr)
    print(f"median floor (two workers by hand): {floor_median:.2f} s")
    print(f"median elmr (ModifyInstanceGroups +2 core -> ALIVE): {elmr_median:.2f} s")
    print(f"median shrink back (ModifyInstanceGroups -2 -> group RUNNING): {statistics.median(shrinks):.2f} s")
    print(f"ratio elmr / floor: {elmr_median / floor_median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
