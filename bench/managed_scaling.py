"""Benchmark: how fast managed scaling answers a backlog. On a WAITING cluster of 1
master + 1 core m5.large and an empty task group, a PySpark step asks YARN for four
executors of 2 GiB where the core node's NodeManager holds two: YARN has pending
containers (the backlog) until a second NodeManager joins. Measured from the first
moment the master's ResourceManager reports containersPending > 0 (its REST
/ws/v1/cluster/metrics, polled every 0.05 s at the endpoint DescribeCluster shows):

- managed scaling (ComputeLimits 1-2 instances, MaximumCoreCapacityUnits 1): to the
  task node requested (the new instance's CreationDateTime in ListInstances: the
  control loop creates it in the pass that decided) and to its NodeManager active
  (the ResourceManager's activeNodes reaching 2);
- the floor, the same job with no policy and the task group grown by hand
  (ModifyInstanceGroups +1) the moment the benchmark sees the backlog: to its
  NodeManager active. The difference is what managed scaling's decision costs.

The two sides alternate, sample by sample, in one run. Between samples the job is
stopped (a marker file), and the task node removed (managed scaling's scale-in, or
ModifyInstanceGroups to 0 by hand), until YARN counts the core node's NodeManager
alone again. The server runs with `--scaling-cooldown 10`, so the scale-in between
samples comes 10 s after the job instead of 120 s; the measured path does not depend
on it (a backlog scales out once it has lasted `scale_out_backlog_s`, 5 s, a fixed
setting). Target (issue 17): the scale-out decision within 15 s of the backlog.
Run:  .venv/bin/python bench/managed_scaling.py [--samples 2]
"""

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from elmr.apps import webhdfs
from elmr.launcher import ServerProcess, poll_until

CLUSTER = {
    "Name": "bench-managed-scaling",
    "ReleaseLabel": "emr-7.2.0",
    "Instances": {
        "InstanceGroups": [
            {"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": "m5.large", "InstanceCount": 1},
            {"Name": "Core", "InstanceRole": "CORE", "InstanceType": "m5.large", "InstanceCount": 1},
            {"Name": "Task", "InstanceRole": "TASK", "InstanceType": "m5.large", "InstanceCount": 0},
        ],
        "KeepJobFlowAliveWhenNoSteps": True,
    },
}
POLICY = {"ComputeLimits": {"UnitType": "Instances", "MinimumCapacityUnits": 1, "MaximumCapacityUnits": 2,
                            "MaximumCoreCapacityUnits": 1}}
EXECUTORS = ["--conf", "spark.executor.memory=2g", "--conf", "spark.dynamicAllocation.maxExecutors=4"]
# Rounds of sixteen 3-second tasks (four executors' worth) until the marker exists.
JOB = textwrap.dedent("""
    import os, sys, time
    from pyspark.sql import SparkSession
    sc = SparkSession.builder.appName("bench-backlog").getOrCreate().sparkContext
    while not os.path.exists(sys.argv[1]):
        sc.parallelize(range(16), 16).map(lambda n: time.sleep(3) or n).count()
""")
WAIT_S = 600  # a loaded 2-core machine starting JVMs


def yarn_metrics(resourcemanager: str) -> dict | None:
    answer = webhdfs.get_json(f"{resourcemanager}/ws/v1/cluster/metrics")
    return answer.get("clusterMetrics") if answer else None


def backlog_seen(resourcemanager: str) -> float:
    """The moment (time.time()) YARN first reports pending containers."""
    return poll_until(lambda: (m := yarn_metrics(resourcemanager)) and m["containersPending"] > 0 and time.time(),
                      WAIT_S, 0.05, "YARN to report pending containers")


def active_nodes_reach(resourcemanager: str, count: int) -> float:
    return poll_until(lambda: (m := yarn_metrics(resourcemanager)) and m["activeNodes"] >= count and time.time(),
                      WAIT_S, 0.05, f"{count} active NodeManagers")


def resourcemanager_and_task_group(emr, cluster_id: str) -> tuple[str, str]:
    """The ResourceManager's web URL DescribeCluster shows, and the task group's id."""
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    hadoop = next(a for a in cluster["Applications"] if a["Name"] == "Hadoop")
    task_group = next(g["Id"] for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
                      if g["InstanceGroupType"] == "TASK")
    return hadoop["AdditionalInfo"]["ResourceManagerWebUiUrl"], task_group


def terminate(emr, cluster_id: str) -> None:
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] == "TERMINATED",
               300, 0.2, "TERMINATED")


class Bench:
    def __init__(self, emr, cluster_id: str, workdir: Path):
        self.emr, self.cluster_id, self.workdir = emr, cluster_id, workdir
        self.resourcemanager, self.task_group = resourcemanager_and_task_group(emr, cluster_id)
        (workdir / "job.py").write_text(JOB)
        self.jobs = 0

    def start_job(self) -> tuple[str, Path]:
        self.jobs += 1
        marker = self.workdir / f"stop-{self.jobs}"
        [step_id] = self.emr.add_job_flow_steps(JobFlowId=self.cluster_id, Steps=[{
            "Name": f"backlog-{self.jobs}", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
                "Jar": "command-runner.jar",
                "Args": ["spark-submit", *EXECUTORS, str(self.workdir / "job.py"), str(marker)]}}])["StepIds"]
        return step_id, marker

    def stop_job(self, step_id: str, marker: Path) -> None:
        marker.write_text("")
        poll_until(lambda: self._step_state(step_id) in ("COMPLETED", "FAILED", "CANCELLED"), WAIT_S, 0.5,
                   "the job to end")

    def managed(self) -> tuple[float, float]:
        """(backlog -> task node requested, backlog -> its NodeManager active), in s."""
        self.emr.put_managed_scaling_policy(ClusterId=self.cluster_id, ManagedScalingPolicy=POLICY)
        step_id, marker = self.start_job()
        backlog_at = backlog_seen(self.resourcemanager)
        node = poll_until(lambda: self._task_nodes(), WAIT_S, 0.05, "managed scaling's task node")[0]
        requested_at = node["Status"]["Timeline"]["CreationDateTime"].timestamp()
        active_at = active_nodes_reach(self.resourcemanager, 2)
        self.stop_job(step_id, marker)
        self._until_task_group_empty()  # managed scaling's scale-in
        self.emr.remove_managed_scaling_policy(ClusterId=self.cluster_id)
        return requested_at - backlog_at, active_at - backlog_at

    def by_hand(self) -> float:
        """backlog -> the task node's NodeManager active, grown by hand at once (s)."""
        step_id, marker = self.start_job()
        backlog_at = backlog_seen(self.resourcemanager)
        self.emr.modify_instance_groups(InstanceGroups=[{"InstanceGroupId": self.task_group, "InstanceCount": 1}])
        active_at = active_nodes_reach(self.resourcemanager, 2)
        self.stop_job(step_id, marker)
        self.emr.modify_instance_groups(InstanceGroups=[{"InstanceGroupId": self.task_group, "InstanceCount": 0}])
        self._until_task_group_empty()
        return active_at - backlog_at

    def _task_nodes(self) -> list[dict]:
        return self.emr.list_instances(ClusterId=self.cluster_id, InstanceGroupId=self.task_group,
                                       InstanceStates=["PROVISIONING", "BOOTSTRAPPING", "RUNNING"])["Instances"]

    def _until_task_group_empty(self) -> None:
        def empty():
            group = next(g for g in self.emr.list_instance_groups(ClusterId=self.cluster_id)["InstanceGroups"]
                         if g["Id"] == self.task_group)
            return (group["RequestedInstanceCount"] == 0 and group["Status"]["State"] == "RUNNING"
                    and not self._task_nodes() and yarn_metrics(self.resourcemanager)["activeNodes"] == 1)
        poll_until(empty, WAIT_S, 0.5, "the task node gone and YARN counting one NodeManager")

    def _step_state(self, step_id: str) -> str:
        return self.emr.describe_step(ClusterId=self.cluster_id, StepId=step_id)["Step"]["Status"]["State"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2)
    args = parser.parse_args()
    to_request, to_active, floor = [], [], []
    with tempfile.TemporaryDirectory(prefix="elmr-bench-") as scratch:
        server = ServerProcess(Path(scratch) / "data", extra_args=("--scaling-cooldown", "10"))
        server.start()
        emr = server.client()
        cluster_id = emr.run_job_flow(**CLUSTER)["JobFlowId"]
        try:
            poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                       == "WAITING", WAIT_S, 0.2, "WAITING")
            bench = Bench(emr, cluster_id, Path(scratch))
            for sample in range(args.samples):
                requested, active = bench.managed()
                to_request.append(requested)
                to_active.append(active)
                floor.append(bench.by_hand())
                print(f"sample {sample + 1}: managed scaling requested a node {requested:.2f} s after the "
                      f"backlog, its NodeManager active at {active:.2f} s; grown by hand at once: "
                      f"active at {floor[-1]:.2f} s", flush=True)
        finally:
            terminate(emr, cluster_id)
            server.stop()
    print(f"median backlog -> managed scaling's node requested: {statistics.median(to_request):.2f} s "
          f"(target: within 15 s)")
    print(f"median backlog -> its NodeManager active: {statistics.median(to_active):.2f} s")
    print(f"median backlog -> NodeManager active, grown by hand at once: {statistics.median(floor):.2f} s")
    print(f"ratio managed / by hand: {statistics.median(to_active) / statistics.median(floor):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
