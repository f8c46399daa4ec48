"""Rows as EMR's output shapes (Cluster, ClusterSummary, InstanceGroup, InstanceFleet, Instance,
Command, JobFlowDetail). Plain dicts with datetimes; the api layer turns them into
JSON through botocore's model, which also drops what the model does not know."""

from elmr.service import auto_scaling
from elmr.store.models import BootstrapAction, Cluster, Instance, InstanceFleet, InstanceGroup, Step
from elmr.store.states import CLUSTER_TERMINAL, public_cluster_state, public_fleet_state, public_group_state

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
    state, code, message = public_cluster_state(cluster)
    reason = {key: value for key, value in (("Code", code), ("Message", message)) if value}
    return {"State": state, "StateChangeReason": reason, "Timeline": _timeline(cluster)}


def cluster_summary(cluster: Cluster, arn: str, normalized_hours: int) -> dict:
    return {
        "Id": cluster.id,
        "Name": cluster.name,
        "Status": cluster_status(cluster),
        "NormalizedInstanceHours": normalized_hours,
        "ClusterArn": arn,
    }


def cluster(cluster: Cluster, arn: str, normalized_hours: int, persistent_history_url: str | None = None,
            uses_fleets: bool = False) -> dict:
    """`persistent_history_url`: the server's own history server, for a cluster that
    has ended (its own UIs are gone with it); `uses_fleets`: made of instance fleets."""
    extras = cluster.request_extras
    described = {
        **cluster_summary(cluster, arn, normalized_hours),
        "Ec2InstanceAttributes": extras.get("Ec2InstanceAttributes", {}),
        "InstanceCollectionType": "INSTANCE_FLEET" if uses_fleets else "INSTANCE_GROUP",
        "ReleaseLabel": cluster.release_label,
        "AutoTerminate": not cluster.keep_alive_when_no_steps,
        "TerminationProtected": cluster.termination_protected,
        "UnhealthyNodeReplacement": cluster.unhealthy_node_replacement,
        "VisibleToAllUsers": cluster.visible_to_all_users,
        "Applications": _applications(cluster, persistent_history_url),
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


def _applications(cluster: Cluster, persistent_history_url: str | None) -> list:
    """Each application as elmr runs it, its AdditionalInfo saying so beside the version
    the release label lists, and what it serves on the master while the cluster runs
    (web UIs, RPC addresses: the cluster's endpoints, kept as data per application),
    which EMR users reach through the master's DNS name. Once the cluster has ended,
    Spark's entry names the server's own history server instead."""
    endpoints = {} if cluster.state in CLUSTER_TERMINAL else (cluster.endpoints or {})
    applications = []
    for stored in cluster.applications:
        app = {key: stored[key] for key in ("Name", "Version", "Args") if key in stored}
        info = {"ElmrRuns": f"{app['Name']} {app['Version']}, whatever the release label"}
        if stored.get("ReleaseVersion"):
            info["ReleaseLabelVersion"] = stored["ReleaseVersion"]
        info.update(endpoints.get(app["Name"]) or {})
        if app["Name"] == "Spark" and cluster.state in CLUSTER_TERMINAL and persistent_history_url:
            info["SparkHistoryServerUrl"] = persistent_history_url
        app["AdditionalInfo"] = info
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
            "State": public_group_state(group, running_count),
            "StateChangeReason": _reason(group),
            "Timeline": _timeline(group),
        },
        "Configurations": group.configurations,
        "ConfigurationsVersion": 0,
        "EbsBlockDevices": ebs_block_devices(group.ebs_configuration),
        "EbsOptimized": bool((group.ebs_configuration or {}).get("EbsOptimized", False)),
        "AutoScalingPolicy": auto_scaling.described(group),
    }
    if group.bid_price:
        described["BidPrice"] = group.bid_price
    if group.shrink_policy:
        described["ShrinkPolicy"] = _shrink_policy(group.shrink_policy)
    return described


def instance_fleet(fleet: InstanceFleet, running: list[Instance]) -> dict:
    """`running`: the fleet's RUNNING nodes; what they weigh is its provisioned capacity."""
    provisioned = {market: sum(n.weighted_capacity or 1 for n in running
                               if n.market == market and n.leaving_since is None)
                   for market in ("ON_DEMAND", "SPOT")}
    described = {
        "Id": fleet.id,
        "Name": fleet.name,
        "Status": {
            "State": public_fleet_state(fleet, provisioned["ON_DEMAND"], provisioned["SPOT"]),
            "StateChangeReason": _reason(fleet),
            "Timeline": _timeline(fleet),
        },
        "InstanceFleetType": fleet.role,
        "TargetOnDemandCapacity": fleet.target_on_demand,
        "TargetSpotCapacity": fleet.target_spot,
        "ProvisionedOnDemandCapacity": provisioned["ON_DEMAND"],
        "ProvisionedSpotCapacity": provisioned["SPOT"],
        "InstanceTypeSpecifications": [_instance_type_specification(c) for c in fleet.instance_type_configs],
    }
    for key, value in (("LaunchSpecifications", fleet.launch_specifications),
                       ("ResizeSpecifications", fleet.resize_specifications), ("Context", fleet.context)):
        if value:
            described[key] = value
    return described


def _instance_type_specification(config: dict) -> dict:
    specification = {"InstanceType": config["InstanceType"], "WeightedCapacity": config.get("WeightedCapacity", 1),
                     "Configurations": config.get("Configurations") or [],
                     "EbsBlockDevices": ebs_block_devices(config.get("EbsConfiguration")),
                     "EbsOptimized": bool((config.get("EbsConfiguration") or {}).get("EbsOptimized", False))}
    for key in ("BidPrice", "BidPriceAsPercentageOfOnDemandPrice", "CustomAmiId", "Priority"):
        if key in config:
            specification[key] = config[key]
    if "BidPrice" not in config and "BidPriceAsPercentageOfOnDemandPrice" not in config:
        specification["BidPriceAsPercentageOfOnDemandPrice"] = 100.0  # EMR's default
    return specification


def ebs_block_devices(ebs_configuration: dict | None) -> list:
    """The volumes an EbsConfiguration asks for, one entry per volume, named as EC2
    names attached devices (/dev/sdb, /dev/sdc…). elmr's nodes keep their data under
    their node directory; the volumes are shown as requested."""
    devices = []
    for config in (ebs_configuration or {}).get("EbsBlockDeviceConfigs", []):
        for _ in range(config.get("VolumesPerInstance", 1)):
            devices.append({"VolumeSpecification": config["VolumeSpecification"],
                            "Device": f"/dev/sd{chr(ord('b') + len(devices) % 24)}"})
    return devices


def _shrink_policy(policy: dict) -> dict:
    """The stored policy in ShrinkPolicy's own shape."""
    shown = {}
    if "DecommissionTimeout" in policy:
        shown["DecommissionTimeout"] = policy["DecommissionTimeout"]
    resize = {key: policy[key] for key in
              ("InstancesToTerminate", "InstancesToProtect", "InstanceTerminationTimeout") if key in policy}
    if resize:
        shown["InstanceResizePolicy"] = resize
    return shown


def instance(node: Instance) -> dict:
    described = {
        "Id": node.id,
        "Ec2InstanceId": node.ec2_instance_id,
        "Status": {
            "State": node.state,
            "StateChangeReason": _reason(node),
            "Timeline": _timeline(node),
        },
        "Market": node.market,
        "InstanceType": node.instance_type,
        "EbsVolumes": [],
    }
    if node.fleet_id:
        described["InstanceFleetId"] = node.fleet_id
    else:
        described["InstanceGroupId"] = node.group_id
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
