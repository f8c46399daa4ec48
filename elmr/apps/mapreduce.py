"""MapReduce on YARN as EMR runs it: the shuffle service in every NodeManager, the
JobHistory server on the master, and task sizes a laptop can hold (the
mapred-site classification sets EMR's bigger ones where wanted).

Hadoop's ShuffleHandler listens on every address with no setting to narrow it, so
each NodeManager gets a shuffle port free on the whole host (EMR's is 13562); the
MapReduce application master learns each node's port from its NodeManager."""

from elmr.apps import hadoop_home
from elmr.apps.base import MASTER, Application, DaemonPlan, NodeContext

JOBHISTORY_CLASS = "org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer"
# Task JVMs: small heaps, quick to start (most steps on a laptop are small).
TASK_JAVA_OPTS = "-Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# $HADOOP_* are the NodeManager's, so a task finds its own node's jars and conf.
TASK_CLASSPATH = "$HADOOP_CONF_DIR,$HADOOP_COMMON_HOME/lib/*"


class MapReduce(Application):
    name = "Hadoop"
    classifications = frozenset({"mapred-site", "mapred-env"})

    def ports(self, role: str) -> dict:
        if role == MASTER:
            return {"jobhistory": 10020, "jobhistory_web": 19888, "jobhistory_admin": 10033}
        return {"mapreduce_shuffle": 0}

    def site_properties(self, node: NodeContext) -> dict:
        master = node.master_address
        mapred = {
            "mapreduce.framework.name": "yarn",
            "mapreduce.application.classpath": TASK_CLASSPATH,
            "mapreduce.jobhistory.address": f"{master}:{node.master_port('jobhistory')}",
            "mapreduce.jobhistory.webapp.address": f"{master}:{node.master_port('jobhistory_web')}",
            "mapreduce.jobhistory.admin.address": f"{master}:{node.master_port('jobhistory_admin')}",
            "yarn.app.mapreduce.am.resource.mb": "512",
            "yarn.app.mapreduce.am.command-opts": TASK_JAVA_OPTS,
            "mapreduce.map.memory.mb": "512",
            "mapreduce.reduce.memory.mb": "512",
            "mapreduce.map.java.opts": TASK_JAVA_OPTS,
            "mapreduce.reduce.java.opts": TASK_JAVA_OPTS,
            "mapreduce.task.io.sort.mb": "64",
        }
        yarn = {
            "yarn.nodemanager.aux-services": "mapreduce_shuffle",
            "yarn.nodemanager.aux-services.mapreduce_shuffle.class": "org.apache.hadoop.mapred.ShuffleHandler",
        }
        if node.role != MASTER:
            mapred["mapreduce.shuffle.port"] = str(node.port("mapreduce_shuffle"))
        return {"mapred-site": mapred, "yarn-site": yarn}

    def environment(self, node: NodeContext) -> dict:
        home = str(hadoop_home.usr_lib(node.node_dir) / "hadoop-mapreduce")
        return {"HADOOP_MAPRED_HOME": home, "HADOOP_YARN_HOME": home}

    def daemons(self, node: NodeContext) -> list:
        if node.role != MASTER:
            return []
        return [DaemonPlan(
            "jobhistoryserver",
            hadoop_home.java_command(node.hadoop_conf_dir, node.node_dir, JOBHISTORY_CLASS, "192m", "jobhistory"),
            node.url("jobhistory_web", "/ws/v1/history/info"), after_start=True)]

    def endpoints(self, master_address: str, master_ports: dict) -> dict:
        return {"JobHistoryWebUiUrl": f"http://{master_address}:{master_ports['jobhistory_web']}"}
