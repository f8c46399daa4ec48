"""The benchmarks' floor: the same daemons an elmr cluster of 1 master + N core nodes
runs (NameNode, ResourceManager, DataNodes, NodeManagers), with the same configuration
files and command lines (written by the same application classes), started by hand:
no server, no agents, no heartbeats. What elmr adds on top is its machinery.
"""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from elmr.agent.node_apps import NodeApplications
from elmr.apps import registry
from elmr.launcher import poll_until
from elmr.node_protocol import NodeSpec
from elmr.providers.local import LocalProvider
from elmr.providers.base import NodeRequest


class HandStartedCluster:
    def __init__(self, scratch: Path, core_nodes: int = 2):
        self.scratch = scratch
        provider = LocalProvider(scratch)  # for its choice of free addresses only
        roles = ["MASTER"] + ["CORE"] * core_nodes
        checkpoints = [provider.allocate(NodeRequest("j-HAND", f"node-{i}", role, registry.ports_for(role)))
                       for i, role in enumerate(roles)]
        master = checkpoints[0]
        self.nodes = []
        for index, (role, checkpoint) in enumerate(zip(roles, checkpoints)):
            spec = NodeSpec(
                server_url="http://127.0.0.1:9", cluster_id="j-HAND", instance_id=f"node-{index}",
                ec2_instance_id=f"i-hand{index}", agent_token="-", role=role, instance_type="m5.xlarge",
                vcpus=4, memory_mib=16384, address=checkpoint["address"], ports=checkpoint["ports"],
                master_address=master["address"], master_ports=master["ports"], core_nodes=core_nodes)
            node_dir = Path(checkpoint["node_dir"])
            spec.write(node_dir)
            self.nodes.append(NodeApplications(spec, node_dir))
        self.master = self.nodes[0]
        self.env = self.master.env  # what a step on the master runs with

    def start(self, timeout_s: float = 300) -> float:
        """Start every node's daemons; seconds until HDFS and YARN count them all (looked
        at every 0.2 s, as elmr's agents look while their daemons start)."""
        started = time.monotonic()
        def start_node(node: NodeApplications) -> None:
            node.lay_out()
            node.write_configuration()
            node.start_daemons()  # the master formats the NameNode's storage first
        # The master's daemons first, then the core nodes' together, in the order elmr's
        # actuator starts nodes (all six JVMs at once on 2 cores slow the master's
        # NameNode format and start, which every other daemon waits for).
        start_node(self.master)
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(start_node, self.nodes[1:]))
        workers = len(self.nodes) - 1
        poll_until(lambda: self.master.serving() and all(n.serving() for n in self.nodes)
                   and (r := self.master.report()).get("hdfs_live_datanodes") == workers
                   and r.get("yarn_active_nodemanagers") == workers, timeout_s, 0.2, "HDFS and YARN")
        return time.monotonic() - started

    def stop(self) -> None:
        for node in self.nodes:
            for daemon in node.daemons:
                if daemon.process is not None and daemon.process.poll() is None:
                    os.kill(daemon.process.pid, signal.SIGKILL)
                    daemon.process.wait()
