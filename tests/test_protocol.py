"""The wire: SigV4, validation against botocore's model, EMR's error shapes, and
operations elmr does not implement. Quick: no cluster gets a node here."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ElmrServer

SMALL_CLUSTER = {
    "Name": "protocol",
    "ReleaseLabel": "emr-7.2.0",
    "Instances": {"MasterInstanceType": "m5.xlarge", "InstanceCount": 1,
                  "KeepJobFlowAliveWhenNoSteps": True},
}


def unvalidated(server: ElmrServer):
    """A client that sends what it is given, so the server's own checks are tested."""
    return server.client(config=Config(parameter_validation=False, retries={"max_attempts": 1}))


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return {**raised.value.response["Error"],
            "HTTPStatusCode": raised.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def cluster_count(server: ElmrServer) -> int:
    return len(server.client().list_clusters()["Clusters"])


def test_wrong_secret_is_refused_and_does_nothing(server):
    before = cluster_count(server)
    forged = server.client(secret_access_key="not-the-secret")
    error = error_of(forged.run_job_flow, **SMALL_CLUSTER)
    assert error["Code"] == "InvalidSignatureException"
    assert error["HTTPStatusCode"] in (400, 403)
    assert cluster_count(server) == before


def test_unknown_access_key_is_refused(server):
    stranger = server.client(access_key_id="AKIAUNKNOWNUNKNOWN00")
    error = error_of(stranger.list_clusters)
    assert error["Code"] == "UnrecognizedClientException"


def test_unsigned_request_is_refused(server):
    request = urllib.request.Request(
        server.url + "/", data=b"{}", method="POST",
        headers={"X-Amz-Target": "ElasticMapReduce.ListClusters",
                 "Content-Type": "application/x-amz-json-1.1"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    body = json.loads(raised.value.read())
    assert raised.value.code in (400, 403)
    assert "Missing" in body["__type"] and "Traceback" not in json.dumps(body)


def test_missing_required_field_names_the_field(server):
    error = error_of(unvalidated(server).run_job_flow, Instances=SMALL_CLUSTER["Instances"])
    assert error["Code"] == "ValidationException"
    assert "Value null at 'name'" in error["Message"]


def test_wrong_type_names_the_field(server):
    error = error_of(unvalidated(server).run_job_flow, **{**SMALL_CLUSTER, "StepConcurrencyLevel": "two"})
    assert error["Code"] == "ValidationException"
    assert "'stepConcurrencyLevel'" in error["Message"]


def test_bad_enum_value_names_the_field(server):
    instances = {"InstanceGroups": [
        {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1, "Market": "CHEAP"}
    ]}
    error = error_of(unvalidated(server).run_job_flow, Name="x", Instances=instances)
    assert error["Code"] == "ValidationException"
    assert "market" in error["Message"] and "ON_DEMAND" in error["Message"]


def test_too_long_name_is_refused(server):
    error = error_of(unvalidated(server).run_job_flow, **{**SMALL_CLUSTER, "Name": "n" * 257})
    assert error["Code"] == "ValidationException" and "name" in error["Message"]


def test_body_that_is_not_json_is_a_validation_error(server):
    emr = server.client()
    emr.meta.events.register("before-sign.emr.ListClusters",
                             lambda request, **_: setattr(request, "data", b"{not json"))
    error = error_of(emr.list_clusters)
    assert error["Code"] == "ValidationException"


@pytest.mark.parametrize("change, message_part", [
    ({"ReleaseLabel": "emr-99.0.0"}, "release label"),
    ({"Instances": {"MasterInstanceType": "m5.enormous", "InstanceCount": 1}}, "m5.enormous"),
    ({"Applications": [{"Name": "Presto"}]}, "Presto"),
    ({"Instances": {"InstanceGroups": [
        {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
        {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}]}}, "MASTER"),
    ({"Instances": {"InstanceGroups": [
        {"InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2}]}}, "MASTER"),
    ({"StepConcurrencyLevel": 0}, "StepConcurrencyLevel"),
    ({"AutoTerminationPolicy": {"IdleTimeout": 5}}, "IdleTimeout"),
])
def test_run_job_flow_refuses_what_emr_refuses(server, change, message_part):
    before = cluster_count(server)
    error = error_of(unvalidated(server).run_job_flow, **{**SMALL_CLUSTER, **change})
    assert error["Code"] == "ValidationException"
    assert message_part in error["Message"]
    assert cluster_count(server) == before


def test_every_operation_of_the_model_has_a_handler():
    from elmr.api.operations import EMR_OPERATIONS

    model = botocore.session.get_session().get_service_model("emr")
    assert sorted(EMR_OPERATIONS) == sorted(model.operation_names)


@pytest.mark.parametrize("call, kwargs", [
    ("describe_cluster", {"ClusterId": "j-NOSUCHCLUSTER1"}),
    ("list_instance_groups", {"ClusterId": "j-NOSUCHCLUSTER1"}),
    ("list_instances", {"ClusterId": "j-NOSUCHCLUSTER1"}),
    ("list_bootstrap_actions", {"ClusterId": "j-NOSUCHCLUSTER1"}),
    ("modify_cluster", {"ClusterId": "j-NOSUCHCLUSTER1", "StepConcurrencyLevel": 2}),
    ("get_auto_termination_policy", {"ClusterId": "j-NOSUCHCLUSTER1"}),
    ("put_auto_termination_policy", {"ClusterId": "j-NOSUCHCLUSTER1",
                                     "AutoTerminationPolicy": {"IdleTimeout": 600}}),
    ("remove_auto_termination_policy", {"ClusterId": "j-NOSUCHCLUSTER1"}),
    ("get_managed_scaling_policy", {"ClusterId": "j-NOSUCHCLUSTER1"}),
    ("remove_managed_scaling_policy", {"ClusterId": "j-NOSUCHCLUSTER1"}),
    ("add_tags", {"ResourceId": "j-NOSUCHCLUSTER1", "Tags": [{"Key": "a", "Value": "b"}]}),
    ("remove_tags", {"ResourceId": "j-NOSUCHCLUSTER1", "TagKeys": ["a"]}),
])
def test_unknown_cluster_is_an_invalid_request(emr, call, kwargs):
    error = error_of(getattr(emr, call), **kwargs)
    assert error["Code"] == "InvalidRequestException"
    assert "j-NOSUCHCLUSTER1" in error["Message"]


@pytest.mark.parametrize("call", [
    "terminate_job_flows", "set_termination_protection", "set_visible_to_all_users",
    "set_keep_job_flow_alive_when_no_steps",
])
def test_unknown_job_flow_is_a_validation_error(emr, call):
    flag = {
        "set_termination_protection": {"TerminationProtected": True},
        "set_visible_to_all_users": {"VisibleToAllUsers": True},
        "set_keep_job_flow_alive_when_no_steps": {"KeepJobFlowAliveWhenNoSteps": True},
    }.get(call, {})
    error = error_of(getattr(emr, call), JobFlowIds=["j-NOSUCHCLUSTER1"], **flag)
    assert error["Code"] == "ValidationException"
    assert "j-NOSUCHCLUSTER1" in error["Message"]


def test_bad_marker_is_an_invalid_request(emr):
    error = error_of(emr.list_clusters, Marker="definitely-not-a-marker")
    assert error["Code"] == "InvalidRequestException"


def _all_release_labels(emr, **filters) -> list[str]:
    labels, token = [], None
    while True:
        page = emr.list_release_labels(MaxResults=40, **filters, **({"NextToken": token} if token else {}))
        labels += page["ReleaseLabels"]
        token = page.get("NextToken")
        if not token:
            return labels


def test_release_catalog_over_the_wire(emr):
    labels = _all_release_labels(emr)
    # Every label AWS publishes, newest first, over several pages.
    assert {"emr-4.0.0", "emr-5.36.2", "emr-6.0.0", "emr-6.15.0", "emr-7.12.0"} <= set(labels)
    assert labels.index("emr-7.12.0") < labels.index("emr-6.15.0") < labels.index("emr-5.36.2")
    assert len(labels) == len(set(labels)) > 130
    assert set(_all_release_labels(emr, Filters={"Prefix": "emr-6.1"})) == {
        "emr-6.1.0", "emr-6.1.1", "emr-6.10.0", "emr-6.10.1", "emr-6.11.0", "emr-6.11.1", "emr-6.12.0",
        "emr-6.13.0", "emr-6.14.0", "emr-6.15.0"}
    with_spark_312 = _all_release_labels(emr, Filters={"Application": "Spark@3.1.2"})
    assert {"emr-6.4.0", "emr-6.5.0"} <= set(with_spark_312) and "emr-6.0.0" not in with_spark_312
    described = emr.describe_release_label(ReleaseLabel="emr-6.5.0")
    versions = {app["Name"]: app["Version"] for app in described["Applications"]}
    assert (versions["Spark"], versions["Hadoop"], versions["Hive"]) == ("3.1.2", "3.2.1", "3.1.2")
    types, marker = [], None
    while True:  # every type EMR accepts, previous generations included, 50 a page
        page = emr.list_supported_instance_types(ReleaseLabel="emr-7.2.0", **({"Marker": marker} if marker else {}))
        types += page["SupportedInstanceTypes"]
        marker = page.get("Marker")
        if not marker:
            break
    by_type = {t["Type"]: t for t in types}
    assert len(by_type) > 1000
    assert (by_type["m5.xlarge"]["VCPU"], by_type["m5.xlarge"]["MemoryGB"]) == (4, 16.0)
    assert (by_type["m1.large"]["VCPU"], by_type["m6g.xlarge"]["Architecture"]) == (2, "arm64")
    assert by_type["i3.2xlarge"]["NumberOfDisks"] == 1 and not by_type["i3.2xlarge"]["EbsStorageOnly"]
    assert error_of(emr.describe_release_label, ReleaseLabel="emr-0.0.1")["Code"] == "ValidationException"
    assert error_of(emr.list_supported_instance_types,
                    ReleaseLabel="emr-0.0.1")["Code"] == "ValidationException"


def test_release_after_the_archived_tables_describes_its_spark_hadoop_and_hive(emr):
    # emr-6.6.0 and emr-7.5.0 come after the archived Release Guide tables: their rows were read
    # from the current guide's pages (scripts/catalog_releases.py names each one).
    published = {"emr-6.6.0": ("3.2.0", "3.2.1", "3.1.2"), "emr-7.5.0": ("3.5.2", "3.4.0", "3.1.3")}
    for label, spark_hadoop_hive in published.items():
        described = emr.describe_release_label(ReleaseLabel=label)
        versions = {app["Name"]: app["Version"] for app in described["Applications"]}
        assert (versions["Spark"], versions["Hadoop"], versions["Hive"]) == spark_hadoop_hive, label
    # Patch releases the guide lists are labels like any other.
    assert {"emr-6.8.1", "emr-6.9.1"} <= set(_all_release_labels(emr, Filters={"Prefix": "emr-6."}))


@pytest.mark.parametrize("call, kwargs, message_part", [
    ("describe_job_flows", {"JobFlowStates": ["SLEEPING"]}, "jobFlowStates"),
    ("list_clusters", {"ClusterStates": ["SLEEPING"]}, "clusterStates"),
    ("list_instances", {"ClusterId": "j-X", "InstanceStates": ["NAPPING"]}, "instanceStates"),
    ("list_release_labels", {"MaxResults": 1000}, "maxResults"),
    ("set_unhealthy_node_replacement", {"JobFlowIds": ["j-NOSUCHCLUSTER1"],
                                        "UnhealthyNodeReplacement": True}, "j-NOSUCHCLUSTER1"),
    ("add_tags", {"ResourceId": "j-X"}, "'tags'"),
])
def test_bad_inputs_of_listing_and_switch_operations(server, call, kwargs, message_part):
    error = error_of(getattr(unvalidated(server), call), **kwargs)
    assert error["Code"] == "ValidationException"
    assert message_part in error["Message"]


def test_elmr_env_prints_exports_and_keeps_generated_credentials(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ELMR_")}
    elmr = Path(sys.executable).parent / "elmr"
    runs = [subprocess.run([str(elmr), "env", "--data-dir", str(tmp_path), "--port", "8901"],
                           env=environment, capture_output=True, text=True, check=True) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout, "generated once, then kept"
    exports = dict(line.removeprefix("export ").split("=", 1) for line in runs[0].stdout.splitlines())
    assert exports["AWS_ENDPOINT_URL_EMR"] == exports["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:8901"
    assert exports["AWS_DEFAULT_REGION"] == "us-east-1"
    profile = (tmp_path / "credentials").read_text()
    assert "[default]" in profile and exports["AWS_SECRET_ACCESS_KEY"] in profile
