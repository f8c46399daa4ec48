"""HDFS as EMR runs it: the NameNode on the master, a DataNode on every core node
(task nodes hold no HDFS), replication by the number of core nodes, and core-site's
file systems: hdfs:// by default, and s3://, s3a://, s3n:// through hadoop-aws's S3A
against the object store the cluster was given (elmr's own, or real S3 or MinIO), with
the cluster's credentials from the node's container-credentials endpoint.

On one host every connection a DataNode opens comes from 127.0.0.1 whatever address it
listens on, and the NameNode tells DataNodes apart by that IP plus their data-transfer
port; so each DataNode gets a transfer port of its own (the others are EMR's), and
clients reach DataNodes by the address they register (dfs.*.use.datanode.hostname).
"""

from elmr.apps import classifications, hadoop_home, webhdfs
from elmr.apps.base import CORE, MASTER, Application, DaemonPlan, NodeContext

NAMENODE_CLASS = "org.apache.hadoop.hdfs.server.namenode.NameNode"
DATANODE_CLASS = "org.apache.hadoop.hdfs.server.datanode.DataNode"
S3A = "org.apache.hadoop.fs.s3a.S3AFileSystem"
# S3A as EMR's instance profile: container credentials when the endpoint variables
# are set (they are on every elmr node), the instance metadata service otherwise.
S3A_CREDENTIALS = "org.apache.hadoop.fs.s3a.auth.IAMInstanceCredentialsProvider"
EXCLUDE_FILE = "dfs.exclude"  # DataNodes being decommissioned (apps/decommission.py)


def replication_for(core_nodes: int, configurations: list = ()) -> int:
    """dfs.replication as EMR sets it (1 under four core nodes, 2 under ten, else 3),
    unless the cluster's hdfs-site classification sets it."""
    configured = classifications.properties(list(configurations), "hdfs-site").get("dfs.replication")
    if configured and str(configured).isdigit():
        return int(configured)
    if core_nodes < 4:
        return 1
    return 2 if core_nodes < 10 else 3


def shrink_refusal(core_nodes_after: int, replication: int) -> str | None:
    """EMR's refusal of a core-group resize that would leave fewer DataNodes than the
    replication factor (blocks could not keep their replicas); None when allowed."""
    if core_nodes_after < replication:
        return (f"Cannot shrink the core instance group to {core_nodes_after} instance(s): HDFS "
                f"replication factor is {replication}, and the cluster needs at least that many "
                f"core nodes to keep every block's replicas.")
    return None


class HDFS(Application):
    name = "Hadoop"
    classifications = frozenset({"core-site", "hdfs-site", "hadoop-env", "hadoop-log4j"})

    def ports(self, role: str) -> dict:
        if role == MASTER:
            return {"namenode_rpc": 8020, "namenode_http": 9870}
        if role == CORE:
            return {"datanode_transfer": 0, "datanode_ipc": 9867, "datanode_http": 9864}
        return {}

    def site_properties(self, node: NodeContext) -> dict:
        master = node.master_address
        core = {
            "fs.defaultFS": f"hdfs://{master}:{node.master_port('namenode_rpc')}",
            "hadoop.tmp.dir": str(node.path("tmp", "hadoop")),
            # The server answers at once; a daemon started before another retries fast.
            "ipc.client.connect.retry.interval": "250",
            **self._s3a(node),
        }
        hdfs = {
            "dfs.replication": str(replication_for(node.spec.core_nodes)),
            "dfs.namenode.name.dir": f"file://{node.path('hdfs', 'name')}",
            "dfs.datanode.data.dir": f"file://{node.path('hdfs', 'data')}",
            "dfs.namenode.rpc-address": f"{master}:{node.master_port('namenode_rpc')}",
            "dfs.namenode.http-address": f"{master}:{node.master_port('namenode_http')}",
            "dfs.namenode.secondary.http-address": f"{master}:0",
            "dfs.namenode.datanode.registration.ip-hostname-check": "false",
            "dfs.client.use.datanode.hostname": "true",
            "dfs.datanode.use.datanode.hostname": "true",
            "dfs.namenode.safemode.extension": "0",
            "dfs.hosts.exclude": str(node.hadoop_conf_dir / EXCLUDE_FILE),
            # Decommissioning is watched every few seconds, not EMR's 30.
            "dfs.namenode.decommission.interval": "3s",
            "dfs.namenode.redundancy.interval.seconds": "1s",
        }
        if node.runs_tasks:
            hdfs.update({
                "dfs.datanode.hostname": node.address,
                "dfs.datanode.address": f"{node.address}:{node.port('datanode_transfer')}",
                "dfs.datanode.ipc.address": f"{node.address}:{node.port('datanode_ipc')}",
                "dfs.datanode.http.address": f"{node.address}:{node.port('datanode_http')}",
                "dfs.datanode.https.address": f"{node.address}:0",
            })
        return {"core-site": core, "hdfs-site": hdfs}

    def _s3a(self, node: NodeContext) -> dict:
        properties = {
            "fs.s3a.endpoint": node.spec.server_url,
            "fs.s3a.endpoint.region": node.spec.region,
            "fs.s3a.path.style.access": "true",
            "fs.s3a.connection.ssl.enabled": str(node.spec.server_url.startswith("https")).lower(),
            "fs.s3a.aws.credentials.provider": S3A_CREDENTIALS,
        }
        for scheme in ("s3", "s3n"):  # as EMRFS maps s3:// on EMR
            properties[f"fs.{scheme}.impl"] = S3A
            properties[f"fs.AbstractFileSystem.{scheme}.impl"] = "org.apache.hadoop.fs.s3a.S3A"
        return properties

    def configure(self, node: NodeContext) -> None:
        exclude = node.hadoop_conf_dir / EXCLUDE_FILE
        if not exclude.exists():
            exclude.write_text("")

    def daemons(self, node: NodeContext) -> list:
        conf = node.hadoop_conf_dir
        if node.role == MASTER:
            name_dir = node.path("hdfs", "name")
            format_command = hadoop_home.java_command(
                conf, node.node_dir, NAMENODE_CLASS, "256m", "namenode-format",
                ("-format", "-nonInteractive", "-clusterid", node.spec.cluster_id))
            namenode = DaemonPlan(
                "namenode", hadoop_home.java_command(conf, node.node_dir, NAMENODE_CLASS, "256m", "namenode"),
                node.url("namenode_http", "/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus"),
                prepare=[format_command], prepared=name_dir / "current")
            return [namenode, *self._datanode(node)] if node.runs_tasks else [namenode]
        return self._datanode(node) if node.runs_tasks else []

    def _datanode(self, node: NodeContext) -> list:
        conf = node.hadoop_conf_dir
        return [DaemonPlan(
            "datanode", hadoop_home.java_command(conf, node.node_dir, DATANODE_CLASS, "192m", "datanode"),
            node.url("datanode_http", "/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo"))]

    def environment(self, node: NodeContext) -> dict:
        return {"HADOOP_CONF_DIR": str(node.hadoop_conf_dir),
                "HADOOP_COMMON_HOME": str(hadoop_home.usr_lib(node.node_dir) / "hadoop"),
                "HADOOP_HDFS_HOME": str(hadoop_home.usr_lib(node.node_dir) / "hadoop"),
                "JAVA_HOME": hadoop_home.java_home()}

    def endpoints(self, master_address: str, master_ports: dict) -> dict:
        return {
            "NameNodeWebUiUrl": f"http://{master_address}:{master_ports['namenode_http']}",
            "NameNodeRpcAddress": f"hdfs://{master_address}:{master_ports['namenode_rpc']}",
        }

    def report(self, node: NodeContext) -> dict:
        if node.role != MASTER:
            return {}
        state = webhdfs.get_json(node.url("namenode_http", "/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"))
        if not state or not state.get("beans"):
            return {}
        bean = state["beans"][0]
        return {
            "hdfs_live_datanodes": bean.get("NumLiveDataNodes", 0),
            "hdfs_decommissioning_datanodes": bean.get("NumDecommissioningDataNodes", 0),
            "hdfs_capacity_bytes": bean.get("CapacityTotal", 0),
            "hdfs_used_bytes": bean.get("CapacityUsed", 0),
            "hdfs_under_replicated_blocks": bean.get("UnderReplicatedBlocks", 0),
        }

    def prepare_cluster(self, node: NodeContext) -> bool:
        if node.role != MASTER:
            return True
        namenode = node.url("namenode_http")
        return all(webhdfs.mkdirs(namenode, path, permission)
                   for path, permission in (("/tmp", "1777"), ("/user", "755")))
