"""Managed scaling with real Hadoop and Spark daemons, on a server whose managed scaling
waits 10 s instead of its defaults (`--scaling-cooldown 10`: between scale-outs,
after a resize before a scale-in, and spare capacity before a scale-in): a PySpark
job with no executor flags asks YARN for more executors than one core node holds,
managed scaling adds a task node, the job's tasks run there too, and once the job has
ended the idle task node is decommissioned and removed."""

import json
import sqlite3
import textwrap
from datetime import datetime

import pytest

from conftest import ElmrServer, cluster_running, free_port, wait_for
from test_elastic import WAITER, alive_workers, group_of, instances, spark_step, step_state, wait_group

pytestmark = pytest.mark.slow

COOLDOWN_S = 10
# An m5.large's NodeManager offers 6144 MB: the job's ApplicationMaster (896 MB) and one
# executor as spark-defaults size it (2 cores, 4305 MB + 430 MB) fit; the sixteen tasks
# of a round call for eight, and the seven more wait in YARN as pending containers.
# Rounds of sixteen 6-second tasks (eight executors' worth of work) until tasks have
# run on two nodes (YARN names each container's node in NM_HOST), or 8 minutes.
BACKLOG_JOB = textwrap.dedent("""
    import json, os, sys, time
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.appName("backlog-job").getOrCreate()
    sc = spark.sparkContext

    def square_slowly(n):
        time.sleep(6)
        return os.environ.get("NM_HOST", "?"), n * n

    hosts, rounds, deadline = set(), 0, time.time() + 480
    while len(hosts) < 2 and time.time() < deadline:
        results = sc.parallelize(range(16), 16).map(square_slowly).collect()
        hosts |= {host for host, _ in results}
        rounds += 1
    json.dump({"hosts": sorted(hosts), "rounds": rounds, "total": sum(v for _, v in results)},
              open(sys.argv[1], "w"))
""")


@pytest.fixture(scope="module")
def scaling_server(tmp_path_factory):
    running = ElmrServer(tmp_path_factory.mktemp("managed-scaling"), free_port(),
                         extra_args=("--scaling-cooldown", str(COOLDOWN_S)))
    running.start()
    yield running
    running.stop_everything()


@pytest.fixture(scope="module")
def cluster(scaling_server):
    """1 master + 1 core m5.large and an empty task group; managed scaling may add one
    task node (MaximumCoreCapacityUnits keeps the core group as it is)."""
    with cluster_running(scaling_server.client(), WAITER, Name="managed", ReleaseLabel="emr-7.2.0", Instances={
        "InstanceGroups": [
            {"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": "m5.large", "InstanceCount": 1},
            {"Name": "Core", "InstanceRole": "CORE", "InstanceType": "m5.large", "InstanceCount": 1},
            {"Name": "Task", "InstanceRole": "TASK", "InstanceType": "m5.large", "InstanceCount": 0},
        ], "KeepJobFlowAliveWhenNoSteps": True},
            ManagedScalingPolicy={"ComputeLimits": {
                "UnitType": "Instances", "MinimumCapacityUnits": 1, "MaximumCapacityUnits": 2,
                "MaximumCoreCapacityUnits": 1}}) as cluster_id:
        yield cluster_id


def scaling_decisions(server, cluster_id: str) -> list[dict]:
    """Managed scaling's record of its decisions (clusters.scaling_state)."""
    with sqlite3.connect(server.data_dir / "elmr.db") as db:
        state = db.execute("SELECT scaling_state FROM clusters WHERE id = ?", (cluster_id,)).fetchone()[0]
    return (json.loads(state) if state else {}).get("decisions", [])


def test_managed_scaling_adds_a_task_node_under_a_backlog_and_removes_it_when_idle(scaling_server, cluster,
                                                                                   tmp_path):
    emr = scaling_server.client()
    task = group_of(emr, cluster, "TASK")
    assert (task["RequestedInstanceCount"], task["Status"]["State"]) == (0, "RUNNING")
    (tmp_path / "job.py").write_text(BACKLOG_JOB)
    output = tmp_path / "job-output.json"
    [step_id] = emr.add_job_flow_steps(JobFlowId=cluster, Steps=[spark_step(
        "backlog", str(tmp_path / "job.py"), str(output))])["StepIds"]

    wait_for(lambda: group_of(emr, cluster, "TASK")["RequestedInstanceCount"] == 1, 300, 0.5,
             "managed scaling to ask for a task node")
    [out] = scaling_decisions(scaling_server, cluster)
    assert (out["direction"], out["from_units"], out["to_units"]) == ("OUT", 1, 2)
    assert "pending container(s)" in out["reason"]
    [requested] = instances(emr, cluster, task["Id"], states=("PROVISIONING", "BOOTSTRAPPING", "RUNNING"))
    created = requested["Status"]["Timeline"]["CreationDateTime"]
    assert abs((created - datetime.fromisoformat(out["at"])).total_seconds()) < 0.01, \
        "the node is requested in the pass that decided"
    wait_group(emr, cluster, task["Id"], "RUNNING", 1, timeout_s=300)
    assert len(alive_workers(emr, cluster)) == 2, "the task node's NodeManager is active in YARN"
    assert group_of(emr, cluster, "CORE")["RequestedInstanceCount"] == 1, "core stays at its cap"

    wait_for(lambda: step_state(emr, cluster, step_id) in ("COMPLETED", "FAILED"), 600, 1, "the job to end")
    assert step_state(emr, cluster, step_id) == "COMPLETED"
    result = json.loads(output.read_text())
    assert len(result["hosts"]) == 2, "tasks ran on the core node and on the new task node"
    assert result["total"] == sum(n * n for n in range(16))

    wait_group(emr, cluster, task["Id"], "RUNNING", 0, timeout_s=300)
    assert group_of(emr, cluster, "TASK")["RequestedInstanceCount"] == 0
    [gone] = instances(emr, cluster, task["Id"], states=("TERMINATED",))
    assert gone["Id"] == requested["Id"]
    assert gone["Status"]["StateChangeReason"]["Message"].startswith("Decommissioned gracefully")
    scale_in = scaling_decisions(scaling_server, cluster)[-1]
    assert (scale_in["direction"], scale_in["from_units"], scale_in["to_units"]) == ("IN", 2, 1)
    wait_for(lambda: len(alive_workers(emr, cluster)) == 1, 60, 0.5, "the task node to leave YARN")
