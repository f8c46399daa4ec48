"""Hadoop as it lies on a node: the locked jars (apps/artifacts.py) linked into
`NODE_DIR/usr/lib/hadoop/lib`, EMR's jar names beside them, the JVM command line of a
Hadoop main class, and the `hadoop`, `hdfs`, `yarn` and `mapred` commands: small
launchers of Hadoop's own main classes (Apache's shell scripts are not in the jars).
"""

import os
import shutil
from pathlib import Path

from elmr.apps import artifacts

# Hadoop's daemons only coordinate on a small cluster: C1-only JIT and the serial
# collector start a JVM faster and keep it smaller on a laptop's cores.
DAEMON_JAVA_OPTS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData"]
CLIENT_JAVA_OPTS = ["-Xmx512m", *DAEMON_JAVA_OPTS]
# EMR's names for the jars steps point at, under usr/lib (see emr_paths in the agent).
EMR_JARS = {
    "hadoop/hadoop-streaming.jar": "hadoop-streaming",
    "hadoop-mapreduce/hadoop-streaming.jar": "hadoop-streaming",
    "hadoop-mapreduce/hadoop-mapreduce-examples.jar": "hadoop-mapreduce-examples",
    "hadoop/hadoop-aws.jar": "hadoop-aws",
    "hadoop/hadoop-common.jar": "hadoop-common",
    "hadoop-mapreduce/hadoop-distcp.jar": "hadoop-distcp",
}

# Subcommands of each launcher: the main class, and whether the class wants the
# subcommand's name as its first argument (as Hadoop's own scripts pass it).
COMMANDS = {
    "hadoop": {
        "fs": ("org.apache.hadoop.fs.FsShell", False),
        "dfs": ("org.apache.hadoop.fs.FsShell", False),
        "jar": ("org.apache.hadoop.util.RunJar", False),
        "distcp": ("org.apache.hadoop.tools.DistCp", False),
        "version": ("org.apache.hadoop.util.VersionInfo", False),
        "checknative": ("org.apache.hadoop.util.NativeLibraryChecker", False),
        "key": ("org.apache.hadoop.crypto.key.KeyShell", False),
        "credential": ("org.apache.hadoop.security.alias.CredentialShell", False),
        "conftest": ("org.apache.hadoop.util.ConfTest", False),
    },
    "hdfs": {
        "dfs": ("org.apache.hadoop.fs.FsShell", False),
        "dfsadmin": ("org.apache.hadoop.hdfs.tools.DFSAdmin", False),
        "fsck": ("org.apache.hadoop.hdfs.tools.DFSck", False),
        "getconf": ("org.apache.hadoop.hdfs.tools.GetConf", False),
        "balancer": ("org.apache.hadoop.hdfs.server.balancer.Balancer", False),
        "storagepolicies": ("org.apache.hadoop.hdfs.tools.StoragePolicyAdmin", False),
        "cacheadmin": ("org.apache.hadoop.hdfs.tools.CacheAdmin", False),
        "ec": ("org.apache.hadoop.hdfs.tools.ECAdmin", False),
        "lsSnapshottableDir": ("org.apache.hadoop.hdfs.tools.snapshot.LsSnapshottableDir", False),
        "snapshotDiff": ("org.apache.hadoop.hdfs.tools.snapshot.SnapshotDiff", False),
        "oiv": ("org.apache.hadoop.hdfs.tools.offlineImageViewer.OfflineImageViewerPB", False),
        "namenode": ("org.apache.hadoop.hdfs.server.namenode.NameNode", False),
        "datanode": ("org.apache.hadoop.hdfs.server.datanode.DataNode", False),
        "version": ("org.apache.hadoop.util.VersionInfo", False),
    },
    "yarn": {
        "application": ("org.apache.hadoop.yarn.client.cli.ApplicationCLI", True),
        "applicationattempt": ("org.apache.hadoop.yarn.client.cli.ApplicationCLI", True),
        "container": ("org.apache.hadoop.yarn.client.cli.ApplicationCLI", True),
        "node": ("org.apache.hadoop.yarn.client.cli.NodeCLI", False),
        "queue": ("org.apache.hadoop.yarn.client.cli.QueueCLI", False),
        "logs": ("org.apache.hadoop.yarn.client.cli.LogsCLI", False),
        "rmadmin": ("org.apache.hadoop.yarn.client.cli.RMAdminCLI", False),
        "cluster": ("org.apache.hadoop.yarn.client.cli.ClusterCLI", False),
        "top": ("org.apache.hadoop.yarn.client.cli.TopCLI", False),
        "jar": ("org.apache.hadoop.util.RunJar", False),
        "version": ("org.apache.hadoop.util.VersionInfo", False),
    },
    "mapred": {
        "job": ("org.apache.hadoop.mapred.JobClient", False),
        "queue": ("org.apache.hadoop.mapred.JobQueueClient", False),
        "distcp": ("org.apache.hadoop.tools.DistCp", False),
        "historyserver": ("org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer", False),
        "version": ("org.apache.hadoop.util.VersionInfo", False),
    },
}


def usr_lib(node_dir: Path) -> Path:
    return Path(node_dir) / "usr" / "lib"


def lib_dir(node_dir: Path) -> Path:
    return usr_lib(node_dir) / "hadoop" / "lib"


def bin_dir(node_dir: Path) -> Path:
    return Path(node_dir) / "bin"


def java_home() -> str:
    """JAVA_HOME if set, else the JDK/JRE the `java` on PATH belongs to (YARN's
    containers start `$JAVA_HOME/bin/java`)."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("Hadoop needs a Java runtime: no `java` on PATH and JAVA_HOME is not set")
    return str(Path(os.path.realpath(java)).parent.parent)


def link(target: str, at: Path) -> None:
    """A symlink AT pointing at TARGET (made or replaced; left when it already does)."""
    if at.is_symlink() and os.readlink(at) == target:
        return
    at.parent.mkdir(parents=True, exist_ok=True)
    if at.is_symlink() or at.exists():
        at.unlink()
    at.symlink_to(target)


def lay_out(node_dir: Path) -> None:
    """Link the locked jars into usr/lib/hadoop/lib and EMR's jar names beside it.
    ArtifactsMissing (naming the jars and scripts/setup) when the cache lacks one."""
    for path in artifacts.classpath("hadoop", "s3a"):
        link(path, lib_dir(node_dir) / Path(path).name)
    for relative, artifact_id in EMR_JARS.items():
        link(artifacts.jar(artifact_id), usr_lib(node_dir) / relative)


def classpath(conf_dir: Path, node_dir: Path) -> str:
    return f"{conf_dir}:{lib_dir(node_dir)}/*"


def java_command(conf_dir: Path, node_dir: Path, main_class: str, heap: str, log_name: str,
                 args: tuple = ()) -> list[str]:
    """A Hadoop daemon's JVM: its heap, its log name, the node's conf dir first on the
    classpath (so the node's *-site.xml win over the jars' defaults)."""
    return [
        str(Path(java_home()) / "bin" / "java"), f"-Xmx{heap}", *DAEMON_JAVA_OPTS,
        f"-Dhadoop.log.dir={Path(node_dir) / 'logs'}", f"-Dhadoop.log.file={log_name}.log",
        f"-Dyarn.log.dir={Path(node_dir) / 'logs'}", "-Dhadoop.root.logger=INFO,console",
        f"-Djava.io.tmpdir={Path(node_dir) / 'tmp'}",  # scratch files stay in the node's directory
        "-cp", classpath(conf_dir, node_dir), main_class, *args,
    ]


def _launcher_script(command: str, conf_dir: Path, node_dir: Path) -> str:
    java = Path(java_home()) / "bin" / "java"
    cases = []
    for subcommand, (main_class, keeps_name) in COMMANDS[command].items():
        passed = f'"{subcommand}" "$@"' if keeps_name else '"$@"'
        cases.append(f'    {subcommand}) shift; main={main_class}; set -- {passed} ;;')
    names = " ".join(COMMANDS[command])
    return f"""#!/bin/sh
# `{command}` on an elmr node: runs Hadoop's own main classes (written by elmr).
conf="${{HADOOP_CONF_DIR:-{conf_dir}}}"
cp="$conf:{lib_dir(node_dir)}/*${{HADOOP_CLASSPATH:+:$HADOOP_CLASSPATH}}"
case "$1" in
{chr(10).join(cases)}
    classpath) echo "$cp"; exit 0 ;;
    ""|-h|--help|help) echo "Usage: {command} SUBCOMMAND [args]; subcommands: {names} classpath, or a class name" >&2; exit 1 ;;
    *) main="$1"; shift ;;
esac
# Scratch files (`hadoop jar` unpacks its JAR, streaming packs its job) go to the
# step's TMPDIR or the node's tmp, not the host's /tmp.
exec "{java}" {" ".join(CLIENT_JAVA_OPTS)} -Djava.io.tmpdir="${{TMPDIR:-{Path(node_dir) / 'tmp'}}}" $HADOOP_CLIENT_OPTS -Dhadoop.root.logger="${{HADOOP_ROOT_LOGGER:-INFO,console}}" -cp "$cp" "$main" "$@"
"""


def write_program(node_dir: Path, name: str, script: str) -> None:
    """An executable script on the node's PATH (its bin directory)."""
    path = bin_dir(node_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    path.chmod(0o755)


def write_launchers(conf_dir: Path, node_dir: Path) -> None:
    for command in COMMANDS:
        write_program(node_dir, command, _launcher_script(command, conf_dir, node_dir))
