"""The Hadoop layer on real daemons: HDFS shared between steps, Spark on YARN in
cluster deploy mode from s3:// through S3A with the cluster's own credentials,
Hadoop's own MapReduce (the examples JAR, streaming with `aggregate`), s3-dist-cp,
`hadoop fs` on s3://, EMR's paths and commands on the nodes, CancelSteps killing the
YARN application, and a core node decommissioned without losing a block."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.config import Config

from conftest import cluster_running, wait_for
from elmr.apps.webhdfs import answers
from test_steps import command_step, run_steps, spark_step, step_log

pytestmark = pytest.mark.slow

WAITER = {"Delay": 1, "MaxAttempts": 300}
WORD_SPLITTER = """#!/usr/bin/env python3
# AWS's own streaming sample: every word as a LongValueSum record for `aggregate`.
import re, sys
pattern = re.compile("[a-zA-Z][a-zA-Z0-9]*")
for line in sys.stdin:
    for word in pattern.findall(line):
        print("LongValueSum:" + word.lower() + "\\t" + "1")
"""
CLUSTER_MODE_JOB = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("cluster-mode-from-s3").getOrCreate()
bucket = sys.argv[1]
lines = spark.read.text(f"s3://{bucket}/input/").count()
spark.createDataFrame([(lines,)], ["lines"]).write.mode("overwrite").json(f"s3://{bucket}/cluster-mode-out/")
spark.stop()
"""


def s3_client(server):
    return server.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def bucket(server):
    s3 = s3_client(server)
    s3.create_bucket(Bucket="hadoop-layer")
    s3.put_object(Bucket="hadoop-layer", Key="input/a.txt", Body=b"the quick brown fox\nthe lazy dog\n")
    s3.put_object(Bucket="hadoop-layer", Key="input/b.txt", Body=b"The dog barks\n")
    s3.put_object(Bucket="hadoop-layer", Key="code/wordSplitter.py", Body=WORD_SPLITTER.encode())
    s3.put_object(Bucket="hadoop-layer", Key="code/job.py", Body=CLUSTER_MODE_JOB.encode())
    for hour in ("01", "02"):
        for part in range(2):
            s3.put_object(Bucket="hadoop-layer", Key=f"logs/app-2026-12-01-{hour}-{part}.log",
                          Body=f"hour {hour} part {part}\n".encode())
    return "hadoop-layer"


def ended(emr, cluster_id: str, step_id: str) -> dict:
    """Spark on YARN starts several JVMs a step; on a loaded 2-core machine a
    cluster-mode step has taken over 6 minutes."""
    return wait_for(lambda: (s := emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"])
                    ["Status"]["State"] in ("COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED") and s,
                    900, 1, f"step {step_id} to end")


def completed(emr, cluster_id: str, step_id: str) -> dict:
    step = ended(emr, cluster_id, step_id)
    assert step["Status"]["State"] == "COMPLETED", step["Status"]
    return step


def test_hdfs_written_by_one_step_is_read_by_the_next(server, shared_cluster):
    emr = server.client()
    write, read = run_steps(
        emr, shared_cluster,
        command_step("write", "bash", "-c", "echo 'kept in HDFS' | hadoop fs -put - hdfs:///hadoop-layer/note.txt"),
        command_step("read", "hdfs", "dfs", "-cat", "/hadoop-layer/note.txt"))
    completed(emr, shared_cluster, write)
    completed(emr, shared_cluster, read)
    assert step_log(server, shared_cluster, read) == "kept in HDFS\n"


def test_nodes_have_emr_paths_commands_and_the_clusters_own_credentials(server, shared_cluster, bucket):
    emr = server.client()
    [step_id] = run_steps(emr, shared_cluster, command_step(
        "look-around", "bash", "-c",
        "aws s3 ls s3://hadoop-layer/input/ && cat /mnt/var/lib/info/job-flow.json && "
        "ls /usr/lib/spark/jars/spark-core_2.13-4.2.0.jar /usr/lib/hadoop/hadoop-streaming.jar "
        "/usr/lib/hadoop-mapreduce/hadoop-mapreduce-examples.jar /etc/hadoop/conf/core-site.xml "
        "/etc/spark/conf/spark-defaults.conf && env | sort"))
    completed(emr, shared_cluster, step_id)
    stdout = step_log(server, shared_cluster, step_id)
    assert "a.txt" in stdout and "b.txt" in stdout  # `aws s3 ls` inside a step
    assert f'"jobFlowId": "{shared_cluster}"' in stdout
    assert server.secret_access_key not in stdout and server.access_key_id not in stdout
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1" in stdout
    assert f"AWS_ENDPOINT_URL_S3={server.url}" in stdout
    for node in emr.list_instances(ClusterId=shared_cluster)["Instances"]:
        probe = _node_dir(server, shared_cluster, node["Id"]) / "bootstrap-probe"
        found = probe.read_text().split("\n")
        for program in ("spark-submit", "spark-sql", "pyspark", "aws", "hadoop", "hdfs", "yarn",
                        "mapred", "hive", "s3-dist-cp"):
            assert f"found {program}" in found, (node["Id"], found)
        assert found[-2] == "0", "the server's root key reached a bootstrap action"
        role = emr.list_instances(ClusterId=shared_cluster, InstanceGroupTypes=["MASTER"])["Instances"][0]["Id"]
        assert ("master" in found) == (node["Id"] == role)


def _node_dir(server, cluster_id: str, instance_id: str) -> Path:
    return server.data_dir / "nodes" / cluster_id / instance_id


def test_pyspark_in_cluster_deploy_mode_from_s3(server, shared_cluster, bucket):
    emr = server.client()
    [step_id] = run_steps(emr, shared_cluster, spark_step(
        "cluster-mode", "--master", "yarn", "--deploy-mode", "cluster", "s3://hadoop-layer/code/job.py",
        "hadoop-layer"))
    completed(emr, shared_cluster, step_id)
    s3 = s3_client(server)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="cluster-mode-out/")["Contents"]]
    rows = [json.loads(line) for key in keys if key.endswith(".json")
            for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()]
    assert rows == [{"lines": 3}] and "cluster-mode-out/_SUCCESS" in keys
    stderr = step_log(server, shared_cluster, step_id, "stderr")
    assert re.search(r"application_\d+_\d+", stderr), "the step's log names its YARN application"


def test_hadoop_wordcount_example_jar(server, shared_cluster, bucket):
    emr = server.client()
    [step_id] = run_steps(emr, shared_cluster, {
        "Name": "wordcount", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
            "Jar": "/usr/lib/hadoop-mapreduce/hadoop-mapreduce-examples.jar",
            "Args": ["wordcount", "s3://hadoop-layer/input/", "hdfs:///hadoop-layer/wordcount-out"]}})
    completed(emr, shared_cluster, step_id)
    [cat] = run_steps(emr, shared_cluster, command_step("cat", "hadoop", "fs", "-cat", "/hadoop-layer/wordcount-out/part-r-*"))
    completed(emr, shared_cluster, cat)
    counts = dict(line.split("\t") for line in step_log(server, shared_cluster, cat).splitlines())
    assert counts["the"] == "2" and counts["The"] == "1" and counts["dog"] == "2"


def test_streaming_as_aws_samples_write_it_with_aggregate(server, shared_cluster, bucket):
    emr = server.client()
    [step_id] = run_steps(emr, shared_cluster, command_step(
        "streaming-aggregate", "hadoop-streaming", "-files", "s3://hadoop-layer/code/wordSplitter.py",
        "-mapper", "wordSplitter.py", "-reducer", "aggregate",
        "-input", "s3://hadoop-layer/input/", "-output", "s3://hadoop-layer/streamed/"))
    completed(emr, shared_cluster, step_id)
    s3 = s3_client(server)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="streamed/")["Contents"]]
    assert "streamed/_SUCCESS" in keys
    counted = {}
    for key in keys:
        if "/part-" in key:
            for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines():
                word, count = line.split("\t")
                counted[word] = int(count)
    assert counted == {"the": 3, "quick": 1, "brown": 1, "fox": 1, "lazy": 1, "dog": 2, "barks": 1}


def test_streaming_map_only_with_identity_and_cat(server, shared_cluster, bucket):
    emr = server.client()
    map_only, identity = run_steps(
        emr, shared_cluster,
        command_step("map-only", "hadoop-streaming", "-mapper", "cat", "-numReduceTasks", "0",
                     "-input", "s3://hadoop-layer/input/b.txt", "-output", "hdfs:///hadoop-layer/map-only"),
        command_step("identity", "hadoop-streaming", "-mapper", "cat",
                     "-reducer", "org.apache.hadoop.mapred.lib.IdentityReducer",
                     "-input", "s3://hadoop-layer/input/a.txt", "-output", "hdfs:///hadoop-layer/identity"))
    completed(emr, shared_cluster, map_only)
    completed(emr, shared_cluster, identity)
    [cat] = run_steps(emr, shared_cluster, command_step(
        "cat", "bash", "-c", "hadoop fs -cat /hadoop-layer/map-only/part-00000; echo ---; hadoop fs -cat /hadoop-layer/identity/part-00000"))
    completed(emr, shared_cluster, cat)
    map_output, identity_output = step_log(server, shared_cluster, cat).split("---\n")
    assert map_output.split() == ["The", "dog", "barks"]
    assert sorted(identity_output.splitlines()) == ["the lazy dog\t", "the quick brown fox\t"]


def test_s3_dist_cp_to_hdfs_and_back_grouped(server, shared_cluster, bucket):
    emr = server.client()
    to_hdfs, grouped_back, listing = run_steps(
        emr, shared_cluster,
        command_step("to-hdfs", "s3-dist-cp", "--src", "s3://hadoop-layer/logs/", "--dest", "hdfs:///hadoop-layer/logs/",
                     "--srcPattern", r".*-01-\d\.log"),
        command_step("back-grouped", "s3-dist-cp", "--src", "s3://hadoop-layer/logs/", "--dest",
                     "s3://hadoop-layer/grouped/", "--groupBy", r".*app-2026-12-01-(\d+)-\d\.log"),
        command_step("list", "hadoop", "fs", "-ls", "hdfs:///hadoop-layer/logs/"))
    for step_id in (to_hdfs, grouped_back, listing):
        completed(emr, shared_cluster, step_id)
    listed = step_log(server, shared_cluster, listing)
    assert "app-2026-12-01-01-0.log" in listed and "app-2026-12-01-01-1.log" in listed
    assert "-02-" not in listed, "--srcPattern left the 02 files out"
    s3 = s3_client(server)
    grouped = {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
               for o in s3.list_objects_v2(Bucket=bucket, Prefix="grouped/")["Contents"]}
    assert grouped == {"grouped/01": b"hour 01 part 0\nhour 01 part 1\n",
                       "grouped/02": b"hour 02 part 0\nhour 02 part 1\n"}


def test_hadoop_fs_ls_s3(server, shared_cluster, bucket):
    emr = server.client()
    [step_id] = run_steps(emr, shared_cluster, command_step("ls", "hadoop", "fs", "-ls", "s3://hadoop-layer/"))
    completed(emr, shared_cluster, step_id)
    listed = step_log(server, shared_cluster, step_id)
    assert "s3://hadoop-layer/input" in listed and "s3://hadoop-layer/code" in listed


def test_cancel_steps_kills_the_yarn_application(server, shared_cluster, tmp_path):
    script = tmp_path / "forever.py"
    script.write_text("import time\nfrom pyspark.sql import SparkSession\n"
                      "spark = SparkSession.builder.appName('forever').getOrCreate()\n"
                      "spark.sparkContext.parallelize(range(2), 2).foreach(lambda _: time.sleep(600))\n")
    emr = server.client()
    [step_id] = run_steps(emr, shared_cluster, spark_step(
        "forever", "--deploy-mode", "cluster", "--name", "forever", script.as_uri()))
    master = emr.describe_cluster(ClusterId=shared_cluster)["Cluster"]["MasterPublicDnsName"]
    apps_url = f"http://{master}:8088/ws/v1/cluster/apps"

    def running_app():
        apps = (_get_json(apps_url + "?states=RUNNING").get("apps") or {}).get("app") or []
        return next((app for app in apps if app["name"] == "forever"), None)
    try:
        app = wait_for(running_app, 300, 1, "the YARN application to run")
    finally:
        emr.cancel_steps(ClusterId=shared_cluster, StepIds=[step_id], StepCancellationOption="SEND_INTERRUPT")
    assert ended(emr, shared_cluster, step_id)["Status"]["State"] == "CANCELLED"
    wait_for(lambda: _get_json(f"{apps_url}/{app['id']}")["app"]["state"] == "KILLED", 60, 1,
             "YARN to kill the application")


def _get_json(url: str) -> dict:
    import urllib.request
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def test_core_node_decommission_loses_no_block(server):
    """The master's side of a core-group shrink, driven directly: the leaving
    DataNode's blocks are re-replicated before it is reported decommissioned. On a
    cluster of its own (1 master + 2 core, Hadoop only): it takes a core node away."""
    emr = server.client()
    with cluster_running(emr, WAITER, Name="decommission", ReleaseLabel="emr-7.2.0",
                         Applications=[{"Name": "Hadoop"}],
                         Instances={"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
                                    "InstanceCount": 3, "KeepJobFlowAliveWhenNoSteps": True}) as cluster_id:
        _decommission_a_core_node(server, emr, cluster_id)


def _decommission_a_core_node(server, emr, cluster_id: str) -> None:
    [write] = run_steps(emr, cluster_id, command_step(
        "write", "bash", "-c", "head -c 6000000 /dev/urandom > data.bin && sha256sum data.bin | cut -c1-64 && "
        "hadoop fs -mkdir -p /decommission && "
        "hadoop fs -D dfs.blocksize=1048576 -put data.bin hdfs:///decommission/data.bin"))
    completed(emr, cluster_id, write)
    digest = step_log(server, cluster_id, write).strip()
    master = emr.list_instances(ClusterId=cluster_id, InstanceGroupTypes=["MASTER"])["Instances"][0]
    cores = emr.list_instances(ClusterId=cluster_id, InstanceGroupTypes=["CORE"])["Instances"]
    leaving = cores[0]
    driver = subprocess.run(
        [sys.executable, "-m", "elmr.agent.decommission", "--node-dir",
         str(_node_dir(server, cluster_id, master["Id"])), "--instance-id", leaving["Id"],
         "--address", leaving["PrivateIpAddress"], "--timeout", "300"],
        capture_output=True, text=True, timeout=400)
    assert driver.returncode == 0, driver.stderr
    assert leaving["Id"] in driver.stdout
    [check] = run_steps(emr, cluster_id, command_step(
        "check", "bash", "-c", "hdfs fsck /decommission -blocks -locations | grep -E 'Status|Missing blocks'; "
        "hdfs dfs -cat /decommission/data.bin | sha256sum | cut -c1-64"))
    completed(emr, cluster_id, check)
    report = step_log(server, cluster_id, check)
    assert "Status: HEALTHY" in report
    assert re.search(r"Missing blocks:\s+0", report)
    assert digest in report
    # The NodeManager YARN decommissioned shuts itself down; that is no failure of the node.
    wait_for(lambda: not answers(f"http://{leaving['PrivateIpAddress']}:8042/ws/v1/node/info"), 60, 1,
             "the decommissioned NodeManager to stop")
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] == "WAITING"
    assert {i["Id"]: i["Status"]["State"] for i in emr.list_instances(ClusterId=cluster_id)["Instances"]}[
        leaving["Id"]] == "RUNNING"


def test_the_clusters_credentials_are_its_own_and_end_with_it(server):
    """What the nodes' SDKs fetch: a key of the cluster's own, accepted by S3 and EMR
    while the cluster lives and refused after; an unknown token gets nothing."""
    import urllib.error
    import urllib.request

    emr = server.client()
    with cluster_running(emr, WAITER, Name="credentials", ReleaseLabel="emr-7.2.0",
                         Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1,
                                    "KeepJobFlowAliveWhenNoSteps": True}) as cluster_id:
        [node] = emr.list_instances(ClusterId=cluster_id)["Instances"]
        spec = json.loads((_node_dir(server, cluster_id, node["Id"]) / "node.json").read_text())

        def fetch(token: str) -> dict:
            request = urllib.request.Request(spec["credentials_url"], headers={"Authorization": token})
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.load(answer)
        credentials = fetch(spec["credentials_token"])
        assert credentials["AccessKeyId"].startswith("ASIA") and credentials["AccessKeyId"] != server.access_key_id
        as_cluster = dict(access_key_id=credentials["AccessKeyId"], secret_access_key=credentials["SecretAccessKey"],
                          aws_session_token=credentials["Token"])
        assert "Buckets" in server.client("s3", **as_cluster).list_buckets()
        assert server.client("emr", **as_cluster).describe_cluster(ClusterId=cluster_id)["Cluster"]["Id"] == cluster_id
        with pytest.raises(urllib.error.HTTPError) as refused:
            fetch("not-a-token")
        assert refused.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as ended:
        fetch(spec["credentials_token"])
    assert ended.value.code == 403
    with pytest.raises(server.client("s3").exceptions.ClientError):
        server.client("s3", **as_cluster).list_buckets()
