"""What a step runs: EMR's HadoopJarStep turned into an argument vector on the master
node, as EMR's step runner does. Pure: no process is started here. Programs are found
on the node's PATH, where the agent puts Hadoop's launchers and Spark's programs.

- `command-runner.jar`: Args[0] is the program. `spark-submit`, `spark-sql`,
  `pyspark`, `spark-shell` are the cluster's Spark (on YARN: `--master yarn` and
  `--deploy-mode cluster` mean what they mean on EMR); `hadoop`, `hdfs`, `yarn`,
  `mapred`, `s3-dist-cp` are Hadoop's; `hadoop-streaming` is `hadoop jar` of Hadoop's
  streaming JAR; `hive-script --run-hive-script --args -f FILE` runs the node's `hive`
  (Hive's CLI, or Spark SQL on a cluster without Hive: apps/hive.py); anything else is
  looked up on PATH (`bash -c …` runs bash because the user asked for it).
- `script-runner.jar`: Args[0] is a script (a path, or an s3:// URI the caller
  fetches first), run with the remaining args.
- any other Jar (CUSTOM_JAR): `hadoop jar JAR [MainClass] args`, as EMR runs it; an
  s3:// JAR is fetched first, as EMR does.
Args are never joined into a shell command line.
"""

from collections.abc import Callable

from elmr.apps import artifacts

SPARK_PROGRAMS = {"spark-submit", "spark-sql", "pyspark", "spark-shell"}


class UnsupportedStep(ValueError):
    """A step elmr cannot run; its message is the step's failure message."""


def _is_jar(jar: str, name: str) -> bool:
    return jar == name or jar.endswith("/" + name)


def step_argv(hadoop_jar_step: dict, local_file: Callable[[str], str] = str) -> list[str]:
    """`local_file(path)` gives an s3:// script or JAR as a local file path."""
    jar = hadoop_jar_step.get("Jar", "")
    args = list(hadoop_jar_step.get("Args", []))
    if _is_jar(jar, "command-runner.jar"):
        return _command_runner(args)
    if _is_jar(jar, "script-runner.jar"):
        if not args:
            raise UnsupportedStep("script-runner.jar needs the script's path as its first argument")
        return [local_file(args[0]), *args[1:]]
    main_class = hadoop_jar_step.get("MainClass")
    return ["hadoop", "jar", local_file(jar), *([main_class] if main_class else []), *args]


def _command_runner(args: list[str]) -> list[str]:
    if not args:
        raise UnsupportedStep("command-runner.jar needs a program as its first argument")
    program, rest = args[0], args[1:]
    if program == "hive-script":
        return ["hive", *_hive_script_args(rest)]
    if program == "hadoop-streaming":
        return ["hadoop", "jar", artifacts.jar("hadoop-streaming"), *rest]
    return [program, *rest]


def _hive_script_args(args: list[str]) -> list[str]:
    """`hive-script --run-hive-script --args -f FILE [-d K=V]…` as `hive` arguments
    (--hivevar: Hive's CLI and Spark SQL's, which runs a cluster's `hive` without Hive,
    both take it)."""
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
