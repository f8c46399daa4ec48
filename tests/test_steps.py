"""Steps that really run on a real cluster (HDFS, YARN, Spark on YARN): Spark, Spark
SQL, Hive scripts, Hadoop streaming and shell steps, with EMR's ordering,
ActionOnFailure, cancellation, concurrency, logs, bootstrap actions and configuration
classifications. As on EMR, a path without a scheme is in HDFS: files on the test's
own disk are given as file:// URIs (every node of a local cluster shares the disk)."""

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.config import Config

from conftest import wait_for
from elmr.apps.spark import spark_home

pytestmark = pytest.mark.slow

PI_PY = str(spark_home() / "examples" / "src" / "main" / "python" / "pi.py")
WAITER = {"Delay": 1, "MaxAttempts": 240}
TEXT = "the quick brown fox jumps over the lazy dog\nthe dog sleeps\nA fox, a dog!\n"


def spark_step(name: str, *args: str, on_failure: str = "CONTINUE") -> dict:
    return {"Name": name, "ActionOnFailure": on_failure,
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", *args]}}


def command_step(name: str, *args: str, on_failure: str = "CONTINUE") -> dict:
    return {"Name": name, "ActionOnFailure": on_failure,
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": list(args)}}


def wait_cluster_ended(emr, cluster_id: str) -> dict:
    """Polls until TERMINATED or TERMINATED_WITH_ERRORS (boto3's waiter fails on the latter)."""
    return wait_for(lambda: (c := emr.describe_cluster(ClusterId=cluster_id)["Cluster"])
                    ["Status"]["State"].startswith("TERMINATED") and c, 240, 0.5, "the cluster to end")


def run_steps(emr, cluster_id: str, *steps: dict) -> list[str]:
    return emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=list(steps))["StepIds"]


def wait_step_ended(emr, cluster_id: str, step_id: str, timeout_s: float = 240) -> dict:
    return wait_for(lambda: (s := emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"])
                    ["Status"]["State"] in ("COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED") and s,
                    timeout_s, 0.5, f"step {step_id} to end")


def step_log(server, cluster_id: str, step_id: str, name: str = "stdout") -> str:
    """The step's log as shipped under the cluster's log dir (no LogUri: the data dir)."""
    path = server.data_dir / "logs" / cluster_id / "steps" / step_id / f"{name}.gz"
    wait_for(path.exists, 30, 0.2, f"{path} to be shipped")
    return gzip.decompress(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("step-files")


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster (1 master + 2 core): its bootstrap action leaves a marker on
    every node and it has a spark-defaults property, which this module's steps read."""
    return shared_cluster


def test_sparks_own_pi_example(server, cluster):
    emr = server.client()
    [step_id] = run_steps(emr, cluster, spark_step("pi", "--deploy-mode", "client", PI_PY, "10"))
    emr.get_waiter("step_complete").wait(ClusterId=cluster, StepId=step_id, WaiterConfig=WAITER)
    stderr = step_log(server, cluster, step_id, "stderr")
    scratch = [line.split("Created local directory at ", 1)[1] for line in stderr.splitlines()
               if "Created local directory at " in line]
    assert scratch and all(path.startswith(str(server.data_dir)) for path in scratch), scratch
    step = emr.describe_step(ClusterId=cluster, StepId=step_id)["Step"]
    timeline = step["Status"]["Timeline"]
    assert timeline["CreationDateTime"] <= timeline["StartDateTime"] <= timeline["EndDateTime"]
    assert "Pi is roughly 3.1" in step_log(server, cluster, step_id)
    assert "Step succeeded with exitCode 0" in step_log(server, cluster, step_id, "controller")
    spark = next(a for a in emr.describe_cluster(ClusterId=cluster)["Cluster"]["Applications"] if a["Name"] == "Spark")
    history = spark["AdditionalInfo"]["SparkHistoryServerUrl"] + "/api/v1/applications"

    def finished_apps() -> list:
        try:
            with urllib.request.urlopen(history, timeout=5) as answer:
                return [app["name"] for app in json.load(answer)]
        except OSError:
            return []
    assert "PythonPi" in wait_for(finished_apps, 60, 1, "the history server to list the application")


def test_pyspark_word_count_on_every_node_sees_bootstrap_and_classification(server, cluster, workdir):
    (workdir / "words.txt").write_text(TEXT)
    output = workdir / "counts"
    script = workdir / "wordcount.py"
    script.write_text(textwrap.dedent("""
        import json, os, sys
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.appName("wordcount").getOrCreate()
        counts = (spark.sparkContext.textFile(sys.argv[1])
                  .flatMap(lambda line: line.split()).map(lambda w: (w, 1))
                  .reduceByKey(lambda a, b: a + b).collect())
        json.dump(dict(counts), open(sys.argv[2], "w"))
        def marker(_):
            path = os.path.join(os.environ["ELMR_NODE_DIR"], "bootstrap-marker")
            yield open(path).read().strip()
        markers = set(spark.sparkContext.parallelize(range(8), 8).mapPartitions(marker).collect())
        print("MARKERS", json.dumps(sorted(markers)))
        print("CONF", spark.conf.get("spark.elmr.test.marker"))
    """))
    emr = server.client()
    [step_id] = run_steps(emr, cluster, spark_step("wordcount", str(script), (workdir / "words.txt").as_uri(),
                                                   str(output)))
    assert wait_step_ended(emr, cluster, step_id)["Status"]["State"] == "COMPLETED"
    expected = {}
    for word in TEXT.split():
        expected[word] = expected.get(word, 0) + 1
    assert json.loads(output.read_text()) == expected
    stdout = step_log(server, cluster, step_id)
    markers = json.loads(stdout.split("MARKERS ", 1)[1].splitlines()[0])
    core_ids = {i["Ec2InstanceId"] for i in emr.list_instances(
        ClusterId=cluster, InstanceGroupTypes=["CORE"])["Instances"]}
    assert {m.split(" on ")[1] for m in markers} <= core_ids and all(m.startswith("bootstrapped") for m in markers)
    assert "CONF from-classification" in stdout


def test_spark_sql_and_hive_script_steps(server, cluster, workdir):
    query = workdir / "query.sql"
    query.write_text("SELECT name, SUM(qty) AS total FROM ${table} GROUP BY name ORDER BY name;\n")
    emr = server.client()
    create, hive = run_steps(
        emr, cluster,
        command_step("create", "spark-sql", "-e",
                     "CREATE TABLE fruit (name STRING, qty INT) USING parquet; "
                     "INSERT INTO fruit VALUES ('apple', 2), ('pear', 1), ('apple', 3);"),
        command_step("hive", "hive-script", "--run-hive-script", "--args", "-f", str(query),
                     "-d", "table=fruit"),
    )
    assert wait_step_ended(emr, cluster, create)["Status"]["State"] == "COMPLETED"
    assert wait_step_ended(emr, cluster, hive)["Status"]["State"] == "COMPLETED"
    rows = [line.split("\t") for line in step_log(server, cluster, hive).splitlines() if "\t" in line]
    assert rows == [["apple", "5"], ["pear", "1"]]


def test_failing_steps_continue_or_cancel_and_wait(server, cluster):
    emr = server.client()
    failing, after_continue = run_steps(
        emr, cluster,
        command_step("fails", "python3", "-c", "raise ValueError('the input is broken')"),
        command_step("runs-anyway", "echo", "still running"),
    )
    failed = wait_step_ended(emr, cluster, failing)
    assert failed["Status"]["State"] == "FAILED"
    details = failed["Status"]["FailureDetails"]
    assert details["Message"] == "ValueError: the input is broken"
    assert details["LogFile"].endswith("stderr")
    assert wait_step_ended(emr, cluster, after_continue)["Status"]["State"] == "COMPLETED"

    stop_here, cancelled = run_steps(
        emr, cluster,
        command_step("fails-and-waits", "false", on_failure="CANCEL_AND_WAIT"),
        command_step("never-runs", "echo", "no"),
    )
    assert wait_step_ended(emr, cluster, stop_here)["Status"]["State"] == "FAILED"
    assert wait_step_ended(emr, cluster, cancelled)["Status"]["State"] == "CANCELLED"
    wait_for(lambda: emr.describe_cluster(ClusterId=cluster)["Cluster"]["Status"]["State"] == "WAITING",
             30, what="the cluster to wait again")


def _step_processes(server, cluster_id: str, step_id: str) -> list[int]:
    """Processes running in the step's work dir (the step and what it started)."""
    work = f"/steps/{step_id}/work"
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd").endswith(work):
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


@pytest.mark.parametrize("option", ["SEND_INTERRUPT", "TERMINATE_PROCESS"])
def test_cancel_running_step_kills_its_process_tree(server, cluster, option):
    emr = server.client()
    [step_id] = run_steps(emr, cluster, command_step(
        "sleeper", "bash", "-c", "sleep 300 & sleep 300 & wait"))
    wait_for(lambda: len(_step_processes(server, cluster, step_id)) >= 3, 60, 0.2, "the step's processes")
    answer = emr.cancel_steps(ClusterId=cluster, StepIds=[step_id], StepCancellationOption=option)
    assert answer["CancelStepsInfoList"][0]["Status"] == "SUBMITTED"
    assert wait_step_ended(emr, cluster, step_id)["Status"]["State"] == "CANCELLED"
    wait_for(lambda: not _step_processes(server, cluster, step_id), 20, 0.2, "the step's processes to go")


def test_pending_step_is_cancelled_at_once_and_order_is_kept(server, cluster):
    emr = server.client()
    blocker, pending = run_steps(emr, cluster, command_step("blocker", "sleep", "30"),
                                 command_step("pending", "echo", "later"))
    answer = emr.cancel_steps(ClusterId=cluster, StepIds=[pending, "s-NOSUCHSTEP00"])
    statuses = {info["StepId"]: info["Status"] for info in answer["CancelStepsInfoList"]}
    assert statuses == {pending: "SUBMITTED", "s-NOSUCHSTEP00": "FAILED"}
    assert emr.describe_step(ClusterId=cluster, StepId=pending)["Step"]["Status"]["State"] == "CANCELLED"
    emr.cancel_steps(ClusterId=cluster, StepIds=[blocker], StepCancellationOption="TERMINATE_PROCESS")
    wait_step_ended(emr, cluster, blocker)
    listed = [s["Id"] for s in emr.list_steps(ClusterId=cluster)["Steps"]]
    assert listed.index(pending) < listed.index(blocker), "ListSteps lists the newest first"
    cancelled = [s["Id"] for s in emr.list_steps(ClusterId=cluster, StepStates=["CANCELLED"])["Steps"]]
    assert [step_id for step_id in cancelled if step_id in (pending, blocker)] == [pending, blocker]


def test_concurrency_two_runs_steps_side_by_side(server, cluster):
    emr = server.client()
    emr.modify_cluster(ClusterId=cluster, StepConcurrencyLevel=2)
    try:
        first, second = run_steps(emr, cluster, command_step("a", "sleep", "4"), command_step("b", "sleep", "4"))
        ended = [wait_step_ended(emr, cluster, s)["Status"]["Timeline"] for s in (first, second)]
    finally:
        emr.modify_cluster(ClusterId=cluster, StepConcurrencyLevel=1)
    assert ended[1]["StartDateTime"] < ended[0]["EndDateTime"], "the two steps overlapped"
    assert ended[0]["EndDateTime"] - ended[0]["StartDateTime"] >= timedelta(seconds=4)


def test_aws_cli_spark_step_wait_describe_list(server, cluster):
    added = json.loads(server.aws(
        "emr", "add-steps", "--cluster-id", cluster,
        "--steps", f"Type=Spark,Name=pi-cli,ActionOnFailure=CONTINUE,Args=[--deploy-mode,client,{PI_PY},4]",
    ).stdout)
    step_id = added["StepIds"][0]
    wait_step_ended(server.client(), cluster, step_id)  # the CLI waiter polls every 30 s
    server.aws("emr", "wait", "step-complete", "--cluster-id", cluster, "--step-id", step_id)
    described = json.loads(server.aws("emr", "describe-step", "--cluster-id", cluster, "--step-id", step_id).stdout)
    assert described["Step"]["Config"]["Args"][0] == "spark-submit"
    listed = json.loads(server.aws("emr", "list-steps", "--cluster-id", cluster).stdout)
    assert step_id in {s["Id"] for s in listed["Steps"]}


SCRIPT_RUNNER = "s3://us-east-1.elasticmapreduce/libs/script-runner/script-runner.jar"


@pytest.fixture(scope="module")
def ended_cluster(server, workdir):
    """One node given its bootstrap actions and steps at creation, not kept alive, run
    to its end; what such a cluster does is read by three tests (one start, not three).
    Bootstrap actions from s3:// with and without a #! line and a binary; steps from
    `echo` to script-runner scripts without a #! line."""
    s3 = s3_client(server)
    s3.create_bucket(Bucket="bootstrap-code")
    s3.put_object(Bucket="bootstrap-code", Key="actions/mark.sh",
                  Body=b'#!/bin/sh\necho "$1 from s3" > "$ELMR_NODE_DIR/s3-marker"\n')
    s3.create_bucket(Bucket="no-shebang")
    s3.put_object(Bucket="no-shebang", Key="bootstrap.sh",
                  Body=b'echo "bootstrapped with $1" > "$ELMR_NODE_DIR/no-shebang-marker"\n')
    s3.put_object(Bucket="no-shebang", Key="step.sh", Body=b'echo "s3 step got $1, $(cat "$ELMR_NODE_DIR/no-shebang-marker")"\n')
    local_script = workdir / "local-no-shebang.sh"
    local_script.write_text('echo "local step got $1"\n')
    local_script.chmod(0o755)
    emr = server.client()
    cluster_id = emr.run_job_flow(
        Name="auto", ReleaseLabel="emr-7.2.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1},
        BootstrapActions=[
            {"Name": "mark", "ScriptBootstrapAction": {"Path": "s3://bootstrap-code/actions/mark.sh",
                                                       "Args": ["marked"]}},
            {"Name": "script", "ScriptBootstrapAction": {"Path": "s3://no-shebang/bootstrap.sh", "Args": ["sh"]}},
            {"Name": "binary", "ScriptBootstrapAction": {"Path": shutil.which("mkdir"),
                                                         "Args": [str(workdir / "made-by-a-binary")]}},
        ],
        Steps=[command_step("one", "echo", "1"), command_step("two", "echo", "2"),
               command_step("show", "bash", "-c", 'cat "$ELMR_NODE_DIR/s3-marker"'),
               {"Name": "s3-script", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
                   "Jar": SCRIPT_RUNNER, "Args": ["s3://no-shebang/step.sh", "one"]}},
               {"Name": "local-script", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
                   "Jar": SCRIPT_RUNNER, "Args": [str(local_script), "two"]}}],
    )["JobFlowId"]
    cluster = wait_cluster_ended(emr, cluster_id)
    return {"id": cluster_id, "status": cluster["Status"],
            "steps": {s["Name"]: s for s in emr.list_steps(ClusterId=cluster_id)["Steps"]}}


def test_steps_given_at_creation_run_in_order_then_cluster_ends(ended_cluster):
    assert ended_cluster["status"]["State"] == "TERMINATED"
    assert ended_cluster["status"]["StateChangeReason"]["Code"] == "ALL_STEPS_COMPLETED"
    steps = {name: step["Status"] for name, step in ended_cluster["steps"].items()}
    assert [steps[name]["State"] for name in ("one", "two", "show")] == ["COMPLETED"] * 3
    assert steps["one"]["Timeline"]["EndDateTime"] <= steps["two"]["Timeline"]["StartDateTime"]
    assert steps["two"]["Timeline"]["EndDateTime"] <= steps["show"]["Timeline"]["StartDateTime"]


def test_terminate_cluster_on_failure_cancels_the_rest(server):
    emr = server.client()
    cluster_id = emr.run_job_flow(
        Name="fail-fast", ReleaseLabel="emr-7.2.0",
        Steps=[command_step("ok", "true"), command_step("boom", "false", on_failure="TERMINATE_CLUSTER"),
               command_step("never", "echo", "never")],
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]
    status = wait_cluster_ended(emr, cluster_id)["Status"]
    assert status["State"] == "TERMINATED_WITH_ERRORS"
    assert status["StateChangeReason"]["Code"] == "STEP_FAILURE"
    states = {s["Name"]: s["Status"]["State"] for s in emr.list_steps(ClusterId=cluster_id)["Steps"]}
    assert states == {"ok": "COMPLETED", "boom": "FAILED", "never": "CANCELLED"}


def test_failing_bootstrap_action_ends_the_cluster(server, workdir):
    script = workdir / "broken-bootstrap.sh"
    script.write_text("#!/bin/sh\necho 'cannot install' >&2\nexit 3\n")
    emr = server.client()
    cluster_id = emr.run_job_flow(
        Name="bad-bootstrap", ReleaseLabel="emr-7.2.0",
        BootstrapActions=[{"Name": "install-things", "ScriptBootstrapAction": {"Path": str(script)}}],
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 2, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]
    status = wait_cluster_ended(emr, cluster_id)["Status"]
    assert status["State"] == "TERMINATED_WITH_ERRORS"
    assert status["StateChangeReason"]["Code"] == "BOOTSTRAP_FAILURE"
    message = status["StateChangeReason"]["Message"]
    assert "install-things" in message and "exit code 3" in message and " i-" in message
    actions = emr.list_bootstrap_actions(ClusterId=cluster_id)["BootstrapActions"]
    assert actions[0]["Name"] == "install-things"


def test_unknown_classification_is_refused(server):
    emr = server.client()
    with pytest.raises(emr.exceptions.ClientError, match="spark-magic") as refused:
        emr.run_job_flow(Name="x", Configurations=[{"Classification": "spark-magic", "Properties": {}}],
                         Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1})
    assert refused.value.response["Error"]["Code"] == "ValidationException"


MAPPER = """#!/usr/bin/env python3
import os, sys
for line in sys.stdin:
    for word in line.split():
        print(f"{os.environ.get('WORD_PREFIX', '')}{word}\\t1")
"""
REDUCER = """#!/usr/bin/env python3
import sys
current, total = None, 0
for line in sys.stdin:
    word, count = line.rstrip("\\n").split("\\t")
    if word != current and current is not None:
        print(f"{current}\\t{total}")
        total = 0
    current, total = word, total + int(count)
if current is not None:
    print(f"{current}\\t{total}")
"""


def test_hadoop_streaming_word_count(server, cluster, workdir):
    (workdir / "mapper.py").write_text(MAPPER)
    (workdir / "reducer.py").write_text(REDUCER)
    (workdir / "part1.txt").write_text(TEXT)
    (workdir / "part2.txt").write_text("the end\n")
    output = workdir / "streamed"
    emr = server.client()
    [step_id] = run_steps(emr, cluster, command_step(
        "streaming", "hadoop-streaming",
        "-files", f"{workdir / 'mapper.py'},{workdir / 'reducer.py'}",
        "-mapper", "python3 mapper.py", "-combiner", "python3 reducer.py", "-reducer", "python3 reducer.py",
        "-input", (workdir / "part1.txt").as_uri(), "-input", (workdir / "part2.txt").as_uri(),
        "-output", output.as_uri(), "-numReduceTasks", "2", "-cmdenv", "WORD_PREFIX=w:"))
    step = wait_step_ended(emr, cluster, step_id)
    assert step["Status"]["State"] == "COMPLETED", step["Status"]
    assert sorted(p.name for p in output.iterdir() if not p.name.startswith(".")) == [
        "_SUCCESS", "part-00000", "part-00001"]
    counted = {}
    for part in ("part-00000", "part-00001"):
        keys = [line.split("\t")[0] for line in (output / part).read_text().splitlines()]
        assert keys == sorted(keys), "each reducer's output is sorted by key"
        counted.update(dict(line.split("\t") for line in (output / part).read_text().splitlines()))
    expected = {}
    for word in (TEXT + "the end\n").split():
        expected[f"w:{word}"] = expected.get(f"w:{word}", 0) + 1
    assert {key: int(value) for key, value in counted.items()} == expected


def test_hadoop_streaming_failing_mapper_fails_the_step(server, cluster, workdir):
    (workdir / "in.txt").write_text("x\n")
    emr = server.client()
    [step_id] = run_steps(emr, cluster, command_step(
        "streaming-fails", "hadoop-streaming", "-D", "mapreduce.map.maxattempts=1",
        "-mapper", "python3 -c 'import sys; sys.exit(7)'",
        "-input", (workdir / "in.txt").as_uri(), "-output", (workdir / "never").as_uri()))
    step = wait_step_ended(emr, cluster, step_id)
    assert step["Status"]["State"] == "FAILED"
    assert "Job failed as tasks failed" in step["Status"]["FailureDetails"]["Message"]
    # Why the mapper failed is in its YARN container's log, shipped where EMR keeps them.
    [application] = set(re.findall(r"application_\d+_\d+", step_log(server, cluster, step_id, "stderr")))
    shipped = server.data_dir / "logs" / cluster / "containers" / application

    def mapper_error() -> bool:
        return any(b"subprocess failed with code 7" in gzip.decompress(path.read_bytes())
                   for path in shipped.rglob("*.gz"))
    wait_for(mapper_error, 60, 1, "the failed mapper's container log")


def elmr_logs(server, *args: str) -> subprocess.CompletedProcess:
    elmr = Path(sys.executable).parent / "elmr"
    return subprocess.run([str(elmr), "logs", *args, "--data-dir", str(server.data_dir)],
                          capture_output=True, text=True, timeout=120)


def test_elmr_logs_prints_and_follows_a_step(server, cluster):
    emr = server.client()
    [step_id] = run_steps(emr, cluster, command_step(
        "ticks", "bash", "-c", "for i in 1 2 3; do echo tick $i; echo warn $i >&2; sleep 1; done"))
    wait_for(lambda: emr.describe_step(ClusterId=cluster, StepId=step_id)["Step"]["Status"]["State"]
             == "RUNNING", 60, 0.2, "the step to run")
    followed = elmr_logs(server, cluster, step_id, "--follow")
    assert followed.returncode == 0 and followed.stdout.split() == ["tick", "1", "tick", "2", "tick", "3"]
    assert wait_step_ended(emr, cluster, step_id)["Status"]["State"] == "COMPLETED"
    wait_for(lambda: "warn 3" in elmr_logs(server, cluster, step_id, "--stderr").stdout, 30, 0.5,
             "the shipped stderr")
    listing = elmr_logs(server, cluster).stdout
    assert f"steps/{step_id}/stdout.gz" in listing and "/node/i-" in listing


HELLO_JAVA = """
public class Hello {
    public static void main(String[] args) {
        System.out.println("hello from a custom jar: " + String.join(",", args));
    }
}
"""


def build_hello_jar(workdir: Path, name: str) -> Path:
    """Hello.class in a JAR called `name`; skips the test where there is no JDK."""
    javac, jar = shutil.which("javac"), shutil.which("jar")
    if not (javac and jar):
        pytest.skip("building the custom JAR needs a JDK (javac, jar); only a JRE is installed")
    (workdir / "Hello.java").write_text(HELLO_JAVA)
    subprocess.run([javac, "--release", "17", "Hello.java"], cwd=workdir, check=True)
    subprocess.run([jar, "cf", name, "Hello.class"], cwd=workdir, check=True)
    return workdir / name


def test_custom_jar_and_script_runner_steps(server, cluster, workdir):
    hello_jar = build_hello_jar(workdir, "hello.jar")
    script = workdir / "report.sh"
    script.write_text('#!/bin/bash\necho "script got $# args: $1|$2"\n')
    script.chmod(0o755)
    emr = server.client()
    custom, scripted = run_steps(
        emr, cluster,
        {"Name": "custom-jar", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
            "Jar": str(hello_jar), "MainClass": "Hello", "Args": ["a", "b c"]}},
        {"Name": "script", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
            "Jar": "s3://us-east-1.elasticmapreduce/libs/script-runner/script-runner.jar",
            "Args": [str(script), "one; rm -rf /", "two"]}},
    )
    assert wait_step_ended(emr, cluster, custom)["Status"]["State"] == "COMPLETED"
    assert "hello from a custom jar: a,b c" in step_log(server, cluster, custom)
    assert wait_step_ended(emr, cluster, scripted)["Status"]["State"] == "COMPLETED"
    assert "script got 2 args: one; rm -rf /|two" in step_log(server, cluster, scripted)


S3_ROUND_TRIP = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("s3-round-trip").getOrCreate()
bucket = sys.argv[1]
frame = spark.read.option("header", True).csv(f"s3://{bucket}/in/")
also = spark.read.option("header", True).csv(f"s3a://{bucket}/in/")
assert frame.count() == also.count() == 3
frame.groupBy("fruit").count().write.mode("overwrite").parquet(f"s3://{bucket}/out/")
print("ROWS", spark.read.parquet(f"s3a://{bucket}/out/").count())
spark.sparkContext.parallelize(["written by spark"], 1).saveAsTextFile(f"s3://{bucket}/text/")
"""

READ_TEXT = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("read-text").getOrCreate()
print("LINES", spark.sparkContext.textFile(sys.argv[1]).collect())
"""


def test_spark_step_reads_and_writes_the_object_store(server, cluster, workdir):
    """The bucket is created after the cluster started; the step still sees it."""
    s3 = server.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    s3.create_bucket(Bucket="round-trip")
    s3.put_object(Bucket="round-trip", Key="in/fruit.csv", Body=b"fruit,qty\napple,1\npear,2\napple,3\n")
    script = workdir / "round_trip.py"
    script.write_text(S3_ROUND_TRIP)
    emr = server.client()
    [step_id] = run_steps(emr, cluster, spark_step("s3-round-trip", str(script), "round-trip"))
    step = wait_step_ended(emr, cluster, step_id)
    assert step["Status"]["State"] == "COMPLETED", step["Status"]
    assert "ROWS 2" in step_log(server, cluster, step_id)
    written = [o["Key"] for o in s3.list_objects_v2(Bucket="round-trip", Prefix="out/")["Contents"]]
    assert "out/_SUCCESS" in written
    assert not [key for key in written if key.endswith(".crc")]  # Hadoop's checksum files are not objects
    part = next(key for key in written if key.endswith(".parquet"))
    assert s3.get_object(Bucket="round-trip", Key=part)["Body"].read()[:4] == b"PAR1"

    # A file Spark wrote, replaced through the S3 API, is what Spark reads next.
    s3.put_object(Bucket="round-trip", Key="text/part-00000", Body=b"replaced through S3\n")
    (workdir / "read_text.py").write_text(READ_TEXT)
    read_step = spark_step("read-text", str(workdir / "read_text.py"), "s3a://round-trip/text/")
    [read_id] = run_steps(emr, cluster, read_step)
    read = wait_step_ended(emr, cluster, read_id)
    assert read["Status"]["State"] == "COMPLETED", read["Status"]
    assert "LINES ['replaced through S3']" in step_log(server, cluster, read_id)


S3_JOB = """
import sys
from pyspark.sql import SparkSession
from helper import shout
spark = SparkSession.builder.appName("from-s3").getOrCreate()
print(shout(sys.argv[1]), spark.sparkContext.parallelize(range(10), 2).sum())
spark.stop()
"""


def s3_client(server):
    return server.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def test_steps_fetch_applications_jars_and_scripts_from_s3(server, cluster, workdir):
    """spark-submit's application and --py-files, a custom JAR and a script-runner
    script all given as s3:// URIs; a missing script fails its step with S3's reason."""
    hello_jar = build_hello_jar(workdir, "hello-s3.jar")
    s3 = s3_client(server)
    s3.create_bucket(Bucket="step-code")
    s3.put_object(Bucket="step-code", Key="jobs/job.py", Body=S3_JOB.encode())
    s3.put_object(Bucket="step-code", Key="lib/helper.py", Body=b"def shout(word):\n    return word.upper()\n")
    s3.upload_file(str(hello_jar), "step-code", "jars/hello.jar")
    s3.put_object(Bucket="step-code", Key="scripts/report.sh", Body=b'#!/bin/sh\necho "fetched script got $1|$2"\n')
    emr = server.client()
    script_runner = "s3://us-east-1.elasticmapreduce/libs/script-runner/script-runner.jar"
    application, custom, scripted, missing = run_steps(
        emr, cluster,
        spark_step("app-from-s3", "--py-files", "s3://step-code/lib/helper.py", "s3://step-code/jobs/job.py", "hi"),
        {"Name": "jar-from-s3", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
            "Jar": "s3://step-code/jars/hello.jar", "MainClass": "Hello", "Args": ["x"]}},
        {"Name": "script-from-s3", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
            "Jar": script_runner, "Args": ["s3://step-code/scripts/report.sh", "one two", "three"]}},
        {"Name": "missing-script", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
            "Jar": script_runner, "Args": ["s3://step-code/scripts/nothing-here.sh"]}},
    )
    assert wait_step_ended(emr, cluster, application)["Status"]["State"] == "COMPLETED"
    assert "HI 45" in step_log(server, cluster, application)
    assert wait_step_ended(emr, cluster, custom)["Status"]["State"] == "COMPLETED"
    assert "hello from a custom jar: x" in step_log(server, cluster, custom)
    assert wait_step_ended(emr, cluster, scripted)["Status"]["State"] == "COMPLETED"
    assert "fetched script got one two|three" in step_log(server, cluster, scripted)
    failed = wait_step_ended(emr, cluster, missing)["Status"]
    assert failed["State"] == "FAILED"
    assert "nothing-here.sh" in failed["FailureDetails"]["Message"]
    assert "NoSuchKey" in failed["FailureDetails"]["Message"]


def test_bootstrap_actions_from_s3(server, ended_cluster):
    emr = server.client()
    broken = emr.run_job_flow(
        Name="s3-bootstrap-missing", ReleaseLabel="emr-7.2.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        BootstrapActions=[{"Name": "absent", "ScriptBootstrapAction": {"Path": "s3://bootstrap-code/actions/gone.sh"}}],
    )["JobFlowId"]
    assert ended_cluster["status"]["StateChangeReason"]["Code"] == "ALL_STEPS_COMPLETED"
    show = ended_cluster["steps"]["show"]
    assert show["Status"]["State"] == "COMPLETED"
    assert step_log(server, ended_cluster["id"], show["Id"]) == "marked from s3\n"
    status = wait_cluster_ended(emr, broken)["Status"]
    assert status["StateChangeReason"]["Code"] == "BOOTSTRAP_FAILURE"
    assert "absent" in status["StateChangeReason"]["Message"]
    assert "gone.sh" in status["StateChangeReason"]["Message"] and "NoSuchKey" in status["StateChangeReason"]["Message"]


def test_log_uri_in_the_object_store(server):
    s3 = server.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    s3.create_bucket(Bucket="cluster-logs")
    emr = server.client()
    cluster_id = emr.run_job_flow(
        Name="logged", ReleaseLabel="emr-7.2.0", LogUri="s3://cluster-logs/emr/",
        Steps=[command_step("hello", "echo", "hello from a step")],
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1},
    )["JobFlowId"]
    emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=WAITER)
    step_id = emr.list_steps(ClusterId=cluster_id)["Steps"][0]["Id"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cluster-logs", Prefix=f"emr/{cluster_id}/")["Contents"]]
    assert f"emr/{cluster_id}/steps/{step_id}/stdout.gz" in keys
    assert any(key.startswith(f"emr/{cluster_id}/node/i-") for key in keys)
    stdout = s3.get_object(Bucket="cluster-logs", Key=f"emr/{cluster_id}/steps/{step_id}/stdout.gz")["Body"].read()
    assert gzip.decompress(stdout) == b"hello from a step\n"


def test_aws_cli_hive_streaming_and_custom_jar_step_types(server, cluster, workdir):
    """The shapes the AWS CLI builds for Type=Hive, Type=Streaming and Type=CUSTOM_JAR."""
    hello_jar = build_hello_jar(workdir, "hello-cli.jar")
    (workdir / "cli.sql").write_text("SELECT 40 + 2 AS answer;\n")
    (workdir / "cli-in.txt").write_text("b a b\n")
    (workdir / "cli-mapper.py").write_text(MAPPER)
    (workdir / "cli-reducer.py").write_text(REDUCER)
    steps = [
        f"Type=Hive,Name=hive-cli,ActionOnFailure=CONTINUE,Args=[-f,{workdir / 'cli.sql'}]",
        f"Type=Streaming,Name=streaming-cli,ActionOnFailure=CONTINUE,Args=[-files,{workdir / 'cli-mapper.py'},"
        f"-mapper,python3 cli-mapper.py,-reducer,cat,-input,{(workdir / 'cli-in.txt').as_uri()},"
        f"-output,{(workdir / 'cli-out').as_uri()}]",
        f"Type=CUSTOM_JAR,Name=jar-cli,ActionOnFailure=CONTINUE,Jar={hello_jar},"
        f"MainClass=Hello,Args=[x,y]",
    ]
    step_ids = json.loads(server.aws("emr", "add-steps", "--cluster-id", cluster, "--steps", *steps).stdout)["StepIds"]
    emr = server.client()
    hive, streaming, custom = (wait_step_ended(emr, cluster, step_id) for step_id in step_ids)
    assert hive["Config"]["Args"][:3] == ["hive-script", "--run-hive-script", "--args"]
    assert streaming["Config"]["Args"][0] == "hadoop-streaming"
    assert custom["Config"]["MainClass"] == "Hello"
    assert [s["Status"]["State"] for s in (hive, streaming, custom)] == ["COMPLETED"] * 3
    assert "42" in step_log(server, cluster, step_ids[0]).split()
    assert sorted((workdir / "cli-out" / "part-00000").read_text().split()) == ["1", "1", "1", "a", "b", "b"]
    assert "hello from a custom jar: x,y" in step_log(server, cluster, step_ids[2])


def test_scripts_without_an_interpreter_line_run_as_emr_runs_them(server, ended_cluster, workdir):
    """Executed directly, as EMR's runners execute them: a script with no #! line
    runs with /bin/sh (as Java's ProcessBuilder and execvp run it), a binary runs as
    itself; for bootstrap actions and script-runner steps alike."""
    assert ended_cluster["status"]["StateChangeReason"]["Code"] == "ALL_STEPS_COMPLETED"
    assert (workdir / "made-by-a-binary").is_dir()
    steps = ended_cluster["steps"]
    assert {name: steps[name]["Status"]["State"] for name in ("s3-script", "local-script")} == {
        "s3-script": "COMPLETED", "local-script": "COMPLETED"}
    assert step_log(server, ended_cluster["id"], steps["s3-script"]["Id"]) == "s3 step got one, bootstrapped with sh\n"
    assert step_log(server, ended_cluster["id"], steps["local-script"]["Id"]) == "local step got two\n"
