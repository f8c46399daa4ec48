"""The application layer without daemons: EMR's ports and placement per role, HDFS's
replication and shrink rule, what a step's HadoopJarStep runs, s3-dist-cp's flags and
grouping, and how the local provider picks a node's address and finds its processes."""

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import wait_for
from elmr.apps import hdfs, registry, s3_dist_cp, step_commands
from elmr.node_protocol import NODE_DIR_VARIABLE
from elmr.providers import local
from elmr.providers.base import NodeRequest, NodeStatus


def test_each_role_declares_emrs_ports():
    master, core, task = (registry.ports_for(role) for role in ("MASTER", "CORE", "TASK"))
    assert {master[name] for name in ("namenode_rpc", "namenode_http", "resourcemanager",
                                      "resourcemanager_web", "jobhistory_web", "spark_history")} == {
        8020, 9870, 8032, 8088, 19888, 18080}
    assert core["datanode_http"] == 9864 and core["nodemanager_web"] == 8042
    assert "datanode_http" not in task and task["nodemanager"] == 8041  # task nodes hold no HDFS
    # Hadoop binds these on every address: the provider gives each node its own.
    assert core["datanode_transfer"] == 0 and core["mapreduce_shuffle"] == 0


def test_endpoints_are_data_per_emr_application():
    shown = registry.endpoints("127.20.1.2", registry.ports_for("MASTER"))
    assert shown["Hadoop"]["ResourceManagerWebUiUrl"] == "http://127.20.1.2:8088"
    assert shown["Hadoop"]["NameNodeRpcAddress"] == "hdfs://127.20.1.2:8020"
    assert shown["Spark"] == {"SparkHistoryServerUrl": "http://127.20.1.2:18080"}


@pytest.mark.parametrize("core_nodes, replication", [(1, 1), (3, 1), (4, 2), (9, 2), (10, 3), (40, 3)])
def test_replication_as_emr_sets_it(core_nodes, replication):
    assert hdfs.replication_for(core_nodes) == replication


def test_replication_from_the_hdfs_site_classification_and_the_shrink_rule():
    configured = [{"Classification": "hdfs-site", "Properties": {"dfs.replication": "2"}}]
    assert hdfs.replication_for(1, configured) == 2
    assert hdfs.shrink_refusal(1, 2) is not None and "replication factor is 2" in hdfs.shrink_refusal(1, 2)
    assert hdfs.shrink_refusal(2, 2) is None


def test_steps_run_as_emr_runs_them():
    assert step_commands.step_argv({"Jar": "s3://b/app.jar", "MainClass": "a.Main", "Args": ["x"]},
                                   lambda path: "/local/app.jar") == ["hadoop", "jar", "/local/app.jar", "a.Main", "x"]
    streaming = step_commands.step_argv({"Jar": "command-runner.jar", "Args": [
        "hadoop-streaming", "-mapper", "cat", "-reducer", "aggregate"]})
    assert streaming[:2] == ["hadoop", "jar"] and streaming[2].endswith("hadoop-streaming-3.4.2.jar")
    assert streaming[3:] == ["-mapper", "cat", "-reducer", "aggregate"]
    cluster_mode = ["spark-submit", "--master", "yarn", "--deploy-mode", "cluster", "s3://b/job.py"]
    assert step_commands.step_argv({"Jar": "command-runner.jar", "Args": cluster_mode}) == cluster_mode
    assert step_commands.step_argv({"Jar": "command-runner.jar", "Args": ["s3-dist-cp", "--src", "a"]}) == [
        "s3-dist-cp", "--src", "a"]


def test_s3_dist_cp_groups_by_capture_and_cuts_by_target_size():
    files = [s3_dist_cp.SourceFile(f"s3://b/logs/app-{hour}-{part}.log", 600 * 1024)
             for hour in ("01", "02") for part in range(3)]
    groups = s3_dist_cp.groups_of(files, r".*app-(\d+)-\d\.log", None)
    assert {key: [f.path[-12:] for f in members] for key, members in groups.items()} == {
        "01": ["app-01-0.log", "app-01-1.log", "app-01-2.log"],
        "02": ["app-02-0.log", "app-02-1.log", "app-02-2.log"]}
    cut = s3_dist_cp.groups_of(files, r".*app-(\d+)-\d\.log", 1)  # 1 MiB: one 600 KiB file a part
    assert sorted(cut) == ["01", "01-1", "01-2", "02", "02-1", "02-2"]


def test_s3_dist_cp_refuses_flags_it_does_not_honour():
    with pytest.raises(s3_dist_cp.UsageError, match="--s3ServerSideEncryption"):
        s3_dist_cp.parse_args(["--src", "a", "--dest", "b", "--s3ServerSideEncryption"])
    with pytest.raises(s3_dist_cp.UsageError, match="capture group"):
        s3_dist_cp.parse_args(["--src", "a", "--dest", "b", "--groupBy", ".*"])
    assert s3_dist_cp.parse_args(["--src=a", "--dest=b", "--outputCodec=GZIP"]).outputCodec == "gzip"


def test_a_node_gets_an_address_of_its_own_where_its_ports_are_free(tmp_path, monkeypatch):
    taken = "127.31.7.9"
    with socket.socket() as squatter:
        squatter.bind((taken, 0))
        squatter.listen()
        busy_port = squatter.getsockname()[1]
        offered = iter([taken, taken, "127.31.7.10"])
        monkeypatch.setattr(local, "_random_address", lambda: next(offered))
        provider = local.LocalProvider(tmp_path)
        checkpoint = provider.allocate(NodeRequest("j-X", "ci-1", "CORE", {"web": busy_port, "shuffle": 0}))
    assert checkpoint["address"] == "127.31.7.10", "the address whose port was busy is skipped"
    assert checkpoint["ports"]["web"] == busy_port
    # A port bound on every address comes from under the kernel's ephemeral range,
    # where no outgoing connection can take it before the daemon binds it.
    assert local.WILDCARD_PORT_FLOOR <= checkpoint["ports"]["shuffle"] < local.ephemeral_port_floor()
    assert Path(checkpoint["node_dir"]).is_dir()
    # An address this server already handed out is never handed out again.
    monkeypatch.setattr(local, "_random_address", iter(["127.31.7.10", "127.31.7.11"]).__next__)
    assert provider.allocate(NodeRequest("j-X", "ci-2", "CORE", {}))["address"] == "127.31.7.11"


def test_ports_bound_on_every_address_are_never_handed_out_twice(tmp_path, monkeypatch):
    addresses = iter(["127.31.8.1", "127.31.8.2"])
    monkeypatch.setattr(local, "_random_address", lambda: next(addresses))
    offered = iter([24001, 24001, 24002])  # the second node is offered the first one's port first
    monkeypatch.setattr(local.random, "randrange", lambda *_: next(offered))
    provider = local.LocalProvider(tmp_path)
    first = provider.allocate(NodeRequest("j-X", "ci-1", "CORE", {"shuffle": 0}))["ports"]["shuffle"]
    second = provider.allocate(NodeRequest("j-X", "ci-2", "CORE", {"shuffle": 0}))["ports"]["shuffle"]
    assert (first, second) == (24001, 24002)


def test_a_node_is_not_gone_while_a_container_that_left_its_session_runs(tmp_path):
    """YARN starts each container in a session of its own (setsid); a NodeManager
    killed before it stopped them leaves them running. The node counts them by the
    ELMR_NODE_DIR they carry, stays alive while they run, and a forced stop ends them."""
    node_dir = tmp_path / "nodes" / "j-X" / "ci-1"
    node_dir.mkdir(parents=True)
    env = {**os.environ, NODE_DIR_VARIABLE: str(node_dir.resolve())}
    leader = subprocess.Popen(["sleep", "600"], start_new_session=True)
    container = subprocess.Popen(["setsid", "sleep", "600"], env=env)
    stranger = subprocess.Popen(["setsid", "sleep", "600"], env={**env, NODE_DIR_VARIABLE: str(tmp_path)})
    checkpoint = {"pid": leader.pid, "pgid": leader.pid, "node_dir": str(node_dir)}
    provider = local.LocalProvider(tmp_path)
    try:
        wait_for(lambda: container.pid in local.node_members(leader.pid, str(node_dir)), 10, 0.1,
                 "the container counted")
        assert stranger.pid not in local.node_members(leader.pid, str(node_dir))
        leader.kill()
        leader.wait()
        assert provider.poll(checkpoint).state == NodeStatus.AGENT_GONE, "its container still runs"
        provider.stop(checkpoint, force=True)
        assert container.wait(10) == -signal.SIGKILL
        assert provider.poll(checkpoint).state == NodeStatus.GONE
        assert stranger.poll() is None, "another node's process is left alone"
    finally:
        for process in (leader, container, stranger):
            process.kill()
            process.wait()
