"""Benchmark: a TPC-H-like query set (Q1, Q3, Q5, Q6, Q10; bench/tpch_job.py) at scale
factor 1 over parquet in elmr's object store, run on a 1 master + 2 core elmr cluster
as a Spark step, and by hand with `spark-submit` on the same cluster's daemons (the
master node's own configuration and credentials, no step machinery) — alternating,
sample by sample, in one run. Target: step / by hand <= 1.05 (the control plane costs
the work nothing). The data is generated once, by a step, into s3://bench-tpch/.

Run:  .venv/bin/python bench/workload.py [--samples 3] [--scale 1] [--queries q1,q3,q5,q6,q10]
      [--data-dir DIR]   (DIR keeps the generated tables for the next run; with
      --samples 0 the run only generates them, e.g. while the machine is busy)
"""

import argparse
import gzip
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from elmr.agent.node_apps import NodeApplications
from elmr.launcher import ServerProcess, poll_until
from elmr.node_protocol import NodeSpec

JOB = Path(__file__).with_name("tpch_job.py")
BUCKET = "bench-tpch"
CLUSTER = {
    "Name": "bench-workload", "ReleaseLabel": "emr-7.2.0", "Applications": [{"Name": "Spark"}],
    "Instances": {"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
                  "InstanceCount": 3, "KeepJobFlowAliveWhenNoSteps": True},
}


def run_step(emr, cluster_id: str, name: str, args: list[str]) -> tuple[float, str]:
    started = time.monotonic()
    [step_id] = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[{
        "Name": name, "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", str(JOB), *args]}}])["StepIds"]
    state = poll_until(lambda: (s := emr.describe_step(ClusterId=cluster_id, StepId=step_id)
                                ["Step"]["Status"]["State"]) in ("COMPLETED", "FAILED", "CANCELLED") and s,
                       7200, 0.2, f"step {name}")
    if state != "COMPLETED":
        raise RuntimeError(f"step {name} ({step_id}) {state}")
    return time.monotonic() - started, step_id


def master_env(server: ServerProcess, cluster_id: str) -> dict:
    """What a step on the master runs with, rebuilt from the master's node spec."""
    for node_dir in (server.data_dir / "nodes" / cluster_id).iterdir():
        spec = NodeSpec.read(node_dir)
        if spec.role == "MASTER":
            return NodeApplications(spec, node_dir).env
    raise RuntimeError("no master node")


def by_hand(env: dict, args: list[str], log: Path) -> tuple[float, str]:
    started = time.monotonic()
    with open(log, "wb") as output:
        subprocess.run(["spark-submit", str(JOB), *args], env=env, stdout=output, stderr=subprocess.DEVNULL,
                       check=True)
    return time.monotonic() - started, log.read_text()


def query_times(stdout: str) -> dict:
    return {line.split()[1]: float(line.split()[2]) for line in stdout.splitlines() if line.startswith("QUERY ")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--queries", default="q1,q3,q5,q6,q10")
    parser.add_argument("--data-dir", type=Path, help="keep the server's data (and the generated tables) here")
    args = parser.parse_args()
    source = f"s3://{BUCKET}/sf{args.scale:g}"
    with tempfile.TemporaryDirectory(prefix="elmr-bench-workload-") as scratch:
        server = ServerProcess(args.data_dir or Path(scratch) / "data")
        server.start()
        emr, s3 = server.client(), server.client("s3")
        cluster_id = emr.run_job_flow(**CLUSTER)["JobFlowId"]
        try:
            poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                       == "WAITING", 600, 0.5, "the cluster")
            if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
                s3.create_bucket(Bucket=BUCKET)
            if s3.list_objects_v2(Bucket=BUCKET, Prefix=f"sf{args.scale:g}/lineitem/").get("KeyCount", 0) == 0:
                took, _ = run_step(emr, cluster_id, "generate", ["generate", str(args.scale), source])
                print(f"generated SF{args.scale:g} in {took:.1f} s", flush=True)
            env = master_env(server, cluster_id)
            steps, hands, per_query = [], [], {"step": [], "by hand": []}
            for sample in range(args.samples):
                took, step_id = run_step(emr, cluster_id, "queries", ["query", args.queries, source])
                steps.append(took)
                stdout = server.data_dir / "logs" / cluster_id / "steps" / step_id / "stdout.gz"
                poll_until(stdout.exists, 60, 0.2, "the step's stdout")
                per_query["step"].append(query_times(gzip.decompress(stdout.read_bytes()).decode()))
                took, printed = by_hand(env, ["query", args.queries, source], Path(scratch) / "by-hand.log")
                hands.append(took)
                per_query["by hand"].append(query_times(printed))
                print(f"sample {sample + 1}: step {steps[-1]:.1f} s, by hand {hands[-1]:.1f} s; queries "
                      f"step {per_query['step'][-1]} by hand {per_query['by hand'][-1]}", flush=True)
        finally:
            emr.terminate_job_flows(JobFlowIds=[cluster_id])
            poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                       == "TERMINATED", 180, 0.5, "the cluster to end")
            server.stop()
    if not steps:  # --samples 0: only the tables were generated (kept with --data-dir)
        return 0
    step_median, hand_median = statistics.median(steps), statistics.median(hands)
    print(f"median step (AddJobFlowSteps -> COMPLETED): {step_median:.1f} s")
    print(f"median by hand (spark-submit on the same daemons): {hand_median:.1f} s")
    print(f"ratio step / by hand: {step_median / hand_median:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
