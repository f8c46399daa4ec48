"""RunJobFlow's rules: which instance layouts are valid (instance groups, the
shorthand MasterInstanceType / SlaveInstanceType / InstanceCount expands to, or
instance fleets), which release and applications elmr runs, and the rows a new
cluster starts with (STARTING, groups or fleets PROVISIONING, no nodes yet: the
reconciler launches them)."""

from datetime import datetime

from sqlalchemy.orm import Session

from elmr import catalog, ids
from elmr.apps.classifications import known as known_classifications, unknown_classifications
from elmr.service import auto_scaling, block_public_access, instance_fleets, security_configurations
from elmr.service.capacity_rules import check_managed_scaling_policy
from elmr.service.errors import ValidationException
from elmr.service.steps_intake import new_steps
from elmr.store.models import BootstrapAction, Cluster, InstanceGroup

MAX_TASK_GROUPS = 48  # EMR's limit of task instance groups per cluster
MAX_EBS_VOLUMES = 25  # per instance
EBS_VOLUME_TYPES = ("gp2", "gp3", "io1", "io2", "st1", "sc1", "standard")

# RunJobFlow fields with no behaviour in elmr yet, kept verbatim for DescribeCluster.
_EXTRA_FIELDS = (
    "ServiceRole", "JobFlowRole", "SecurityConfiguration", "AutoScalingRole",
    "ScaleDownBehavior", "CustomAmiId", "EbsRootVolumeSize", "RepoUpgradeOnBoot",
    "KerberosAttributes", "OSReleaseLabel", "EbsRootVolumeIops",
    "EbsRootVolumeThroughput", "ExtendedSupport", "LogEncryptionKmsKeyId",
    "AdditionalInfo", "PlacementGroupConfigs", "SupportedProducts", "NewSupportedProducts",
)
_EC2_FIELDS = {
    "Ec2KeyName": "Ec2KeyName",
    "Ec2SubnetId": "Ec2SubnetId",
    "EmrManagedMasterSecurityGroup": "EmrManagedMasterSecurityGroup",
    "EmrManagedSlaveSecurityGroup": "EmrManagedSlaveSecurityGroup",
    "ServiceAccessSecurityGroup": "ServiceAccessSecurityGroup",
    "AdditionalMasterSecurityGroups": "AdditionalMasterSecurityGroups",
    "AdditionalSlaveSecurityGroups": "AdditionalSlaveSecurityGroups",
}


def build_cluster(session: Session, params: dict, now: datetime) -> Cluster:
    instances = params["Instances"]
    release = _release(params)
    fleet_configs = _instance_fleet_configs(instances)
    group_configs = [] if fleet_configs else _instance_group_configs(instances)
    for config in group_configs:
        _check_instance_type(config["InstanceType"])
        _check_ebs(config.get("EbsConfiguration"))
        _check_classifications(config.get("Configurations", []), f"InstanceGroup {config.get('Name', '')}")
        if config.get("AutoScalingPolicy"):
            auto_scaling.check_policy(config["AutoScalingPolicy"], config["InstanceRole"],
                                      bool(params.get("AutoScalingRole")), bool(params.get("ManagedScalingPolicy")))
    _check_classifications(params.get("Configurations", []), "Configurations")
    if params.get("ManagedScalingPolicy"):
        check_managed_scaling_policy(params["ManagedScalingPolicy"], uses_fleets=bool(fleet_configs),
                                     release_label=release.label)
    if params.get("SecurityConfiguration"):
        security_configurations.check_exists(session, params["SecurityConfiguration"])
    block_public_access.check_cluster(session, params)

    cluster = Cluster(
        id=ids.cluster_id(),
        name=params["Name"],
        state="STARTING",
        state_reason_code=None,
        state_reason_message="Provisioning nodes",
        created_at=now,
        release_label=release.label,
        applications=_applications(release, params.get("Applications", [])),
        configurations=params.get("Configurations", []),
        tags=params.get("Tags", []),
        log_uri=params.get("LogUri"),
        keep_alive_when_no_steps=instances.get("KeepJobFlowAliveWhenNoSteps", False),
        termination_protected=instances.get("TerminationProtected", False),
        visible_to_all_users=params.get("VisibleToAllUsers", True),
        unhealthy_node_replacement=instances.get("UnhealthyNodeReplacement", False),
        step_concurrency_level=check_step_concurrency(params.get("StepConcurrencyLevel", 1)),
        auto_termination_policy=_auto_termination(params.get("AutoTerminationPolicy")),
        managed_scaling_policy=params.get("ManagedScalingPolicy"),
        request_extras=_extras(params),
    )
    session.add(cluster)
    session.flush()  # the groups, actions and steps refer to the cluster's row
    for config in group_configs:
        session.add(_instance_group(cluster.id, config, now))
    for config in fleet_configs:
        session.add(instance_fleets.new_instance_fleet(cluster.id, config, now))
    for position, action in enumerate(params.get("BootstrapActions", [])):
        script = action["ScriptBootstrapAction"]
        session.add(BootstrapAction(
            cluster_id=cluster.id, position=position, name=action["Name"],
            path=script["Path"], args=script.get("Args", []),
        ))
    for step in new_steps(session, cluster.id, params.get("Steps", []), now):
        session.add(step)
    return cluster


def _release(params: dict) -> catalog.Release:
    if params.get("AmiVersion") is not None:
        raise ValidationException(
            "AmiVersion names the AMI-based releases before EMR 4.0, which elmr does not run; "
            f"use ReleaseLabel instead (e.g. {catalog.default_release_label()})."
        )
    label = params.get("ReleaseLabel") or catalog.default_release_label()
    release = catalog.release(label)
    if release is None:
        raise ValidationException(f"The specified release label '{label}' is not valid.")
    return release


def _applications(release: catalog.Release, requested: list) -> list:
    """The applications the cluster runs: elmr runs its own Spark, Hadoop and Hive
    whatever the label, and records beside each the version the label lists. Hadoop
    and Spark are always there: every node starts them; Hive when asked for."""
    if any(not app.get("Name") for app in requested):
        raise ValidationException("Applications: every application needs a Name (e.g. Spark).")
    runtime = {name.lower(): (name, version) for name, version in catalog.runtime_applications().items()}
    published = {name.lower(): version for name, version in release.applications.items()}
    names = [app["Name"] for app in requested] or ["Spark"]
    for name in names:
        if name.lower() not in runtime:
            raise ValidationException(_not_run(name, release, name.lower() in published))
    chosen = list(dict.fromkeys([runtime[name.lower()][0] for name in names] + ["Hadoop", "Spark"]))
    args_by_name = {app["Name"].lower(): app.get("Args", []) for app in requested}
    return [{"Name": name, "Version": runtime[name.lower()][1], "Args": args_by_name.get(name.lower(), []),
             "ReleaseVersion": published.get(name.lower(), "")} for name in chosen]


def _not_run(name: str, release: catalog.Release, published: bool) -> str:
    runs = ", ".join(catalog.runtime_applications())
    if published:
        return f"elmr does not run {name} (release {release.label} has it); elmr runs {runs}."
    return f"Cannot find application {name} in release {release.label}; elmr runs {runs}."


def _instance_fleet_configs(instances: dict) -> list[dict]:
    fleets = instances.get("InstanceFleets") or []
    if fleets:
        if instances.get("InstanceGroups") or instances.get("MasterInstanceType"):
            raise ValidationException("Please specify either InstanceFleets or InstanceGroups, not both.")
        instance_fleets.check_run_job_flow_fleets(fleets)
    return fleets


def _instance_group_configs(instances: dict) -> list[dict]:
    groups = instances.get("InstanceGroups")
    shorthand = instances.get("MasterInstanceType") or instances.get("InstanceCount")
    if groups and shorthand:
        raise ValidationException(
            "Please specify either InstanceGroups or MasterInstanceType/SlaveInstanceType/"
            "InstanceCount, not both."
        )
    if groups:
        _check_group_roles(groups)
        return groups
    if not instances.get("MasterInstanceType"):
        raise ValidationException(
            "Instances: specify InstanceGroups, or MasterInstanceType with InstanceCount."
        )
    return _expand_shorthand(instances)


def _expand_shorthand(instances: dict) -> list[dict]:
    count = instances.get("InstanceCount", 1)
    if count < 1:
        raise ValidationException("Instances.InstanceCount must be at least 1.")
    configs = [{"Name": "MASTER", "InstanceRole": "MASTER", "Market": "ON_DEMAND",
                "InstanceType": instances["MasterInstanceType"], "InstanceCount": 1}]
    if count > 1:
        slave_type = instances.get("SlaveInstanceType") or instances["MasterInstanceType"]
        configs.append({"Name": "CORE", "InstanceRole": "CORE", "Market": "ON_DEMAND",
                        "InstanceType": slave_type, "InstanceCount": count - 1})
    return configs


def _check_group_roles(groups: list) -> None:
    roles = [group["InstanceRole"] for group in groups]
    if roles.count("MASTER") != 1:
        raise ValidationException("Instances.InstanceGroups: exactly one MASTER instance group is required.")
    if roles.count("CORE") > 1:
        raise ValidationException("Instances.InstanceGroups: at most one CORE instance group is allowed.")
    if roles.count("TASK") > MAX_TASK_GROUPS:
        raise ValidationException(
            f"Instances.InstanceGroups: at most {MAX_TASK_GROUPS} TASK instance groups are allowed."
        )
    for group in groups:
        if group["InstanceRole"] == "MASTER" and group["InstanceCount"] != 1:
            raise ValidationException(
                "Instances.InstanceGroups: the MASTER instance group must have exactly 1 "
                "instance (elmr runs a single master)."
            )
        if group["InstanceCount"] < 0:
            raise ValidationException("Instances.InstanceGroups: InstanceCount must not be negative.")
        if group.get("Market") == "SPOT" and "BidPrice" in group:
            _check_bid_price(group["BidPrice"])


def _check_bid_price(bid_price: str) -> None:
    try:
        if float(bid_price) <= 0:
            raise ValueError
    except ValueError:
        raise ValidationException(f"The bid price '{bid_price}' is not valid.") from None


def _check_classifications(configurations: list, where: str) -> None:
    unknown = unknown_classifications(configurations)
    if unknown:
        raise ValidationException(
            f"{where}: classification(s) {', '.join(unknown)} are not valid; elmr supports "
            f"{', '.join(sorted(known_classifications()))} (with nested export in the *-env ones)."
        )


def _check_ebs(ebs_configuration: dict | None) -> None:
    """EC2's limits on the volumes an instance group asks for."""
    configs = (ebs_configuration or {}).get("EbsBlockDeviceConfigs", [])
    if sum(config.get("VolumesPerInstance", 1) for config in configs) > MAX_EBS_VOLUMES:
        raise ValidationException(f"EbsConfiguration: at most {MAX_EBS_VOLUMES} EBS volumes per instance.")
    for config in configs:
        spec = config["VolumeSpecification"]
        if spec["VolumeType"] not in EBS_VOLUME_TYPES:
            raise ValidationException(f"EbsConfiguration: volume type '{spec['VolumeType']}' is not valid; "
                                      f"use one of {', '.join(EBS_VOLUME_TYPES)}.")
        if not 1 <= spec["SizeInGB"] <= 16384 or config.get("VolumesPerInstance", 1) < 1:
            raise ValidationException("EbsConfiguration: SizeInGB must be 1 to 16384 and VolumesPerInstance at least 1.")


def _check_instance_type(name: str) -> None:
    if catalog.instance_type(name) is None:
        raise ValidationException(catalog.unknown_type_message(name))


def _instance_group(cluster_id: str, config: dict, now: datetime) -> InstanceGroup:
    role = config["InstanceRole"]
    return InstanceGroup(
        id=ids.instance_group_id(),
        cluster_id=cluster_id,
        name=config.get("Name") or role,
        role=role,
        market=config.get("Market", "ON_DEMAND"),
        bid_price=config.get("BidPrice"),
        instance_type=config["InstanceType"],
        requested_count=config["InstanceCount"],
        state="PROVISIONING",
        created_at=now,
        configurations=config.get("Configurations", []),
        ebs_configuration=config.get("EbsConfiguration"),
        auto_scaling_policy=config.get("AutoScalingPolicy"),
    )


def check_step_concurrency(level: int) -> int:
    if not 1 <= level <= 256:
        raise ValidationException("StepConcurrencyLevel must be between 1 and 256.")
    return level


def _auto_termination(policy: dict | None) -> dict | None:
    if policy is None:
        return None
    check_idle_timeout(policy.get("IdleTimeout", 3600))
    return {"IdleTimeout": policy.get("IdleTimeout", 3600)}


def check_idle_timeout(seconds: int) -> None:
    """EMR accepts an idle timeout from one minute to seven days."""
    if not 60 <= seconds <= 604800:
        raise ValidationException(
            "AutoTerminationPolicy.IdleTimeout must be between 60 and 604800 seconds."
        )


def _extras(params: dict) -> dict:
    extras = {key: params[key] for key in _EXTRA_FIELDS if key in params}
    instances = params["Instances"]
    ec2 = {field: instances[key] for key, field in _EC2_FIELDS.items() if key in instances}
    if "Placement" in instances and "AvailabilityZone" in instances["Placement"]:
        ec2["Ec2AvailabilityZone"] = instances["Placement"]["AvailabilityZone"]
    if "JobFlowRole" in params:
        ec2["IamInstanceProfile"] = params["JobFlowRole"]
    extras["Ec2InstanceAttributes"] = ec2
    return extras


def new_instance_group(cluster_id: str, config: dict, now: datetime) -> InstanceGroup:
    """An instance group row from an InstanceGroupConfig, checked as RunJobFlow checks
    its groups (AddInstanceGroups adds groups to a running cluster with it)."""
    _check_instance_type(config["InstanceType"])
    _check_classifications(config.get("Configurations", []), f"InstanceGroup {config.get('Name', '')}")
    if config["InstanceCount"] < 0:
        raise ValidationException("InstanceGroups: InstanceCount must not be negative.")
    if config.get("Market") == "SPOT" and "BidPrice" in config:
        _check_bid_price(config["BidPrice"])
    return _instance_group(cluster_id, config, now)
