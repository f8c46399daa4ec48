"""Spark on YARN as EMR runs it, from the PySpark package: spark-defaults that submit
to the cluster's YARN (client deploy mode unless a step asks for cluster), Spark's
jars and PySpark's archives used in place on every node (`local:`, nothing uploaded
per application), S3A added to Spark's own Hadoop client (SPARK_DIST_CLASSPATH), event logs in HDFS and the
history server on the master; its tables in the cluster's Hive metastore when the
cluster runs Hive (apps/hive.py). The classifications spark-defaults, spark-env,
spark-log4j2, spark-hive-site and hive-site are written to the real files."""

import sys
from pathlib import Path

from elmr.apps import artifacts, classifications, hive, webhdfs
from elmr.apps.base import MASTER, Application, DaemonPlan, NodeContext
from elmr.apps.spark_executors import DRIVER_MEMORY_MIB, executor_size

HISTORY_SERVER_CLASS = "org.apache.spark.deploy.history.HistoryServer"
EVENT_LOG_DIR = "/var/log/spark/apps"  # in HDFS, as on EMR
WAREHOUSE_DIR = "/user/spark/warehouse"
HISTORY_SERVER_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def spark_home() -> Path:
    """The pyspark package directory: it carries bin/spark-class and jars/. Found
    next to this interpreter's site-packages without importing pyspark (slow)."""
    for entry in sys.path:
        candidate = Path(entry) / "pyspark"
        if (candidate / "bin" / "spark-class").exists():
            return candidate
    raise RuntimeError("PySpark is not installed in this Python environment")


def _python_archives() -> str:
    """PySpark's and py4j's zips, used in place by YARN containers (`local:`)."""
    lib = spark_home() / "python" / "lib"
    return ",".join(f"local:{path}" for path in sorted(lib.glob("*.zip")))


def decommission_properties(fallback_dir: Path) -> dict:
    """spark-defaults for every node: when YARN decommissions a node gracefully, Spark's
    application master hears of it from the ResourceManager, places nothing new there,
    and the node's executors hand their shuffle and cached blocks to the others (or to
    a directory every node of the cluster reaches) before they exit."""
    return {
        "spark.decommission.enabled": "true",
        "spark.storage.decommission.enabled": "true",
        "spark.storage.decommission.shuffleBlocks.enabled": "true",
        "spark.storage.decommission.rddBlocks.enabled": "true",
        # Spark wants the trailing slash.
        "spark.storage.decommission.fallbackStorage.path": f"file://{fallback_dir}/",
        # How often a leaving executor looks again for blocks left to hand over; it
        # exits only after a round finds none (Spark's default: 30 s a round).
        "spark.storage.decommission.replicationReattemptInterval": "5s",
    }


class Spark(Application):
    name = "Spark"
    classifications = frozenset({"spark-defaults", "spark-env", "spark-log4j2", "spark-hive-site", "hive-site"})

    def ports(self, role: str) -> dict:
        return {"spark_history": 18080} if role == MASTER else {}

    def conf_dir(self, node: NodeContext) -> Path:
        return node.node_dir / "conf" / "spark"

    def defaults(self, node: NodeContext) -> dict:
        """What every spark-submit on the cluster starts from, as EMR's spark-defaults."""
        return {
            "spark.master": "yarn",
            "spark.submit.deployMode": "client",
            "spark.yarn.jars": f"local:{spark_home() / 'jars'}/*",
            # PySpark's shaded Hadoop client is Spark's; the cluster's jars would clash.
            "spark.yarn.populateHadoopClasspath": "false",
            # spark.yarn.maxAppAttempts stays YARN's two, as on EMR: an application master
            # whose node is taken (a spot interruption) starts again on another node and
            # a client-mode job carries on.
            # The live UI is off: in client mode Spark 4.2 (Jetty 12) adds YARN's AmIpFilter
            # from the RPC thread while SparkContext still starts its UI handlers, and
            # about one job in thirty then fails to start (ConcurrentModificationException
            # in ServletHandler.initialize). The history server shows every application
            # from its event logs; spark.ui.enabled=true in spark-defaults turns it back on.
            "spark.ui.enabled": "false",
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": f"hdfs://{EVENT_LOG_DIR}",
            "spark.history.fs.logDirectory": f"hdfs://{EVENT_LOG_DIR}",
            "spark.sql.warehouse.dir": f"hdfs://{WAREHOUSE_DIR}",
            "spark.local.dir": str(node.path("spark", "local")),
            "spark.driver.memory": f"{DRIVER_MEMORY_MIB}m",
            **executor_size(node.spec.worker_vcpus or node.spec.vcpus,
                            node.spec.worker_memory_mib or node.spec.memory_mib).properties(),
            # No cap on executors: dynamic allocation asks YARN for what a job's tasks
            # need, so nodes added later get executors and a backlog shows in YARN as
            # pending containers (what managed scaling reads).
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.shuffleTracking.enabled": "true",
            **(hive.spark_properties(node) if hive.installed(node) else {}),
            **node.spec.spark_conf,
        }

    def configure(self, node: NodeContext) -> None:
        conf_dir = self.conf_dir(node)
        conf_dir.mkdir(parents=True, exist_ok=True)
        node.path("spark", "local").mkdir(parents=True, exist_ok=True)
        configurations = node.spec.configurations
        defaults = {**self.defaults(node), **classifications.properties(configurations, "spark-defaults")}
        (conf_dir / "spark-defaults.conf").write_text(classifications.java_properties(defaults))
        (conf_dir / "spark-env.sh").write_text(classifications.shell_exports(
            classifications.exports(configurations, "spark-env"), "written by elmr from the spark-env classification"))
        log4j2 = classifications.properties(configurations, "spark-log4j2")
        if log4j2:
            (conf_dir / "log4j2.properties").write_text(classifications.java_properties(log4j2, " = "))
        (conf_dir / "hive-site.xml").write_text(classifications.hadoop_xml({
            **self._catalog(node), **classifications.properties(configurations, "hive-site"),
            **classifications.properties(configurations, "spark-hive-site")}))

    def _catalog(self, node: NodeContext) -> dict:
        """Spark's hive-site: the cluster's Hive metastore where Hive runs, else a
        metastore of Spark's own (Derby, in the node's directory)."""
        if hive.installed(node):
            return {"hive.metastore.uris": hive.metastore_uri(node)}
        metastore = node.path("hive", "metastore_db")
        return {"javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={metastore};create=true",
                "hive.metastore.warehouse.dir": f"hdfs://{WAREHOUSE_DIR}"}

    def environment(self, node: NodeContext) -> dict:
        return {
            "SPARK_HOME": str(spark_home()),
            "SPARK_CONF_DIR": str(self.conf_dir(node)),
            "SPARK_LOG_DIR": str(node.path("logs")),
            "SPARK_PID_DIR": str(node.path("spark")),
            "SPARK_LOCAL_IP": node.address,
            "SPARK_LOCAL_HOSTNAME": node.address,
            "SPARK_PUBLIC_DNS": node.address,
            "PYSPARK_ARCHIVES_PATH": _python_archives(),
            # S3A for every Spark JVM: spark-class adds it to what it launches (the
            # submitting client, a client-mode driver, the history server) and Spark's
            # YARN client to every container's classpath (drivers and executors).
            "SPARK_DIST_CLASSPATH": ":".join(artifacts.classpath("s3a")),
        }

    def daemons(self, node: NodeContext) -> list:
        if node.role != MASTER:
            return []
        port = node.port("spark_history")
        return [DaemonPlan(
            "spark-history-server", [str(spark_home() / "bin" / "spark-class"), HISTORY_SERVER_CLASS],
            node.url("spark_history", "/api/v1/version"),
            env={"SPARK_HISTORY_OPTS": f"-Dspark.history.ui.port={port}", "SPARK_DAEMON_MEMORY": "256m",
                 "SPARK_DAEMON_JAVA_OPTS": HISTORY_SERVER_OPTS},
            after_start=True)]

    def endpoints(self, master_address: str, master_ports: dict) -> dict:
        return {"SparkHistoryServerUrl": f"http://{master_address}:{master_ports['spark_history']}"}

    def prepare_cluster(self, node: NodeContext) -> bool:
        if node.role != MASTER:
            return True
        namenode = node.master_url("namenode_http")
        return all(webhdfs.mkdirs(namenode, path, "1777") for path in (EVENT_LOG_DIR, WAREHOUSE_DIR))
