"""Instance fleets: keeping each fleet at its target capacities, the user's intent.
A fleet's capacity is counted in units: each staying node counts its instance
type's WeightedCapacity toward the on-demand or the spot target of its market.

- Short of a target, the fleet launches instances of the types its allocation
  strategy chooses (allocation.py) until their weights cover what is missing: for
  on-demand at the on-demand prices, for spot from the pools the market can fill
  now at each type's maximum price (BidPrice, or a percentage of on-demand).
- Spot capacity the market cannot give is waited for. While the fleet provisions
  for the first time, LaunchSpecifications' TimeoutDurationMinutes bounds the wait,
  then its TimeoutAction applies: SWITCH_TO_ON_DEMAND moves what is still missing
  to the on-demand target (so ListInstanceFleets shows what runs), TERMINATE_CLUSTER
  ends the cluster (INSTANCE_FLEET_TIMEOUT). Later (a ModifyInstanceFleet, managed
  scaling, a node lost to a spot interruption) ResizeSpecifications' spot timeout
  bounds it, and at its end the fleet stops provisioning spot, as EMR's resize
  does, until its target changes or it loses more spot capacity.
- Over a target, nodes leave while the rest still covers it (nodes not yet up
  first, then the newest), decommissioned gracefully by the node rules.
- BlockDurationMinutes makes a spot node a spot block: the market does not
  interrupt it until the block ends, and takes it (after its notice) then.

A fleet shows RESIZING until both targets are covered, every node is RUNNING and
registered with the cluster's Spark master, and nothing is leaving.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from elmr import catalog
from elmr.control import spot
from elmr.control.allocation import Option, allocate, covered_units
from elmr.control.groups import Changes, launch_budget, new_node, staying, workers_registered
from elmr.control.nodes import Context
from elmr.control.plan import Plan
from elmr.market.series import on_demand_price
from elmr.store.models import Cluster, Instance, InstanceFleet
from elmr.store.states import transition

FLEET_TIMEOUT_CODE = "INSTANCE_FLEET_TIMEOUT"
_NEWER_SPOT_DEFAULT_FROM = (6, 9, 0)  # EMR's default spot strategy changed in 6.9.0


def weight_of(node: Instance) -> int:
    return node.weighted_capacity or 1


def capacity_of(nodes: list) -> int:
    return sum(weight_of(node) for node in nodes)


def provisioned(fleet: InstanceFleet, nodes: list, market: str, running_only: bool = False) -> int:
    """The units of `market` the fleet's staying nodes give (only RUNNING ones:
    EMR's ProvisionedOnDemandCapacity / ProvisionedSpotCapacity)."""
    return capacity_of([n for n in nodes if n.fleet_id == fleet.id and n.market == market and staying(n)
                        and (n.state == "RUNNING" or not running_only)])


@dataclass(frozen=True)
class _Launch:
    fleet: InstanceFleet
    market: str
    instance_type: str
    config: dict


def keep_at_target_capacities(session: Session, cluster: Cluster, live_nodes: list,
                              plan: Plan, ctx: Context, room) -> Changes:
    """Launch what each fleet lacks and choose who leaves a fleet that has more than
    it needs. Fleets launch one after the other, so the second one's spot offers
    count the first one's new nodes as using their pools."""
    fleets = [f for f in cluster.fleets if f.state != "TERMINATED"]
    changes = Changes()
    for fleet in fleets:
        members = [n for n in live_nodes if n.fleet_id == fleet.id and staying(n)]
        for market, target in (("ON_DEMAND", fleet.target_on_demand), ("SPOT", fleet.target_spot)):
            changes.leaving += _choose_leavers([n for n in members if n.market == market], target, plan.now, ctx)
        members = [n for n in members if staying(n)]
        wanted = _spot_wanted(session, cluster, fleet, members, plan, ctx)
        wanted += _on_demand_wanted(fleet, members)  # after spot: a timeout may move spot here
        if cluster.state == "TERMINATING":
            return changes
        budget = launch_budget(session, cluster, len(wanted), plan, ctx, room)
        if budget < len(wanted):
            fleet.state_reason_message = f"Waiting for room on this host for {len(wanted) - budget} more node(s)."
        launched = [_new_fleet_node(cluster, launch, plan.now) for launch in wanted[:budget]]
        session.add_all(launched)
        session.flush()
        changes.launched += launched
    nodes = live_nodes + changes.launched
    registered = workers_registered(cluster, nodes)
    for fleet in fleets:
        _advance_fleet(fleet, [n for n in nodes if n.fleet_id == fleet.id], registered, plan.now)
    return changes


# Growing ---------------------------------------------------------------------------

def _on_demand_wanted(fleet: InstanceFleet, members: list) -> list[_Launch]:
    short = fleet.target_on_demand - capacity_of([n for n in members if n.market == "ON_DEMAND"])
    if short <= 0:
        return []
    configs = _configs_by_type(fleet)
    options = [Option(t, _weight(c), on_demand_price(t), None, c.get("Priority")) for t, c in configs.items()]
    strategy = _on_demand_strategy(fleet)
    return _launches(fleet, "ON_DEMAND", allocate(options, short, strategy), configs)


def _spot_wanted(session: Session, cluster: Cluster, fleet: InstanceFleet, members: list,
                 plan: Plan, ctx: Context) -> list[_Launch]:
    have = capacity_of([n for n in members if n.market == "SPOT"])
    short = fleet.target_spot - have
    if short <= 0:
        fleet.spot_short_since = fleet.spot_gave_up_at = fleet.spot_units_at_give_up = None
        return []
    if fleet.spot_gave_up_at is not None:
        if have >= (fleet.spot_units_at_give_up or 0):
            return []  # the resize timed out; nothing new since
        fleet.spot_gave_up_at = fleet.spot_units_at_give_up = None  # lost more: a new resize
        fleet.spot_short_since = None
    configs = _configs_by_type(fleet)
    offers = {t: spot.offer(session, ctx.market, cluster, t, _max_price(c, t), plan.now) for t, c in configs.items()}
    options = [Option(t, _weight(c), offers[t].usd_per_hour, offers[t].available, c.get("Priority"))
               for t, c in configs.items()]
    chosen = allocate(options, short, _spot_strategy(cluster, fleet))
    missing = short - covered_units(options, chosen)
    if missing <= 0:
        fleet.spot_short_since = None
    else:
        _spot_short(cluster, fleet, missing, have, offers, plan)
    return _launches(fleet, "SPOT", chosen, configs)


def _spot_short(cluster: Cluster, fleet: InstanceFleet, missing: int, have: int, offers: dict, plan: Plan) -> None:
    """The market cannot give `missing` spot units now: wait, until the fleet's
    provisioning or resize timeout, then act as its specifications say."""
    fleet.spot_short_since = fleet.spot_short_since or plan.now
    first_provisioning = fleet.ready_at is None
    spec = ((fleet.launch_specifications or {}).get("SpotSpecification") if first_provisioning
            else (fleet.resize_specifications or {}).get("SpotResizeSpecification")) or {}
    reasons = "; ".join(sorted({o.reason for o in offers.values() if o.reason})) or "no pool has room."
    timeout_min = spec.get("TimeoutDurationMinutes")
    if timeout_min is None:
        fleet.state_reason_message = f"Waiting for Spot capacity for {missing} more unit(s): {reasons}"
        return
    deadline = fleet.spot_short_since + timedelta(minutes=timeout_min)
    if plan.now < deadline:
        fleet.state_reason_message = (f"Waiting for Spot capacity for {missing} more unit(s) until "
                                      f"{deadline:%H:%M:%S} (TimeoutDurationMinutes {timeout_min}): {reasons}")
        plan.recheck(deadline)
        return
    if not first_provisioning:
        fleet.spot_gave_up_at, fleet.spot_units_at_give_up = plan.now, have
        fleet.state_reason_message = (f"Stopped provisioning Spot capacity: {missing} unit(s) were not "
                                      f"provisioned within the resize timeout of {timeout_min} minute(s).")
    elif spec.get("TimeoutAction") == "SWITCH_TO_ON_DEMAND":
        fleet.target_spot -= missing
        fleet.target_on_demand += missing
        fleet.spot_short_since = None
        fleet.state_reason_message = (f"Spot capacity was not provisioned within {timeout_min} minute(s); "
                                      f"{missing} unit(s) switched to On-Demand (TimeoutAction SWITCH_TO_ON_DEMAND).")
    else:
        transition(cluster, "TERMINATING", plan.now, FLEET_TIMEOUT_CODE,
                   f"The {fleet.role.lower()} instance fleet {fleet.id} could not provision {missing} unit(s) "
                   f"of Spot capacity within {timeout_min} minute(s) (TimeoutAction TERMINATE_CLUSTER).")


def _launches(fleet: InstanceFleet, market: str, chosen: dict[str, int], configs: dict) -> list[_Launch]:
    return [_Launch(fleet, market, instance_type, configs[instance_type])
            for instance_type, count in chosen.items() for _ in range(count)]


def _new_fleet_node(cluster: Cluster, launch: _Launch, now: datetime) -> Instance:
    spot_holder = {}
    if launch.market == "SPOT":
        max_price = _max_price(launch.config, launch.instance_type)
        block_min = ((launch.fleet.launch_specifications or {}).get("SpotSpecification") or {}).get(
            "BlockDurationMinutes")
        spot_holder = {"spot_max_price": None if max_price is None else str(max_price),
                       "spot_block_ends_at": now + timedelta(minutes=block_min) if block_min else None}
    return new_node(cluster, launch.fleet.role, launch.instance_type, launch.market, now,
                    fleet_id=launch.fleet.id, weighted_capacity=_weight(launch.config), **spot_holder)


def _configs_by_type(fleet: InstanceFleet) -> dict[str, dict]:
    return {c["InstanceType"]: c for c in fleet.instance_type_configs if catalog.instance_type(c["InstanceType"])}


def _weight(config: dict) -> int:
    return config.get("WeightedCapacity") or 1


def _max_price(config: dict, instance_type: str):
    return spot.max_price_of(config.get("BidPrice"), config.get("BidPriceAsPercentageOfOnDemandPrice"),
                             instance_type)


def _spot_strategy(cluster: Cluster, fleet: InstanceFleet) -> str:
    launch = (fleet.launch_specifications or {}).get("SpotSpecification") or {}
    resize = (fleet.resize_specifications or {}).get("SpotResizeSpecification") or {}
    chosen = resize.get("AllocationStrategy") if fleet.ready_at is not None else None
    return chosen or launch.get("AllocationStrategy") or default_spot_strategy(cluster.release_label)


def default_spot_strategy(release_label: str) -> str:
    """EMR's default: price-capacity-optimized from emr-6.9.0, capacity-optimized before."""
    try:
        version = tuple(int(part) for part in release_label.removeprefix("emr-").split(".")[:3])
    except ValueError:
        version = _NEWER_SPOT_DEFAULT_FROM
    return "price-capacity-optimized" if version >= _NEWER_SPOT_DEFAULT_FROM else "capacity-optimized"


def _on_demand_strategy(fleet: InstanceFleet) -> str:
    launch = (fleet.launch_specifications or {}).get("OnDemandSpecification") or {}
    resize = (fleet.resize_specifications or {}).get("OnDemandResizeSpecification") or {}
    chosen = resize.get("AllocationStrategy") if fleet.ready_at is not None else None
    return chosen or launch.get("AllocationStrategy") or "lowest-price"


# Shrinking -------------------------------------------------------------------------

def _choose_leavers(members: list, target: int, now: datetime, ctx: Context) -> list:
    """Nodes leave while the others still cover `target`: nodes not yet up first,
    then the newest (the oldest hold the most work and cached data)."""
    units = capacity_of(members)
    leaving = []
    for node in sorted(members, key=lambda n: (n.state == "RUNNING", -n.created_at.timestamp())):
        if units - weight_of(node) >= target:
            units -= weight_of(node)
            node.leaving_since = now
            node.decommission_timeout_s = ctx.settings.decommission_timeout_s
            leaving.append(node)
    return leaving


# State -----------------------------------------------------------------------------

def _advance_fleet(fleet: InstanceFleet, members: list, registered: bool, now: datetime) -> None:
    live = [n for n in members if n.state != "TERMINATED"]
    staying_nodes = [n for n in live if staying(n)]
    covered = (capacity_of([n for n in staying_nodes if n.market == "ON_DEMAND"]) >= fleet.target_on_demand
               and (capacity_of([n for n in staying_nodes if n.market == "SPOT"]) >= fleet.target_spot
                    or fleet.spot_gave_up_at is not None))
    complete = covered and all(n.state == "RUNNING" and staying(n) for n in live)
    if fleet.state == "PROVISIONING" and any(n.state != "PROVISIONING" for n in live):
        transition(fleet, "BOOTSTRAPPING", now)
    if fleet.state in ("PROVISIONING", "BOOTSTRAPPING", "RESIZING") and complete and registered:
        message = fleet.state_reason_message if fleet.spot_gave_up_at is not None else ""
        transition(fleet, "RUNNING", now, None, message)
    elif fleet.state == "RUNNING" and not complete:
        transition(fleet, "RESIZING", now, None, f"Resizing to {fleet.target_on_demand} On-Demand and "
                                                 f"{fleet.target_spot} Spot unit(s)")
