"""Why a step (or a notebook run) failed, in one line, as EMR's FailureDetails.Message
gives it: the exception or error line the job printed, not the first warning.

Pure: it reads the text of the step's stdout and stderr (spark-submit sends a Python
driver's traceback to stdout; Java, spark-sql and shells write to stderr) and tries,
strongest evidence first: the last Python traceback's exception line; Java's
`Exception in thread …`; a Spark error class (`[TABLE_OR_VIEW_NOT_FOUND] …`);
`Error: …` lines, Hive's `FAILED: …` and shell errors; a MapReduce job's own
diagnostics (`Job … failed with state FAILED due to: …`, which the job's client logs
at INFO before its ERROR `Job not successful!`); log4j ERROR lines; a Java exception
line; and last, the last line that is not logging noise."""

import re

MAX_LENGTH = 2000
_LOG4J = re.compile(r"^\d{2,4}[/-]\d{2}[/-]\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)? +(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL) +")
_NOISE = re.compile(
    r"^(\s+at |\s*\.\.\. \d+ (more|common frames omitted)|WARNING: |Using Spark's default log4j"
    r"|Setting default log level|To adjust logging level|Spark Web UI available|Spark master: )"
    r"|^\S+:\d+: \w*Warning: ")  # a Python warning: path:line: SomethingWarning: text
# The first line after a traceback's frames that is not indented: `name: message`, the
# name any exception class's (StreamingCommandFailed as much as ValueError).
_PYTHON_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(: .*)?$")
_SPARK_ERROR_CLASS = re.compile(r"^(Error in query: )?\[[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)*\] ")
_ERROR_LINE = re.compile(r"^(Error|ERROR|error|FATAL|Fatal)\b[:\s]|^FAILED: |\b\w*: error: |: command not found$"
                         r"|: No such file or directory$|: Permission denied$|can't open file")
_MAPREDUCE_FAILED = " failed with state FAILED due to: "
_JAVA_EXCEPTION = re.compile(r"^(Caused by: )?([a-z_$][\w$]*\.)+[A-Z][\w$]*(Exception|Error)(: .*)?$")


def failure_line(stdout: str, stderr: str) -> str:
    """The line that says why the job failed ('' when both texts are empty)."""
    streams = [stdout.splitlines(), stderr.splitlines()]
    for finder in (_python_exception, _java_thread_exception, _spark_error_class, _error_line,
                   _mapreduce_diagnostics, _log4j_error, _java_exception):
        for lines in streams:
            found = finder(lines)
            if found:
                return found.strip()[:MAX_LENGTH]
    for lines in reversed(streams):  # stderr first for the last resort
        meaningful = [line for line in lines if line.strip() and not _is_noise(line)]
        if meaningful:
            return meaningful[-1].strip()[:MAX_LENGTH]
    return ""


def _is_noise(line: str) -> bool:
    match = _LOG4J.match(line)
    if match:
        return match.group(1) != "ERROR" and match.group(1) != "FATAL"
    return bool(_NOISE.search(line))


def _python_exception(lines: list[str]) -> str | None:
    """The exception line of the last traceback: the first line after its frames that
    is not indented. Py4J's errors carry the Java exception on the next line."""
    # Spark's own log lines carry a Python worker's traceback after their text.
    starts = [i for i, line in enumerate(lines) if line.endswith("Traceback (most recent call last):")]
    if not starts:
        return None
    for index in range(starts[-1] + 1, len(lines)):
        line = lines[index]
        if not line.strip() or line[0].isspace():
            continue
        if line.startswith("py4j.protocol.Py4JJavaError") and index + 1 < len(lines) \
                and lines[index + 1].startswith(": "):
            return f"{line} {lines[index + 1][2:]}"
        return line if _PYTHON_EXCEPTION.match(line) else None
    return None


def _java_thread_exception(lines: list[str]) -> str | None:
    return next((line for line in reversed(lines) if line.startswith("Exception in thread ")), None)


def _spark_error_class(lines: list[str]) -> str | None:
    return next((line for line in lines if _SPARK_ERROR_CLASS.match(line)), None)


def _error_line(lines: list[str]) -> str | None:
    return next((line for line in reversed(lines)
                 if _ERROR_LINE.search(line) and not _LOG4J.match(line)), None)


def _mapreduce_diagnostics(lines: list[str]) -> str | None:
    """What YARN said of a failed MapReduce job: the text after `due to:` and the
    lines that continue it (not log lines)."""
    for index in range(len(lines) - 1, -1, -1):
        if _MAPREDUCE_FAILED in lines[index]:
            said = [lines[index].split(_MAPREDUCE_FAILED, 1)[1]]
            for line in lines[index + 1:]:
                if not line.strip() or _LOG4J.match(line):
                    break
                said.append(line.strip())
            return " ".join(said)
    return None


def _log4j_error(lines: list[str]) -> str | None:
    for line in lines:
        match = _LOG4J.match(line)
        if match and match.group(1) in ("ERROR", "FATAL"):
            return line[match.end():]
    return None


def _java_exception(lines: list[str]) -> str | None:
    """The root cause: the last `Caused by:` if there is one, else the first exception."""
    found = [line for line in lines if _JAVA_EXCEPTION.match(line)]
    causes = [line for line in found if line.startswith("Caused by: ")]
    return (causes or found or [None])[-1 if causes else 0]
