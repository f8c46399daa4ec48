"""The application contract: one class per application a cluster runs (HDFS, YARN,
MapReduce, Spark, Hive; later Trino, Spark Connect). Adding an application means one
module with one subclass, listed in `registry.py`; nothing else changes.

Both sides use a class: the server asks for the ports a node of a role needs (the
provider reserves them on the node's address before anything starts) and for the
endpoints DescribeCluster shows; the node's agent asks it to write its configuration
files, for the environment it gives every process of the node, for its daemons (a
command line and how to tell that it serves), and, on the master, for the figures the
server reads (live DataNodes, YARN's metrics).

Override:
- `name`: EMR's application name it belongs to ("Hadoop", "Spark"); DescribeCluster
  puts its endpoints in that application's AdditionalInfo.
- `ports(role)` -> {port name: EMR's port}; 0 asks for a port free on the whole host
  (for daemons that bind every address, which Hadoop gives no setting to avoid).
- `classifications`: the configuration classifications it writes.
- `site_properties(node)` -> {Hadoop XML classification: {property: value}}: what it
  sets in the node's Hadoop configuration files (core-site, yarn-site…). The agent
  merges every application's part and writes each file once, with the cluster's
  Configurations of that classification over it.
- `configure(node)`: write its own other configuration files.
- `environment(node)` -> variables every process on the node gets.
- `daemons(node)` -> [DaemonPlan] for this node's role.
- `endpoints(master_address, master_ports)` -> {AdditionalInfo key: URL or address}.
- `report(node)` -> {figure: value} the master's agent sends in its heartbeats.
- `retired(node, daemon)` -> bool: did this daemon exit because the cluster retired
  it (a NodeManager shuts itself down once YARN has decommissioned it)? Then its
  exit is no failure of the node.
- `prepare_cluster(node)` -> bool: on the master once its daemons serve, make what the
  application expects on a fresh cluster (directories in HDFS); True once done.
  The master reports RUNNING only after every application's answer is True.
"""

from dataclasses import dataclass, field
from pathlib import Path

from elmr.node_protocol import NodeSpec

MASTER, CORE, TASK = "MASTER", "CORE", "TASK"


@dataclass(frozen=True)
class DaemonPlan:
    name: str  # namenode, resourcemanager, spark-history-server…
    command: list
    ready_url: str  # answers once the daemon serves (a web UI or REST endpoint; tcp://host:port)
    env: dict = field(default_factory=dict)  # added to the node's environment
    # Started once the node's other daemons serve, and not waited for: servers of
    # finished work (history servers) must not slow a cluster's start.
    after_start: bool = False
    # Commands run to completion, in order, before the daemon starts the first time
    # (formatting the NameNode's directory); skipped when `prepared` exists.
    prepare: list = field(default_factory=list)
    prepared: Path | None = None


@dataclass
class NodeContext:
    """What an application knows of the node it configures, on the node itself."""

    spec: NodeSpec
    node_dir: Path

    @property
    def role(self) -> str:
        return self.spec.role

    @property
    def address(self) -> str:
        return self.spec.address

    def port(self, name: str) -> int:
        return int(self.spec.ports[name])

    def master_port(self, name: str) -> int:
        return int(self.spec.master_ports[name])

    @property
    def runs_tasks(self) -> bool:
        """A core node's daemons run here: a core node, or the master of a cluster of
        one node (EMR runs such a cluster's DataNode and NodeManager on its master)."""
        return self.spec.role == CORE or self.spec.runs_tasks

    @property
    def master_address(self) -> str:
        return self.spec.master_address

    @property
    def hadoop_conf_dir(self) -> Path:
        """HADOOP_CONF_DIR: every Hadoop XML file of the node (EMR's /etc/hadoop/conf)."""
        return self.node_dir / "conf" / "hadoop"

    def path(self, *parts: str) -> Path:
        return self.node_dir.joinpath(*parts)

    def url(self, port_name: str, path: str = "") -> str:
        return f"http://{self.address}:{self.port(port_name)}{path}"

    def master_url(self, port_name: str, path: str = "") -> str:
        return f"http://{self.master_address}:{self.master_port(port_name)}{path}"


class Application:
    name = "abstract"
    classifications: frozenset = frozenset()

    def ports(self, role: str) -> dict:
        return {}

    def site_properties(self, node: NodeContext) -> dict:
        return {}

    def configure(self, node: NodeContext) -> None:
        pass

    def environment(self, node: NodeContext) -> dict:
        return {}

    def daemons(self, node: NodeContext) -> list:
        return []

    def endpoints(self, master_address: str, master_ports: dict) -> dict:
        return {}

    def report(self, node: NodeContext) -> dict:
        return {}

    def retired(self, node: NodeContext, daemon: str) -> bool:
        return False

    def prepare_cluster(self, node: NodeContext) -> bool:
        return True
