"""`elmr spot` and `elmr cost` against the real server: the commands run as a user
runs them, reach /elmr/v1/ over real HTTP, signed with SigV4 and the server's root
key. The quick tests use a server started with `--max-local-nodes 0` (clusters fail
at once, no daemon starts); the slow one bills a real cluster whose spot node is
interrupted by hand, against its timeline as ListInstances reports it."""

import json
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from conftest import ElmrServer, free_port, wait_for
from elmr.market.pools import Pool
from elmr.market.series import Series

SEED = 5


def elmr(server: ElmrServer, *args: str, key: tuple[str, str] | None = None) -> subprocess.CompletedProcess:
    env = server.env()
    if key:
        env["ELMR_ACCESS_KEY_ID"], env["ELMR_SECRET_ACCESS_KEY"] = key
    return subprocess.run([sys.executable, "-m", "elmr.cli", *args, "--data-dir", str(server.data_dir)],
                          env=env, capture_output=True, text=True, timeout=120)


def elmr_json(server: ElmrServer, *args: str) -> dict:
    run = elmr(server, *args, "--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def no_room(tmp_path_factory):
    running = ElmrServer(tmp_path_factory.mktemp("spot-commands"), free_port(),
                         extra_args=("--max-local-nodes", "0", "--spot-seed", str(SEED)))
    running.start()
    yield running
    running.stop_everything()


def test_the_market_shown_is_the_seeded_series_until_a_price_is_set_by_hand(no_room):
    market = elmr_json(no_room, "spot", "show", "--type", "c5.2xlarge", "--zone", "us-east-1d")
    assert market["Settings"] == {"Seed": SEED, "PricePeriodSeconds": 300, "NoticeSeconds": 120.0,
                                  "Region": "us-east-1"}
    [pool] = market["Pools"]
    slot = int(datetime.fromisoformat(market["At"]).timestamp()) // 300
    expected = Series(SEED, 300).price(Pool("c5.2xlarge", "us-east-1d"), slot)
    assert (Decimal(pool["SpotPrice"]), pool["OnDemandPrice"], pool["PriceSetByHand"]) == (expected, "0.34", False)

    set_by_hand = elmr(no_room, "spot", "price", "c5.2xlarge", "0.1234", "--zone", "us-east-1d")
    assert set_by_hand.returncode == 0, set_by_hand.stderr
    assert "$0.1234*" in set_by_hand.stdout and "(* set by hand)" in set_by_hand.stdout
    shown = elmr_json(no_room, "spot", "show")  # pools set by hand are shown by default
    pools = {(p["InstanceType"], p["AvailabilityZone"]): p for p in shown["Pools"]}
    assert pools[("c5.2xlarge", "us-east-1d")]["SpotPrice"] == "0.1234"

    cleared = elmr_json(no_room, "spot", "price", "c5.2xlarge", "--clear", "--zone", "us-east-1d")["Pool"]
    assert not cleared["PriceSetByHand"] and cleared["SpotPrice"] != "0.1234"


def test_capacity_set_by_hand_in_the_default_zone(no_room):
    pool = elmr_json(no_room, "spot", "capacity", "r5.large", "2")["Pool"]
    assert (pool["AvailabilityZone"], pool["Capacity"], pool["CapacitySetByHand"], pool["Available"]) == (
        "us-east-1a", 2, True, 2)


def test_bad_input_gets_emrs_errors(no_room):
    over_cap = elmr(no_room, "spot", "price", "m5.xlarge", "0.5")
    assert over_cap.returncode == 1
    assert "ValidationException" in over_cap.stderr and "$0.192/hour" in over_cap.stderr
    bad_zone = elmr(no_room, "spot", "capacity", "m5.xlarge", "3", "--zone", "mars-1a")
    assert bad_zone.returncode == 1 and "us-east-1a, us-east-1b" in bad_zone.stderr
    unknown = elmr(no_room, "spot", "interrupt", "i-0123456789abcdef0")
    assert unknown.returncode == 1 and "InvalidRequestException" in unknown.stderr
    neither = elmr(no_room, "spot", "price", "m5.xlarge")
    assert neither.returncode == 1 and "give either a price or --clear" in neither.stderr
    no_cluster = elmr(no_room, "cost", "j-NOSUCHCLUSTER")
    assert no_cluster.returncode == 1 and "Cluster id 'j-NOSUCHCLUSTER' is not valid." in no_cluster.stderr


def test_requests_need_the_servers_root_key(no_room):
    wrong_secret = elmr(no_room, "spot", "show", key=(no_room.access_key_id, "not-the-secret"))
    assert wrong_secret.returncode == 1 and "InvalidSignatureException" in wrong_secret.stderr
    other_key = elmr(no_room, "cost", key=("AKIAOTHERKEY0000000", "whatever"))
    assert other_key.returncode == 1 and "UnrecognizedClientException" in other_key.stderr
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(no_room.url + "/elmr/v1/cost", timeout=30)
    assert unsigned.value.code == 403  # as AWS answers a request without a signature
    assert json.loads(unsigned.value.read())["__type"] == "MissingAuthenticationTokenException"


def test_cost_lists_every_cluster(no_room):
    emr = no_room.client()
    cluster_id = emr.run_job_flow(Name="nothing-ran", Instances={
        "MasterInstanceType": "m5.xlarge", "InstanceCount": 1})["JobFlowId"]
    report = elmr_json(no_room, "cost")
    clusters = {c["ClusterId"]: c for c in report["Clusters"]}
    assert clusters[cluster_id]["CostUsd"] == 0 and clusters[cluster_id]["Instances"] == []
    table = elmr(no_room, "cost")
    assert cluster_id in table.stdout and "nothing-ran" in table.stdout and "total $0.000000" in table.stdout


def test_the_seed_and_prices_set_by_hand_survive_a_restart(tmp_path):
    server = ElmrServer(tmp_path / "data", free_port(), extra_args=("--max-local-nodes", "0", "--spot-seed", "9"))
    server.start()
    try:
        elmr_json(server, "spot", "price", "m5.large", "0.02")
        server.stop()
        server.extra_args = ["--max-local-nodes", "0", "--spot-notice-seconds", "7"]
        server.start()
        market = elmr_json(server, "spot", "show")
    finally:
        server.stop_everything()
    assert market["Settings"]["Seed"] == 9 and market["Settings"]["NoticeSeconds"] == 7
    assert [(p["InstanceType"], p["SpotPrice"], p["PriceSetByHand"]) for p in market["Pools"]] == [
        ("m5.large", "0.02", True)]


TWO_NODES_ONE_SPOT = {
    "Name": "spot-billed",
    "ReleaseLabel": "emr-7.2.0",
    "Applications": [{"Name": "Spark"}],
    "Instances": {
        "InstanceGroups": [
            {"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"Name": "Spot task", "InstanceRole": "TASK", "InstanceType": "m5.xlarge", "InstanceCount": 1,
             "Market": "SPOT"},
        ],
        "KeepJobFlowAliveWhenNoSteps": True,
    },
}
FAST_WAITER = {"Delay": 1, "MaxAttempts": 180}


@pytest.mark.slow
def test_a_real_clusters_bill_matches_its_timeline(tmp_path):
    """A master on demand and a spot task node interrupted by hand (a 2 s notice),
    which its group replaces; the bill is checked against ListInstances' own
    timeline: the master at $0.192 + $0.048 an hour, the interrupted node EMR's
    $0.048 only, up to the end of its notice (EC2 does not bill an instance it
    interrupts in its first hour), its replacement $0.07 (the spot price set by
    hand) + $0.048."""
    server = ElmrServer(tmp_path / "data", free_port(), extra_args=("--spot-notice-seconds", "2"))
    server.start()
    try:
        emr = server.client()
        cluster_id = emr.run_job_flow(**TWO_NODES_ONE_SPOT)["JobFlowId"]
        emr.get_waiter("cluster_running").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
        elmr_json(server, "spot", "price", "m5.xlarge", "0.07")
        spot_node = emr.list_instances(ClusterId=cluster_id, InstanceGroupTypes=["TASK"])["Instances"][0]
        assert spot_node["Market"] == "SPOT"
        [notice] = elmr_json(server, "spot", "interrupt", spot_node["Ec2InstanceId"])["Notices"]
        taken_at = datetime.fromisoformat(notice["TakesEffectAt"])
        assert [n["InstanceId"] for n in elmr_json(server, "spot", "show")["Notices"]] == [spot_node["Id"]]
        wait_for(lambda: datetime.now(timezone.utc) > taken_at, 30, what="the notice to run out")
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
        emr.get_waiter("cluster_terminated").wait(ClusterId=cluster_id, WaiterConfig=FAST_WAITER)
        instances = {i["Id"]: i for i in emr.list_instances(ClusterId=cluster_id)["Instances"]}
        [master] = emr.list_instances(ClusterId=cluster_id, InstanceGroupTypes=["MASTER"])["Instances"]
        described_hours = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["NormalizedInstanceHours"]
        bill = elmr_json(server, "cost", cluster_id)["Clusters"][0]
        table = elmr(server, "cost", cluster_id).stdout
    finally:
        server.stop_everything()

    def seconds(start: datetime, end: datetime) -> int:
        return int(end.timestamp()) - int(start.timestamp())

    def lived_s(node: dict) -> int:
        return seconds(node["Status"]["Timeline"]["CreationDateTime"], node["Status"]["Timeline"]["EndDateTime"])

    master_s = lived_s(master)
    spot_s = seconds(instances[spot_node["Id"]]["Status"]["Timeline"]["CreationDateTime"], taken_at)
    [replacement] = [i for i in instances.values() if i["Id"] not in (master["Id"], spot_node["Id"])]
    assert replacement["Market"] == "SPOT"
    assert "Server.SpotInstanceTermination" in instances[spot_node["Id"]]["Status"]["StateChangeReason"]["Message"]
    expected_master = Decimal("0.240") * max(master_s, 60) / 3600
    expected_spot = Decimal("0.048") * max(spot_s, 60) / 3600
    expected_replacement = Decimal("0.118") * max(lived_s(replacement), 60) / 3600
    billed = {node["InstanceId"]: node for node in bill["Instances"]}
    assert billed[master["Id"]]["Seconds"] == master_s
    assert billed[master["Id"]]["CostUsd"] == float(round(expected_master, 6))
    assert billed[spot_node["Id"]]["InterruptedByEc2"] and billed[spot_node["Id"]]["Seconds"] == spot_s
    assert (billed[spot_node["Id"]]["Ec2CostUsd"], billed[spot_node["Id"]]["EmrCostUsd"]) == (
        0, float(round(expected_spot, 6)))
    assert billed[replacement["Id"]]["CostUsd"] == float(round(expected_replacement, 6))
    assert bill["CostUsd"] == float(round(expected_master + expected_spot + expected_replacement, 6))
    assert {m["Market"] for m in bill["Markets"]} == {"ON_DEMAND", "SPOT"}
    assert bill["NormalizedInstanceHours"] == described_hours == 24  # 3 xlarge instances, 1 started hour
    assert "interrupted by EC2" in table and cluster_id in table
