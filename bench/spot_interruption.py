"""Benchmark: what a spot interruption in the middle costs a running job. On a WAITING
cluster of 1 master + 1 on-demand core m5.large and a task group of 1 SPOT m5.large,
the same PySpark step runs undisturbed and with EC2's interruption notice given to
the spot task node halfway through (the previous undisturbed sample's time), the two
alternating sample by sample in one run, so they see the same machine.

The step: three executors of 2 GiB (dynamic allocation off), so an m5.large's
NodeManager (6144 MB) holds at most two and both nodes run some; rounds over a cached
RDD of 600,000 (key, value) pairs, each round a reduceByKey shuffle over 24
partitions whose result the job compares with sums it computed itself; it writes
how many rounds it ran and how many were wrong, and the benchmark checks the file
(every round right, every round run) on both sides. Its time is from
AddJobFlowSteps to DescribeStep reading COMPLETED (polled every 0.25 s): spark-submit,
the ApplicationMaster and the executors' start are in both sides' figures.

The market is driven by hand through elmr's admin API (`elmr spot`): m5.large's pool
gets a fixed price and room for 10 instances before the cluster starts, and the
interruption is `elmr spot interrupt i-…` of the task node once its NodeManager runs
some of the job's containers. The server's `--spot-notice-seconds 20` compresses
EMR's two-minute notice: during it the node is decommissioned gracefully (YARN's
and Spark's decommissioning: its executors hand their cached and shuffle blocks over
and get no new tasks) and the task group launches a replacement at once; at its end
the node is taken. Between samples the benchmark waits (untimed) until the task
group is RUNNING with one running node and YARN counts two active NodeManagers again.
Target (issue 17): an interruption costs less than 1.5x the undisturbed time.
Run:  .venv/bin/python bench/spot_interruption.py [--samples 2] [--rounds 12]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from elmr.apps import webhdfs
from elmr.launcher import ServerProcess, poll_until
from managed_scaling import resourcemanager_and_task_group, terminate, yarn_metrics

NOTICE_S = 20
TYPE = "m5.large"
CLUSTER = {
    "Name": "bench-spot-interruption",
    "ReleaseLabel": "emr-7.2.0",
    "Instances": {
        "InstanceGroups": [
            {"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": TYPE, "InstanceCount": 1},
            {"Name": "Core", "InstanceRole": "CORE", "InstanceType": TYPE, "InstanceCount": 1},
            {"Name": "Spot task", "InstanceRole": "TASK", "InstanceType": TYPE, "InstanceCount": 1,
             "Market": "SPOT"},
        ],
        "KeepJobFlowAliveWhenNoSteps": True,
    },
}
EXECUTORS = ["--conf", "spark.dynamicAllocation.enabled=false", "--conf", "spark.executor.instances=3",
             "--conf", "spark.executor.memory=2g"]
JOB = textwrap.dedent("""
    import json, sys
    from operator import add
    from pyspark.sql import SparkSession
    output, rounds = sys.argv[1], int(sys.argv[2])
    size, keys, partitions = 600_000, 97, 24

    def value(n):
        return n * n % 1_000_003

    sc = SparkSession.builder.appName("bench-spot-interruption").getOrCreate().sparkContext
    pairs = sc.parallelize(range(size), partitions).map(lambda n: (n % keys, value(n))).cache()
    expected = {}
    for n in range(size):
        expected[n % keys] = expected.get(n % keys, 0) + value(n)
    wrong = 0
    for round_number in range(1, rounds + 1):
        sums = dict(pairs.mapValues(lambda v, r=round_number: v * r).reduceByKey(add, partitions).collect())
        wrong += sums != {key: total * round_number for key, total in expected.items()}
    json.dump({"rounds": rounds, "wrong_rounds": wrong, "total": sum(expected.values())}, open(output, "w"))
""")
WAIT_S = 900  # a loaded 2-core machine starting JVMs


def expected_total() -> int:
    return sum(n * n % 1_000_003 for n in range(600_000))


def spot(server: ServerProcess, *args: str) -> dict:
    """`elmr spot ARGS --json` against the server: the market driven by hand."""
    run = subprocess.run([sys.executable, "-m", "elmr.cli", "spot", *args, "--json",
                          "--data-dir", str(server.data_dir)],
                         env=server.env(), capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        raise RuntimeError(f"elmr spot {' '.join(args)}: {run.stderr}")
    return json.loads(run.stdout)


class Bench:
    def __init__(self, server: ServerProcess, emr, cluster_id: str, workdir: Path, rounds: int):
        self.server, self.emr, self.cluster_id, self.workdir, self.rounds = server, emr, cluster_id, workdir, rounds
        self.resourcemanager, self.task_group = resourcemanager_and_task_group(emr, cluster_id)
        (workdir / "job.py").write_text(JOB)
        self.jobs = 0
        self.total = expected_total()

    def undisturbed(self) -> float:
        step_id, output, started = self._start_job()
        return self._finish(step_id, output, started)

    def interrupted(self, after_s: float) -> tuple[float, float]:
        """(the job's time, when the notice was given), both from the step's submission."""
        step_id, output, started = self._start_job()
        poll_until(lambda: self._nodes_with_containers() == 2, WAIT_S, 0.2, "the job's containers on both nodes")
        poll_until(lambda: time.time() - started >= after_s, WAIT_S, 0.05, "the middle of the job")
        if self._step_state(step_id) != "RUNNING":
            raise RuntimeError(f"the job {step_id} ended before its middle ({after_s:.2f} s)")
        [node] = self._task_nodes(["RUNNING"])
        spot(self.server, "interrupt", node["Ec2InstanceId"])
        noticed = time.time() - started  # the server has given the notice
        return self._finish(step_id, output, started), noticed

    def until_whole_again(self) -> None:
        """The task group RUNNING with one running node, YARN counting two NodeManagers."""
        def whole():
            group = next(g for g in self.emr.list_instance_groups(ClusterId=self.cluster_id)["InstanceGroups"]
                         if g["Id"] == self.task_group)
            metrics = yarn_metrics(self.resourcemanager)
            return (group["Status"]["State"] == "RUNNING" and len(self._task_nodes(["RUNNING"])) == 1
                    and not self._task_nodes(["PROVISIONING", "BOOTSTRAPPING"])
                    and metrics is not None and metrics["activeNodes"] == 2)
        poll_until(whole, WAIT_S, 0.5, "the task group whole again and YARN counting two NodeManagers")

    def _start_job(self) -> tuple[str, Path, float]:
        self.jobs += 1
        output = self.workdir / f"output-{self.jobs}.json"
        started = time.time()
        [step_id] = self.emr.add_job_flow_steps(JobFlowId=self.cluster_id, Steps=[{
            "Name": f"job-{self.jobs}", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
                "Jar": "command-runner.jar",
                "Args": ["spark-submit", *EXECUTORS, str(self.workdir / "job.py"), str(output),
                         str(self.rounds)]}}])["StepIds"]
        return step_id, output, started

    def _finish(self, step_id: str, output: Path, started: float) -> float:
        state = poll_until(lambda: (s := self._step_state(step_id)) in ("COMPLETED", "FAILED", "CANCELLED") and s,
                           WAIT_S, 0.25, "the job to end")
        took = time.time() - started
        if state != "COMPLETED":
            raise RuntimeError(f"the job {step_id} ended {state}")
        result = json.loads(output.read_text())
        if result != {"rounds": self.rounds, "wrong_rounds": 0, "total": self.total}:
            raise RuntimeError(f"the job {step_id} wrote a wrong result: {result}")
        return took

    def _nodes_with_containers(self) -> int:
        answer = webhdfs.get_json(f"{self.resourcemanager}/ws/v1/cluster/nodes?states=RUNNING")
        nodes = ((answer or {}).get("nodes") or {}).get("node") or []
        return sum(node["numContainers"] > 0 for node in nodes)

    def _task_nodes(self, states: list[str]) -> list[dict]:
        return self.emr.list_instances(ClusterId=self.cluster_id, InstanceGroupId=self.task_group,
                                       InstanceStates=states)["Instances"]

    def _step_state(self, step_id: str) -> str:
        return self.emr.describe_step(ClusterId=self.cluster_id, StepId=step_id)["Step"]["Status"]["State"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=12, help="the job's shuffle rounds")
    args = parser.parse_args()
    undisturbed, interrupted = [], []
    with tempfile.TemporaryDirectory(prefix="elmr-bench-") as scratch:
        server = ServerProcess(Path(scratch) / "data", extra_args=("--spot-notice-seconds", str(NOTICE_S)))
        server.start()
        emr = server.client()
        cluster_id = None
        try:
            spot(server, "price", TYPE, "0.03")
            spot(server, "capacity", TYPE, "10")
            cluster_id = emr.run_job_flow(**CLUSTER)["JobFlowId"]
            poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                       == "WAITING", WAIT_S, 0.2, "WAITING")
            bench = Bench(server, emr, cluster_id, Path(scratch), args.rounds)
            bench.until_whole_again()
            for sample in range(args.samples):
                undisturbed.append(bench.undisturbed())
                took, noticed = bench.interrupted(undisturbed[-1] / 2)
                interrupted.append(took)
                print(f"sample {sample + 1}: undisturbed {undisturbed[-1]:.2f} s; with the spot task node "
                      f"interrupted at {noticed:.2f} s: {took:.2f} s ({took / undisturbed[-1]:.2f}x)", flush=True)
                bench.until_whole_again()
        finally:
            if cluster_id:
                terminate(emr, cluster_id)
            server.stop()
    print(f"median undisturbed: {statistics.median(undisturbed):.2f} s; with a spot interruption "
          f"({NOTICE_S} s notice) in the middle: {statistics.median(interrupted):.2f} s")
    print(f"ratio interrupted / undisturbed: {statistics.median(interrupted) / statistics.median(undisturbed):.2f} "
          f"(target: below 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
