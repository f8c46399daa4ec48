"""Hive as EMR runs it, from Apache's jars (Hive 4.0.1, locked in jvm/artifacts.lock,
laid out in EMR's /usr/lib/hive/lib): on a cluster whose Applications name Hive, the
master runs Hive's metastore (EMR's port 9083, its Derby database in the master's
directory) and every node's `hive` is Hive's own CLI, configured by HIVE_CONF_DIR's
hive-site.xml (EMR's /etc/hive/conf; the hive-site classification is written there).
Queries run on Tez 0.10.4 on the cluster's YARN, as on EMR (a session's application
master per CLI), or as MapReduce jobs when a script sets hive.execution.engine=mr.
Spark on such a cluster keeps its tables in the same metastore (apps/spark.py), so a
table one makes the other reads.

A cluster without Hive in its Applications has neither; its `hive` is Spark SQL
(`spark-sql`), as elmr's Hive steps ran before Hive came.
"""

import shlex
from pathlib import Path

from elmr.apps import artifacts, classifications, hadoop_home, webhdfs
from elmr.apps.base import MASTER, Application, DaemonPlan, NodeContext
from elmr.apps.mapreduce import TASK_CLASSPATH, TASK_JAVA_OPTS

NAME = "Hive"
VERSION = "4.0.1"  # jvm/hive-pom.xml's
METASTORE_CLASS = "org.apache.hadoop.hive.metastore.HiveMetaStore"
CLI_CLASS = "org.apache.hadoop.hive.cli.CliDriver"
WAREHOUSE_DIR = "/user/hive/warehouse"  # in HDFS, as on EMR
# Hive 4.0 was built for Java 8: on 17 its plan serialisation (Kryo) and the
# metastore's reflection need the JDK's packages opened to them.
OPENED_PACKAGES = ("java.lang", "java.lang.invoke", "java.lang.reflect", "java.io", "java.net", "java.nio",
                   "java.util", "java.util.concurrent", "java.util.concurrent.atomic", "java.util.regex",
                   "java.text", "java.time", "java.math", "sun.nio.ch", "sun.nio.cs", "sun.security.action",
                   "sun.util.calendar")
JAVA17_OPENS = [*(f"--add-opens=java.base/{package}=ALL-UNNAMED" for package in OPENED_PACKAGES),
                "--add-opens=java.sql/java.sql=ALL-UNNAMED"]
TASK_OPTS = " ".join([TASK_JAVA_OPTS, *JAVA17_OPENS])  # YARN containers of Hive's jobs
# Hive's jars as a YARN container finds them on its own node ($HADOOP_COMMON_HOME is
# the NodeManager's usr/lib/hadoop): Hadoop's lib has no commons-collections 3, Tez none.
NODE_HIVE_LIB = "$HADOOP_COMMON_HOME/../hive/lib/*"


def installed(node: NodeContext) -> bool:
    return NAME in node.spec.applications


def lib_dir(node_dir: Path) -> Path:
    return hadoop_home.usr_lib(node_dir) / "hive" / "lib"


def conf_dir_of(node_dir: Path) -> Path:
    """HIVE_CONF_DIR (EMR's /etc/hive/conf)."""
    return Path(node_dir) / "conf" / "hive"


def conf_dir(node: NodeContext) -> Path:
    return conf_dir_of(node.node_dir)


def classpath(node: NodeContext) -> str:
    """Hive's conf, then Hadoop's (conf and jars), then Hive's own jars, as Hive's
    launcher orders them: where both hold a library, Hadoop's version is loaded."""
    hadoop = hadoop_home.classpath(node.hadoop_conf_dir, node.node_dir)
    return f"{conf_dir(node)}:{hadoop}:{lib_dir(node.node_dir)}/*"


def jars() -> list[str]:
    """Every jar a Hive client needs, Hadoop's first (Spark's metastore client)."""
    return artifacts.classpath("hadoop", "hive")


def metastore_uri(node: NodeContext) -> str:
    return f"thrift://{node.master_address}:{node.master_port('hive_metastore')}"


def spark_properties(node: NodeContext) -> dict:
    """spark-defaults on a cluster with Hive: Spark's catalog is Hive's metastore,
    reached through Spark's client for this Hive version (its built-in Hive 2.3 client
    cannot talk to a 4.x metastore), loaded from Hive's own jars."""
    return {"spark.sql.hive.metastore.version": VERSION,
            "spark.sql.hive.metastore.jars": "path",
            "spark.sql.hive.metastore.jars.path": ",".join(f"file://{jar}" for jar in jars())}


def lay_out(node: NodeContext, spark_sql: Path) -> None:
    """Before bootstrap actions run: Hive's jars in usr/lib/hive/lib and the node's
    `hive`, Hive's CLI; on a cluster without Hive, `hive` is Spark SQL (`spark_sql`)."""
    if not installed(node):
        hadoop_home.write_program(node.node_dir, "hive", f'#!/bin/sh\nexec "{spark_sql}" "$@"\n')
        return
    for path in artifacts.classpath("hive"):
        hadoop_home.link(path, lib_dir(node.node_dir) / Path(path).name)
    hadoop_home.write_program(node.node_dir, "hive", _cli_launcher(node))


def _java(node: NodeContext, heap: str, log_file: str) -> list[str]:
    """A Hive JVM's command line up to its classpath; its log in the node's logs."""
    return [str(Path(hadoop_home.java_home()) / "bin" / "java"), f"-Xmx{heap}", *hadoop_home.DAEMON_JAVA_OPTS,
            *JAVA17_OPENS, f"-Dhive.log.dir={node.path('logs')}", f"-Dhive.log.file={log_file}",
            f"-Djava.io.tmpdir={node.path('tmp')}",
            # Hadoop's classes log through Hadoop's log4j.properties (INFO to the
            # console): a Hive step's stderr keeps Hive's own messages and warnings.
            "-Dhadoop.root.logger=WARN,console"]


def _cli_launcher(node: NodeContext) -> str:
    java = " ".join(map(shlex.quote, _java(node, "1g", "hive.log")))
    env_file = shlex.quote(str(conf_dir(node) / "hive-env.sh"))
    return (f"#!/bin/sh\n# `hive` on an elmr node: Hive {VERSION}'s CLI (written by elmr).\n"
            f"[ -f {env_file} ] && . {env_file}\n"
            f"exec {java} $HIVE_OPTS -cp {shlex.quote(classpath(node))} {CLI_CLASS} \"$@\"\n")


class Hive(Application):
    name = NAME
    classifications = frozenset({"hive-site", "hive-env", "tez-site"})

    def ports(self, role: str) -> dict:
        return {"hive_metastore": 9083} if role == MASTER else {}

    def configure(self, node: NodeContext) -> None:
        if not installed(node):
            return
        conf_dir(node).mkdir(parents=True, exist_ok=True)
        site = {**self.site(node), **classifications.properties(node.spec.configurations, "hive-site")}
        (conf_dir(node) / "hive-site.xml").write_text(classifications.hadoop_xml(site))
        tez = {**self.tez_site(), **classifications.properties(node.spec.configurations, "tez-site")}
        (conf_dir(node) / "tez-site.xml").write_text(classifications.hadoop_xml(tez))
        # Hive's JVMs log as Hadoop's do (HIVE_CONF_DIR comes first on their classpath),
        # with two changes: the id of every YARN application Hive submits is said (a
        # cancelled step's Tez session is killed by it), and one line is not: Hive
        # 4.0.1 looks for Kafka's credential supplier on every Tez query and logs at
        # ERROR that it is missing (only the Kafka storage handler, which Maven Central
        # does not serve here, has it).
        hadoop_log4j = (node.hadoop_conf_dir / "log4j.properties").read_text()
        (conf_dir(node) / "log4j.properties").write_text(
            hadoop_log4j + "log4j.logger.org.apache.hadoop.yarn.client.api.impl.YarnClientImpl=INFO\n"
            "log4j.logger.org.apache.hadoop.hive.ql.exec.tez.DagUtils=FATAL\n")
        (conf_dir(node) / "hive-env.sh").write_text(classifications.shell_exports(
            classifications.exports(node.spec.configurations, "hive-env"),
            "written by elmr from the hive-env classification"))

    def site(self, node: NodeContext) -> dict:
        """hive-site.xml as elmr sets it; the hive-site classification goes over it."""
        return {
            "hive.metastore.uris": metastore_uri(node),
            "hive.metastore.warehouse.dir": f"hdfs://{WAREHOUSE_DIR}",
            "hive.execution.engine": "tez",
            "hive.tez.container.size": "512",
            "hive.tez.java.opts": TASK_OPTS,
            # A script may `SET hive.execution.engine=mr`: its splits are then made as on
            # Tez (hive.tez.input.format's default), for Hive 4.0.1's default on
            # MapReduce, CombineHiveInputFormat, reads a text table's header lines as
            # rows, ignoring skip.header.line.count.
            "hive.input.format": "org.apache.hadoop.hive.ql.io.HiveInputFormat",
            # The metastore's own database: made on its first start.
            "javax.jdo.option.ConnectionURL":
                f"jdbc:derby:;databaseName={node.path('hive', 'metastore_db')};create=true",
            "datanucleus.schema.autoCreateAll": "true",
            "hive.metastore.schema.verification": "false",
            "metastore.thrift.bind.host": node.address,
            # Scratch files stay in the node's directory, not the host's /tmp.
            "hive.exec.local.scratchdir": str(node.path("tmp", "hive")),
            "hive.downloaded.resources.dir": str(node.path("tmp", "hive", "resources", "${hive.session.id}")),
            "hive.querylog.location": str(node.path("logs", "hive")),
            # When a script chooses MapReduce, its tasks load Hive's libraries from their
            # node and deserialise its plan with Kryo, which on Java 17 needs the opens.
            "mapreduce.application.classpath": f"{TASK_CLASSPATH},{NODE_HIVE_LIB}",
            "mapreduce.map.java.opts": TASK_OPTS,
            "mapreduce.reduce.java.opts": TASK_OPTS,
            "yarn.app.mapreduce.am.command-opts": TASK_OPTS,
        }

    def tez_site(self) -> dict:
        """tez-site.xml: Tez's application master and tasks load Hadoop's jars, then Tez
        and Hive from their node's usr/lib/hive/lib, instead of uploading them per query
        (tez.lib.uris), and get the same opens as Hive's JVMs."""
        return {
            "tez.ignore.lib.uris": "true",
            "tez.use.cluster.hadoop-libs": "true",
            # YARN's default application classpath (Hadoop's share/ layout) is not this
            # node's: Hadoop's conf and jars as MapReduce's tasks find them, then Hive's.
            "tez.cluster.additional.classpath.prefix": ":".join([*TASK_CLASSPATH.split(","), NODE_HIVE_LIB]),
            "tez.am.resource.memory.mb": "512",
            "tez.am.launch.cmd-opts": " ".join(["-Xmx384m", *hadoop_home.DAEMON_JAVA_OPTS, *JAVA17_OPENS]),
            "tez.task.launch.cmd-opts": TASK_OPTS,
            # A session whose CLI was killed ends itself after two idle minutes (Tez's
            # default is five), not to hold YARN's memory or an idle cluster's end.
            "tez.session.am.dag.submit.timeout.secs": "120",
        }

    def environment(self, node: NodeContext) -> dict:
        if not installed(node):
            return {}
        return {"HIVE_HOME": str(hadoop_home.usr_lib(node.node_dir) / "hive"), "HIVE_CONF_DIR": str(conf_dir(node))}

    def daemons(self, node: NodeContext) -> list:
        if node.role != MASTER or not installed(node):
            return []
        command = [*_java(node, "512m", "hive-metastore.log"), "-cp", classpath(node),
                   METASTORE_CLASS, "-p", str(node.port("hive_metastore"))]
        return [DaemonPlan("hive-metastore", command, f"tcp://{node.address}:{node.port('hive_metastore')}")]

    def prepare_cluster(self, node: NodeContext) -> bool:
        if node.role != MASTER or not installed(node):
            return True
        return webhdfs.mkdirs(node.master_url("namenode_http"), WAREHOUSE_DIR, "1777")

