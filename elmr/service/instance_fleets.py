"""Instance fleets: RunJobFlow's InstanceFleets, AddInstanceFleet (a task fleet),
ListInstanceFleets and ModifyInstanceFleet (target capacities, resize
specifications). They check their input as EMR does and record intent (a fleet's
target capacities in units); the control loop launches the instance types the
fleet's allocation strategies choose, decommissions what a smaller target no longer
needs, and shows the fleet RESIZING until its capacities are provisioned
(elmr/control/fleets.py)."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr import catalog, ids
from elmr.apps.classifications import known as known_classifications, unknown_classifications
from elmr.service import lookups, paging, views
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException, ValidationException
from elmr.service.capacity_rules import check_cluster_can_resize, check_core_count
from elmr.store.models import Instance, InstanceFleet

MAX_TYPES_PER_FLEET = 30  # with an allocation strategy; EMR allows 5 without one
MAX_TASK_FLEETS = 1  # EMR's limit of task instance fleets per cluster
PAGE_SIZE = 50
SPOT_BLOCK_MINUTES = (60, 120, 180, 240, 300, 360)
LAUNCH_TIMEOUT_MINUTES = (5, 1440)  # SpotSpecification.TimeoutDurationMinutes
RESIZE_TIMEOUT_MINUTES = (5, 10080)  # the resize specifications' TimeoutDurationMinutes


# Checking ------------------------------------------------------------------------

def check_fleet(fleet: dict, where: str) -> None:
    """EMR's rules for one InstanceFleetConfig."""
    on_demand, spot = fleet.get("TargetOnDemandCapacity", 0), fleet.get("TargetSpotCapacity", 0)
    if fleet["InstanceFleetType"] == "MASTER" and on_demand + spot != 1:
        raise ValidationException(f"{where}: the MASTER fleet's target capacity must be 1 (on-demand or spot).")
    if fleet["InstanceFleetType"] == "CORE" and on_demand + spot < 1:
        raise ValidationException(f"{where}: the CORE fleet needs a target capacity of at least 1 unit.")
    configs = fleet.get("InstanceTypeConfigs") or []
    if not configs:
        raise ValidationException(f"{where}: InstanceTypeConfigs must name at least one instance type.")
    has_strategy = bool(fleet.get("LaunchSpecifications"))
    limit = MAX_TYPES_PER_FLEET if has_strategy else 5
    if len(configs) > limit:
        raise ValidationException(f"{where}: at most {limit} instance types per fleet.")
    types = [config["InstanceType"] for config in configs]
    if len(set(types)) != len(types):
        raise ValidationException(f"{where}: each instance type may appear once in InstanceTypeConfigs.")
    for config in configs:
        _check_type_config(config, where)
    _check_launch_specifications(fleet.get("LaunchSpecifications") or {}, where)
    check_resize_specifications(fleet.get("ResizeSpecifications") or {}, where)


def _check_type_config(config: dict, where: str) -> None:
    catalog_check_type(config["InstanceType"])
    if config.get("WeightedCapacity", 1) < 1:
        raise ValidationException(f"{where}: WeightedCapacity of {config['InstanceType']} must be at least 1.")
    if "BidPrice" in config and "BidPriceAsPercentageOfOnDemandPrice" in config:
        raise ValidationException(f"{where}: {config['InstanceType']} may give BidPrice or "
                                  "BidPriceAsPercentageOfOnDemandPrice, not both.")
    if "BidPrice" in config:
        try:
            if float(config["BidPrice"]) <= 0:
                raise ValueError
        except ValueError:
            raise ValidationException(f"The bid price '{config['BidPrice']}' is not valid.") from None
    if not 0 < config.get("BidPriceAsPercentageOfOnDemandPrice", 100) <= 1000:
        raise ValidationException(f"{where}: BidPriceAsPercentageOfOnDemandPrice must be above 0 and at most 1000.")
    unknown = unknown_classifications(config.get("Configurations") or [])
    if unknown:
        raise ValidationException(
            f"{where}: classification(s) {', '.join(unknown)} are not valid; elmr supports "
            f"{', '.join(sorted(known_classifications()))}.")


def _check_launch_specifications(specifications: dict, where: str) -> None:
    spot = specifications.get("SpotSpecification")
    if spot is None:
        return
    low, high = LAUNCH_TIMEOUT_MINUTES
    if not low <= spot["TimeoutDurationMinutes"] <= high:
        raise ValidationException(f"{where}: SpotSpecification.TimeoutDurationMinutes must be {low} to {high}.")
    block = spot.get("BlockDurationMinutes")
    if block is not None and block not in SPOT_BLOCK_MINUTES:
        raise ValidationException(f"{where}: BlockDurationMinutes must be one of "
                                  f"{', '.join(map(str, SPOT_BLOCK_MINUTES))}.")


def check_resize_specifications(specifications: dict, where: str) -> None:
    low, high = RESIZE_TIMEOUT_MINUTES
    for name in ("SpotResizeSpecification", "OnDemandResizeSpecification"):
        timeout = (specifications.get(name) or {}).get("TimeoutDurationMinutes")
        if timeout is not None and not low <= timeout <= high:
            raise ValidationException(f"{where}: {name}.TimeoutDurationMinutes must be {low} to {high}.")


def catalog_check_type(name: str) -> None:
    if catalog.instance_type(name) is None:
        raise ValidationException(catalog.unknown_type_message(name))


def check_run_job_flow_fleets(fleets: list) -> None:
    """RunJobFlow with InstanceFleets: one MASTER fleet, at most one CORE and one TASK fleet."""
    kinds = [fleet["InstanceFleetType"] for fleet in fleets]
    if kinds.count("MASTER") != 1:
        raise ValidationException("Instances.InstanceFleets: exactly one MASTER instance fleet is required.")
    if kinds.count("CORE") > 1:
        raise ValidationException("Instances.InstanceFleets: at most one CORE instance fleet is allowed.")
    if kinds.count("TASK") > MAX_TASK_FLEETS:
        raise ValidationException(f"Instances.InstanceFleets: at most {MAX_TASK_FLEETS} TASK instance fleet is allowed.")
    for index, fleet in enumerate(fleets, start=1):
        check_fleet(fleet, f"Instances.InstanceFleets.{index}")


def new_instance_fleet(cluster_id: str, config: dict, now: datetime) -> InstanceFleet:
    """A fleet row from a checked InstanceFleetConfig, PROVISIONING: the control loop
    launches its nodes."""
    role = config["InstanceFleetType"]
    return InstanceFleet(
        id=ids.instance_fleet_id(), cluster_id=cluster_id, name=config.get("Name") or role.title(),
        role=role, target_on_demand=config.get("TargetOnDemandCapacity", 0),
        target_spot=config.get("TargetSpotCapacity", 0),
        instance_type_configs=config["InstanceTypeConfigs"],
        launch_specifications=config.get("LaunchSpecifications"),
        resize_specifications=config.get("ResizeSpecifications"),
        context=config.get("Context"), state="PROVISIONING", created_at=now,
    )


# Operations ----------------------------------------------------------------------

def add_instance_fleet(ctx: ServiceContext, params: dict) -> dict:
    fleet_config = params["InstanceFleet"]
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        check_cluster_can_resize(cluster)
        if not cluster.fleets:
            raise InvalidRequestException(
                f"Cluster {cluster.id} uses instance groups; AddInstanceGroups adds to it, not AddInstanceFleet.")
        if fleet_config["InstanceFleetType"] != "TASK":
            raise InvalidRequestException("AddInstanceFleet adds TASK fleets only.")
        if sum(f.role == "TASK" for f in cluster.fleets) >= MAX_TASK_FLEETS:
            raise InvalidRequestException(f"Cluster {cluster.id} already has its TASK instance fleet "
                                          f"(at most {MAX_TASK_FLEETS}); ModifyInstanceFleet resizes it.")
        check_fleet(fleet_config, "InstanceFleet")
        fleet = new_instance_fleet(cluster.id, fleet_config, ctx.clock())
        session.add(fleet)
        answer = {"ClusterId": cluster.id, "InstanceFleetId": fleet.id, "ClusterArn": ctx.cluster_arn(cluster.id)}
    ctx.wake_reconciler(answer["ClusterId"])
    return answer


def list_instance_fleets(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        fleets = session.scalars(select(InstanceFleet).where(InstanceFleet.cluster_id == cluster.id)
                                 .order_by(InstanceFleet.created_at, InstanceFleet.id)).all()
        running = running_nodes(session, cluster.id)
        described = [views.instance_fleet(fleet, [n for n in running if n.fleet_id == fleet.id]) for fleet in fleets]
    page, marker = paging.offset_page(described, params.get("Marker"), PAGE_SIZE)
    return {"InstanceFleets": page, **({"Marker": marker} if marker else {})}


def running_nodes(session: Session, cluster_id: str) -> list[Instance]:
    return list(session.scalars(select(Instance).where(
        Instance.cluster_id == cluster_id, Instance.state == "RUNNING", Instance.fleet_id.is_not(None))))


def modify_instance_fleet(ctx: ServiceContext, params: dict) -> dict:
    change = params["InstanceFleet"]
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        fleet = session.get(InstanceFleet, change["InstanceFleetId"])
        if fleet is None or fleet.cluster_id != cluster.id:
            raise InvalidRequestException(f"Instance fleet id '{change['InstanceFleetId']}' is not valid.")
        check_cluster_can_resize(cluster)
        _check_modifiable(fleet, change)
        fleet.set_targets(change.get("TargetOnDemandCapacity", fleet.target_on_demand),
                          change.get("TargetSpotCapacity", fleet.target_spot))
        if "ResizeSpecifications" in change:
            check_resize_specifications(change["ResizeSpecifications"], "InstanceFleet")
            fleet.resize_specifications = {**(fleet.resize_specifications or {}), **change["ResizeSpecifications"]}
        if "Context" in change:
            fleet.context = change["Context"]
    ctx.wake_reconciler(cluster.id)
    return {}


def _check_modifiable(fleet: InstanceFleet, change: dict) -> None:
    if fleet.role == "MASTER":
        raise ValidationException("The master instance fleet cannot be modified.")
    if fleet.state not in ("RUNNING", "RESIZING"):
        raise ValidationException(
            f"Instance fleet {fleet.id} is {fleet.state}; it can be modified once it is RUNNING.")
    if change.get("InstanceTypeConfigs"):
        raise ValidationException("elmr does not change a running fleet's InstanceTypeConfigs; its instance "
                                  "types are those it was created with.")
    on_demand = change.get("TargetOnDemandCapacity", fleet.target_on_demand)
    spot = change.get("TargetSpotCapacity", fleet.target_spot)
    if on_demand < 0 or spot < 0:
        raise InvalidRequestException("InstanceFleet: target capacities must not be negative.")
    if fleet.role == "CORE":
        check_core_count(fleet.cluster, on_demand + spot, "core instance fleet", "unit(s)")
