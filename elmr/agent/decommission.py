"""Graceful decommissioning, on the master: the nodes the server says are leaving
(HeartbeatReply.decommission_nodes) are written to HDFS's and YARN's own exclude
files and both are told to re-read them (`hdfs dfsadmin -refreshNodes`, `yarn rmadmin
-refreshNodes -g`), as EMR shrinks a core group. A node is reported finished
(Heartbeat.decommissioned_nodes) once the NameNode says its DataNode is Decommissioned
(every block it held has its replicas elsewhere) and the ResourceManager says its
NodeManager is DECOMMISSIONED, or DECOMMISSIONING with no container left (YARN keeps
a drained node DECOMMISSIONING until every application that ran there ends; Spark's
executors hand their blocks over and exit first); task nodes have no DataNode.
"""

import json
import logging
import subprocess
import sys
from pathlib import Path

from elmr.apps import hdfs, webhdfs, yarn
from elmr.apps.base import NodeContext

log = logging.getLogger("elmr.agent.decommission")
# How long YARN lets a decommissioning NodeManager's containers finish.
YARN_GRACE_S = 3600


class Decommissioner:
    def __init__(self, master: NodeContext, env: dict, logs_dir: Path):
        self.master = master
        self.env = env
        self.logs_dir = logs_dir
        self.leaving: dict[str, str] = {}  # instance id -> address
        self.refreshing: list[subprocess.Popen] = []

    def update(self, leaving: list[dict]) -> list[str]:
        """Start decommissioning whatever newly leaves; the instance ids finished."""
        wanted = {str(node["instance_id"]): str(node["address"]) for node in leaving}
        if wanted != self.leaving:
            self.leaving = wanted
            self._write_excludes_and_refresh()
        if not self.leaving or any(p.poll() is None for p in self.refreshing):
            return []
        datanodes = self._datanode_states()
        nodemanagers = yarn.node_reports(self.master.url("resourcemanager_web"))
        return [instance_id for instance_id, address in self.leaving.items()
                if datanodes.get(address, "Decommissioned") == "Decommissioned"
                and yarn.decommissioned(nodemanagers.get(address))]

    def _datanode_states(self) -> dict:
        """{DataNode address: adminState} from the NameNode (live and dead nodes)."""
        info = webhdfs.get_json(self.master.url(
            "namenode_http", "/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo")) or {}
        bean = (info.get("beans") or [{}])[0]
        states = {}
        for field in ("LiveNodes", "DeadNodes", "DecomNodes"):
            for name, node in json.loads(bean.get(field) or "{}").items():
                state = node.get("adminState") or ("Decommissioned" if node.get("decommissioned") else "")
                states[name.rsplit(":", 1)[0]] = state
        return states

    def _transfer_addresses(self) -> dict:
        """{DataNode address: ip:port the NameNode knows it by} (what exclude files match)."""
        info = webhdfs.get_json(self.master.url(
            "namenode_http", "/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo")) or {}
        bean = (info.get("beans") or [{}])[0]
        return {name.rsplit(":", 1)[0]: node["xferaddr"]
                for name, node in json.loads(bean.get("LiveNodes") or "{}").items() if "xferaddr" in node}

    def _write_excludes_and_refresh(self) -> None:
        transfer = self._transfer_addresses()
        conf = self.master.hadoop_conf_dir
        excluded = [transfer[address] for address in self.leaving.values() if address in transfer]
        (conf / hdfs.EXCLUDE_FILE).write_text("".join(f"{entry}\n" for entry in excluded))
        (conf / yarn.EXCLUDE_FILE).write_text("".join(f"{address}\n" for address in self.leaving.values()))
        log.info("decommissioning %s (DataNodes %s)", sorted(self.leaving), excluded)
        with open(self.logs_dir / "decommission.out", "ab") as output:
            self.refreshing = [
                subprocess.Popen(command, env=self.env, stdin=subprocess.DEVNULL, stdout=output,
                                 stderr=subprocess.STDOUT)
                for command in (["hdfs", "dfsadmin", "-refreshNodes"],
                                ["yarn", "rmadmin", "-refreshNodes", "-g", str(YARN_GRACE_S), "-server"])]


def main(argv: list[str]) -> int:
    """Drive the master's side by hand (tests, operators): decommission one node of
    the cluster whose master's node directory is given, wait until it is done."""
    import argparse
    import time

    from elmr.agent.node_apps import NodeApplications
    from elmr.node_protocol import NodeSpec

    parser = argparse.ArgumentParser(prog="python -m elmr.agent.decommission")
    parser.add_argument("--node-dir", type=Path, required=True, help="the master node's directory")
    parser.add_argument("--instance-id", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    apps = NodeApplications(NodeSpec.read(args.node_dir), args.node_dir)
    decommissioner = Decommissioner(apps.node, apps.env, args.node_dir / "logs")
    leaving = [{"instance_id": args.instance_id, "address": args.address}]
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        finished = decommissioner.update(leaving)
        if args.instance_id in finished:
            print(f"decommissioned {args.instance_id}")
            return 0
        time.sleep(1)
    print(f"{args.instance_id} still decommissioning after {args.timeout:.0f} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
