"""Each cluster's nodes run their own Python on real clusters: bootstrap actions
`sudo pip3 install` a wheel built here (no network), steps and Spark's Python
workers import it, two clusters hold two versions at once, a step's `pip install`
reaches the master only (as on EMR), PYSPARK_PYTHON follows the spark-env
classification, and elmr's own environment is the same before and after."""

import json
import subprocess
import sys
import textwrap

import pytest

from elmr.agent import python_env
from probe_wheel import PROBE, build_wheel
from test_steps import WAITER, command_step, run_steps, spark_step, step_log, wait_step_ended

pytestmark = pytest.mark.slow
STEP_DEADLINE_S = 600  # generous: the machine is shared

WHERE_PYTHON_RUNS = textwrap.dedent(f"""
    import json, os, sys
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.appName("where-python-runs").getOrCreate()
    def where(_):
        import {PROBE}
        yield json.dumps([os.environ["ELMR_INSTANCE_ROLE"], sys.prefix, {PROBE}.VERSION])
    import {PROBE}
    print("DRIVER", json.dumps([sys.prefix, {PROBE}.VERSION]))
    executors = spark.sparkContext.parallelize(range(4), 4).mapPartitions(where).collect()
    print("EXECUTORS", json.dumps(sorted(set(executors))))
""")
PRINT_VERSION = f"import {PROBE}, sys; print('VERSION', {PROBE}.VERSION, sys.prefix)"


def elmr_packages() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "list", "--format=freeze"],
                          capture_output=True, text=True, check=True).stdout


def node_dirs(server, emr, cluster_id: str) -> dict:
    """{role: the node's directory} (one node per role in these clusters)."""
    instances = emr.list_instances(ClusterId=cluster_id)["Instances"]
    groups = {g["Id"]: g["InstanceGroupType"] for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]}
    return {groups[i["InstanceGroupId"]]: server.data_dir / "nodes" / cluster_id / i["Id"] for i in instances}


def printed(server, cluster_id: str, step_id: str, label: str):
    stdout = step_log(server, cluster_id, step_id)
    return json.loads(stdout.split(f"{label} ", 1)[1].splitlines()[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("python-env")
    (directory / "install.sh").write_text('#!/bin/bash\nset -e\nsudo pip3 install "$1"\n')
    (directory / "install-m.sh").write_text('#!/bin/bash\nset -e\npython3 -m pip install "$1"\n')
    (directory / "where.py").write_text(WHERE_PYTHON_RUNS)
    return directory


@pytest.fixture(scope="module")
def clusters(server, files):
    """Two clusters of 1 master + 1 core started side by side: `one` bootstraps
    elmr_probe 1.0 with `sudo pip3 install`, `two` bootstraps 2.0 with `python3 -m
    pip install` and runs its PySpark on an interpreter of the test's own, named by
    the spark-env classification. Yields their ids and elmr's package list from
    before they started."""
    before = elmr_packages()
    custom = files / "custom"
    python_env.create(custom)
    subprocess.run([str(custom / "python" / "bin" / "pip"), "install", "-q", str(build_wheel(files, "3.0"))],
                   check=True)
    emr = server.client()
    instances = {"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
                 "InstanceCount": 2, "KeepJobFlowAliveWhenNoSteps": True}

    def start(name: str, script: str, version: str, **extra) -> str:
        return emr.run_job_flow(
            Name=name, ReleaseLabel="emr-7.2.0", Applications=[{"Name": "Spark"}], Instances=instances,
            BootstrapActions=[{"Name": "install", "ScriptBootstrapAction": {
                "Path": str(files / script), "Args": [str(build_wheel(files, version))]}}], **extra,
        )["JobFlowId"]
    one = start("python-one", "install.sh", "1.0")
    two = start("python-two", "install-m.sh", "2.0", Configurations=[{
        "Classification": "spark-env", "Configurations": [{
            "Classification": "export", "Properties": {"PYSPARK_PYTHON": str(custom / "python" / "bin" / "python3")}}]}])
    for cluster_id in (one, two):
        emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig=WAITER)
    yield {"one": one, "two": two, "custom": custom / "python", "packages_before": before}
    emr.terminate_job_flows(JobFlowIds=[one, two])
    for cluster_id in (one, two):
        emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=WAITER)


def test_bootstrap_pip_install_reaches_steps_and_spark_workers_of_its_cluster_only(server, clusters, files):
    emr = server.client()
    one, two = clusters["one"], clusters["two"]
    nodes = node_dirs(server, emr, one)
    [plain, spark] = run_steps(emr, one, command_step("python3", "python3", "-c", PRINT_VERSION),
                               spark_step("where", str(files / "where.py")))
    [plain_two] = run_steps(emr, two, command_step("python3", "python3", "-c", PRINT_VERSION))
    for cluster_id, step_id in ((one, plain), (one, spark), (two, plain_two)):
        step = wait_step_ended(emr, cluster_id, step_id, STEP_DEADLINE_S)
        assert step["Status"]["State"] == "COMPLETED", step["Status"]
    assert step_log(server, one, plain).split() == ["VERSION", "1.0", str(nodes["MASTER"] / "python")]
    assert step_log(server, two, plain_two).split()[:2] == ["VERSION", "2.0"]
    assert printed(server, one, spark, "DRIVER") == [str(nodes["MASTER"] / "python"), "1.0"]
    assert printed(server, one, spark, "EXECUTORS") == [json.dumps(["CORE", str(nodes["CORE"] / "python"), "1.0"])]


def test_spark_env_classification_names_the_python_of_pyspark(server, clusters, files):
    emr = server.client()
    [step_id] = run_steps(emr, clusters["two"], spark_step("where", str(files / "where.py")))
    step = wait_step_ended(emr, clusters["two"], step_id, STEP_DEADLINE_S)
    assert step["Status"]["State"] == "COMPLETED", step["Status"]
    custom = str(clusters["custom"])
    assert printed(server, clusters["two"], step_id, "DRIVER") == [custom, "3.0"]
    assert printed(server, clusters["two"], step_id, "EXECUTORS") == [json.dumps(["CORE", custom, "3.0"])]


def test_pip_install_in_a_step_reaches_the_master_and_never_elmr(server, clusters, files):
    emr = server.client()
    one = clusters["one"]
    install, check, spark = run_steps(
        emr, one, command_step("install", "pip3", "install", str(build_wheel(files, "4.0"))),
        command_step("python3", "python3", "-c", PRINT_VERSION),
        spark_step("where", str(files / "where.py")))
    for step_id in (install, check, spark):
        assert wait_step_ended(emr, one, step_id, STEP_DEADLINE_S)["Status"]["State"] == "COMPLETED"
    assert step_log(server, one, check).split()[:2] == ["VERSION", "4.0"]
    assert printed(server, one, spark, "DRIVER")[1] == "4.0"
    assert json.loads(printed(server, one, spark, "EXECUTORS")[0])[2] == "1.0", "a step runs on the master only"
    assert elmr_packages() == clusters["packages_before"]
    assert subprocess.run([sys.executable, "-c", f"import {PROBE}"], capture_output=True).returncode != 0
