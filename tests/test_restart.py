"""A server killed with SIGKILL and started again on the same data dir carries on:
clusters keep their state, nodes are adopted (never launched twice), and nodes that
died meanwhile are found and reported."""

import os
import signal
import sqlite3
import time
from datetime import datetime, timezone

import pytest

from conftest import alive_group, wait_for
from test_clusters_spark import FAST_WAITER, THREE_NODES, node_groups_by_instance

pytestmark = pytest.mark.slow


def holds_for(condition, seconds: float, what: str) -> None:
    """Check `condition` again and again for `seconds`: it must never be false."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert condition(), what
        time.sleep(0.2)


def last_heartbeats(server, cluster_id: str) -> list[datetime]:
    with sqlite3.connect(server.data_dir / "elmr.db") as db:
        rows = db.execute("SELECT last_heartbeat_at FROM instances WHERE cluster_id = ? "
                          "AND state != 'TERMINATED'", (cluster_id,)).fetchall()
    return [datetime.fromisoformat(row[0]).replace(tzinfo=timezone.utc) for row in rows if row[0]]


def start_waiting_cluster(server) -> str:
    emr = server.client()
    cluster_id = emr.run_job_flow(**{**THREE_NODES, "Name": "survivor"})["JobFlowId"]
    emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
    return cluster_id


def test_sigkilled_server_restarts_and_adopts_its_nodes(fresh_server):
    cluster_id = start_waiting_cluster(fresh_server)
    groups_before = node_groups_by_instance(fresh_server, cluster_id)
    fresh_server.kill(signal.SIGKILL)
    killed_at = datetime.now(timezone.utc)
    assert all(alive_group(g) for g in groups_before.values()), "nodes must outlive the server"

    fresh_server.start()
    emr = fresh_server.client()
    wait_for(lambda: len(beats := last_heartbeats(fresh_server, cluster_id)) == 3
             and min(beats) > killed_at, 30, 0.2, "every agent to report to the new server")

    def unchanged():
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        nodes = emr.list_instances(ClusterId=cluster_id)["Instances"]
        return (cluster["Status"]["State"] == "WAITING"
                and {n["Id"] for n in nodes} == set(groups_before)
                and all(n["Status"]["State"] == "RUNNING" for n in nodes)
                and node_groups_by_instance(fresh_server, cluster_id) == groups_before)
    holds_for(unchanged, 4, "the cluster stays WAITING with the same three nodes")

    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
    assert not any(alive_group(g) for g in groups_before.values())


def test_node_that_died_while_the_server_was_down_is_reported(fresh_server):
    cluster_id = start_waiting_cluster(fresh_server)
    emr = fresh_server.client()
    core = emr.list_instances(ClusterId=cluster_id, InstanceGroupTypes=["CORE"])["Instances"][0]
    fresh_server.kill(signal.SIGKILL)
    os.killpg(node_groups_by_instance(fresh_server, cluster_id)[core["Id"]], signal.SIGKILL)

    fresh_server.start()
    emr = fresh_server.client()

    def reported():
        nodes = {n["Id"]: n for n in emr.list_instances(ClusterId=cluster_id)["Instances"]}
        return nodes[core["Id"]]["Status"]["State"] == "TERMINATED" and nodes[core["Id"]]
    lost = wait_for(reported, 30, 0.2, "the dead node to be reported")
    assert lost["Status"]["StateChangeReason"]["Code"] == "INSTANCE_FAILURE"
    wait_for(lambda: len(emr.list_instances(ClusterId=cluster_id, InstanceStates=["RUNNING"])["Instances"]) == 3,
             90, 0.5, "a replacement core node")
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
