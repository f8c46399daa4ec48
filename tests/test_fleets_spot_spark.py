"""Instance fleets and the spot market with real Spark daemons, on one server whose
spot notice is 20 s (--spot-notice-seconds) and whose market is driven by hand
(`elmr spot`): a fleet of two instance types with weights reaching its target
capacities, then a PySpark job riding through a spot interruption of one of its
workers (its output checked), the fleet replacing the node it lost."""

import json
import subprocess
import sys

import pytest

from conftest import ElmrServer, cluster_running, free_port, wait_for
from test_elastic import ELASTIC_JOB, WAITER, alive_workers, spark_step, step_state

pytestmark = pytest.mark.slow

NOTICE_S = 20
FLEETS = [
    {"Name": "Primary", "InstanceFleetType": "MASTER", "TargetOnDemandCapacity": 1,
     "InstanceTypeConfigs": [{"InstanceType": "m5.large"}]},
    # 1 on-demand unit (c5.large is the cheaper unit) and 2 spot units: the spot pool
    # of c5.large is empty (set by hand), so one m5.xlarge (weight 2) gives them.
    {"Name": "Core", "InstanceFleetType": "CORE", "TargetOnDemandCapacity": 1, "TargetSpotCapacity": 2,
     "InstanceTypeConfigs": [{"InstanceType": "c5.large", "WeightedCapacity": 1},
                             {"InstanceType": "m5.xlarge", "WeightedCapacity": 2}],
     "LaunchSpecifications": {
         "SpotSpecification": {"TimeoutDurationMinutes": 5, "TimeoutAction": "TERMINATE_CLUSTER",
                               "AllocationStrategy": "lowest-price"},
         "OnDemandSpecification": {"AllocationStrategy": "lowest-price"}}},
]


def elmr_cli(server: ElmrServer, *args: str) -> dict:
    run = subprocess.run([sys.executable, "-m", "elmr.cli", *args, "--json", "--data-dir", str(server.data_dir)],
                         env=server.env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def spot_server(tmp_path_factory):
    running = ElmrServer(tmp_path_factory.mktemp("fleets-spot"), free_port(),
                         extra_args=("--spot-notice-seconds", str(NOTICE_S)))
    running.start()
    yield running
    running.stop_everything()


@pytest.fixture(scope="module")
def fleet_cluster(spot_server):
    elmr_cli(spot_server, "spot", "capacity", "c5.large", "0")
    elmr_cli(spot_server, "spot", "capacity", "m5.xlarge", "10")
    with cluster_running(spot_server.client(), WAITER, Name="fleet", ReleaseLabel="emr-7.2.0", Instances={
            "InstanceFleets": FLEETS, "KeepJobFlowAliveWhenNoSteps": True}) as cluster_id:
        yield cluster_id


def core_fleet(emr, cluster_id: str) -> dict:
    return next(f for f in emr.list_instance_fleets(ClusterId=cluster_id)["InstanceFleets"]
                if f["InstanceFleetType"] == "CORE")


def core_nodes(emr, cluster_id: str, states=("RUNNING",)) -> list[dict]:
    return emr.list_instances(ClusterId=cluster_id, InstanceFleetType="CORE", InstanceStates=list(states))["Instances"]


def test_a_fleet_of_two_instance_types_reaches_its_target_capacities(spot_server, fleet_cluster):
    emr = spot_server.client()
    assert emr.describe_cluster(ClusterId=fleet_cluster)["Cluster"]["InstanceCollectionType"] == "INSTANCE_FLEET"
    fleet = core_fleet(emr, fleet_cluster)
    assert fleet["Status"]["State"] == "RUNNING"
    assert (fleet["ProvisionedOnDemandCapacity"], fleet["ProvisionedSpotCapacity"]) == (1, 2)
    nodes = core_nodes(emr, fleet_cluster)
    assert sorted((n["InstanceType"], n["Market"]) for n in nodes) == [("c5.large", "ON_DEMAND"), ("m5.xlarge", "SPOT")]
    assert all(n["InstanceFleetId"] == fleet["Id"] for n in nodes)
    workers = alive_workers(emr, fleet_cluster)
    assert sorted(w["totalResource"]["vCores"] for w in workers) == [2, 4], \
        "each NodeManager offers its instance type's vCPUs"
    bill = elmr_cli(spot_server, "cost", fleet_cluster)["Clusters"][0]
    [billed] = [f for f in bill["InstanceFleets"] if f["InstanceFleetId"] == fleet["Id"]]
    assert {(t["InstanceType"], t["Market"]) for t in billed["InstanceTypes"]} == {
        ("c5.large", "ON_DEMAND"), ("m5.xlarge", "SPOT")}


def test_a_running_job_rides_a_spot_interruption_through(spot_server, fleet_cluster, tmp_path):
    emr = spot_server.client()
    (tmp_path / "job.py").write_text(ELASTIC_JOB)
    output, stop_marker = tmp_path / "job-output.json", tmp_path / "stop"
    [step_id] = emr.add_job_flow_steps(JobFlowId=fleet_cluster, Steps=[spark_step(
        "spot-job", "--conf", "spark.executor.memory=512m", str(tmp_path / "job.py"),
        str(output), str(stop_marker))])["StepIds"]
    wait_for(lambda: sum(w["numContainers"] > 0 for w in alive_workers(emr, fleet_cluster)) == 2, 180, 0.5,
             "containers on both core nodes")
    [spot] = [n for n in core_nodes(emr, fleet_cluster) if n["Market"] == "SPOT"]

    [notice] = elmr_cli(spot_server, "spot", "interrupt", spot["Ec2InstanceId"])["Notices"]
    assert notice["InstanceId"] == spot["Id"]
    wait_for(lambda: core_fleet(emr, fleet_cluster)["Status"]["State"] == "RESIZING", 30, 0.5,
             "the fleet to replace the node under notice")

    def interrupted():
        return next((n for n in core_nodes(emr, fleet_cluster, ("TERMINATED",)) if n["Id"] == spot["Id"]), None)
    gone = wait_for(interrupted, NOTICE_S + 60, 0.5, "the interrupted node to be taken")
    assert gone["Status"]["StateChangeReason"]["Code"] == "INSTANCE_FAILURE"
    assert "Server.SpotInstanceTermination" in gone["Status"]["StateChangeReason"]["Message"]
    assert step_state(emr, fleet_cluster, step_id) == "RUNNING", "the job rode the interruption"

    wait_for(lambda: core_fleet(emr, fleet_cluster)["Status"]["State"] == "RUNNING", 180, 0.5,
             "the fleet back at its target")
    fleet = core_fleet(emr, fleet_cluster)
    assert (fleet["ProvisionedOnDemandCapacity"], fleet["ProvisionedSpotCapacity"]) == (1, 2)
    replacement = [n for n in core_nodes(emr, fleet_cluster) if n["Market"] == "SPOT"]
    assert len(replacement) == 1 and replacement[0]["Id"] != spot["Id"]

    stop_marker.write_text("")
    wait_for(lambda: step_state(emr, fleet_cluster, step_id) in ("COMPLETED", "FAILED"), 300, 1, "the job to end")
    assert step_state(emr, fleet_cluster, step_id) == "COMPLETED"
    result = json.loads(output.read_text())
    assert result["wrong_rounds"] == 0 and result["rounds"] >= 3
    assert result["total"] == sum(range(300_000))
