"""FailureDetails.Message: the line that says why a step failed, extracted from the
real stdout and stderr of failed Spark, Python, Java and shell runs (tests/data/
step_failures: spark-submit of PySpark 4.2.0 in local mode, spark-sql, Spark's
history server, Hive's CLI, python3, bash). Quick: pure function, no process started."""

from pathlib import Path

import pytest

from elmr.agent.failure_reason import failure_line

SAMPLES = Path(__file__).parent / "data" / "step_failures"


def sample(name: str) -> tuple[str, str]:
    return (SAMPLES / f"{name}.stdout").read_text(), (SAMPLES / f"{name}.stderr").read_text()


@pytest.mark.parametrize("name, expected", [
    # A PySpark driver raising: its traceback is in stdout (spark-submit's), after a
    # UserWarning; stderr starts with the JVM's "WARNING: Using incubator modules".
    ("value_error", "ValueError: expected 11 rows, found 10"),
    ("missing_path", "pyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND] Path does "
                     "not exist: file:/tmp/samples/no-such-dir/input.csv. SQLSTATE: 42K03"),
    # A UDF failing in the Python worker: the worker's own exception, not Py4J's wrapper.
    ("udf_error", "ZeroDivisionError: division by zero"),
    ("missing_class", "Error: Failed to load class org.example.NoSuchMain."),
    ("spark_sql", "[TABLE_OR_VIEW_NOT_FOUND] The table or view `no_such_table` cannot be found. Verify "
                  "the spelling and correctness of the schema and catalog."),
    ("history", 'Exception in thread "main" java.lang.IllegalArgumentException: requirement failed: None '
                "of the specified log directories exist: file:///tmp/samples/no-such-logs"),
    # Chained Python exceptions: the last one raised is why the program ended.
    ("chained", "RuntimeError: the job's configuration is not JSON"),
    ("shell", "bash: line 1: no-such-tool: command not found"),
    # A Hadoop streaming mapper exiting 7: the job's client logs YARN's diagnostics at
    # INFO before its ERROR "Job not successful!".
    ("streaming_mapper", "Task failed task_1796170528612_0007_m_000000 Job failed as tasks failed. "
                         "failedMaps:1 failedReduces:0 killedMaps:0 killedReduces: 0"),
    # Hive's CLI (4.0.1, on a cluster) names what failed on a line of its own, after
    # its warnings and before the same line logged at ERROR with a stack trace.
    ("hive", "FAILED: SemanticException [Error 10001]: Line 1:17 Table not found 'no_such_table'"),
    # An exception class of the job's own, whatever its name ends with.
    ("custom_exception", "StreamingCommandFailed: streaming command 'python3 -c exit(7)' exited with code 7"),
])
def test_the_line_that_says_why(name, expected):
    assert failure_line(*sample(name)) == expected


def test_warnings_alone_are_not_taken_for_the_reason_when_an_error_follows():
    stderr = ("WARNING: Using incubator modules: jdk.incubator.vector\n"
              "26/12/01 20:24:42 WARN NativeCodeLoader: Unable to load native-hadoop library\n"
              "/job.py:3: DeprecationWarning: old API\n"
              "26/12/01 20:25:01 ERROR SparkContext: Error initializing SparkContext.\n"
              "java.io.FileNotFoundException: File file:/data does not exist\n"
              "\tat org.apache.hadoop.fs.RawLocalFileSystem.getFileStatus(RawLocalFileSystem.java:915)\n")
    assert failure_line("", stderr) == "SparkContext: Error initializing SparkContext."


def test_root_cause_of_a_java_stack_trace():
    stderr = ("org.apache.spark.SparkException: Job aborted.\n"
              "\tat org.apache.spark.sql.execution.datasources.FileFormatWriter$.write(FileFormatWriter.scala:251)\n"
              "Caused by: java.io.IOException: Mkdirs failed to create file:/out\n"
              "\t... 12 more\n")
    assert failure_line("", stderr) == "Caused by: java.io.IOException: Mkdirs failed to create file:/out"


def test_without_any_error_line_the_last_line_that_is_not_logging():
    assert failure_line("42 rows\n", "26/12/01 20:24:42 INFO SparkContext: stopped\nexiting with 3\n") == \
        "exiting with 3"
    assert failure_line("", "") == ""
