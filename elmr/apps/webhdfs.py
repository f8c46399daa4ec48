"""Small HTTP reads of Hadoop's daemons from Python, without starting a JVM: a
daemon's REST answer as JSON, WebHDFS's MKDIRS for the directories a fresh
cluster's applications expect in HDFS, and its LISTSTATUS and OPEN for the files
the master's agent ships (Spark's event logs)."""

import getpass
import json
import urllib.error
import urllib.parse
import urllib.request


def get_json(url: str, timeout_s: float = 2.0) -> dict | None:
    """The JSON a daemon answers at `url`, or None while it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return json.load(answer)
    except (OSError, ValueError, urllib.error.URLError):
        return None


def answers(url: str, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s):
            return True
    except urllib.error.HTTPError as refused:
        return refused.code < 500  # it serves, it only refused this request
    except (OSError, urllib.error.URLError):
        return False


def mkdirs(namenode_http: str, path: str, permission: str) -> bool:
    """`hdfs dfs -mkdir -p PATH && chmod PERMISSION` through WebHDFS; False while the
    NameNode refuses (still starting, or in safe mode)."""
    user = urllib.parse.quote(getpass.getuser())
    quoted = urllib.parse.quote(path)
    for operation in (f"MKDIRS&permission={permission}", f"SETPERMISSION&permission={permission}"):
        request = urllib.request.Request(
            f"{namenode_http}/webhdfs/v1{quoted}?op={operation}&user.name={user}", method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except (OSError, urllib.error.URLError):
            return False
    return True


def list_status(namenode_http: str, path: str) -> list[dict]:
    """WebHDFS's FileStatus entries of a directory (pathSuffix, type, length,
    modificationTime); [] while the NameNode does not answer or the path is missing."""
    user = urllib.parse.quote(getpass.getuser())
    answer = get_json(f"{namenode_http}/webhdfs/v1{urllib.parse.quote(path)}?op=LISTSTATUS&user.name={user}")
    return ((answer or {}).get("FileStatuses") or {}).get("FileStatus") or []


def read(namenode_http: str, path: str, timeout_s: float = 30.0) -> bytes | None:
    """A file's bytes (the NameNode redirects the read to a DataNode); None on failure."""
    user = urllib.parse.quote(getpass.getuser())
    try:
        with urllib.request.urlopen(f"{namenode_http}/webhdfs/v1{urllib.parse.quote(path)}?op=OPEN"
                                    f"&user.name={user}", timeout=timeout_s) as answer:
            return answer.read()
    except (OSError, urllib.error.URLError):
        return None
