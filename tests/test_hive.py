"""Hive on a real cluster whose Applications name it: Hive's own CLI runs Hive steps
(on Tez on the cluster's YARN, as EMR runs them, or on MapReduce when a script asks),
honours what Hive honours that Spark SQL does not (a text table's
skip.header.line.count), and keeps its tables in the master's Hive metastore, where
Spark's steps find them and put theirs."""

import pytest

from conftest import cluster_running
from test_steps import command_step, run_steps, step_log, wait_step_ended

pytestmark = pytest.mark.slow

CSV = "name,qty\napple,2\npear,1\napple,3\n"


def _rows(server, cluster_id: str, step_id: str) -> list[list[str]]:
    return [line.split("\t") for line in step_log(server, cluster_id, step_id).splitlines() if "\t" in line]


def test_hive_steps_run_hive_and_share_its_metastore_with_spark(server, s3, bucket):
    # EMR's usual form: the script and the table's files in S3.
    s3.put_object(Bucket=bucket, Key="data/fruit/fruit.csv", Body=CSV.encode())
    s3.put_object(Bucket=bucket, Key="scripts/fruit.q", Body=(
        "CREATE EXTERNAL TABLE fruit (name STRING, qty INT) ROW FORMAT DELIMITED FIELDS TERMINATED BY ','\n"
        "  LOCATION '${data}' TBLPROPERTIES ('skip.header.line.count'='1');\n"
        "SELECT name, SUM(qty) FROM fruit GROUP BY name ORDER BY name;\n").encode())
    emr = server.client()
    with cluster_running(emr, {"Delay": 1, "MaxAttempts": 300}, Name="hive", ReleaseLabel="emr-7.2.0",
                         Applications=[{"Name": "Hadoop"}, {"Name": "Spark"}, {"Name": "Hive"}],
                         Instances={"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
                                    "InstanceCount": 2, "KeepJobFlowAliveWhenNoSteps": True}) as cluster_id:
        applications = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Applications"]
        assert {"Name": "Hive", "Version": "4.0.1"}.items() <= next(
            a for a in applications if a["Name"] == "Hive").items()
        hive_sum, hive_on_mapreduce, spark_reads, spark_makes, hive_reads, hive_fails = run_steps(
            emr, cluster_id,
            command_step("hive", "hive-script", "--run-hive-script", "--args", "-f", f"s3://{bucket}/scripts/fruit.q",
                         "-d", f"data=s3://{bucket}/data/fruit/"),
            command_step("hive on mapreduce", "hive", "-e", "SET hive.execution.engine=mr; "
                         "SELECT name, SUM(qty) FROM fruit GROUP BY name ORDER BY name"),
            command_step("spark reads hive's table", "spark-sql", "-e", "SELECT 'sum', SUM(qty) FROM fruit"),
            command_step("spark makes a table", "spark-sql", "-e",
                         "CREATE TABLE basket (name STRING, n INT) STORED AS PARQUET; "
                         "INSERT INTO basket VALUES ('plum', 7)"),
            command_step("hive reads spark's table", "hive", "-e", "SELECT name, n FROM basket"),
            command_step("hive fails", "hive", "-e", "SELECT name FROM no_such_table"),
        )
        ended = {step: wait_step_ended(emr, cluster_id, step)["Status"]
                 for step in (hive_sum, hive_on_mapreduce, spark_reads, spark_makes, hive_reads, hive_fails)}
        assert [status["State"] for status in ended.values()] == ["COMPLETED"] * 5 + ["FAILED"], ended
        assert ended[hive_fails]["FailureDetails"]["Message"] == \
            "FAILED: SemanticException [Error 10001]: Line 1:17 Table not found 'no_such_table'"
        # The header line is skipped by Hive's reader, in a Tez DAG or a MapReduce job on YARN.
        for step, engine_says in ((hive_sum, "Executing on YARN cluster with App id"),
                                  (hive_on_mapreduce, "Hadoop job information")):
            assert _rows(server, cluster_id, step) == [["apple", "5"], ["pear", "1"]]
            assert engine_says in step_log(server, cluster_id, step, "stderr")
        # The Tez session's id is in the step's log: a cancelled step's session is killed by it.
        assert "Submitted application application_" in step_log(server, cluster_id, hive_sum, "stderr")
        assert _rows(server, cluster_id, spark_reads) == [["sum", "6"]]
        assert _rows(server, cluster_id, hive_reads) == [["plum", "7"]]
