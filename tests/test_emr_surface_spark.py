"""The EMR surface on one real cluster (1 master + 1 core, LogUri in the object
store, runtime roles on): a notebook execution run with papermill on the master,
the cluster's own Spark UI URLs, session credentials, a failing step's
FailureDetails (its line and its s3:// log file), executor and event logs shipped
under LogUri, and after termination, the cluster's Spark history still browsable
from the server's own history server while DescribeCluster shows no dead URL."""

import gzip
import json
import urllib.request

import pytest

from botocore.exceptions import ClientError

from conftest import wait_for

pytestmark = pytest.mark.slow

RUNTIME_ROLES = {"AuthorizationConfiguration": {"IAMConfiguration": {"EnableApplicationScopedIAMRole": True}}}
NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None, "outputs": [],
         "source": ["rows = 3\n", "label = 'default'"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["print(label, spark.range(rows).count())"]},
    ],
    "metadata": {"kernelspec": {"name": "pysparkkernel", "display_name": "PySpark", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}
FAILING_JOB = "from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n" \
              "raise ValueError(f'expected 7 rows, found {spark.range(5).count()}')\n"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster(server, tmp_path_factory):
    emr, s3 = server.client(), server.client("s3")
    s3.create_bucket(Bucket="surface")
    s3.put_object(Bucket="surface", Key="notebooks/report.ipynb", Body=json.dumps(NOTEBOOK).encode())
    script = tmp_path_factory.mktemp("jobs") / "failing.py"
    script.write_text(FAILING_JOB)
    emr.create_security_configuration(Name="runtime-roles", SecurityConfiguration=json.dumps(RUNTIME_ROLES))
    cluster_id = emr.run_job_flow(
        Name="surface", ReleaseLabel="emr-6.15.0", LogUri="s3://surface/logs/", SecurityConfiguration="runtime-roles",
        Applications=[{"Name": "Spark"}],
        Instances={"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge", "InstanceCount": 2,
                   "KeepJobFlowAliveWhenNoSteps": True})["JobFlowId"]
    emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    yield {"id": cluster_id, "failing_script": str(script)}
    emr.terminate_job_flows(JobFlowIds=[cluster_id])


def test_applications_say_what_elmr_runs(server, cluster):
    spark = next(app for app in server.client().describe_cluster(ClusterId=cluster["id"])["Cluster"]["Applications"]
                 if app["Name"] == "Spark")
    assert spark["Version"] == "4.2.0"
    assert spark["AdditionalInfo"]["ReleaseLabelVersion"] == "3.4.1"
    assert "whatever the release label" in spark["AdditionalInfo"]["ElmrRuns"]


def test_notebook_execution_runs_on_the_master_with_its_parameters(server, cluster):
    emr, s3 = server.client(), server.client("s3")
    execution_id = emr.start_notebook_execution(
        ExecutionEngine={"Id": cluster["id"]}, ServiceRole="EMR_Notebooks_DefaultRole",
        NotebookExecutionName="report", NotebookParams=json.dumps({"rows": 7, "label": "sized"}),
        NotebookS3Location={"Bucket": "surface", "Key": "notebooks/report.ipynb"},
        OutputNotebookS3Location={"Bucket": "surface", "Key": "executed"}, OutputNotebookFormat="HTML",
        Tags=[{"Key": "team", "Value": "data"}])["NotebookExecutionId"]
    finished = wait_for(lambda: (e := emr.describe_notebook_execution(NotebookExecutionId=execution_id)
                                 ["NotebookExecution"])["Status"] in ("FINISHED", "FAILED") and e,
                        600, 1, "the notebook execution to end")
    assert finished["Status"] == "FINISHED", finished.get("LastStateChangeReason")
    assert finished["OutputNotebookURI"] == f"s3://surface/executed/{execution_id}/report.ipynb"
    executed = json.loads(s3.get_object(Bucket="surface", Key=f"executed/{execution_id}/report.ipynb")["Body"].read())
    printed = "".join("".join(output.get("text", "")) for cell in executed["cells"] for output in cell.get("outputs", []))
    assert "sized 7" in printed  # the parameters were injected and Spark ran on the cluster
    html = s3.get_object(Bucket="surface", Key=f"executed/{execution_id}/report.html")["Body"].read()
    assert b"<html" in html.lower()
    listed = emr.list_notebook_executions(ExecutionEngineId=cluster["id"])["NotebookExecutions"]
    assert [e["NotebookExecutionId"] for e in listed] == [execution_id]
    with pytest.raises(ClientError) as refused:
        emr.stop_notebook_execution(NotebookExecutionId=execution_id)
    assert "FINISHED" in refused.value.response["Error"]["Message"]


def test_on_cluster_ui_urls_answer_and_session_credentials(server, cluster):
    emr = server.client()
    history = emr.get_on_cluster_app_ui_presigned_url(ClusterId=cluster["id"], OnClusterAppUIType="SparkHistoryServer")
    assert history["PresignedURLReady"]
    wait_for(lambda: answers(history["PresignedURL"]), 120, 1, "the cluster's history server")
    master = emr.get_on_cluster_app_ui_presigned_url(ClusterId=cluster["id"], OnClusterAppUIType="ApplicationMaster")
    assert answers(master["PresignedURL"])
    credentials = emr.get_cluster_session_credentials(ClusterId=cluster["id"],
                                                      ExecutionRoleArn="arn:aws:iam::123456789012:role/analyst")
    assert credentials["Credentials"]["UsernamePassword"]["Username"].startswith("analyst-")
    assert len(credentials["Credentials"]["UsernamePassword"]["Password"]) >= 24


def test_failing_step_names_its_error_and_its_s3_log(server, cluster):
    emr = server.client()
    step_id = emr.add_job_flow_steps(JobFlowId=cluster["id"], Steps=[{
        "Name": "fails", "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", cluster["failing_script"]]}}])["StepIds"][0]
    step = wait_for(lambda: (s := emr.describe_step(ClusterId=cluster["id"], StepId=step_id)["Step"])
                    ["Status"]["State"] in ("COMPLETED", "FAILED") and s, 300, 1, "the step to end")
    details = step["Status"]["FailureDetails"]
    assert details["Message"] == "ValueError: expected 7 rows, found 5"
    assert details["LogFile"] == f"s3://surface/logs/{cluster['id']}/steps/{step_id}/stderr.gz"
    s3 = server.client("s3")
    wait_for(lambda: s3.list_objects_v2(Bucket="surface", Prefix=details["LogFile"][len("s3://surface/"):])
             .get("KeyCount"), 60, 1, "the step's stderr under LogUri")


def test_history_outlives_the_cluster(server, cluster):
    emr, s3 = server.client(), server.client("s3")
    arn = emr.describe_cluster(ClusterId=cluster["id"])["Cluster"]["ClusterArn"]
    emr.terminate_job_flows(JobFlowIds=[cluster["id"]])
    wait_for(lambda: emr.describe_cluster(ClusterId=cluster["id"])["Cluster"]["Status"]["State"].startswith("TERMINATED"),
             240, 1, "the cluster to end")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="surface", Prefix=f"logs/{cluster['id']}/")["Contents"]]
    assert any("/spark-events/eventlog_v2_application_" in key for key in keys), keys  # Spark 4: rolling logs
    assert any("/containers/application_" in key and key.endswith("/stderr.gz") for key in keys), keys
    hadoop = next(a for a in emr.describe_cluster(ClusterId=cluster["id"])["Cluster"]["Applications"]
                  if a["Name"] == "Hadoop")
    assert "ResourceManagerWebUiUrl" not in hadoop["AdditionalInfo"]  # the master is gone
    app_ui = emr.create_persistent_app_ui(TargetResourceArn=arn)["PersistentAppUIId"]
    url = wait_for(lambda: (a := emr.get_persistent_app_ui_presigned_url(PersistentAppUIId=app_ui))
                   ["PresignedURLReady"] and a["PresignedURL"], 180, 2, "the persistent history server")
    applications = wait_for(lambda: _applications(url), 120, 2, "the history server to list the cluster's apps")
    assert len(applications) >= 2  # the notebook's and the steps' Spark applications
    described = emr.describe_cluster(ClusterId=cluster["id"])["Cluster"]
    spark = next(a for a in described["Applications"] if a["Name"] == "Spark")
    assert spark["AdditionalInfo"]["SparkHistoryServerUrl"] == url
    with urllib.request.urlopen(f"{url}/history/{applications[0]['id']}/jobs/", timeout=30) as page:
        assert page.status == 200


def _applications(url: str) -> list:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/applications", timeout=10) as answer:
            return json.load(answer)
    except OSError:
        return []
