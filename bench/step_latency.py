"""Benchmark: a small Spark step (Spark's pi.py, 10 partitions) from AddJobFlowSteps
to COMPLETED on a WAITING 1 master + 2 core cluster (Spark on YARN, client deploy
mode), against the same script run with `spark-submit --master local[2]` and with
`spark-submit` to the same daemons started by hand (bench/hand_started.py) —
alternating, sample by sample, in one run. It also prints what the step machinery
itself adds: the step's wall time less the run time of its own spark-submit process,
as the master's agent measured it.

Run:  .venv/bin/python bench/step_latency.py [--samples 5]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hand_started import HandStartedCluster

from elmr.apps import spark
from elmr.launcher import ServerProcess, poll_until

PI_PY = str(spark.spark_home() / "examples" / "src" / "main" / "python" / "pi.py")
CLUSTER = {
    "Name": "bench-steps", "ReleaseLabel": "emr-7.2.0",
    "Instances": {"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
                  "InstanceCount": 3, "KeepJobFlowAliveWhenNoSteps": True},
}


def _timed_submit(master: str, env: dict, log: Path) -> float:
    started = time.monotonic()
    with open(log, "ab") as output:
        subprocess.run([str(spark.spark_home() / "bin" / "spark-submit"), "--master", master, PI_PY, "10"],
                       env=env, stdout=output, stderr=subprocess.STDOUT, check=True)
    return time.monotonic() - started


def step_process_seconds(data_dir: Path, cluster_id: str, step_id: str) -> float:
    """How long the step's own process ran, as its agent recorded it."""
    [result] = (data_dir / "nodes" / cluster_id).glob(f"*/steps/{step_id}/result.json")
    return json.loads(result.read_text())["run_seconds"]


def elmr_sample(emr, cluster_id: str) -> tuple[float, str]:
    started = time.monotonic()
    [step_id] = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[{
        "Name": "pi", "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", PI_PY, "10"]}}])["StepIds"]
    state = poll_until(lambda: (s := emr.describe_step(ClusterId=cluster_id, StepId=step_id)
                                ["Step"]["Status"]["State"]) in ("COMPLETED", "FAILED") and s,
                       300, 0.1, "the step to end")
    if state != "COMPLETED":
        raise RuntimeError(f"step {step_id} {state}")
    return time.monotonic() - started, step_id


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    samples = {"local[2]": [], "YARN by hand": [], "elmr step": [], "elmr machinery": []}
    with tempfile.TemporaryDirectory(prefix="elmr-bench-steps-") as scratch:
        scratch = Path(scratch)
        server = ServerProcess(scratch / "data")
        server.start()
        by_hand = HandStartedCluster(scratch / "by-hand")
        by_hand.start()
        emr = server.client()
        cluster_id = emr.run_job_flow(**CLUSTER)["JobFlowId"]
        try:
            poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                       == "WAITING", 600, 0.2, "the cluster")
            for sample in range(args.samples):
                samples["local[2]"].append(_timed_submit("local[2]", by_hand.env, scratch / "local.log"))
                samples["YARN by hand"].append(_timed_submit("yarn", by_hand.env, scratch / "yarn.log"))
                wall, step_id = elmr_sample(emr, cluster_id)
                samples["elmr step"].append(wall)
                # What the step machinery adds: the wall time less the step's own process.
                samples["elmr machinery"].append(
                    wall - step_process_seconds(server.data_dir, cluster_id, step_id))
                print(f"sample {sample + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in samples.items()),
                      flush=True)
        finally:
            by_hand.stop()
            emr.terminate_job_flows(JobFlowIds=[cluster_id])
            poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                       == "TERMINATED", 120, 0.2, "the cluster to end")
            server.stop()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, median in medians.items():
        print(f"median {name}: {median:.2f} s")
    print(f"ratio elmr step / YARN by hand: {medians['elmr step'] / medians['YARN by hand']:.2f}"
          f" (+{medians['elmr step'] - medians['YARN by hand']:.2f} s)")
    print(f"ratio elmr step / local[2]: {medians['elmr step'] / medians['local[2]']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
