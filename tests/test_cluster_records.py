"""What RunJobFlow records and the describe/list/set operations give back, on a server
started with `--max-local-nodes 0`: every cluster fails fast for lack of room, which is
real behaviour and costs no Spark daemon, so these tests stay quick."""

from datetime import datetime, timedelta, timezone

import pytest

from conftest import ElmrServer, free_port, wait_for

FULL_REQUEST = {
    "Name": "recorded",
    "ReleaseLabel": "emr-7.2.0",
    "LogUri": "s3://logs/elmr/",
    "Applications": [{"Name": "Spark"}, {"Name": "Hive"}],
    "Configurations": [{"Classification": "spark-defaults",
                        "Properties": {"spark.executor.memory": "2g"}}],
    "BootstrapActions": [{"Name": "setup", "ScriptBootstrapAction": {
        "Path": "/opt/setup.sh", "Args": ["--fast"]}}],
    "Steps": [{"Name": "pi", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
        "Jar": "command-runner.jar", "Args": ["spark-submit", "pi.py"]}}],
    "Tags": [{"Key": "team", "Value": "data"}],
    "ServiceRole": "EMR_DefaultRole",
    "JobFlowRole": "EMR_EC2_DefaultRole",
    "VisibleToAllUsers": True,
    "StepConcurrencyLevel": 3,
    "AutoTerminationPolicy": {"IdleTimeout": 3600},
    "ManagedScalingPolicy": {"ComputeLimits": {
        "UnitType": "Instances", "MinimumCapacityUnits": 2, "MaximumCapacityUnits": 5}},
    "Instances": {
        "InstanceGroups": [
            {"Name": "Primary", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            {"Name": "Core", "InstanceRole": "CORE", "InstanceType": "r5.2xlarge", "InstanceCount": 2},
            {"Name": "Task", "InstanceRole": "TASK", "InstanceType": "c5.xlarge", "InstanceCount": 1,
             "Market": "SPOT", "BidPrice": "0.10"},
        ],
        "KeepJobFlowAliveWhenNoSteps": True,
        "TerminationProtected": False,
        "Ec2KeyName": "my-key",
    },
}


@pytest.fixture(scope="module")
def no_room(tmp_path_factory):
    running = ElmrServer(tmp_path_factory.mktemp("no-room"), free_port(),
                         extra_args=("--max-local-nodes", "0"))
    running.start()
    yield running
    running.stop_everything()


@pytest.fixture(scope="module")
def recorded(no_room):
    emr = no_room.client()
    no_room.client("s3").create_bucket(Bucket="logs")  # RunJobFlow refuses a LogUri without its bucket
    answer = emr.run_job_flow(**FULL_REQUEST)
    return answer["JobFlowId"], answer["ClusterArn"]


def test_ids_and_arn_look_like_emrs(recorded):
    cluster_id, arn = recorded
    assert cluster_id.startswith("j-") and len(cluster_id) == 15
    assert arn.endswith(f":cluster/{cluster_id}") and arn.startswith("arn:aws:elasticmapreduce:")


def test_cluster_with_no_room_fails_fast_with_a_reason(no_room, recorded):
    emr = no_room.client()
    cluster = wait_for(lambda: (c := emr.describe_cluster(ClusterId=recorded[0])["Cluster"])
                       ["Status"]["State"] == "TERMINATED_WITH_ERRORS" and c, 15,
                       what="the cluster to fail")
    reason = cluster["Status"]["StateChangeReason"]
    assert reason["Code"] == "VALIDATION_ERROR"
    assert "room" in reason["Message"] and "4" in reason["Message"]
    assert cluster["Status"]["Timeline"]["EndDateTime"] >= cluster["Status"]["Timeline"]["CreationDateTime"]


def test_describe_cluster_gives_back_the_request(no_room, recorded):
    cluster = no_room.client().describe_cluster(ClusterId=recorded[0])["Cluster"]
    assert cluster["Name"] == "recorded" and cluster["ReleaseLabel"] == "emr-7.2.0"
    assert cluster["LogUri"] == "s3://logs/elmr/"
    assert {app["Name"] for app in cluster["Applications"]} == {"Spark", "Hive", "Hadoop"}, "Hadoop runs on every cluster"
    assert cluster["Configurations"][0]["Properties"] == {"spark.executor.memory": "2g"}
    assert cluster["Tags"] == [{"Key": "team", "Value": "data"}]
    assert cluster["ServiceRole"] == "EMR_DefaultRole"
    assert cluster["Ec2InstanceAttributes"]["Ec2KeyName"] == "my-key"
    assert cluster["Ec2InstanceAttributes"]["IamInstanceProfile"] == "EMR_EC2_DefaultRole"
    assert cluster["StepConcurrencyLevel"] == 3
    assert cluster["AutoTerminate"] is False and cluster["TerminationProtected"] is False
    assert cluster["InstanceCollectionType"] == "INSTANCE_GROUP"


def test_instance_groups_are_listed_as_requested(no_room, recorded):
    groups = no_room.client().list_instance_groups(ClusterId=recorded[0])["InstanceGroups"]
    by_type = {group["InstanceGroupType"]: group for group in groups}
    assert set(by_type) == {"MASTER", "CORE", "TASK"}
    assert by_type["CORE"]["InstanceType"] == "r5.2xlarge"
    assert by_type["CORE"]["RequestedInstanceCount"] == 2
    assert by_type["TASK"]["Market"] == "SPOT" and by_type["TASK"]["BidPrice"] == "0.10"
    assert all(group["Id"].startswith("ig-") for group in groups)


def test_bootstrap_actions_are_listed(no_room, recorded):
    actions = no_room.client().list_bootstrap_actions(ClusterId=recorded[0])["BootstrapActions"]
    assert actions == [{"Name": "setup", "ScriptPath": "/opt/setup.sh", "Args": ["--fast"]}]


def test_policies_put_get_remove(no_room, recorded):
    emr = no_room.client()
    cluster_id = recorded[0]
    assert emr.get_auto_termination_policy(ClusterId=cluster_id)["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
    emr.put_auto_termination_policy(ClusterId=cluster_id, AutoTerminationPolicy={"IdleTimeout": 900})
    assert emr.get_auto_termination_policy(ClusterId=cluster_id)["AutoTerminationPolicy"] == {"IdleTimeout": 900}
    emr.remove_auto_termination_policy(ClusterId=cluster_id)
    assert "AutoTerminationPolicy" not in emr.get_auto_termination_policy(ClusterId=cluster_id)

    limits = emr.get_managed_scaling_policy(ClusterId=cluster_id)["ManagedScalingPolicy"]["ComputeLimits"]
    assert limits["MaximumCapacityUnits"] == 5
    emr.put_managed_scaling_policy(ClusterId=cluster_id, ManagedScalingPolicy={"ComputeLimits": {
        "UnitType": "VCPU", "MinimumCapacityUnits": 4, "MaximumCapacityUnits": 40}})
    limits = emr.get_managed_scaling_policy(ClusterId=cluster_id)["ManagedScalingPolicy"]["ComputeLimits"]
    assert (limits["UnitType"], limits["MaximumCapacityUnits"]) == ("VCPU", 40)
    emr.remove_managed_scaling_policy(ClusterId=cluster_id)
    assert "ManagedScalingPolicy" not in emr.get_managed_scaling_policy(ClusterId=cluster_id)


def test_bad_policies_are_refused(no_room, recorded):
    emr = no_room.client()
    with pytest.raises(emr.exceptions.ClientError, match="IdleTimeout"):
        emr.put_auto_termination_policy(ClusterId=recorded[0], AutoTerminationPolicy={"IdleTimeout": 10})
    with pytest.raises(emr.exceptions.ClientError, match="MinimumCapacityUnits"):
        emr.put_managed_scaling_policy(ClusterId=recorded[0], ManagedScalingPolicy={"ComputeLimits": {
            "UnitType": "Instances", "MinimumCapacityUnits": 9, "MaximumCapacityUnits": 3}})


def test_advanced_scaling_policies_are_checked_and_shown_back(no_room, recorded):
    emr = no_room.client()
    limits = {"UnitType": "Instances", "MinimumCapacityUnits": 1, "MaximumCapacityUnits": 4}
    policy = {"ComputeLimits": limits, "ScalingStrategy": "ADVANCED", "UtilizationPerformanceIndex": 25}
    emr.put_managed_scaling_policy(ClusterId=recorded[0], ManagedScalingPolicy=policy)
    assert emr.get_managed_scaling_policy(ClusterId=recorded[0])["ManagedScalingPolicy"] == policy
    refusals = [
        ({**policy, "UtilizationPerformanceIndex": 30}, "UtilizationPerformanceIndex 30 is not valid"),
        ({"ComputeLimits": limits, "UtilizationPerformanceIndex": 50}, "only with ScalingStrategy ADVANCED"),
        ({"ComputeLimits": limits, "ScalingStrategy": "DEFAULT", "UtilizationPerformanceIndex": 50},
         "only with ScalingStrategy ADVANCED"),
    ]
    for bad, message in refusals:
        with pytest.raises(emr.exceptions.ClientError) as refused:
            emr.put_managed_scaling_policy(ClusterId=recorded[0], ManagedScalingPolicy=bad)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert message in refused.value.response["Error"]["Message"]
    assert emr.get_managed_scaling_policy(ClusterId=recorded[0])["ManagedScalingPolicy"] == policy, \
        "a refused policy changes nothing"
    with pytest.raises(emr.exceptions.ClientError, match="Advanced Scaling.*releases 7.0.0 and later"):
        emr.run_job_flow(**{**FULL_REQUEST, "ReleaseLabel": "emr-6.15.0", "ManagedScalingPolicy": policy})
    emr.remove_managed_scaling_policy(ClusterId=recorded[0])


def test_tags_add_replace_and_remove(no_room, recorded):
    emr = no_room.client()
    emr.add_tags(ResourceId=recorded[0], Tags=[{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "ci"}])
    tags = {t["Key"]: t["Value"] for t in emr.describe_cluster(ClusterId=recorded[0])["Cluster"]["Tags"]}
    assert tags == {"team": "ml", "env": "ci"}
    emr.remove_tags(ResourceId=recorded[0], TagKeys=["team"])
    tags = {t["Key"]: t["Value"] for t in emr.describe_cluster(ClusterId=recorded[0])["Cluster"]["Tags"]}
    assert tags == {"env": "ci"}


def test_set_switches_are_recorded(no_room, recorded):
    emr = no_room.client()
    emr.set_visible_to_all_users(JobFlowIds=[recorded[0]], VisibleToAllUsers=False)
    emr.set_keep_job_flow_alive_when_no_steps(JobFlowIds=[recorded[0]], KeepJobFlowAliveWhenNoSteps=False)
    cluster = emr.describe_cluster(ClusterId=recorded[0])["Cluster"]
    assert cluster["VisibleToAllUsers"] is False and cluster["AutoTerminate"] is True


def test_modify_refused_on_a_terminated_cluster(no_room, recorded):
    emr = no_room.client()
    wait_for(lambda: emr.describe_cluster(ClusterId=recorded[0])["Cluster"]["Status"]["State"]
             == "TERMINATED_WITH_ERRORS", 15, what="the cluster to end")
    with pytest.raises(emr.exceptions.ClientError, match="TERMINATED_WITH_ERRORS"):
        emr.modify_cluster(ClusterId=recorded[0], StepConcurrencyLevel=2)


def test_shorthand_expands_to_master_and_core_groups(no_room):
    emr = no_room.client()
    cluster_id = emr.run_job_flow(Name="short", ReleaseLabel="emr-7.2.0", Instances={
        "MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.2xlarge", "InstanceCount": 4,
    })["JobFlowId"]
    groups = {g["InstanceGroupType"]: g for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]}
    assert groups["MASTER"]["RequestedInstanceCount"] == 1
    assert (groups["CORE"]["InstanceType"], groups["CORE"]["RequestedInstanceCount"]) == ("m5.2xlarge", 3)


def test_describe_job_flows_speaks_the_old_vocabulary(no_room, recorded):
    emr = no_room.client()
    wait_for(lambda: emr.describe_cluster(ClusterId=recorded[0])["Cluster"]["Status"]["State"]
             == "TERMINATED_WITH_ERRORS", 15, what="the cluster to end")
    flow = emr.describe_job_flows(JobFlowIds=[recorded[0]])["JobFlows"][0]
    assert flow["ExecutionStatusDetail"]["State"] == "FAILED"
    assert flow["Instances"]["MasterInstanceType"] == "m5.xlarge"
    assert flow["Instances"]["InstanceCount"] == 4
    assert flow["Steps"][0]["StepConfig"]["Name"] == "pi"
    assert flow["BootstrapActions"][0]["BootstrapActionConfig"]["ScriptBootstrapAction"]["Path"] == "/opt/setup.sh"
    failed = emr.describe_job_flows(JobFlowStates=["FAILED"])["JobFlows"]
    assert recorded[0] in {f["JobFlowId"] for f in failed}
    assert not emr.describe_job_flows(JobFlowStates=["WAITING"], JobFlowIds=[recorded[0]])["JobFlows"]


def test_list_clusters_pages_filters_and_paginator(no_room):
    emr = no_room.client()
    # CreatedAfter travels as whole epoch seconds: start on a fresh second.
    started = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    wait_for(lambda: datetime.now(timezone.utc) >= started, 2, 0.01, "the next second")
    made = {emr.run_job_flow(Name=f"page-{n}", Instances={
        "MasterInstanceType": "m5.xlarge", "InstanceCount": 1})["JobFlowId"] for n in range(55)}
    first = emr.list_clusters(CreatedAfter=started)
    assert len(first["Clusters"]) == 50 and "Marker" in first
    second = emr.list_clusters(CreatedAfter=started, Marker=first["Marker"])
    assert "Marker" not in second
    seen = [c["Id"] for c in first["Clusters"] + second["Clusters"]]
    assert len(seen) == len(set(seen)) and set(seen) == made
    created = [c["Status"]["Timeline"]["CreationDateTime"] for c in first["Clusters"]]
    assert created == sorted(created, reverse=True)  # newest first, as EMR lists

    paginated = [c["Id"] for page in emr.get_paginator("list_clusters").paginate(CreatedAfter=started)
                 for c in page["Clusters"]]
    assert set(paginated) == made
    assert not emr.list_clusters(CreatedBefore=started - timedelta(days=1))["Clusters"]
    wait_for(lambda: not emr.list_clusters(CreatedAfter=started, ClusterStates=["STARTING", "TERMINATING"])["Clusters"],
             30, what="every cluster to end")
    ended = emr.list_clusters(CreatedAfter=started, ClusterStates=["TERMINATED_WITH_ERRORS"])
    assert len(ended["Clusters"]) == 50


def test_list_instances_of_a_cluster_without_nodes_is_empty(no_room, recorded):
    assert no_room.client().list_instances(ClusterId=recorded[0])["Instances"] == []


def _happy_calls(cluster_id: str, step_id: str) -> dict:
    """One valid request per implemented operation (boto3 parses every answer
    through botocore's model, so a malformed answer fails here)."""
    job_flows = {"JobFlowIds": [cluster_id]}
    return {
        "RunJobFlow": {"Name": "every-op", "Instances": {"MasterInstanceType": "m5.large", "InstanceCount": 1}},
        "DescribeCluster": {"ClusterId": cluster_id},
        "ListClusters": {},
        "DescribeJobFlows": job_flows,
        "TerminateJobFlows": job_flows,
        "SetTerminationProtection": {**job_flows, "TerminationProtected": False},
        "SetKeepJobFlowAliveWhenNoSteps": {**job_flows, "KeepJobFlowAliveWhenNoSteps": True},
        "SetVisibleToAllUsers": {**job_flows, "VisibleToAllUsers": True},
        "SetUnhealthyNodeReplacement": {**job_flows, "UnhealthyNodeReplacement": True},
        "AddTags": {"ResourceId": cluster_id, "Tags": [{"Key": "k", "Value": "v"}]},
        "RemoveTags": {"ResourceId": cluster_id, "TagKeys": ["k"]},
        "ListInstanceGroups": {"ClusterId": cluster_id},
        "ListInstances": {"ClusterId": cluster_id},
        "ListBootstrapActions": {"ClusterId": cluster_id},
        "ListReleaseLabels": {"Filters": {"Prefix": "emr-7"}},
        "DescribeReleaseLabel": {"ReleaseLabel": "emr-7.2.0"},
        "ListSupportedInstanceTypes": {"ReleaseLabel": "emr-7.2.0"},
        "PutAutoTerminationPolicy": {"ClusterId": cluster_id, "AutoTerminationPolicy": {"IdleTimeout": 600}},
        "GetAutoTerminationPolicy": {"ClusterId": cluster_id},
        "RemoveAutoTerminationPolicy": {"ClusterId": cluster_id},
        "PutManagedScalingPolicy": {"ClusterId": cluster_id, "ManagedScalingPolicy": {"ComputeLimits": {
            "UnitType": "Instances", "MinimumCapacityUnits": 1, "MaximumCapacityUnits": 4}}},
        "GetManagedScalingPolicy": {"ClusterId": cluster_id},
        "RemoveManagedScalingPolicy": {"ClusterId": cluster_id},
        "ListSteps": {"ClusterId": cluster_id},
        "DescribeStep": {"ClusterId": cluster_id, "StepId": step_id},
        "CancelSteps": {"ClusterId": cluster_id, "StepIds": [step_id]},
    }


# Operations whose answers are checked in test_emr_surface.py (and, for those that
# need a running cluster, test_emr_surface_spark.py, test_elastic.py and
# test_fleets_spot_spark.py), or that answer only errors until other work builds them
# (sessions).
COVERED_ELSEWHERE = {
    "CreateSecurityConfiguration", "DescribeSecurityConfiguration", "ListSecurityConfigurations",
    "DeleteSecurityConfiguration", "GetBlockPublicAccessConfiguration", "PutBlockPublicAccessConfiguration",
    "CreateStudio", "DescribeStudio", "ListStudios", "UpdateStudio", "DeleteStudio",
    "CreateStudioSessionMapping", "GetStudioSessionMapping", "UpdateStudioSessionMapping",
    "DeleteStudioSessionMapping", "ListStudioSessionMappings", "StartNotebookExecution",
    "DescribeNotebookExecution", "ListNotebookExecutions", "StopNotebookExecution",
    "CreatePersistentAppUI", "DescribePersistentAppUI", "GetPersistentAppUIPresignedURL",
    "GetOnClusterAppUIPresignedURL", "GetClusterSessionCredentials", "PutAutoScalingPolicy",
    "RemoveAutoScalingPolicy", "AddInstanceGroups", "ModifyInstanceGroups", "AddInstanceFleet",
    "ListInstanceFleets", "ModifyInstanceFleet", "StartSession", "GetSession", "GetSessionEndpoint",
    "ListSessions", "TerminateSession",
}


def test_every_implemented_operation_answers_in_botocores_shape(no_room):
    from botocore import xform_name

    from elmr.api.operations import EMR_OPERATIONS

    emr = no_room.client()
    cluster_id = emr.run_job_flow(Name="target", Steps=[{"Name": "s", "HadoopJarStep": {
        "Jar": "command-runner.jar", "Args": ["true"]}}], Instances={
        "MasterInstanceType": "m5.xlarge", "InstanceCount": 1})["JobFlowId"]
    step_id = emr.list_steps(ClusterId=cluster_id)["Steps"][0]["Id"]
    calls = _happy_calls(cluster_id, step_id)
    # These need a live cluster, which this server cannot keep; their happy paths are
    # in test_clusters_spark.py (ModifyCluster), test_steps.py (AddJobFlowSteps) and
    # test_elastic.py (ModifyInstanceGroups, AddInstanceGroups).
    missing = set(EMR_OPERATIONS) - set(calls) - {
        "ModifyCluster", "AddJobFlowSteps", "ModifyInstanceGroups", "AddInstanceGroups"} - COVERED_ELSEWHERE
    assert not missing, f"add a happy-path call for {sorted(missing)}"
    for operation, params in calls.items():
        answer = getattr(emr, xform_name(operation))(**params)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200, operation
