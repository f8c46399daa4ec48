"""What a step runs: EMR's HadoopJarStep turned into an argument vector on the master
node. Pure: no process is started here.

- `command-runner.jar`: Args[0] is the program. `spark-submit`, `spark-sql`,
  `pyspark`, `spark-shell` come from the cluster's Spark; `hive-script
  --run-hive-script --args -f FILE` and `hive` run through `spark-sql` (Hive via Spark
  SQL); `hadoop-streaming` runs elmr's streaming job on Spark; anything else is looked
  up on PATH (`bash -c …` runs bash because the user asked for it).
- `script-runner.jar`: Args[0] is a script (a path, or an s3:// URI the caller
  fetches first), run with the remaining args.
- any other Jar: a custom JAR, run with `spark-submit [--class MainClass] JAR args`.
  spark-submit fetches an s3:// JAR, application or `--py-files` itself, through the
  same Hadoop filesystem the job's s3:// paths use.
Args are never joined into a shell command line.
"""

from collections.abc import Callable
from pathlib import Path

from elmr.apps import spark

STREAMING_JOB = Path(__file__).with_name("streaming_job.py")
SPARK_PROGRAMS = {"spark-submit", "spark-sql", "pyspark", "spark-shell"}


class UnsupportedStep(ValueError):
    """A step elmr cannot run; its message is the step's failure message."""


def _is_jar(jar: str, name: str) -> bool:
    return jar == name or jar.endswith("/" + name)


def step_argv(hadoop_jar_step: dict, local_script: Callable[[str], str] = str) -> list[str]:
    """`local_script(path)` gives script-runner's script as a local file path."""
    jar = hadoop_jar_step.get("Jar", "")
    args = list(hadoop_jar_step.get("Args", []))
    if _is_jar(jar, "command-runner.jar"):
        return _command_runner(args)
    if _is_jar(jar, "script-runner.jar"):
        if not args:
            raise UnsupportedStep("script-runner.jar needs the script's path as its first argument")
        return [local_script(args[0]), *args[1:]]
    main_class = hadoop_jar_step.get("MainClass")
    return [_spark_bin("spark-submit"), *(["--class", main_class] if main_class else []), jar, *args]


def _spark_bin(program: str) -> str:
    return str(spark.spark_home() / "bin" / program)


def _command_runner(args: list[str]) -> list[str]:
    if not args:
        raise UnsupportedStep("command-runner.jar needs a program as its first argument")
    program, rest = args[0], args[1:]
    if program in SPARK_PROGRAMS:
        return [_spark_bin(program), *_python_cluster_mode_to_client(program, rest)]
    if program == "hive-script":
        return [_spark_bin("spark-sql"), *_hive_script_args(rest)]
    if program == "hive":
        return [_spark_bin("spark-sql"), *rest]
    if program == "hadoop-streaming":
        return _streaming(rest)
    if program in ("s3-dist-cp", "hadoop"):
        raise UnsupportedStep(f"{program} is not supported by elmr yet")
    return [program, *rest]


def _python_cluster_mode_to_client(program: str, args: list[str]) -> list[str]:
    """Spark standalone cannot run Python applications in cluster deploy mode; EMR
    users ask for it anyway, so a Python application runs in client mode instead."""
    if program != "spark-submit" or "--deploy-mode" not in args:
        return args
    index = args.index("--deploy-mode")
    application = next((a for a in args[index + 2:] if not a.startswith("-")), "")
    if index + 1 < len(args) and args[index + 1] == "cluster" and application.endswith(".py"):
        return args[:index] + args[index + 2:]
    return args


def _hive_script_args(args: list[str]) -> list[str]:
    """`hive-script --run-hive-script --args -f FILE [-d K=V]…` as spark-sql arguments."""
    if "--args" in args:
        args = args[args.index("--args") + 1:]
    translated, index = [], 0
    while index < len(args):
        if args[index] == "-d" and index + 1 < len(args):
            translated += ["--hivevar", args[index + 1]]
            index += 2
        else:
            translated.append(args[index])
            index += 1
    return translated


def _streaming(args: list[str]) -> list[str]:
    """spark-submit of elmr's streaming job; `-files` are shipped with --files too."""
    files = []
    for flag, value in zip(args, args[1:]):
        if flag == "-files":
            files += [f for f in value.split(",") if f]
    shipped = ["--files", ",".join(files)] if files else []
    return [_spark_bin("spark-submit"), *shipped, str(STREAMING_JOB), *args]
