"""Rows as EMR's output shapes (Cluster, ClusterSummary, InstanceGroup, Instance,
Command, JobFlowDetail). Plain dicts with datetimes; the api layer turns them into
JSON through botocore's model, which also drops what the model does not know."""

from elmr.store.models import BootstrapAction, Cluster, Instance, InstanceGroup, Step
from elmr.store.states import CLUSTER_TERMINAL

NODE_STATES_OWNED = {"AWAITING_FULFILLMENT", "PROVISIONING", "BOOTSTRAPPING", "RUNNING"}


def _reason(row) -> dict:
    reason = {}
    if row.state_reason_code:
        reason["Code"] = row.state_reason_code
    if row.state_reason_message:
        reason["Message"] = row.state_reason_message
    return reason


def _timeline(row) -> dict:
    timeline = {"CreationDateTime": row.created_at}
    if row.ready_at:
        timeline["ReadyDateTime"] = row.ready_at
    if row.ended_at:
        timeline["EndDateTime"] = row.ended_at
    return timeline


def cluster_status(cluster: Cluster) -> dict:
    return {
        "State": cluster.state,
        "StateChangeReason": _reason(cluster),
        "Timeline": _timeline(cluster),
    }


def cluster_summary(cluster: Cluster, arn: str, normalized_hours: int) -> dict:
    return {
        "Id": cluster.id,
        "Name": cluster.name,
        "Status": cluster_status(cluster),
        "NormalizedInstanceHours": normalized_hours,
        "ClusterArn": arn,
    }


def cluster(cluster: Cluster, arn: str, normalized_hours: int) -> dict:
    extras = cluster.request_extras
    described = {
        **cluster_summary(cluster, arn, normalized_hours),
        "Ec2InstanceAttributes": extras.get("Ec2InstanceAttributes", {}),
        "InstanceCollectionType": "INSTANCE_GROUP",
        "ReleaseLabel": cluster.release_label,
        "AutoTerminate": not cluster.keep_alive_when_no_steps,
        "TerminationProtected": cluster.termination_protected,
        "UnhealthyNodeReplacement": cluster.unhealthy_node_replacement,
        "VisibleToAllUsers": cluster.visible_to_all_users,
        "Applications": _applications(cluster),
        "Tags": cluster.tags,
        "Configurations": cluster.configurations,
        "StepConcurrencyLevel": cluster.step_concurrency_level,
        "ScaleDownBehavior": extras.get("ScaleDownBehavior", "TERMINATE_AT_TASK_COMPLETION"),
    }
    for key in ("ServiceRole", "SecurityConfiguration", "AutoScalingRole",
                "CustomAmiId", "EbsRootVolumeSize", "RepoUpgradeOnBoot",
                "KerberosAttributes", "OSReleaseLabel", "EbsRootVolumeIops",
                "EbsRootVolumeThroughput", "ExtendedSupport", "LogEncryptionKmsKeyId"):
        if key in extras:
            described[key] = extras[key]
    if cluster.log_uri:
        described["LogUri"] = cluster.log_uri
    if cluster.master_public_dns_name and cluster.state not in CLUSTER_TERMINAL:
        described["MasterPublicDnsName"] = cluster.master_public_dns_name
    return described


def _applications(cluster: Cluster) -> list:
    """Each application's entry carries what it serves on the master (web UIs, RPC
    addresses: the cluster's endpoints, kept as data per application), which EMR users
    otherwise reach through the master's DNS name; none once the cluster has ended."""
    endpoints = {} if cluster.state in CLUSTER_TERMINAL else (cluster.endpoints or {})
    applications = []
    for app in cluster.applications:
        app = dict(app)
        if endpoints.get(app.get("Name")):
            app["AdditionalInfo"] = {**app.get("AdditionalInfo", {}), **endpoints[app["Name"]]}
        applications.append(app)
    return applications


def instance_group(group: InstanceGroup, running_count: int) -> dict:
    described = {
        "Id": group.id,
        "Name": group.name,
        "Market": group.market,
        "InstanceGroupType": group.role,
        "InstanceType": group.instance_type,
        "RequestedInstanceCount": group.requested_count,
        "RunningInstanceCount": running_count,
        "Status": {
            "State": group.state,
            "StateChangeReason": _reason(group),
            "Timeline": _timeline(group),
        },
        "Configurations": group.configurations,
        "ConfigurationsVersion": 0,
        "EbsBlockDevices": [],
        "EbsOptimized": bool((group.ebs_configuration or {}).get("EbsOptimized", False)),
    }
    if group.bid_price:
        described["BidPrice"] = group.bid_price
    return described


def instance(node: Instance) -> dict:
    described = {
        "Id": node.id,
        "Ec2InstanceId": node.ec2_instance_id,
        "Status": {
            "State": node.state,
            "StateChangeReason": _reason(node),
            "Timeline": _timeline(node),
        },
        "InstanceGroupId": node.group_id,
        "Market": node.market,
        "InstanceType": node.instance_type,
        "EbsVolumes": [],
    }
    if node.address:
        described.update(
            PublicDnsName=node.address,
            PublicIpAddress=node.address,
            PrivateDnsName=node.address,
            PrivateIpAddress=node.address,
        )
    return described


def bootstrap_action(action: BootstrapAction) -> dict:
    return {"Name": action.name, "ScriptPath": action.path, "Args": action.args}


def step_config(step: Step) -> dict:
    return {
        "Name": step.name,
        "ActionOnFailure": step.action_on_failure,
        "HadoopJarStep": step.hadoop_jar_step,
    }


def _hadoop_step_config(hadoop_jar_step: dict) -> dict:
    """StepConfig's input shape (Properties as a list) as the output shape has it (a map)."""
    config = {"Jar": hadoop_jar_step["Jar"], "Args": hadoop_jar_step.get("Args", []),
              "Properties": {p["Key"]: p.get("Value", "") for p in hadoop_jar_step.get("Properties", [])}}
    if hadoop_jar_step.get("MainClass"):
        config["MainClass"] = hadoop_jar_step["MainClass"]
    return config


def step(step: Step) -> dict:
    timeline = {"CreationDateTime": step.created_at}
    if step.started_at:
        timeline["StartDateTime"] = step.started_at
    if step.ended_at:
        timeline["EndDateTime"] = step.ended_at
    status = {"State": step.state, "StateChangeReason": _reason(step), "Timeline": timeline}
    if step.failure_details:
        status["FailureDetails"] = step.failure_details
    return {
        "Id": step.id,
        "Name": step.name,
        "Config": _hadoop_step_config(step.hadoop_jar_step),
        "ActionOnFailure": step.action_on_failure,
        "Status": status,
    }
