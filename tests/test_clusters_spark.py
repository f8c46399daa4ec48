"""Real clusters: every node is a process group running the elmr agent and real
Hadoop daemons (NameNode and ResourceManager on the master, DataNode and NodeManager
on core nodes), each node on a loopback address of its own with EMR's ports, created
and managed through boto3 and the AWS CLI."""

import json
import os
import signal
import sqlite3
import urllib.request

import pytest

from conftest import alive_group, wait_for

pytestmark = pytest.mark.slow

THREE_NODES = {
    "Name": "spark-cluster",
    "ReleaseLabel": "emr-7.2.0",
    "Applications": [{"Name": "Hadoop"}, {"Name": "Spark"}],
    "Instances": {
        "InstanceGroups": [
            {"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"Name": "Core", "InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
        ],
        "KeepJobFlowAliveWhenNoSteps": True,
    },
}
FAST_WAITER = {"Delay": 1, "MaxAttempts": 300}  # a 1-node cluster has taken over 2 min on a loaded machine


def additional_info(cluster: dict, application: str) -> dict:
    return next(app for app in cluster["Applications"] if app["Name"] == application)["AdditionalInfo"]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def node_groups_by_instance(server, cluster_id: str) -> dict[str, int]:
    """Each node's process group, read from the store (what the provider saved)."""
    with sqlite3.connect(server.data_dir / "elmr.db") as db:
        rows = db.execute(
            "SELECT id, provider_state FROM instances WHERE cluster_id = ?", (cluster_id,)
        ).fetchall()
    states = {node_id: json.loads(state) for node_id, state in rows}
    return {node_id: state["pgid"] for node_id, state in states.items() if "pgid" in state}


def node_groups_of(server, cluster_id: str) -> list[int]:
    return list(node_groups_by_instance(server, cluster_id).values())


def test_cluster_reaches_waiting_with_real_hadoop_daemons(server, shared_cluster):
    cluster = server.client().describe_cluster(ClusterId=shared_cluster)["Cluster"]
    assert cluster["Status"]["State"] == "WAITING"
    assert cluster["Status"]["StateChangeReason"]["Message"] == "Cluster ready to run steps."
    assert cluster["Status"]["Timeline"]["ReadyDateTime"] >= cluster["Status"]["Timeline"]["CreationDateTime"]
    master = cluster["MasterPublicDnsName"]
    assert master.startswith("127.") and master != "127.0.0.1"
    hadoop = additional_info(cluster, "Hadoop")
    assert hadoop["NameNodeWebUiUrl"] == f"http://{master}:9870"  # EMR's ports on the master's address
    assert hadoop["ResourceManagerWebUiUrl"] == f"http://{master}:8088"
    assert additional_info(cluster, "Spark")["SparkHistoryServerUrl"] == f"http://{master}:18080"
    namenode = get_json(hadoop["NameNodeWebUiUrl"] + "/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState")
    assert namenode["beans"][0]["NumLiveDataNodes"] == 2
    nodes = get_json(hadoop["ResourceManagerWebUiUrl"] + "/ws/v1/cluster/nodes")["nodes"]["node"]
    assert len(nodes) == 2 and all(n["state"] == "RUNNING" for n in nodes)
    # m5.xlarge: 4 vCPUs, 16 GiB of which YARN offers three quarters, as EMR does (what
    # the cluster's earlier steps still hold, if anything, is offered too).
    assert all(n["availableVirtualCores"] + n["usedVirtualCores"] == 4
               and n["availMemoryMB"] + n["usedMemoryMB"] == 12288 for n in nodes)
    core_addresses = {i["PrivateIpAddress"] for i in server.client().list_instances(
        ClusterId=shared_cluster, InstanceGroupTypes=["CORE"])["Instances"]}
    assert {n["nodeHostName"] for n in nodes} == core_addresses and master not in core_addresses


def test_every_cluster_has_its_own_master_address(server, shared_cluster):
    emr = server.client()
    other = emr.run_job_flow(**{**THREE_NODES, "Name": "second", "Instances": {
        "MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True}})["JobFlowId"]
    try:
        emr.get_waiter("cluster_running").wait(ClusterId=other, WaiterConfig=FAST_WAITER)
        first, second = (emr.describe_cluster(ClusterId=c)["Cluster"] for c in (shared_cluster, other))
        assert first["MasterPublicDnsName"] != second["MasterPublicDnsName"]
        # Both NameNodes answer on EMR's port 9870, each on its own address.
        for cluster in (first, second):
            url = additional_info(cluster, "Hadoop")["NameNodeWebUiUrl"]
            assert url.endswith(":9870") and get_json(url + "/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus")
    finally:
        emr.terminate_job_flows(JobFlowIds=[other])
        emr.get_waiter("cluster_terminated").wait(ClusterId=other, WaiterConfig=FAST_WAITER)


def test_instances_and_groups_report_running_nodes(server, shared_cluster):
    emr = server.client()
    instances = emr.list_instances(ClusterId=shared_cluster)["Instances"]
    assert len(instances) == 3
    assert all(i["Status"]["State"] == "RUNNING" for i in instances)
    assert all(i["Id"].startswith("ci-") and i["Ec2InstanceId"].startswith("i-") for i in instances)
    groups = emr.list_instance_groups(ClusterId=shared_cluster)["InstanceGroups"]
    assert {g["InstanceGroupType"]: g["RunningInstanceCount"] for g in groups} == {"MASTER": 1, "CORE": 2}
    assert all(g["Status"]["State"] == "RUNNING" for g in groups)
    core = next(g for g in groups if g["InstanceGroupType"] == "CORE")
    only_core = emr.list_instances(ClusterId=shared_cluster, InstanceGroupId=core["Id"])["Instances"]
    assert len(only_core) == 2
    assert len(emr.list_instances(ClusterId=shared_cluster, InstanceGroupTypes=["MASTER"])["Instances"]) == 1
    assert emr.list_instances(ClusterId=shared_cluster, InstanceStates=["TERMINATED"])["Instances"] == []
    paginated = [i for page in emr.get_paginator("list_instances").paginate(ClusterId=shared_cluster)
                 for i in page["Instances"]]
    assert len(paginated) == 3


def test_modify_cluster_changes_step_concurrency(server, shared_cluster):
    emr = server.client()
    try:
        answer = emr.modify_cluster(ClusterId=shared_cluster, StepConcurrencyLevel=4)
        assert answer["StepConcurrencyLevel"] == 4
        assert emr.describe_cluster(ClusterId=shared_cluster)["Cluster"]["StepConcurrencyLevel"] == 4
        with pytest.raises(emr.exceptions.ClientError, match="StepConcurrencyLevel"):
            emr.modify_cluster(ClusterId=shared_cluster, StepConcurrencyLevel=300)
    finally:  # the shared cluster's other tests expect steps one at a time
        emr.modify_cluster(ClusterId=shared_cluster, StepConcurrencyLevel=1)


def test_each_node_is_its_own_process_group(server, shared_cluster):
    groups = node_groups_of(server, shared_cluster)
    assert len(set(groups)) == 3 and all(alive_group(g) for g in groups)


def test_termination_protection_refuses_then_allows(server):
    emr = server.client()
    protected = {**THREE_NODES, "Name": "protected", "Instances": {
        "MasterInstanceType": "m5.xlarge", "InstanceCount": 1,
        "KeepJobFlowAliveWhenNoSteps": True, "TerminationProtected": True}}
    cluster_id = emr.run_job_flow(**protected)["JobFlowId"]
    with pytest.raises(emr.exceptions.ClientError, match="termination protected") as refused:
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] not in (
        "TERMINATING", "TERMINATED")
    emr.set_termination_protection(JobFlowIds=[cluster_id], TerminationProtected=False)
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
    reason = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["StateChangeReason"]
    assert reason == {"Code": "USER_REQUEST", "Message": "Terminated by user request"}
    assert not any(alive_group(g) for g in node_groups_of(server, cluster_id))


def test_cluster_without_steps_terminates_itself_when_not_kept_alive(server):
    emr = server.client()
    request = {**THREE_NODES, "Name": "auto-terminate", "Instances": {
        "MasterInstanceType": "m5.xlarge", "InstanceCount": 1}}
    cluster_id = emr.run_job_flow(**request)["JobFlowId"]
    emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert cluster["Status"]["State"] == "TERMINATED"
    assert cluster["Status"]["StateChangeReason"]["Code"] == "ALL_STEPS_COMPLETED"
    nodes = emr.list_instances(ClusterId=cluster_id)["Instances"]
    assert nodes and all(n["Status"]["State"] == "TERMINATED" for n in nodes)
    assert cluster["NormalizedInstanceHours"] == 8  # one m5.xlarge, under an hour


def test_cluster_bigger_than_the_host_fails_fast(server):
    emr = server.client()
    huge = {**THREE_NODES, "Name": "huge", "Instances": {
        "MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge", "InstanceCount": 500}}
    cluster_id = emr.run_job_flow(**huge)["JobFlowId"]
    cluster = wait_for(lambda: (c := emr.describe_cluster(ClusterId=cluster_id)["Cluster"])
                       ["Status"]["State"] == "TERMINATED_WITH_ERRORS" and c, 15,
                       what="the oversized cluster to fail")
    assert "500" in cluster["Status"]["StateChangeReason"]["Message"]
    assert emr.list_instances(ClusterId=cluster_id)["Instances"] == []


def test_aws_cli_create_describe_wait_terminate(server):
    created = json.loads(server.aws(
        "emr", "create-cluster", "--name", "demo", "--release-label", "emr-7.2.0",
        "--applications", "Name=Spark", "--instance-type", "m5.xlarge", "--instance-count", "3",
        "--no-auto-terminate",
    ).stdout)
    cluster_id = created["ClusterId"]
    # The CLI's waiters poll every 30 s; wait here first so their first check succeeds.
    emr = server.client()
    emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
    server.aws("emr", "wait", "cluster-running", "--cluster-id", cluster_id)
    described = json.loads(server.aws("emr", "describe-cluster", "--cluster-id", cluster_id).stdout)
    assert described["Cluster"]["Status"]["State"] == "WAITING"
    listed = json.loads(server.aws("emr", "list-clusters", "--active").stdout)
    assert cluster_id in {c["Id"] for c in listed["Clusters"]}
    instances = json.loads(server.aws("emr", "list-instances", "--cluster-id", cluster_id).stdout)
    assert len(instances["Instances"]) == 3
    # AWS CLI v1 has no list-instance-groups; its describe-cluster calls
    # ListInstanceGroups itself and merges the groups in.
    assert {g["InstanceGroupType"] for g in described["Cluster"]["InstanceGroups"]} == {"MASTER", "CORE"}
    server.aws("emr", "terminate-clusters", "--cluster-ids", cluster_id)
    emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
    server.aws("emr", "wait", "cluster-terminated", "--cluster-id", cluster_id)
    assert not any(alive_group(g) for g in node_groups_of(server, cluster_id))


def test_lost_core_node_is_reported_and_replaced(server):
    emr = server.client()
    cluster_id = emr.run_job_flow(**{**THREE_NODES, "Name": "lossy"})["JobFlowId"]
    emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
    core = emr.list_instances(ClusterId=cluster_id, InstanceGroupTypes=["CORE"])["Instances"][0]
    pgid = node_groups_by_instance(server, cluster_id)[core["Id"]]
    os.killpg(pgid, signal.SIGKILL)

    def lost_and_replaced():
        nodes = emr.list_instances(ClusterId=cluster_id)["Instances"]
        lost = [n for n in nodes if n["Id"] == core["Id"] and n["Status"]["State"] == "TERMINATED"]
        running = [n for n in nodes if n["Status"]["State"] == "RUNNING"]
        return lost and len(running) == 3 and lost[0]
    lost = wait_for(lost_and_replaced, 90, 0.5, "the lost node to be replaced")
    assert lost["Status"]["StateChangeReason"]["Code"] == "INSTANCE_FAILURE"
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] == "WAITING"
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
