"""Benchmark: RunJobFlow to WAITING for 1 master + 2 core nodes (m5.xlarge) on EMR's
stack, against the floor on this machine: the same daemons (NameNode, ResourceManager,
two DataNodes, two NodeManagers) with the same configuration started by hand
(bench/hand_started.py), timed until the NameNode counts both DataNodes and the
ResourceManager both NodeManagers. It also prints the memory the elmr cluster's
processes hold once it waits (RSS of every process of its nodes).

The two sides alternate, sample by sample, in one run, so they see the same machine.
Run:  .venv/bin/python bench/cluster_start.py [--samples 5]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hand_started import HandStartedCluster

from elmr.apps.webhdfs import answers
from elmr.launcher import ServerProcess, poll_until
from elmr.providers.local import session_members

CLUSTER = {
    "Name": "bench",
    "ReleaseLabel": "emr-7.2.0",
    "Applications": [{"Name": "Hadoop"}, {"Name": "Spark"}],
    "Instances": {
        "InstanceGroups": [
            {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
        ],
        "KeepJobFlowAliveWhenNoSteps": True,
    },
}


def floor_sample(scratch: Path) -> float:
    cluster = HandStartedCluster(scratch)
    try:
        return cluster.start()
    finally:
        cluster.stop()


def _rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cluster_rss_mib(server: ServerProcess, cluster_id: str) -> float:
    import json
    import sqlite3
    with sqlite3.connect(server.data_dir / "elmr.db") as db:
        states = [json.loads(row[0]) for row in db.execute(
            "SELECT provider_state FROM instances WHERE cluster_id = ?", (cluster_id,))]
    return _rss_mib([pid for state in states if "pgid" in state for pid in session_members(state["pgid"])])


def elmr_sample(server: ServerProcess, memory: list) -> float:
    emr = server.client()
    started = time.monotonic()
    cluster_id = emr.run_job_flow(**CLUSTER)["JobFlowId"]
    poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
               == "WAITING", 600, 0.1, "WAITING")
    elapsed = time.monotonic() - started
    # The history servers start once the cluster runs: count them too.
    info = {k: v for app in emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Applications"]
            for k, v in app.get("AdditionalInfo", {}).items()}
    poll_until(lambda: answers(info["SparkHistoryServerUrl"]) and answers(info["JobHistoryWebUiUrl"]),
               300, 0.5, "the history servers")
    memory.append(cluster_rss_mib(server, cluster_id))
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
               == "TERMINATED", 120, 0.1, "TERMINATED")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    floor, elmr, memory = [], [], []
    with tempfile.TemporaryDirectory(prefix="elmr-bench-") as scratch:
        server = ServerProcess(Path(scratch) / "data")
        server.start()
        try:
            for sample in range(args.samples):
                floor_dir = Path(scratch) / f"floor-{sample}"
                floor_dir.mkdir()
                floor.append(floor_sample(floor_dir))
                elmr.append(elmr_sample(server, memory))
                print(f"sample {sample + 1}: floor {floor[-1]:.2f} s, elmr {elmr[-1]:.2f} s, "
                      f"elmr cluster RSS {memory[-1]:.0f} MiB", flush=True)
        finally:
            server.stop()
    floor_median, elmr_median = statistics.median(floor), statistics.median(elmr)
    print(f"median floor (the same daemons by hand): {floor_median:.2f} s  (all: "
          + ", ".join(f"{x:.1f}" for x in floor) + ")")
    print(f"median elmr (RunJobFlow -> WAITING): {elmr_median:.2f} s  (all: "
          + ", ".join(f"{x:.1f}" for x in elmr) + ")")
    print(f"ratio elmr / floor: {elmr_median / floor_median:.2f}")
    print(f"median RSS of the elmr cluster's processes, waiting: {statistics.median(memory):.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
