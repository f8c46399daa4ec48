"""Managed scaling's arithmetic, free of rows' life: what capacity a cluster can move
(its core and task groups, or each market of its core and task fleets) counted in
the policy's units, and where a change of units goes, as EMR's node allocation
strategy says:

- growing: core nodes first, up to MaximumCoreCapacityUnits, then task nodes; within
  each, on-demand up to MaximumOnDemandCapacityUnits, then spot;
- shrinking: the other way round, task nodes before core nodes, spot before
  on-demand; never a core holder below the cluster's HDFS floor;
- core capacity above MaximumCoreCapacityUnits, or on-demand capacity above
  MaximumOnDemandCapacityUnits (a policy put on a running cluster), is given back
  first, whatever else changes.

A unit (ComputeLimits' UnitType) is an instance, a vCPU, or a unit of an instance
fleet's WeightedCapacity. A holder moves in steps: one instance of a group, one
unit of a fleet's target; a step weighs `step_units` units and gives YARN
`step_mb` of memory.
"""

import math
from dataclasses import dataclass

from elmr import catalog
from elmr.apps import classifications
from elmr.apps.yarn import nodemanager_memory_mib
from elmr.store.models import Cluster, Instance, InstanceFleet, InstanceGroup

_ROLES = ("CORE", "TASK")


@dataclass(frozen=True)
class Limits:
    """A ManagedScalingPolicy's ComputeLimits, with EMR's defaults for the caps."""

    unit_type: str
    minimum: int
    maximum: int
    on_demand: int
    core: int

    @classmethod
    def of(cls, policy: dict) -> "Limits":
        limits = policy["ComputeLimits"]
        maximum = limits["MaximumCapacityUnits"]
        return cls(limits.get("UnitType", "Instances"), limits["MinimumCapacityUnits"], maximum,
                   limits.get("MaximumOnDemandCapacityUnits", maximum),
                   limits.get("MaximumCoreCapacityUnits", maximum))


@dataclass
class Holder:
    """Capacity managed scaling moves: a core or task instance group, or one market
    of a core or task fleet. `steps` is its intent (the group's requested count, the
    fleet's target units of that market)."""

    row: InstanceGroup | InstanceFleet
    role: str
    market: str
    steps: int
    step_units: int
    step_mb: int

    @property
    def units(self) -> int:
        return self.steps * self.step_units

    @property
    def key(self) -> str:
        return self.row.id if isinstance(self.row, InstanceGroup) else f"{self.row.id}/{self.market}"

    def holds(self, node: Instance) -> bool:
        if isinstance(self.row, InstanceGroup):
            return node.group_id == self.row.id
        return node.fleet_id == self.row.id and node.market == self.market


def holders_of(groups: list, fleets: list, unit_type: str) -> list[Holder]:
    """The cluster's core and task capacity, in the order growth fills it."""
    holders = []
    for group in groups:
        if group.role in _ROLES and group.state != "TERMINATED":
            units = vcpu(group.instance_type) if unit_type == "VCPU" else 1
            holders.append(Holder(group, group.role, group.market, group.requested_count, units,
                                  yarn_mb(group.instance_type)))
    for fleet in fleets:
        if fleet.role in _ROLES and fleet.state != "TERMINATED":
            instance_type, weight = _first_type(fleet)
            # A fleet's step is one unit of WeightedCapacity: an instance's share of it.
            units = max(1, round(vcpu(instance_type) / weight)) if unit_type == "VCPU" else 1
            mb = yarn_mb(instance_type) // weight
            holders.append(Holder(fleet, fleet.role, "ON_DEMAND", fleet.target_on_demand, units, mb))
            holders.append(Holder(fleet, fleet.role, "SPOT", fleet.target_spot, units, mb))
    return sorted(holders, key=_growth_order)


def core_floor(cluster: Cluster) -> int:
    """Core capacity never shrinks below its HDFS's replication factor, as a resize
    may not (the hdfs-site classification's dfs.replication; 1 when not set)."""
    configured = classifications.properties(cluster.configurations, "hdfs-site").get("dfs.replication")
    return max(1, int(configured)) if configured and str(configured).isdigit() else 1


def node_units(node: Instance, unit_type: str) -> int:
    """What a node counts for in the policy's units."""
    if unit_type == "VCPU":
        return vcpu(node.instance_type)
    if node.fleet_id is not None:
        return node.weighted_capacity or 1
    return 1


def resize(holders: list[Holder], limits: Limits, wanted: int, core_min: int) -> dict[str, int]:
    """New steps per holder ({key: steps}) for `wanted` units in all, within the
    limits: the caps given back first, then growth or shrinkage in EMR's order."""
    steps = {h.key: h.steps for h in holders}
    wanted = min(max(wanted, limits.minimum), limits.maximum)
    _give_back(holders, steps, "CORE", None, limits.core, core_min)
    _give_back(holders, steps, None, "ON_DEMAND", limits.on_demand, core_min)
    total = _units(holders, steps)
    if total < wanted:
        _grow(holders, steps, wanted - total, limits)
    elif total > wanted:
        _shrink(holders, steps, total - wanted, core_min)
    return steps


def total_units(holders: list[Holder], steps: dict[str, int]) -> int:
    return _units(holders, steps)


def _grow(holders: list[Holder], steps: dict, missing: int, limits: Limits) -> None:
    for holder in holders:  # already in growth order
        if missing <= 0:
            return
        room = limits.maximum - _units(holders, steps)  # a whole step may overshoot `missing`
        if holder.role == "CORE":
            room = min(room, limits.core - _units(holders, steps, role="CORE"))
        if holder.market == "ON_DEMAND":
            room = min(room, limits.on_demand - _units(holders, steps, market="ON_DEMAND"))
        added = min(math.ceil(missing / holder.step_units), max(0, room) // holder.step_units)
        steps[holder.key] += added
        missing -= added * holder.step_units


def _shrink(holders: list[Holder], steps: dict, excess: int, core_min: int) -> None:
    for holder in reversed(holders):
        removable = min(excess // holder.step_units, _above_floor(holders, steps, holder, core_min))
        steps[holder.key] -= removable
        excess -= removable * holder.step_units


def _give_back(holders: list[Holder], steps: dict, role: str | None, market: str | None, cap: int,
               core_min: int) -> None:
    """Bring the units of `role` or `market` down to `cap`, in shrinking order."""
    for holder in reversed(holders):
        if (role and holder.role != role) or (market and holder.market != market):
            continue
        over = _units(holders, steps, role=role, market=market) - cap
        if over <= 0:
            return
        removable = min(math.ceil(over / holder.step_units), _above_floor(holders, steps, holder, core_min))
        steps[holder.key] -= removable


def _above_floor(holders: list[Holder], steps: dict, holder: Holder, core_min: int) -> int:
    """Steps `holder` may give up: all of a task holder's, a core one's down to
    `core_min` for the core holders together (their HDFS floor, core_floor)."""
    if holder.role != "CORE":
        return steps[holder.key]
    core_steps = sum(steps[h.key] for h in holders if h.role == "CORE")
    return max(0, min(steps[holder.key], core_steps - core_min))


def _units(holders: list[Holder], steps: dict, role: str | None = None, market: str | None = None) -> int:
    return sum(steps[h.key] * h.step_units for h in holders
               if (role is None or h.role == role) and (market is None or h.market == market))


def _growth_order(holder: Holder) -> tuple:
    return holder.role != "CORE", holder.market != "ON_DEMAND", holder.row.created_at, holder.key


def _first_type(fleet: InstanceFleet) -> tuple[str, int]:
    config = fleet.instance_type_configs[0]
    return config["InstanceType"], config.get("WeightedCapacity") or 1


def vcpu(instance_type: str) -> int:
    known = catalog.instance_type(instance_type)
    return known.vcpu if known else 1


def yarn_mb(instance_type: str) -> int:
    """What a node of this type offers YARN's containers (its NodeManager's memory)."""
    known = catalog.instance_type(instance_type)
    return nodemanager_memory_mib(known.memory_mib if known else 8192)
