"""The EMR operations beyond the cluster lifecycle, over the wire with real boto3, on
a server that can launch no node (its clusters fail at once, their rows stay):
security configurations, block public access, studios and session mappings,
notebook executions' and app UIs' checks, automatic scaling policies, instance
fleets recorded and checked, and the operations that validate then say elmr does
not run them yet. Quick."""

import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ElmrServer, free_port, wait_for
from elmr.service.block_public_access import IngressRule, violations

ENCRYPTION = {"EncryptionConfiguration": {
    "EnableInTransitEncryption": False, "EnableAtRestEncryption": True,
    "AtRestEncryptionConfiguration": {"S3EncryptionConfiguration": {"EncryptionMode": "SSE-S3"}}}}
SMALL = {"Name": "surface", "ReleaseLabel": "emr-7.2.0",
         "Instances": {"MasterInstanceType": "m5.xlarge", "InstanceCount": 2}}


@pytest.fixture(scope="module")
def nodeless(tmp_path_factory):
    running = ElmrServer(tmp_path_factory.mktemp("surface"), free_port(), extra_args=("--max-local-nodes", "0"))
    running.start()
    yield running
    running.stop_everything()


@pytest.fixture(scope="module")
def emr(nodeless):
    return nodeless.client()


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]


def test_security_configuration_lifecycle(emr):
    created = emr.create_security_configuration(Name="at-rest", SecurityConfiguration=json.dumps(ENCRYPTION))
    assert created["Name"] == "at-rest" and created["CreationDateTime"]
    described = emr.describe_security_configuration(Name="at-rest")
    assert json.loads(described["SecurityConfiguration"]) == ENCRYPTION
    assert "at-rest" in [c["Name"] for c in emr.list_security_configurations()["SecurityConfigurations"]]
    duplicate = error_of(emr.create_security_configuration, Name="at-rest", SecurityConfiguration=json.dumps(ENCRYPTION))
    assert duplicate["Code"] == "InvalidRequestException" and "already exists" in duplicate["Message"]
    cluster_id = emr.run_job_flow(**SMALL, SecurityConfiguration="at-rest")["JobFlowId"]
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["SecurityConfiguration"] == "at-rest"
    wait_for(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"].startswith("TERMINATED"),
             30, what="the cluster to end")
    emr.delete_security_configuration(Name="at-rest")
    assert error_of(emr.describe_security_configuration, Name="at-rest")["Code"] == "InvalidRequestException"


@pytest.mark.parametrize("document, message_part", [
    ("{not json", "not valid JSON"),
    (json.dumps({"Encryption": {}}), "no setting 'Encryption'"),
    (json.dumps({"EncryptionConfiguration": {"EnableAtRestEncryption": True}}), "EnableInTransitEncryption is required"),
    (json.dumps({"EncryptionConfiguration": {"EnableInTransitEncryption": False, "EnableAtRestEncryption": True,
                 "AtRestEncryptionConfiguration": {"S3EncryptionConfiguration": {"EncryptionMode": "SSE-KMS"}}}}),
     "AwsKmsKey is required"),
    (json.dumps({"InstanceMetadataServiceConfiguration": {"HttpPutResponseHopLimit": 99}}), "between 1 and 64"),
    (json.dumps({}), "at least one of"),
])
def test_security_configuration_documents_emr_refuses(emr, document, message_part):
    error = error_of(emr.create_security_configuration, Name="bad", SecurityConfiguration=document)
    assert error["Code"] == "InvalidRequestException" and message_part in error["Message"]


def test_run_job_flow_needs_an_existing_security_configuration(emr):
    error = error_of(emr.run_job_flow, **SMALL, SecurityConfiguration="no-such-config")
    assert error["Code"] == "ValidationException" and "no-such-config" in error["Message"]


def test_block_public_access_default_put_and_get(emr):
    default = emr.get_block_public_access_configuration()
    assert default["BlockPublicAccessConfiguration"] == {
        "BlockPublicSecurityGroupRules": True,
        "PermittedPublicSecurityGroupRuleRanges": [{"MinRange": 22, "MaxRange": 22}]}
    assert default["BlockPublicAccessConfigurationMetadata"]["CreatedByArn"].endswith(":root")
    emr.put_block_public_access_configuration(BlockPublicAccessConfiguration={
        "BlockPublicSecurityGroupRules": True,
        "PermittedPublicSecurityGroupRuleRanges": [{"MinRange": 22}, {"MinRange": 8080, "MaxRange": 8090}]})
    ranges = emr.get_block_public_access_configuration()["BlockPublicAccessConfiguration"][
        "PermittedPublicSecurityGroupRuleRanges"]
    assert ranges == [{"MinRange": 22, "MaxRange": 22}, {"MinRange": 8080, "MaxRange": 8090}]
    error = error_of(emr.put_block_public_access_configuration, BlockPublicAccessConfiguration={
        "BlockPublicSecurityGroupRules": True, "PermittedPublicSecurityGroupRuleRanges": [{"MinRange": 90, "MaxRange": 80}]})
    assert error["Code"] == "InvalidRequestException"
    # elmr's nodes listen on loopback addresses only: a cluster has no public rule to block.
    emr.run_job_flow(**SMALL)


def test_block_public_access_rule_refuses_public_ports_it_does_not_permit():
    configuration = {"BlockPublicSecurityGroupRules": True,
                     "PermittedPublicSecurityGroupRuleRanges": [{"MinRange": 22, "MaxRange": 22}]}
    ssh, ui, private = IngressRule("0.0.0.0/0", 22, 22), IngressRule("::/0", 8080, 8080), IngressRule("10.0.0.0/8", 0, 65535)
    assert violations(configuration, [ssh, ui, private]) == [ui]
    assert violations({**configuration, "BlockPublicSecurityGroupRules": False}, [ui]) == []


def test_studio_and_session_mappings(emr, nodeless):
    sso = dict(Name="team", AuthMode="SSO", VpcId="vpc-1", SubnetIds=["subnet-1"], ServiceRole="arn:aws:iam::123456789012:role/s",
               UserRole="arn:aws:iam::123456789012:role/u", WorkspaceSecurityGroupId="sg-1",
               EngineSecurityGroupId="sg-2", DefaultS3Location="s3://studio/home", Tags=[{"Key": "team", "Value": "a"}])
    studio_id = emr.create_studio(**sso)["StudioId"]
    assert studio_id.startswith("es-") and len(studio_id) == 28
    studio = emr.describe_studio(StudioId=studio_id)["Studio"]
    assert (studio["Name"], studio["AuthMode"], studio["SubnetIds"]) == ("team", "SSO", ["subnet-1"])
    assert studio["StudioArn"].endswith(f":studio/{studio_id}")
    emr.update_studio(StudioId=studio_id, Name="renamed", SubnetIds=["subnet-1", "subnet-2"])
    assert emr.describe_studio(StudioId=studio_id)["Studio"]["SubnetIds"] == ["subnet-1", "subnet-2"]
    assert error_of(emr.update_studio, StudioId=studio_id, SubnetIds=["subnet-2"])["Code"] == "InvalidRequestException"
    assert "renamed" in [s["Name"] for s in emr.list_studios()["Studios"]]
    emr.add_tags(ResourceId=studio_id, Tags=[{"Key": "cost", "Value": "b"}])
    assert {t["Key"] for t in emr.describe_studio(StudioId=studio_id)["Studio"]["Tags"]} == {"team", "cost"}

    policy = "arn:aws:iam::123456789012:policy/studio-user"
    emr.create_studio_session_mapping(StudioId=studio_id, IdentityName="alice", IdentityType="USER",
                                      SessionPolicyArn=policy)
    mapping = emr.get_studio_session_mapping(StudioId=studio_id, IdentityName="alice", IdentityType="USER")
    assert mapping["SessionMapping"]["SessionPolicyArn"] == policy
    assert error_of(emr.create_studio_session_mapping, StudioId=studio_id, IdentityName="alice", IdentityType="USER",
                    SessionPolicyArn=policy)["Code"] == "InvalidRequestException"
    emr.update_studio_session_mapping(StudioId=studio_id, IdentityName="alice", IdentityType="USER",
                                      SessionPolicyArn=policy + "-2")
    listed = emr.list_studio_session_mappings(StudioId=studio_id)["SessionMappings"]
    assert [(m["IdentityName"], m["SessionPolicyArn"]) for m in listed] == [("alice", policy + "-2")]
    emr.delete_studio_session_mapping(StudioId=studio_id, IdentityName="alice", IdentityType="USER")
    assert emr.list_studio_session_mappings(StudioId=studio_id)["SessionMappings"] == []
    emr.delete_studio(StudioId=studio_id)
    assert error_of(emr.describe_studio, StudioId=studio_id)["Code"] == "InvalidRequestException"


@pytest.mark.parametrize("change, message_part", [
    ({"UserRole": None}, "UserRole is required"),
    ({"AuthMode": "IAM"}, "cannot be used with AuthMode IAM"),
    ({"SubnetIds": [f"subnet-{n}" for n in range(6)]}, "1 to 5 subnets"),
    ({"DefaultS3Location": "/home/studio"}, "not an s3://"),
])
def test_studios_emr_refuses(emr, change, message_part):
    request = dict(Name="x", AuthMode="SSO", VpcId="vpc-1", SubnetIds=["subnet-1"], ServiceRole="r", UserRole="u",
                   WorkspaceSecurityGroupId="sg-1", EngineSecurityGroupId="sg-2", DefaultS3Location="s3://b/p")
    request.update(change)
    error = error_of(emr.create_studio, **{k: v for k, v in request.items() if v is not None})
    assert error["Code"] == "InvalidRequestException" and message_part in error["Message"]


def test_session_mappings_belong_to_sso_studios(emr):
    studio_id = emr.create_studio(Name="iam", AuthMode="IAM", VpcId="vpc-1", SubnetIds=["subnet-1"], ServiceRole="r",
                                  WorkspaceSecurityGroupId="sg-1", EngineSecurityGroupId="sg-2",
                                  DefaultS3Location="s3://b/p")["StudioId"]
    error = error_of(emr.create_studio_session_mapping, StudioId=studio_id, IdentityId="g-1", IdentityType="GROUP",
                     SessionPolicyArn="arn:aws:iam::123456789012:policy/p")
    assert "SSO" in error["Message"]


def test_notebook_execution_checks(emr, nodeless):
    s3 = nodeless.client("s3")
    s3.create_bucket(Bucket="notebooks")
    s3.put_object(Bucket="notebooks", Key="in/report.ipynb", Body=b"{}")
    cluster_id = emr.run_job_flow(**SMALL)["JobFlowId"]
    request = dict(ExecutionEngine={"Id": cluster_id}, ServiceRole="EMR_Notebooks_DefaultRole",
                   NotebookS3Location={"Bucket": "notebooks", "Key": "in/report.ipynb"},
                   OutputNotebookS3Location={"Bucket": "notebooks", "Key": "out"})
    for change, message_part in [
        ({"NotebookS3Location": {"Bucket": "notebooks", "Key": "in/missing.ipynb"}}, "in/missing.ipynb"),
        ({"NotebookS3Location": {"Bucket": "notebooks", "Key": "in/report.py"}}, "not a notebook"),
        ({"OutputNotebookS3Location": {"Bucket": "no-such-bucket", "Key": "out"}}, "no-such-bucket"),
        ({"NotebookParams": "[1, 2]"}, "NotebookParams"),
        ({"EditorId": "e-ABC"}, "EditorId"),
        ({"ExecutionEngine": {"Id": "j-NOSUCHCLUSTER1"}}, "j-NOSUCHCLUSTER1"),
    ]:
        error = error_of(emr.start_notebook_execution, **{**request, **change})
        assert error["Code"] == "InvalidRequestException" and message_part in error["Message"], change
    wait_for(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"].startswith("TERMINATED"),
             30, what="the cluster to end")
    assert "TERMINATED" in error_of(emr.start_notebook_execution, **request)["Message"]
    assert emr.list_notebook_executions(ExecutionEngineId=cluster_id)["NotebookExecutions"] == []
    assert error_of(emr.describe_notebook_execution, NotebookExecutionId="ex-NONE")["Code"] == "InvalidRequestException"


def test_app_ui_operations_of_an_ended_cluster(emr):
    answer = emr.run_job_flow(**SMALL)
    cluster_id, arn = answer["JobFlowId"], answer["ClusterArn"]
    wait_for(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"].startswith("TERMINATED"),
             30, what="the cluster to end")
    on_cluster = error_of(emr.get_on_cluster_app_ui_presigned_url, ClusterId=cluster_id)
    assert "CreatePersistentAppUI" in on_cluster["Message"]
    app_ui_id = emr.create_persistent_app_ui(TargetResourceArn=arn)["PersistentAppUIId"]
    assert emr.create_persistent_app_ui(TargetResourceArn=arn)["PersistentAppUIId"] == app_ui_id
    described = emr.describe_persistent_app_ui(PersistentAppUIId=app_ui_id)["PersistentAppUI"]
    assert described["PersistentAppUITypeList"] == ["SHS"] and described["PersistentAppUIStatus"] == "ATTACHED"
    assert "TEZ" in error_of(emr.get_persistent_app_ui_presigned_url, PersistentAppUIId=app_ui_id,
                             PersistentAppUIType="TEZ")["Message"]
    assert error_of(emr.get_cluster_session_credentials, ClusterId=cluster_id,
                    ExecutionRoleArn="arn:aws:iam::123456789012:role/r")["Code"] == "InvalidRequestException"


def test_automatic_scaling_policy_stored_and_listed(emr):
    policy = {"Constraints": {"MinCapacity": 1, "MaxCapacity": 4}, "Rules": [{
        "Name": "out", "Action": {"SimpleScalingPolicyConfiguration": {"ScalingAdjustment": 1, "CoolDown": 300}},
        "Trigger": {"CloudWatchAlarmDefinition": {"ComparisonOperator": "LESS_THAN", "MetricName": "YARNMemoryAvailablePercentage",
                                                  "Period": 300, "Threshold": 15.0}}}]}
    cluster_id = emr.run_job_flow(**SMALL, AutoScalingRole="EMR_AutoScaling_DefaultRole")["JobFlowId"]
    groups = {g["InstanceGroupType"]: g["Id"] for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]}
    wait_for(lambda: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"].startswith("TERMINATED"),
             30, what="the cluster to end (this server has no room for nodes)")
    answer = emr.put_auto_scaling_policy(ClusterId=cluster_id, InstanceGroupId=groups["CORE"], AutoScalingPolicy=policy)
    # The group has ended: its policy is stored, not evaluated (tests/test_auto_scaling_rules.py
    # shows one attached and acting).
    assert answer["AutoScalingPolicy"]["Status"]["State"] == "DETACHED"
    listed = {g["Id"]: g for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]}
    assert listed[groups["CORE"]]["AutoScalingPolicy"]["Constraints"] == {"MinCapacity": 1, "MaxCapacity": 4}
    assert "MASTER" in error_of(emr.put_auto_scaling_policy, ClusterId=cluster_id, InstanceGroupId=groups["MASTER"],
                                AutoScalingPolicy=policy)["Message"]
    bad = {**policy, "Constraints": {"MinCapacity": 5, "MaxCapacity": 4}}
    assert "MinCapacity" in error_of(emr.put_auto_scaling_policy, ClusterId=cluster_id,
                                     InstanceGroupId=groups["CORE"], AutoScalingPolicy=bad)["Message"]
    emr.remove_auto_scaling_policy(ClusterId=cluster_id, InstanceGroupId=groups["CORE"])
    listed = {g["Id"]: g for g in emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"]}
    assert "AutoScalingPolicy" not in listed[groups["CORE"]]
    without_role = emr.run_job_flow(**SMALL)["JobFlowId"]
    core = [g["Id"] for g in emr.list_instance_groups(ClusterId=without_role)["InstanceGroups"]
            if g["InstanceGroupType"] == "CORE"][0]
    assert "AutoScalingRole" in error_of(emr.put_auto_scaling_policy, ClusterId=without_role, InstanceGroupId=core,
                                         AutoScalingPolicy=policy)["Message"]


FLEETS = [
    {"Name": "Primary", "InstanceFleetType": "MASTER", "TargetOnDemandCapacity": 1,
     "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}]},
    {"Name": "Core", "InstanceFleetType": "CORE", "TargetOnDemandCapacity": 2, "TargetSpotCapacity": 4,
     "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge", "WeightedCapacity": 1},
                             {"InstanceType": "m5.2xlarge", "WeightedCapacity": 2, "BidPrice": "0.2"}],
     "LaunchSpecifications": {"SpotSpecification": {"TimeoutDurationMinutes": 10,
                                                    "TimeoutAction": "SWITCH_TO_ON_DEMAND",
                                                    "AllocationStrategy": "lowest-price"}}},
]


def test_fleets_are_recorded_listed_and_checked_over_the_wire(emr, nodeless):
    """RunJobFlow with InstanceFleets is accepted and its fleets listed as EMR lists
    them (this server has no room, so the cluster fails at once; its rows stay)."""
    cluster_id = emr.run_job_flow(Name="fleets", ReleaseLabel="emr-7.2.0", Instances={"InstanceFleets": FLEETS})["JobFlowId"]
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["InstanceCollectionType"] == "INSTANCE_FLEET"
    fleets = {f["InstanceFleetType"]: f for f in emr.list_instance_fleets(ClusterId=cluster_id)["InstanceFleets"]}
    core = fleets["CORE"]
    assert core["Id"].startswith("if-") and core["Name"] == "Core"
    assert (core["TargetOnDemandCapacity"], core["TargetSpotCapacity"]) == (2, 4)
    assert [(s["InstanceType"], s["WeightedCapacity"]) for s in core["InstanceTypeSpecifications"]] == [
        ("m5.xlarge", 1), ("m5.2xlarge", 2)]
    assert core["InstanceTypeSpecifications"][1]["BidPrice"] == "0.2"
    assert core["LaunchSpecifications"]["SpotSpecification"]["TimeoutAction"] == "SWITCH_TO_ON_DEMAND"

    def refused(**instances) -> str:
        return error_of(emr.run_job_flow, Name="f", ReleaseLabel="emr-7.2.0", Instances=instances)["Message"]
    assert "exactly one MASTER" in refused(InstanceFleets=FLEETS[1:])
    assert "m5.enormous" in refused(InstanceFleets=[FLEETS[0], {**FLEETS[1], "InstanceTypeConfigs": [
        {"InstanceType": "m5.enormous"}]}])
    assert "TimeoutDurationMinutes" in refused(InstanceFleets=[FLEETS[0], {**FLEETS[1], "LaunchSpecifications": {
        "SpotSpecification": {"TimeoutDurationMinutes": 2, "TimeoutAction": "TERMINATE_CLUSTER"}}}])
    assert "BlockDurationMinutes" in refused(InstanceFleets=[FLEETS[0], {**FLEETS[1], "LaunchSpecifications": {
        "SpotSpecification": {"TimeoutDurationMinutes": 5, "TimeoutAction": "TERMINATE_CLUSTER",
                              "BlockDurationMinutes": 45}}}])
    assert "not both" in refused(InstanceFleets=FLEETS, InstanceGroups=[
        {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}])
    task = {"InstanceFleetType": "TASK", "TargetSpotCapacity": 2, "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}]}
    groups_cluster = emr.run_job_flow(**SMALL)["JobFlowId"]
    assert error_of(emr.add_instance_fleet, ClusterId=cluster_id, InstanceFleet=task)["Code"] == "ValidationException"
    assert error_of(emr.modify_instance_fleet, ClusterId=cluster_id, InstanceFleet={
        "InstanceFleetId": core["Id"], "TargetOnDemandCapacity": 4})["Code"] == "ValidationException"
    assert error_of(emr.modify_instance_fleet, ClusterId=cluster_id, InstanceFleet={
        "InstanceFleetId": "if-NOSUCHFLEET1"})["Code"] == "InvalidRequestException"
    assert emr.list_instance_fleets(ClusterId=groups_cluster)["InstanceFleets"] == []


def test_sessions_validate_then_say_not_yet(emr, nodeless):
    cluster_id = emr.run_job_flow(**SMALL)["JobFlowId"]
    for call, kwargs in [(emr.list_sessions, {"ClusterId": cluster_id}),
                         (emr.get_session, {"ClusterId": cluster_id, "SessionId": "s1"})]:
        assert "elmr does not run" in error_of(call, **kwargs)["Message"]
    unvalidated = nodeless.client(config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    assert error_of(unvalidated.start_session, ClusterId=cluster_id, SessionIdleTimeoutInMinutes=0)["Code"] == \
        "InvalidRequestException"


@pytest.mark.parametrize("change, message_part", [
    ({"Applications": [{}]}, "needs a Name"),
    ({"AmiVersion": "3.11.0"}, "ReleaseLabel"),
    ({"Instances": {"MasterInstanceType": "m5.xlarg", "InstanceCount": 1}}, "m5.xlarge"),
    ({"LogUri": "s3://no-such-log-bucket/logs/"}, "no-such-log-bucket"),
])
def test_run_job_flow_refusals_name_what_to_do(nodeless, change, message_part):
    unvalidated = nodeless.client(config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    error = error_of(unvalidated.run_job_flow, **{**SMALL, **change})
    assert error["Code"] == "ValidationException" and message_part in error["Message"]
    assert not (nodeless.data_dir / "buckets" / "no-such-log-bucket").exists()


def test_custom_ami_and_ebs_are_shown_back(emr):
    ebs = {"EbsBlockDeviceConfigs": [{"VolumeSpecification": {"VolumeType": "gp3", "SizeInGB": 100},
                                      "VolumesPerInstance": 2}], "EbsOptimized": True}
    cluster_id = emr.run_job_flow(Name="ebs", ReleaseLabel="emr-7.2.0", CustomAmiId="ami-0123456789abcdef0",
                                  EbsRootVolumeSize=40, Instances={"InstanceGroups": [
                                      {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1,
                                       "EbsConfiguration": ebs}]})["JobFlowId"]
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert (cluster["CustomAmiId"], cluster["EbsRootVolumeSize"]) == ("ami-0123456789abcdef0", 40)
    group = emr.list_instance_groups(ClusterId=cluster_id)["InstanceGroups"][0]
    assert group["EbsOptimized"] is True
    assert [d["Device"] for d in group["EbsBlockDevices"]] == ["/dev/sdb", "/dev/sdc"]
    assert group["EbsBlockDevices"][0]["VolumeSpecification"] == {"VolumeType": "gp3", "SizeInGB": 100}
