"""Instance fleets: AddInstanceFleet, ListInstanceFleets, ModifyInstanceFleet and
RunJobFlow's InstanceFleets. elmr does not run fleets yet (a later issue builds
them): each operation checks its input as EMR does, then answers an EMR-shaped error
saying so, naming instance groups, which elmr runs."""

from elmr import catalog
from elmr.service import lookups
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException, ValidationException

MAX_TYPES_PER_FLEET = 30  # with an allocation strategy; EMR allows 5 without one
NOT_YET = ("elmr does not run instance fleets yet; use instance groups (InstanceGroups, or "
           "MasterInstanceType/SlaveInstanceType/InstanceCount).")


def check_fleet(fleet: dict, where: str) -> None:
    """EMR's rules for one InstanceFleetConfig."""
    on_demand, spot = fleet.get("TargetOnDemandCapacity", 0), fleet.get("TargetSpotCapacity", 0)
    if fleet["InstanceFleetType"] == "MASTER" and on_demand + spot != 1:
        raise ValidationException(f"{where}: the MASTER fleet's target capacity must be 1 (on-demand or spot).")
    configs = fleet.get("InstanceTypeConfigs") or []
    if not configs:
        raise ValidationException(f"{where}: InstanceTypeConfigs must name at least one instance type.")
    has_strategy = bool(fleet.get("LaunchSpecifications"))
    limit = MAX_TYPES_PER_FLEET if has_strategy else 5
    if len(configs) > limit:
        raise ValidationException(f"{where}: at most {limit} instance types per fleet.")
    for config in configs:
        catalog_check_type(config["InstanceType"])
        if config.get("WeightedCapacity", 1) < 1:
            raise ValidationException(f"{where}: WeightedCapacity of {config['InstanceType']} must be at least 1.")


def catalog_check_type(name: str) -> None:
    if catalog.instance_type(name) is None:
        raise ValidationException(catalog.unknown_type_message(name))


def check_run_job_flow_fleets(fleets: list) -> None:
    """RunJobFlow with InstanceFleets: one MASTER fleet, at most one CORE fleet."""
    kinds = [fleet["InstanceFleetType"] for fleet in fleets]
    if kinds.count("MASTER") != 1:
        raise ValidationException("Instances.InstanceFleets: exactly one MASTER instance fleet is required.")
    if kinds.count("CORE") > 1:
        raise ValidationException("Instances.InstanceFleets: at most one CORE instance fleet is allowed.")
    for index, fleet in enumerate(fleets, start=1):
        check_fleet(fleet, f"Instances.InstanceFleets.{index}")
    raise ValidationException(NOT_YET)


def _instance_group_cluster(ctx: ServiceContext, cluster_id: str) -> None:
    with ctx.store.read() as session:
        lookups.cluster(session, cluster_id)


def add_instance_fleet(ctx: ServiceContext, params: dict) -> dict:
    _instance_group_cluster(ctx, params["ClusterId"])
    fleet = params["InstanceFleet"]
    if fleet["InstanceFleetType"] != "TASK":
        raise InvalidRequestException("AddInstanceFleet adds TASK fleets only.")
    check_fleet(fleet, "InstanceFleet")
    raise InvalidRequestException(NOT_YET)


def list_instance_fleets(ctx: ServiceContext, params: dict) -> dict:
    _instance_group_cluster(ctx, params["ClusterId"])
    raise InvalidRequestException(NOT_YET)


def modify_instance_fleet(ctx: ServiceContext, params: dict) -> dict:
    _instance_group_cluster(ctx, params["ClusterId"])
    fleet = params["InstanceFleet"]
    if fleet.get("TargetOnDemandCapacity", 0) < 0 or fleet.get("TargetSpotCapacity", 0) < 0:
        raise InvalidRequestException("InstanceFleet: target capacities must not be negative.")
    raise InvalidRequestException(NOT_YET)
