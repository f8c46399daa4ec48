"""`elmr demo`, the main job: start an elmr server on the embedded default, create a
cluster of 1 master and 2 core nodes through boto3 exactly as against AWS, wait for it
to run real HDFS, YARN and Spark daemons, show what it is made of, run Spark's pi.py on
it as a step (Spark on YARN), terminate it and stop the server.
"""

import argparse
import gzip
import json
import tempfile
import time
import urllib.request
from pathlib import Path

from elmr.apps.spark import spark_home
from elmr.launcher import ServerProcess, poll_until

CLUSTER_REQUEST = {
    "Name": "elmr-demo",
    "ReleaseLabel": "emr-7.2.0",
    "Applications": [{"Name": "Hadoop"}, {"Name": "Spark"}],
    "Instances": {
        "InstanceGroups": [
            {"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"Name": "Core", "InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
        ],
        "KeepJobFlowAliveWhenNoSteps": True,
    },
}
WAITER = {"Delay": 1, "MaxAttempts": 300}


def _say(message: str) -> None:
    print(f"[elmr demo] {message}", flush=True)


def _yarn_view(cluster: dict) -> str:
    hadoop = next(app for app in cluster["Applications"] if app["Name"] == "Hadoop")
    ui_url = hadoop["AdditionalInfo"]["ResourceManagerWebUiUrl"]
    with urllib.request.urlopen(ui_url + "/ws/v1/cluster/nodes", timeout=10) as answer:
        nodes = json.load(answer)["nodes"]["node"]
    listed = [f"{n['nodeHostName']} ({n['availableVirtualCores']} vcores, {n['availMemoryMB']} MiB, {n['state']})"
              for n in nodes]
    return (f"YARN at {ui_url} with NodeManagers: " + "; ".join(listed)
            + f"; HDFS at {hadoop['AdditionalInfo']['NameNodeWebUiUrl']}")


def _run_pi_step(server: ServerProcess, emr, cluster_id: str) -> None:
    """Spark's own pi.py, submitted as EMR users do: command-runner.jar spark-submit."""
    pi_py = str(spark_home() / "examples" / "src" / "main" / "python" / "pi.py")
    started = time.monotonic()
    [step_id] = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[{
        "Name": "pi", "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", pi_py, "10"]}}])["StepIds"]
    _say(f"AddJobFlowSteps -> {step_id} (spark-submit pi.py 10); waiting (step_complete waiter)...")
    emr.get_waiter("step_complete").wait(ClusterId=cluster_id, StepId=step_id, WaiterConfig=WAITER)
    status = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]
    stdout_log = server.data_dir / "logs" / cluster_id / "steps" / step_id / "stdout.gz"
    poll_until(stdout_log.exists, 30, what="the step's shipped stdout")
    answer = gzip.decompress(stdout_log.read_bytes()).decode().strip()
    _say(f"{step_id} is {status['State']} after {time.monotonic() - started:.1f} s; its stdout: {answer}")
    _say(f"  (logs: {stdout_log.parent})")


def run_cluster(server: ServerProcess) -> int:
    emr = server.client()
    started = time.monotonic()
    cluster_id = emr.run_job_flow(**CLUSTER_REQUEST)["JobFlowId"]
    _say(f"RunJobFlow -> {cluster_id}; waiting for it to run (cluster_running waiter)...")
    emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig=WAITER)
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    _say(f"{cluster_id} is {cluster['Status']['State']} after {time.monotonic() - started:.1f} s; "
         f"master at {cluster['MasterPublicDnsName']}")
    for node in emr.list_instances(ClusterId=cluster_id)["Instances"]:
        group = next(g for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
                     if g["Id"] == node["InstanceGroupId"])
        _say(f"  {node['Ec2InstanceId']} {group['InstanceGroupType']:6} {node['InstanceType']} "
             f"{node['Status']['State']}")
    _say(_yarn_view(cluster))

    _run_pi_step(server, emr, cluster_id)

    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=WAITER)
    status = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]
    _say(f"{cluster_id} is {status['State']}: {status['StateChangeReason'].get('Message', '')}")
    return 0 if status["State"] == "TERMINATED" else 1


def _terminate_leftovers(server: ServerProcess) -> None:
    """Nodes outlive their server by design; a demo that failed half-way must not
    leave its cluster running."""
    emr = server.client()
    live = [c["Id"] for c in emr.list_clusters(
        ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"])["Clusters"]]
    if live:
        _say(f"terminating {', '.join(live)}")
        emr.terminate_job_flows(JobFlowIds=live)
        for cluster_id in live:
            emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=WAITER)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elmr demo")
    parser.add_argument("--data-dir", type=Path, help="keep the server's data here (default: a temp dir)")
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory(prefix="elmr-demo-") as scratch:
        server = ServerProcess(args.data_dir or Path(scratch) / "data")
        _say(f"starting elmr server on {server.url} (data dir {server.data_dir})")
        server.start()
        try:
            return run_cluster(server)
        finally:
            _terminate_leftovers(server)
            server.stop()
            _say("server stopped")
