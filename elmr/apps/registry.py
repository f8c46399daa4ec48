"""The applications elmr clusters run, in start order (HDFS before what keeps files in
it; Hive only on a cluster whose Applications name it), and what the server asks of them all at once: the ports a node of a
role needs, and the endpoints DescribeCluster shows per EMR application name."""

from elmr.apps.base import CORE, MASTER
from elmr.apps.hdfs import HDFS
from elmr.apps.hive import Hive
from elmr.apps.mapreduce import MapReduce
from elmr.apps.spark import Spark
from elmr.apps.yarn import YARN

APPLICATIONS = (HDFS(), YARN(), MapReduce(), Spark(), Hive())


def ports_for(role: str) -> dict:
    """{port name: EMR's port, or 0 for a port free on the whole host}. A master has
    a core node's ports too: a cluster of one node runs its DataNode and NodeManager
    there, as EMR does."""
    ports = {}
    for application in APPLICATIONS:
        if role == MASTER:
            ports.update(application.ports(CORE))
        ports.update(application.ports(role))
    return ports


def endpoints(master_address: str, master_ports: dict) -> dict:
    """{EMR application name: {AdditionalInfo key: URL}} from the master's ports."""
    shown: dict[str, dict] = {}
    for application in APPLICATIONS:
        shown.setdefault(application.name, {}).update(application.endpoints(master_address, master_ports))
    return shown
