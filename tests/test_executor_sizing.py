"""Spark's executors sized as EMR sizes them, without daemons: YARN's NodeManager memory
per instance type from EMR's published table, the executor's heap and cores from it,
and the spark-defaults every node writes sized for the cluster's workers (the smallest
core or task type), not for the node writing it."""

import pytest

from elmr import catalog
from elmr.apps.base import NodeContext
from elmr.apps.spark import Spark
from elmr.apps.spark_executors import DRIVER_MEMORY_MIB, MIN_HEAP_MIB, container_mib, executor_size
from elmr.apps.yarn import YARN, across_partitions, nodemanager_memory_mib
from elmr.node_protocol import NodeSpec
from elmr.service import clusters

from control_fakes import ProviderWhereNodesRun, World, store  # noqa: F401


def _round_up(mib: int, step: int = 32) -> int:
    return -(-mib // step) * step  # YARN rounds a request up to its minimum allocation


@pytest.mark.parametrize("memory_mib, nodemanager_mib", [
    (3840, 1792), (7680, 5632), (8192, 6144), (15360, 11520), (16384, 12288), (31232, 23424),
    (32768, 24576), (62464, 54272), (65536, 57344), (163840, 155648), (262144, 253952)])
def test_nodemanager_memory_follows_emrs_table(memory_mib, nodemanager_mib):
    """c4.large, c4.xlarge, m4.large, c4.2xlarge, m4.xlarge, r4.xlarge, m4.2xlarge,
    r4.2xlarge, m4.4xlarge, m4.10xlarge, m4.16xlarge in EMR's "Task configuration"."""
    assert nodemanager_memory_mib(memory_mib) == nodemanager_mib


@pytest.mark.parametrize("instance_type, heap_mib, cores", [
    ("m5.xlarge", 9486, 4), ("r5.xlarge", 18971, 4), ("m5.2xlarge", 18971, 8),  # EMR's own figures
    ("m5.large", 4305, 2),  # EMR's 4743 less what a cluster-mode driver needs beside it
    ("c5.large", MIN_HEAP_MIB, 2), ("m1.small", MIN_HEAP_MIB, 1)])  # the least Spark accepts
def test_one_executor_about_fills_a_nodemanager(instance_type, heap_mib, cores):
    known = catalog.instance_type(instance_type)
    size = executor_size(known.vcpu, known.memory_mib)
    assert (size.memory_mib, size.cores) == (heap_mib, cores)
    assert size.properties() == {"spark.executor.memory": f"{heap_mib}m", "spark.executor.cores": str(cores)}


def test_every_type_leaves_an_application_master_room_beside_its_executor():
    driver = _round_up(container_mib(DRIVER_MEMORY_MIB))
    for known in catalog.instance_types():
        nodemanager = nodemanager_memory_mib(known.memory_mib)
        heap = executor_size(known.vcpu, known.memory_mib).memory_mib
        executor = _round_up(container_mib(heap))
        assert heap >= MIN_HEAP_MIB and executor <= nodemanager, known.type
        if heap > MIN_HEAP_MIB:
            assert executor + driver <= nodemanager, known.type
            assert executor > nodemanager / 2, f"{known.type}: a second executor would fit its NodeManager"


class ProviderThatKeepsSpecs(ProviderWhereNodesRun):
    """Nodes run as ProviderWhereNodesRun's; the NodeSpec each started with is kept."""

    def __init__(self):
        super().__init__()
        self.specs: dict[str, NodeSpec] = {}

    def start(self, spec, checkpoint):
        self.specs[spec.role] = spec
        return super().start(spec, checkpoint)


@pytest.fixture
def specs_world(store):
    return World(store, ProviderThatKeepsSpecs())


def _spark_defaults(spec: NodeSpec, node_dir) -> dict:
    node_dir.mkdir(exist_ok=True)
    Spark().configure(NodeContext(spec, node_dir))
    lines = (node_dir / "conf" / "spark" / "spark-defaults.conf").read_text().splitlines()
    return dict(line.split(None, 1) for line in lines if line and not line.startswith("#"))


def test_the_masters_spark_defaults_are_sized_for_the_smallest_worker_type(specs_world, tmp_path):
    """An m5.large master, a core fleet of m5.2xlarge or m5.xlarge: steps submit on the
    master, and their executors run on an m5.xlarge at the least."""
    master = {"Name": "Primary", "InstanceFleetType": "MASTER", "TargetOnDemandCapacity": 1,
              "InstanceTypeConfigs": [{"InstanceType": "m5.large"}]}
    core = {"Name": "Core", "InstanceFleetType": "CORE", "TargetOnDemandCapacity": 2, "InstanceTypeConfigs": [
        {"InstanceType": "m5.2xlarge", "WeightedCapacity": 2}, {"InstanceType": "m5.xlarge"}]}
    clusters.run_job_flow(specs_world.ctx, {"Name": "sized", "ReleaseLabel": "emr-7.2.0", "Instances": {
        "InstanceFleets": [master, core], "KeepJobFlowAliveWhenNoSteps": True}})
    specs_world.settle()
    spec = specs_world.provider.specs["MASTER"]
    assert (spec.instance_type, spec.worker_vcpus, spec.worker_memory_mib) == ("m5.large", 4, 16384)
    defaults = _spark_defaults(spec, tmp_path / "node")
    assert (defaults["spark.executor.memory"], defaults["spark.executor.cores"]) == ("9486m", "4")
    assert "spark.dynamicAllocation.maxExecutors" not in defaults, "dynamic allocation asks for what a job needs"
    assert defaults["spark.dynamicAllocation.enabled"] == "true"


def test_a_spark_defaults_classification_still_wins(tmp_path):
    spec = NodeSpec(server_url="", cluster_id="j-1", instance_id="ci-1", ec2_instance_id="i-1", agent_token="t",
                    role="MASTER", instance_type="m5.xlarge", vcpus=4, memory_mib=16384, address="127.0.0.1",
                    worker_vcpus=4, worker_memory_mib=16384, configurations=[{
                        "Classification": "spark-defaults", "Properties": {"spark.executor.memory": "2g"}}])
    defaults = _spark_defaults(spec, tmp_path / "node")
    assert (defaults["spark.executor.memory"], defaults["spark.executor.cores"]) == ("2g", "4")


def test_core_nodemanagers_declare_the_core_label_and_application_masters_ask_for_it(tmp_path):
    def site(role: str, runs_tasks: bool = False) -> dict:
        spec = NodeSpec(server_url="", cluster_id="j-1", instance_id="ci-1", ec2_instance_id="i-1",
                        agent_token="t", role=role, instance_type="m5.xlarge", vcpus=4, memory_mib=16384,
                        address="127.0.0.2", ports={"nodemanager": 8041, "nodemanager_localizer": 8040,
                                                    "nodemanager_web": 8042},
                        master_address="127.0.0.1", master_ports={name: 1 for name in (
                            "resourcemanager", "resourcemanager_scheduler", "resourcemanager_tracker",
                            "resourcemanager_admin", "resourcemanager_web")}, runs_tasks=runs_tasks)
        return YARN().site_properties(NodeContext(spec, tmp_path))["yarn-site"]

    label = "yarn.nodemanager.node-labels.provider.configured-node-partition"
    assert site("CORE")[label] == "CORE"
    assert site("MASTER", runs_tasks=True)[label] == "CORE", "a cluster of one node runs its masters on it"
    assert label not in site("TASK") and label not in site("MASTER")
    assert site("TASK")["yarn.resourcemanager.node-labels.am.default-node-label-expression"] == "CORE"


def test_yarns_figures_count_the_core_nodes_partition_too():
    """The ResourceManager's own figures (a core node labelled CORE running an
    application master, a task node an executor) count the task node only."""
    reported = {"totalMB": 12288, "availableMB": 1824, "allocatedMB": 10464, "reservedMB": 0,
                "containersAllocated": 1, "containersPending": 3, "pendingMB": 31392,
                "totalVirtualCores": 4, "allocatedVirtualCores": 1, "availableVirtualCores": 3,
                "crossPartitionMetricsAvailable": True, "totalAllocatedContainersAcrossPartition": 2,
                "totalClusterResourcesAcrossPartition": {"memory": 24576, "vCores": 8},
                "totalUsedResourcesAcrossPartition": {"memory": 11872, "vCores": 2},
                "totalReservedResourcesAcrossPartition": {"memory": 0, "vCores": 0}}
    figures = across_partitions(reported)
    assert (figures["totalMB"], figures["allocatedMB"], figures["availableMB"]) == (24576, 11872, 12704)
    assert (figures["totalVirtualCores"], figures["availableVirtualCores"], figures["containersAllocated"]) == (8, 6, 2)
    assert (figures["containersPending"], figures["pendingMB"]) == (3, 31392)
