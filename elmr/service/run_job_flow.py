"""RunJobFlow's rules: which instance layouts are valid, what the shorthand
(MasterInstanceType / SlaveInstanceType / InstanceCount) expands to, which release
and applications elmr runs, and the rows a new cluster starts with (STARTING, groups
PROVISIONING, no nodes yet: the reconciler launches them)."""

from datetime import datetime

from sqlalchemy.orm import Session

from elmr import catalog, ids
from elmr.apps.classifications import known as known_classifications, unknown_classifications
from elmr.service.errors import ValidationException
from elmr.service.steps_intake import new_steps
from elmr.store.models import BootstrapAction, Cluster, InstanceGroup

MAX_TASK_GROUPS = 48  # EMR's limit of task instance groups per cluster

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
    group_configs = _instance_group_configs(instances)
    for config in group_configs:
        _check_instance_type(config["InstanceType"])
        _check_classifications(config.get("Configurations", []), f"InstanceGroup {config.get('Name', '')}")
    _check_classifications(params.get("Configurations", []), "Configurations")

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
    if "AmiVersion" in params and "ReleaseLabel" not in params:
        raise ValidationException(
            "AmiVersion is not supported by elmr; use ReleaseLabel (e.g. emr-7.2.0)."
        )
    label = params.get("ReleaseLabel") or catalog.default_release_label()
    release = catalog.release(label)
    if release is None:
        raise ValidationException(f"The specified release label '{label}' is not valid.")
    return release


def _applications(release: catalog.Release, requested: list) -> list:
    """The applications the cluster runs, with the versions elmr really runs.
    Spark is always there: it is what every node starts."""
    names = [app["Name"] for app in requested] or ["Spark"]
    offered = {name.lower(): (name, version) for name, version in release.applications.items()}
    chosen = []
    for name in names:
        if name.lower() not in offered:
            raise ValidationException(
                f"Cannot find application {name} in release {release.label}; "
                f"elmr offers {', '.join(sorted(release.applications))}."
            )
        chosen.append(offered[name.lower()])
    if "spark" not in {name.lower() for name, _ in chosen}:
        chosen.append(offered["spark"])
    args_by_name = {app["Name"].lower(): app.get("Args", []) for app in requested}
    return [
        {"Name": name, "Version": version, "Args": args_by_name.get(name.lower(), [])}
        for name, version in chosen
    ]


def _instance_group_configs(instances: dict) -> list[dict]:
    if instances.get("InstanceFleets"):
        raise ValidationException("Instance fleets are not supported by elmr yet; use InstanceGroups.")
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


def _check_instance_type(name: str) -> None:
    if catalog.instance_type(name) is None:
        raise ValidationException(f"Instance type '{name}' is not supported.")


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
