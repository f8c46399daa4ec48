"""Hadoop streaming, run as a Spark application: the driver elmr's step runner submits
for `command-runner.jar hadoop-streaming …` steps (see step_commands.py), with EMR's
flags: -files, -mapper, -combiner, -reducer, -input (repeatable, or comma lists),
-output, -numReduceTasks, -cmdenv K=V.

Semantics as Hadoop's: one mapper process per input split, fed its lines on stdin;
each output line is a record, split at the first TAB into key and value; records are
partitioned by key into -numReduceTasks partitions and sorted by key within each;
a combiner runs on each map partition's sorted output; one reducer process per
partition is fed its sorted `key\\tvalue` lines; the output is `part-NNNNN` files and
`_SUCCESS`. Commands are split into argument vectors (shlex), never run by a shell.
"""

import os
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from pyspark.rdd import portable_hash
from pyspark.sql import SparkSession

_FLAGS_WITH_VALUE = {"-files", "-mapper", "-combiner", "-reducer", "-input", "-output",
                     "-numReduceTasks", "-cmdenv", "-archives", "-libjars"}


@dataclass
class StreamingJob:
    mapper: str = "cat"
    reducer: str | None = None
    combiner: str | None = None
    inputs: list = field(default_factory=list)
    output: str = ""
    reduce_tasks: int = 1
    env: dict = field(default_factory=dict)


def parse_args(argv: list[str]) -> StreamingJob:
    job = StreamingJob()
    index = 0
    while index < len(argv):
        flag = argv[index]
        if flag not in _FLAGS_WITH_VALUE or index + 1 >= len(argv):
            raise SystemExit(f"hadoop-streaming: unexpected argument {flag!r}")
        value = argv[index + 1]
        index += 2
        if flag == "-mapper":
            job.mapper = value
        elif flag == "-reducer":
            job.reducer = None if value == "NONE" else value
        elif flag == "-combiner":
            job.combiner = value
        elif flag == "-input":
            job.inputs += [path for path in value.split(",") if path]
        elif flag == "-output":
            job.output = value
        elif flag == "-numReduceTasks":
            job.reduce_tasks = int(value)
        elif flag == "-cmdenv":
            key, _, env_value = value.partition("=")
            job.env[key] = env_value
        # -files/-archives/-libjars: shipped by spark-submit --files already.
    if not job.inputs or not job.output:
        raise SystemExit("hadoop-streaming: -input and -output are required")
    return job


def split_record(line: str) -> tuple[str, str]:
    key, _, value = line.partition("\t")
    return key, value


def join_record(record: tuple[str, str]) -> str:
    return f"{record[0]}\t{record[1]}"


def _sorted_lines(lines):
    """A map partition's output sorted by key, for its combiner."""
    return (join_record(r) for r in sorted((split_record(line) for line in lines), key=lambda r: r[0]))


class StreamingCommandFailed(RuntimeError):
    pass


def piped_through(command: str, extra_env: dict):
    """A partition function feeding lines to `command` and yielding its output lines.
    Unlike RDD.pipe, the task's own environment is kept and -cmdenv added to it, as
    Hadoop does (RDD.pipe's env replaces the environment, PATH included)."""
    argv = shlex.split(command)

    def run_partition(lines):
        process = subprocess.Popen(argv, env={**os.environ, **extra_env},
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)

        def feed():
            try:
                for line in lines:
                    process.stdin.write(line.encode() + b"\n")
            except BrokenPipeError:
                pass
            finally:
                process.stdin.close()
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        for output in process.stdout:
            yield output.decode().rstrip("\n")
        feeder.join()
        if process.wait() != 0:
            raise StreamingCommandFailed(
                f"streaming command '{command}' exited with code {process.returncode}")
    return run_partition


def run(spark: SparkSession, job: StreamingJob) -> None:
    lines = spark.sparkContext.textFile(",".join(job.inputs))
    mapped = lines.mapPartitions(piped_through(job.mapper, job.env))
    if job.combiner:
        mapped = mapped.mapPartitions(_sorted_lines).mapPartitions(piped_through(job.combiner, job.env))
    if job.reduce_tasks == 0:
        mapped.saveAsTextFile(job.output)  # map-only: the mappers' lines as they are
        return
    shuffled = (mapped.map(split_record)
                .repartitionAndSortWithinPartitions(job.reduce_tasks, portable_hash)
                .map(join_record))
    if job.reducer:
        shuffled = shuffled.mapPartitions(piped_through(job.reducer, job.env))
    shuffled.saveAsTextFile(job.output)


def main(argv: list[str]) -> int:
    job = parse_args(argv)
    spark = SparkSession.builder.appName(f"hadoop-streaming {job.output}").getOrCreate()
    try:
        run(spark, job)
    except Exception as error:  # Spark wraps the failing command's exit in a long trace
        print(f"hadoop-streaming: job failed: {_root_cause(error)}", file=sys.stderr)
        return 1
    finally:
        spark.stop()
    return 0


def _root_cause(error: Exception) -> str:
    text = str(error)
    for line in text.splitlines():
        if "StreamingCommandFailed: " in line:
            return line.split("StreamingCommandFailed: ", 1)[1].strip()
    return text.splitlines()[0] if text else type(error).__name__


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
