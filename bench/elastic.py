"""Benchmark: growing a running cluster's HDFS and YARN. On a WAITING 1 master + 2 core
cluster (m5.xlarge), elmr's time is from ModifyInstanceGroups (core 2 -> 4) until the
master's ResourceManager counts 2 more active NodeManagers (REST /ws/v1/cluster/metrics
activeNodes) AND its NameNode 2 more live DataNodes (JMX FSNamesystemState
NumLiveDataNodes), both read over HTTP at the endpoints DescribeCluster shows, every
0.05 s, each against its count at the sample's start. The floor on this machine: the
same two core nodes' daemons (a DataNode and a NodeManager each) started by hand
against the same cluster's master, with the configuration files and command lines
elmr's agents write (agent/node_apps.py over a NodeSpec like a new core node's: the
master's, with a core node's role and addresses), no server and no agent, timed the
same way from laying the nodes out. (Issue 17's other two parts: managed scaling's
backlog to decision in bench/managed_scaling.py, a job's time with and without a spot
interruption in bench/spot_interruption.py.)

The two sides alternate, sample by sample, in one run, so they see the same machine.
After a floor sample its daemons are stopped (SIGTERM, as the agent's stop_all: each
NodeManager unregisters, so YARN counts it SHUTDOWN at once; a DataNode says nothing,
so the NameNode counts it live until its heartbeats expire). After an elmr sample the
group shrinks back to 2 (ShrinkPolicy DecommissionTimeout 120: HDFS's and YARN's
graceful decommissioning, then the nodes stop); the time until the group reads RUNNING
with 2 running instances is printed, and is not part of the ratio.

The first sample starts once the master's history servers serve (they start after
WAITING). Every sample starts (untimed) once the master counts only the cluster's own
2 DataNodes and NodeManagers again, so no node stopped earlier leaves the counts
inside a timed window; how long the floor's stopped nodes took to leave them is
printed too. To keep that wait short, the cluster sets
hdfs-site dfs.namenode.heartbeat.recheck-interval to 10 s: a silent DataNode
expires after 2 x 10 s + 10 heartbeats of 3 s = 50 s instead of Hadoop's 10.5 min.
Registering a new DataNode does not depend on that setting.
Run:  .venv/bin/python bench/elastic.py [--samples 5]
"""

import argparse
import dataclasses
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from elmr.agent.daemons import stop_all
from elmr.agent.node_apps import NodeApplications
from elmr.apps import registry, webhdfs
from elmr.launcher import ServerProcess, poll_until
from elmr.node_protocol import NodeSpec
from elmr.providers.base import NodeRequest
from elmr.providers.local import LocalProvider

CLUSTER = {
    "Name": "bench-elastic",
    "ReleaseLabel": "emr-7.2.0",
    "Instances": {
        "InstanceGroups": [
            {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
        ],
        "KeepJobFlowAliveWhenNoSteps": True,
    },
    # Stopped DataNodes leave the NameNode's live count 50 s after their last
    # heartbeat rather than 10.5 min (see the docstring).
    "Configurations": [{"Classification": "hdfs-site",
                        "Properties": {"dfs.namenode.heartbeat.recheck-interval": "10000"}}],
}
ADDED = 2
GROW_TIMEOUT_S = 300  # a loaded 2-core machine starts four JVMs
SETTLE_TIMEOUT_S = 300  # the DataNodes' 50 s expiry, and a loaded NameNode


def counts(endpoints: dict) -> tuple[int, int] | None:
    """(active NodeManagers, live DataNodes) as the master's ResourceManager and
    NameNode count them, or None while either does not answer."""
    metrics = webhdfs.get_json(f"{endpoints['ResourceManagerWebUiUrl']}/ws/v1/cluster/metrics")
    namesystem = webhdfs.get_json(
        f"{endpoints['NameNodeWebUiUrl']}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState")
    if not metrics or "clusterMetrics" not in metrics or not namesystem or not namesystem.get("beans"):
        return None
    return metrics["clusterMetrics"]["activeNodes"], namesystem["beans"][0]["NumLiveDataNodes"]


def wait_for_added(endpoints: dict, before: tuple[int, int]) -> None:
    """Until both counts are ADDED above `before`, polled every 0.05 s."""
    poll_until(lambda: (now := counts(endpoints)) is not None
               and now[0] >= before[0] + ADDED and now[1] >= before[1] + ADDED,
               GROW_TIMEOUT_S, 0.05, f"{ADDED} more active NodeManagers and live DataNodes than {before}")


def wait_for_counts(endpoints: dict, expected: tuple[int, int], what: str) -> None:
    poll_until(lambda: counts(endpoints) == expected, SETTLE_TIMEOUT_S, 0.5, what)


def counts_now(endpoints: dict) -> tuple[int, int]:
    """The counts a sample starts from (a loaded daemon may miss one answer)."""
    return poll_until(lambda: counts(endpoints), 60, 0.1, "the master's counts")


def master_spec(data_dir: Path, cluster_id: str) -> NodeSpec:
    """The node spec elmr's provider wrote for the cluster's master (its node directory
    is in the server's store)."""
    with sqlite3.connect(data_dir / "elmr.db") as db:
        (state,) = db.execute("SELECT provider_state FROM instances WHERE cluster_id = ? AND role = 'MASTER'",
                              (cluster_id,)).fetchone()
    return NodeSpec.read(Path(json.loads(state)["node_dir"]))


def floor_nodes(master: NodeSpec, group_id: str, scratch: Path) -> list[NodeApplications]:
    """Two core nodes as elmr's actuator specifies a new one (the master's spec: its
    cluster, configurations and master address and ports; a core node's role, the
    grown group's core count) on addresses the local provider chooses."""
    provider = LocalProvider(scratch)  # for its choice of free addresses only
    nodes = []
    for index in range(ADDED):
        instance_id = f"ci-floor{index}"
        checkpoint = provider.allocate(NodeRequest(master.cluster_id, instance_id, "CORE",
                                                   registry.ports_for("CORE")))
        spec = dataclasses.replace(
            master, role="CORE", instance_id=instance_id, ec2_instance_id=f"i-floor{index}", agent_token="-",
            address=checkpoint["address"], ports=checkpoint["ports"], core_nodes=master.core_nodes + ADDED,
            instance_group_id=group_id, runs_tasks=False)
        node_dir = Path(checkpoint["node_dir"])
        spec.write(node_dir)
        nodes.append(NodeApplications(spec, node_dir))
    return nodes


def _start_node(node: NodeApplications) -> None:
    node.lay_out()
    node.write_configuration()
    node.start_daemons()


def floor_sample(endpoints: dict, master: NodeSpec, group_id: str, scratch: Path) -> tuple[float, float]:
    """Two core nodes' DataNode and NodeManager by hand against the cluster's master,
    laid out and started at once; stopped afterwards, until the master no longer
    counts them. (seconds to 2 more counted, seconds from the stop to uncounted)"""
    nodes = floor_nodes(master, group_id, scratch)
    before = counts_now(endpoints)
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(len(nodes)) as pool:
            list(pool.map(_start_node, nodes))
        wait_for_added(endpoints, before)
        grown = time.monotonic() - started
    finally:
        # SIGTERM lets each NodeManager unregister (SIGKILL would leave it active for
        # YARN's 10 min liveness expiry); a loaded machine may take a while.
        stopping = time.monotonic()
        stop_all([daemon for node in nodes for daemon in node.daemons], grace_s=60)
        wait_for_counts(endpoints, before, "the hand-started NodeManagers and DataNodes no longer counted")
    return grown, time.monotonic() - stopping


def elmr_sample(emr, cluster_id: str, group_id: str, endpoints: dict) -> tuple[float, float]:
    """(seconds to 2 more active NodeManagers and live DataNodes, seconds for the
    shrink back to settle)."""
    before = counts_now(endpoints)
    started = time.monotonic()
    emr.modify_instance_groups(InstanceGroups=[{"InstanceGroupId": group_id, "InstanceCount": 2 + ADDED}])
    wait_for_added(endpoints, before)
    grown = time.monotonic() - started
    poll_until(lambda: _group(emr, cluster_id, group_id)["Status"]["State"] == "RUNNING", 300, 0.1, "RUNNING")
    shrink_started = time.monotonic()
    emr.modify_instance_groups(InstanceGroups=[{"InstanceGroupId": group_id, "InstanceCount": 2,
                                                "ShrinkPolicy": {"DecommissionTimeout": 120}}])
    poll_until(lambda: (g := _group(emr, cluster_id, group_id))["Status"]["State"] == "RUNNING"
               and g["RunningInstanceCount"] == 2, 300, 0.1, "the shrink back")
    return grown, time.monotonic() - shrink_started


def _group(emr, cluster_id: str, group_id: str) -> dict:
    groups = emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
    return next(group for group in groups if group["Id"] == group_id)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    floor, elmr, shrinks = [], [], []
    with tempfile.TemporaryDirectory(prefix="elmr-bench-") as scratch:
        server = ServerProcess(Path(scratch) / "data")
        server.start()
        emr = server.client()
        cluster_id = emr.run_job_flow(**CLUSTER)["JobFlowId"]
        try:
            poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                       == "WAITING", 300, 0.2, "WAITING")
            cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
            endpoints = next(a for a in cluster["Applications"] if a["Name"] == "Hadoop")["AdditionalInfo"]
            spark = next(a for a in cluster["Applications"] if a["Name"] == "Spark")["AdditionalInfo"]
            # The master's history servers start once the cluster is WAITING: the first
            # sample (a floor's) must not share the two cores with their JVMs' start.
            poll_until(lambda: webhdfs.answers(endpoints["JobHistoryWebUiUrl"])
                       and webhdfs.answers(spark["SparkHistoryServerUrl"]),
                       300, 0.5, "the history servers")
            core = next(g for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]
                        if g["InstanceGroupType"] == "CORE")
            master = master_spec(server.data_dir, cluster_id)
            own = (core["RunningInstanceCount"], core["RunningInstanceCount"])
            for sample in range(args.samples):
                floor_dir = Path(scratch) / f"floor-{sample}"
                wait_for_counts(endpoints, own, f"only the cluster's own NodeManagers and DataNodes {own}")
                by_hand, uncounted = floor_sample(endpoints, master, core["Id"], floor_dir)
                floor.append(by_hand)
                grown, shrunk = elmr_sample(emr, cluster_id, core["Id"], endpoints)
                elmr.append(grown)
                shrinks.append(shrunk)
                print(f"sample {sample + 1}: floor {by_hand:.2f} s, elmr {grown:.2f} s "
                      f"(shrink back {shrunk:.2f} s; the floor's stopped nodes uncounted after {uncounted:.2f} s)",
                      flush=True)
        finally:
            emr.terminate_job_flows(JobFlowIds=[cluster_id])
            poll_until(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
                       == "TERMINATED", 180, 0.2, "TERMINATED")
            server.stop()
    floor_median, elmr_median = statistics.median(floor), statistics.median(elmr)
    print(f"median floor (a DataNode and a NodeManager on two nodes by hand): {floor_median:.2f} s")
    print(f"median elmr (ModifyInstanceGroups +2 core -> +2 active NodeManagers and live DataNodes): "
          f"{elmr_median:.2f} s")
    print(f"median shrink back (ModifyInstanceGroups -2 -> group RUNNING with 2): {statistics.median(shrinks):.2f} s")
    print(f"ratio elmr / floor: {elmr_median / floor_median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
