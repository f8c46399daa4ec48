"""Elastic clusters with real Hadoop and Spark daemons: a core group grown and then
shrunk while a PySpark job runs on YARN (its leaving nodes decommissioned by YARN and
HDFS, the job's output checked), a task group added and removed, EMR's refusals, an idle cluster ended by
its auto-termination policy, and a node whose agent stops reporting handled as lost."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from conftest import ElmrServer, cluster_running, free_port, wait_for
from elmr.apps.spark import spark_home

pytestmark = pytest.mark.slow

WAITER = {"Delay": 1, "MaxAttempts": 240}


def resource_manager(emr, cluster_id: str, path: str) -> dict:
    """What the cluster's YARN ResourceManager answers at `path` of its REST API."""
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    hadoop = next(app for app in cluster["Applications"] if app["Name"] == "Hadoop")
    with urllib.request.urlopen(hadoop["AdditionalInfo"]["ResourceManagerWebUiUrl"] + path, timeout=10) as answer:
        return json.load(answer)


def alive_workers(emr, cluster_id: str) -> list[dict]:
    """The NodeManagers YARN runs containers on (RUNNING: not decommissioning)."""
    nodes = resource_manager(emr, cluster_id, "/ws/v1/cluster/nodes?states=RUNNING")["nodes"]
    return (nodes or {}).get("node") or []


def running_applications(emr, cluster_id: str) -> list[dict]:
    apps = resource_manager(emr, cluster_id, "/ws/v1/cluster/apps?states=ACCEPTED,RUNNING")["apps"]
    return (apps or {}).get("app") or []


def group_of(emr, cluster_id: str, role: str) -> dict:
    return next(g for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
                if g["InstanceGroupType"] == role)


def instances(emr, cluster_id: str, group_id: str, states=("RUNNING",)) -> list[dict]:
    return emr.list_instances(ClusterId=cluster_id, InstanceGroupId=group_id,
                              InstanceStates=list(states))["Instances"]


def wait_group(emr, cluster_id: str, group_id: str, state: str, running: int, timeout_s: float = 240) -> dict:
    def settled():
        group = next(g for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
                     if g["Id"] == group_id)
        return group["Status"]["State"] == state and group["RunningInstanceCount"] == running and group
    return wait_for(settled, timeout_s, 0.5, f"group {group_id} {state} with {running} running")


def cluster_state(emr, cluster_id: str) -> str:
    return emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]


def step_state(emr, cluster_id: str, step_id: str) -> str:
    return emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]["State"]


def spark_step(name: str, *args: str) -> dict:
    return {"Name": name, "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", *args]}}


# A job that runs rounds over cached data with a shuffle each round (blocks that a
# leaving executor must hand over) and tasks long enough to keep every executor busy,
# until the test drops a marker file; it records every round's result.
ELASTIC_JOB = textwrap.dedent("""
    import json, os, sys, time
    from pyspark.sql import SparkSession
    output, stop_marker = sys.argv[1], sys.argv[2]
    spark = SparkSession.builder.appName("elastic-job").getOrCreate()
    sc = spark.sparkContext
    numbers = sc.parallelize(range(300_000), 24).map(lambda n: (n % 97, n)).cache()
    expected = {key: sum(range(key, 300_000, 97)) for key in range(97)}
    rounds, wrong = 0, 0
    while rounds < 3 or not os.path.exists(stop_marker):
        sums = dict(numbers.reduceByKey(lambda a, b: a + b, 24).collect())
        wrong += sums != expected
        sc.parallelize(range(48), 48).map(lambda n: time.sleep(0.3) or n).count()
        rounds += 1
    json.dump({"rounds": rounds, "wrong_rounds": wrong, "total": sum(sums.values())}, open(output, "w"))
""")


# One executor fits a node (an m5.large's NodeManager offers 6 GiB), so a job that
# wants four runs one on each of four nodes; the JVMs touch far less than their heap.
ELASTIC_EXECUTORS = ("--conf", "spark.executor.memory=3g", "--conf", "spark.dynamicAllocation.maxExecutors=4")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("elastic")


@pytest.fixture(scope="module")
def cluster(server):
    """1 master + 2 core, shared by the resize tests of this module (they run one
    after the other and each leaves the cluster as it found it)."""
    with cluster_running(server.client(), WAITER, Name="elastic", ReleaseLabel="emr-7.2.0", Instances={
        "InstanceGroups": [
            {"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": "m5.large", "InstanceCount": 1},
            {"Name": "Core", "InstanceRole": "CORE", "InstanceType": "m5.large", "InstanceCount": 2},
        ], "KeepJobFlowAliveWhenNoSteps": True}) as cluster_id:
        yield cluster_id


def test_cluster_is_running_while_a_step_runs_and_waiting_when_idle(server, cluster):
    emr = server.client()
    [step_id] = emr.add_job_flow_steps(JobFlowId=cluster, Steps=[{
        "Name": "sleeper", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["sleep", "5"]}}])["StepIds"]
    wait_for(lambda: step_state(emr, cluster, step_id) == "RUNNING", 60, 0.2, "the step to run")
    assert cluster_state(emr, cluster) == "RUNNING"
    wait_for(lambda: step_state(emr, cluster, step_id) == "COMPLETED", 60, 0.2, "the step to end")
    status = wait_for(lambda: (s := emr.describe_cluster(ClusterId=cluster)["Cluster"]["Status"])
                      ["State"] == "WAITING" and s, 30, 0.2, "the cluster to wait again")
    assert status["StateChangeReason"]["Message"] == "Cluster ready to run steps."


def test_core_group_grows_then_shrinks_while_a_pyspark_job_runs(server, cluster, workdir):
    emr = server.client()
    core = group_of(emr, cluster, "CORE")
    (workdir / "job.py").write_text(ELASTIC_JOB)
    output, stop_marker = workdir / "job-output.json", workdir / "stop"
    [step_id] = emr.add_job_flow_steps(JobFlowId=cluster, Steps=[spark_step(
        "elastic-job", *ELASTIC_EXECUTORS, str(workdir / "job.py"), str(output), str(stop_marker))])["StepIds"]
    wait_for(lambda: running_applications(emr, cluster), 120, 0.5, "the job's application")
    original = {i["Ec2InstanceId"] for i in instances(emr, cluster, core["Id"])}

    emr.modify_instance_groups(ClusterId=cluster, InstanceGroups=[{"InstanceGroupId": core["Id"], "InstanceCount": 4}])
    assert group_of(emr, cluster, "CORE")["Status"]["State"] == "RESIZING"
    assert group_of(emr, cluster, "CORE")["RequestedInstanceCount"] == 4
    wait_group(emr, cluster, core["Id"], "RUNNING", 4)
    assert len(alive_workers(emr, cluster)) == 4
    # The running application takes the new workers: executors run there.
    wait_for(lambda: sum(w["numContainers"] > 0 for w in alive_workers(emr, cluster)) == 4, 180, 0.5,
             "executors on every worker")
    added = {i["Ec2InstanceId"] for i in instances(emr, cluster, core["Id"])} - original
    assert len(added) == 2

    emr.modify_instance_groups(ClusterId=cluster, InstanceGroups=[{
        "InstanceGroupId": core["Id"], "InstanceCount": 2, "ShrinkPolicy": {"DecommissionTimeout": 300}}])
    shrinking = group_of(emr, cluster, "CORE")
    assert shrinking["Status"]["State"] == "RESIZING" and shrinking["ShrinkPolicy"]["DecommissionTimeout"] == 300
    wait_group(emr, cluster, core["Id"], "RUNNING", 2)
    remaining = {i["Ec2InstanceId"] for i in instances(emr, cluster, core["Id"])}
    assert remaining == original, "the newest nodes leave first"
    gone = [i for i in instances(emr, cluster, core["Id"], ("TERMINATED",)) if i["Ec2InstanceId"] in added]
    assert len(gone) == 2
    assert all(i["Status"]["StateChangeReason"]["Message"].startswith("Decommissioned gracefully") for i in gone)
    assert len(alive_workers(emr, cluster)) == 2
    assert step_state(emr, cluster, step_id) == "RUNNING", "the job ran across the shrink"

    stop_marker.write_text("")
    wait_for(lambda: step_state(emr, cluster, step_id) in ("COMPLETED", "FAILED"), 240, 1, "the job to end")
    assert step_state(emr, cluster, step_id) == "COMPLETED"
    result = json.loads(output.read_text())
    assert result["wrong_rounds"] == 0 and result["rounds"] >= 3
    assert result["total"] == sum(range(300_000))


def test_task_group_added_then_removed(server, cluster):
    emr = server.client()
    answer = emr.add_instance_groups(JobFlowId=cluster, InstanceGroups=[{
        "Name": "Task", "InstanceRole": "TASK", "InstanceType": "m5.large", "InstanceCount": 1}])
    [task_id] = answer["InstanceGroupIds"]
    assert answer["JobFlowId"] == cluster and answer["ClusterArn"].endswith(cluster)
    assert group_of(emr, cluster, "TASK")["Status"]["State"] in ("PROVISIONING", "BOOTSTRAPPING")
    wait_group(emr, cluster, task_id, "RUNNING", 1)
    assert len(alive_workers(emr, cluster)) == 3
    [task_node] = instances(emr, cluster, task_id)

    emr.modify_instance_groups(InstanceGroups=[{"InstanceGroupId": task_id, "InstanceCount": 0}])
    wait_group(emr, cluster, task_id, "RUNNING", 0)
    [gone] = instances(emr, cluster, task_id, ("TERMINATED",))
    assert gone["Id"] == task_node["Id"]
    assert gone["Status"]["StateChangeReason"]["Message"].startswith("Decommissioned gracefully")
    wait_for(lambda: len(alive_workers(emr, cluster)) == 2, 60, 0.5, "the task node to leave YARN")
    assert cluster_state(emr, cluster) == "WAITING"


def test_requests_emr_does_not_allow_are_refused(server, cluster):
    emr = server.client()
    master, core = group_of(emr, cluster, "MASTER"), group_of(emr, cluster, "CORE")

    def refused(call, **params) -> tuple[str, str]:
        with pytest.raises(emr.exceptions.ClientError) as error:
            call(**params)
        return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]

    code, message = refused(emr.modify_instance_groups, InstanceGroups=[{"InstanceGroupId": master["Id"], "InstanceCount": 2}])
    assert code == "ValidationException" and "master instance group" in message
    code, message = refused(emr.modify_instance_groups, InstanceGroups=[{"InstanceGroupId": core["Id"], "InstanceCount": -1}])
    assert code == "ValidationException" and "negative" in message
    code, message = refused(emr.modify_instance_groups, InstanceGroups=[{"InstanceGroupId": core["Id"], "InstanceCount": 0}])
    assert code == "ValidationException" and "core instance group cannot shrink below 1" in message
    code, message = refused(emr.modify_instance_groups, InstanceGroups=[{"InstanceGroupId": "ig-NOSUCHGROUP0", "InstanceCount": 1}])
    assert code == "InvalidRequestException"
    code, message = refused(emr.modify_instance_groups, InstanceGroups=[{
        "InstanceGroupId": core["Id"], "EC2InstanceIdsToTerminate": ["i-0123456789abcdef0"]}])
    assert code == "ValidationException" and "i-0123456789abcdef0" in message
    code, message = refused(emr.add_instance_groups, JobFlowId=cluster, InstanceGroups=[{
        "InstanceRole": "CORE", "InstanceType": "m5.large", "InstanceCount": 1}])
    assert code == "ValidationException" and "TASK" in message
    code, message = refused(emr.add_instance_groups, JobFlowId=cluster, InstanceGroups=[{
        "InstanceRole": "TASK", "InstanceType": "m5.nosuchsize", "InstanceCount": 1}])
    assert code == "ValidationException"
    assert group_of(emr, cluster, "CORE")["RequestedInstanceCount"] == 2, "nothing was recorded"

    ended = emr.run_job_flow(Name="ended", Instances={"MasterInstanceType": "m5.large", "InstanceCount": 2})["JobFlowId"]
    emr.terminate_job_flows(JobFlowIds=[ended])
    code, message = refused(emr.modify_instance_groups, ClusterId=ended, InstanceGroups=[{
        "InstanceGroupId": group_of(emr, ended, "CORE")["Id"], "InstanceCount": 3}])
    assert code == "ValidationException" and "shutting down, terminated, or finished" in message
    code, _ = refused(emr.add_instance_groups, JobFlowId=ended, InstanceGroups=[{
        "InstanceRole": "TASK", "InstanceType": "m5.large", "InstanceCount": 1}])
    assert code == "ValidationException"


def test_idle_cluster_is_ended_by_its_auto_termination_policy(server, workdir):
    """Busy while a step runs and while a Spark application runs outside any step;
    ended once idle for its IdleTimeout (60 s, EMR's minimum)."""
    emr = server.client()
    cluster_id = emr.run_job_flow(
        Name="idle", ReleaseLabel="emr-7.2.0", AutoTerminationPolicy={"IdleTimeout": 60},
        Steps=[{"Name": "short", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["sleep", "2"]}}],
        Instances={"MasterInstanceType": "m5.large", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]
    emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig=WAITER)
    [step] = emr.list_steps(ClusterId=cluster_id)["Steps"]
    wait_for(lambda: step_state(emr, cluster_id, step["Id"]) == "COMPLETED", 120, 0.5, "the step")

    # A Spark application run from outside (not a step) keeps the cluster busy.
    master = next(i for i in emr.list_instances(ClusterId=cluster_id)["Instances"])
    node_env = cluster_node_env(server, master["Id"])
    (workdir / "holds.py").write_text(textwrap.dedent("""
        import sys, time
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.appName("outside").getOrCreate()
        while True:
            time.sleep(1)
    """))
    driver = subprocess.Popen(
        [str(spark_home() / "bin" / "spark-submit"), "--conf", "spark.executor.memory=512m",
         str(workdir / "holds.py")], env=node_env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: running_applications(emr, cluster_id), 120, 0.5, "the outside application")
        wait_for(lambda: idle_since(server, cluster_id) is None, 30, 0.5, "the cluster to count as busy")
        assert cluster_state(emr, cluster_id) == "WAITING"
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(30)
    wait_for(lambda: not running_applications(emr, cluster_id), 120, 0.5, "the application to end")
    idle_from = time.monotonic()

    ended = wait_for(lambda: (c := emr.describe_cluster(ClusterId=cluster_id)["Cluster"])
                     ["Status"]["State"] == "TERMINATED" and c, 240, 1, "the idle cluster to end")
    assert time.monotonic() - idle_from >= 55  # idle_since is set a moment after the app ended
    reason = ended["Status"]["StateChangeReason"]
    assert reason["Code"] == "ALL_STEPS_COMPLETED"
    assert "IdleTimeout of 60 seconds" in reason["Message"]


def cluster_node_env(server, instance_id: str) -> dict:
    """The environment a node's processes run with (its Spark and Hadoop configuration
    on the cluster's YARN), read from a step-less node the way the agent builds it."""
    with sqlite3.connect(server.data_dir / "elmr.db") as db:
        state = db.execute("SELECT provider_state FROM instances WHERE id = ?", (instance_id,)).fetchone()[0]
    node_dir = json.loads(state)["node_dir"]
    code = ("import json, sys; from pathlib import Path; from elmr.agent.node_apps import NodeApplications; "
            "from elmr.node_protocol import NodeSpec; d = Path(sys.argv[1]); "
            "print(json.dumps(NodeApplications(NodeSpec.read(d), d).env))")
    answer = subprocess.run([sys.executable, "-c", code, node_dir], capture_output=True, text=True, check=True)
    return json.loads(answer.stdout)


def idle_since(server, cluster_id: str) -> str | None:
    with sqlite3.connect(server.data_dir / "elmr.db") as db:
        return db.execute("SELECT idle_since FROM clusters WHERE id = ?", (cluster_id,)).fetchone()[0]


@pytest.fixture
def impatient_server(tmp_path):
    """A server that takes a node for lost after 5 s without a heartbeat."""
    running = ElmrServer(tmp_path / "data", free_port(), extra_args=("--node-heartbeat-timeout", "5"))
    running.start()
    yield running
    running.stop_everything()


def test_node_whose_agent_stops_reporting_is_lost_and_replaced(impatient_server):
    """The agent is frozen (SIGSTOP): its processes are all in the process table, only
    its heartbeats stop."""
    emr = impatient_server.client()
    cluster_id = emr.run_job_flow(Name="frozen", Instances={
        "MasterInstanceType": "m5.large", "InstanceCount": 2, "KeepJobFlowAliveWhenNoSteps": True})["JobFlowId"]
    emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig=WAITER)
    [core] = emr.list_instances(ClusterId=cluster_id, InstanceGroupTypes=["CORE"])["Instances"]
    agent_pid = node_agent_pid(impatient_server, core["Id"])
    os.kill(agent_pid, signal.SIGSTOP)

    def lost():
        node = next(i for i in emr.list_instances(ClusterId=cluster_id)["Instances"] if i["Id"] == core["Id"])
        return node["Status"]["State"] == "TERMINATED" and node
    node = wait_for(lost, 90, 0.5, "the frozen node to be handled as lost")
    assert node["Status"]["StateChangeReason"]["Code"] == "INSTANCE_FAILURE"
    assert "has not reported for" in node["Status"]["StateChangeReason"]["Message"]
    wait_for(lambda: not os.path.exists(f"/proc/{agent_pid}"), 30, 0.5, "the frozen agent to be killed")
    wait_for(lambda: len(emr.list_instances(ClusterId=cluster_id, InstanceGroupTypes=["CORE"],
                                            InstanceStates=["RUNNING"])["Instances"]) == 1,
             120, 0.5, "a replacement core node")
    assert cluster_state(emr, cluster_id) == "WAITING"


def node_agent_pid(server, instance_id: str) -> int:
    with sqlite3.connect(server.data_dir / "elmr.db") as db:
        state = db.execute("SELECT provider_state FROM instances WHERE id = ?", (instance_id,)).fetchone()[0]
    return json.loads(state)["pid"]
