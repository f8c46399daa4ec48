"""Spark's default executors and YARN's application masters on a real cluster of
1 master, 1 core and 1 task node (m5.xlarge): a PySpark job with no executor flags
asks YARN for an executor per four tasks, each about filling a NodeManager, so its
backlog shows as pending containers (what managed scaling reads); every step's
application master runs on the core node, never on the task node, in client and in
cluster deploy mode (core NodeManagers carry YARN's node label CORE)."""

import json
import textwrap
import threading

import pytest

from conftest import cluster_running, wait_for
from test_elastic import WAITER, alive_workers, resource_manager, spark_step, step_state

pytestmark = pytest.mark.slow

# 24 tasks of 4 s on a cluster of 8 cores: Spark's dynamic allocation asks for 6
# executors of 4 cores; one fits each of the two worker NodeManagers.
BACKLOG_JOB = textwrap.dedent("""
    import json, sys, time
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.appName("default-backlog").getOrCreate()
    conf = spark.sparkContext.getConf()
    total = spark.sparkContext.parallelize(range(24), 24).map(lambda n: time.sleep(4) or n * n).sum()
    json.dump({"total": total, "memory": conf.get("spark.executor.memory"), "cores": conf.get("spark.executor.cores"),
               "max": conf.get("spark.dynamicAllocation.maxExecutors", None)}, open(sys.argv[1], "w"))
""")
SMALL_JOB = textwrap.dedent("""
    import sys
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.getOrCreate()
    assert spark.sparkContext.parallelize(range(100), 4).sum() == 4950
""")


@pytest.fixture(scope="module")
def cluster(server):
    with cluster_running(server.client(), WAITER, Name="executors", ReleaseLabel="emr-7.2.0", Instances={
        "InstanceGroups": [
            {"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"Name": "Core", "InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"Name": "Task", "InstanceRole": "TASK", "InstanceType": "m5.xlarge", "InstanceCount": 1},
        ], "KeepJobFlowAliveWhenNoSteps": True}) as cluster_id:
        yield cluster_id


def node_address(emr, cluster_id: str, role: str) -> str:
    [node] = emr.list_instances(ClusterId=cluster_id, InstanceGroupTypes=[role], InstanceStates=["RUNNING"])[
        "Instances"]
    return node["PrivateIpAddress"]


def cluster_metrics(emr, cluster_id: str) -> dict:
    return resource_manager(emr, cluster_id, "/ws/v1/cluster/metrics")["clusterMetrics"]


def finished_application(emr, cluster_id: str, name: str) -> dict:
    apps = (resource_manager(emr, cluster_id, "/ws/v1/cluster/apps?states=FINISHED")["apps"] or {}).get("app") or []
    return next(app for app in apps if app["name"] == name)


def test_a_default_jobs_backlog_shows_as_pending_containers(server, cluster, tmp_path):
    emr = server.client()
    (tmp_path / "job.py").write_text(BACKLOG_JOB)
    output = tmp_path / "output.json"
    [step_id] = emr.add_job_flow_steps(JobFlowId=cluster, Steps=[spark_step(
        "backlog", str(tmp_path / "job.py"), str(output))])["StepIds"]
    seen = {"pending": 0, "busy_nodes": 0}
    done = threading.Event()

    def watch():
        while not done.wait(0.5):
            try:
                seen["pending"] = max(seen["pending"], cluster_metrics(emr, cluster)["containersPending"])
                busy = sum(worker["numContainers"] > 0 for worker in alive_workers(emr, cluster))
                seen["busy_nodes"] = max(seen["busy_nodes"], busy)
            except OSError:
                pass
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        wait_for(lambda: step_state(emr, cluster, step_id) in ("COMPLETED", "FAILED"), 600, 1, "the job to end")
    finally:
        done.set()
        watcher.join(10)
    assert step_state(emr, cluster, step_id) == "COMPLETED"
    result = json.loads(output.read_text())
    assert result == {"total": sum(n * n for n in range(24)), "memory": "9486m", "cores": "4", "max": None}
    assert seen["pending"] > 0, "executors YARN could not place showed as pending containers"
    assert seen["busy_nodes"] == 2, "executors ran on the core and on the task node"
    wait_for(lambda: cluster_metrics(emr, cluster)["containersPending"] == 0, 60, 0.5, "no container left pending")


def test_application_masters_run_on_core_nodes_in_both_deploy_modes(server, cluster, tmp_path):
    emr = server.client()
    core, task = node_address(emr, cluster, "CORE"), node_address(emr, cluster, "TASK")
    labels = {worker["nodeHostName"]: worker.get("nodeLabels") or [] for worker in alive_workers(emr, cluster)}
    assert labels == {core: ["CORE"], task: []}
    (tmp_path / "small.py").write_text(SMALL_JOB)
    steps = [spark_step(f"am-{mode}", "--deploy-mode", mode, "--name", f"am-{mode}", str(tmp_path / "small.py"))
             for mode in ("client", "cluster")]
    step_ids = emr.add_job_flow_steps(JobFlowId=cluster, Steps=steps)["StepIds"]
    for step_id in step_ids:
        wait_for(lambda: step_state(emr, cluster, step_id) in ("COMPLETED", "FAILED"), 300, 1, "the step to end")
        assert step_state(emr, cluster, step_id) == "COMPLETED"
    for mode in ("client", "cluster"):
        app = finished_application(emr, cluster, f"am-{mode}")
        assert app["amNodeLabelExpression"] == "CORE", mode
        assert app["amHostHttpAddress"].split(":")[0] == core, f"the {mode}-mode application master"
