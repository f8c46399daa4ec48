"""Managed scaling: a cluster with a ManagedScalingPolicy grows and shrinks with the
load its YARN reports, within the policy's ComputeLimits, as EMR's managed scaling
does. It writes intent only, as ModifyInstanceGroups and ModifyInstanceFleet do (a
group's requested count, a fleet's target capacities), before the groups' and
fleets' keepers run in the same pass: they launch the nodes, and the node rules
decommission a leaving node gracefully.

The load is the master's last heartbeat (YARN's cluster metrics, apps/yarn.py):
- a backlog, containers YARN cannot place (containersPending, pendingMB) or
  applications waiting for their ApplicationMaster (appsPending). Once it has lasted
  `scale_out_backlog_s`, and unless the cluster grew within `scale_out_cooldown_s`,
  the cluster grows by the units whose NodeManagers would hold the pending memory
  (at least one), less the units already asked for and not yet running;
- spare capacity, units beyond what YARN's allocations need (allocatedMB and
  reservedMB over what the running nodes' NodeManagers offer), with no backlog. Once
  it has been spare for `scale_in_after_s`, and no resize happened within
  `scale_in_cooldown_s`, the cluster shrinks to what the allocations need.
Those waits and the share of a backlog one scale-out covers follow the policy's
ScalingStrategy and UtilizationPerformanceIndex (scaling_strategy.py: EMR's Advanced
Scaling). Where the units go (core or task, on-demand or spot) is scaling_units.py;
a cluster of instance groups without the task group growth needs gets one, as
EMR's managed scaling adds it. A cluster outside its limits (a policy put on a
running cluster) is brought within them at once. Every decision is recorded in
`Cluster.scaling_state` with its time, the units before and after, and why
(store/scaling_records.py).
"""

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from elmr import ids
from elmr.control.groups import staying
from elmr.control.nodes import Context
from elmr.control.plan import Plan
from elmr.control.scaling_strategy import Pace, pace
from elmr.control.scaling_units import (Holder, Limits, core_floor, holders_of, node_units, resize, total_units,
                                        yarn_mb)
from elmr.store.models import Cluster, Instance, InstanceGroup
from elmr.store.scaling_records import moment, stamp

log = logging.getLogger("elmr.scaling")
KEPT_DECISIONS = 20
_RESIZABLE = ("RUNNING", "RESIZING")
_LONG_AGO = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Load:
    """YARN's work, as its ResourceManager reports it."""

    pending_containers: int
    pending_apps: int
    pending_mb: int
    allocated_mb: int  # allocated and reserved

    @classmethod
    def of(cls, yarn: dict) -> "Load":
        return cls(yarn.get("containersPending") or 0, yarn.get("appsPending") or 0, yarn.get("pendingMB") or 0,
                   (yarn.get("allocatedMB") or 0) + (yarn.get("reservedMB") or 0))

    @property
    def backlog(self) -> bool:
        return self.pending_containers > 0 or self.pending_apps > 0

    def describe(self) -> str:
        return (f"YARN has {self.pending_containers} pending container(s) ({self.pending_mb} MB) and "
                f"{self.pending_apps} pending application(s)")


@dataclass(frozen=True)
class Wanted:
    """The units the load calls for, why, and when they may be acted on (a backlog's
    or spare capacity's wait, a cooldown)."""

    units: int
    reason: str = ""
    due: datetime | None = None


def scale(cluster: Cluster, live: list[Instance], plan: Plan, ctx: Context) -> None:
    """One look at a running cluster's load; a new target when it calls for one."""
    policy = cluster.managed_scaling_policy
    if not policy or cluster.state not in ("RUNNING", "WAITING"):
        return
    limits = Limits.of(policy)
    holders = holders_of(cluster.groups, cluster.fleets, limits.unit_type)
    if not holders or any(h.row.state not in _RESIZABLE for h in holders):
        return  # a holder still starting: its nodes are not in YARN's figures yet
    state = dict(cluster.scaling_state or {})
    now_steps = {h.key: h.steps for h in holders}
    current = total_units(holders, now_steps)
    wanted = _wanted(current, holders, live, _load(live), limits, pace(policy, ctx.settings), state, plan.now)
    floor = core_floor(cluster)
    able = holders
    allowed = total_units(holders, resize(holders, limits, wanted.units, floor))
    added_groups = (_missing_task_groups(cluster, holders, limits, wanted.units, floor, plan.now)
                    if allowed < wanted.units else [])
    if added_groups:
        able = holders_of([*cluster.groups, *added_groups], cluster.fleets, limits.unit_type)
        allowed = total_units(able, resize(able, limits, wanted.units, floor))
    if wanted.units > allowed:
        state["limited"] = f"Wanted {wanted.units} unit(s); the ComputeLimits and the cluster's groups allow {allowed}."
    else:
        state.pop("limited", None)
    units = wanted.units
    if wanted.due is not None and plan.now < wanted.due:
        plan.recheck(wanted.due)
        units = current
    elif added_groups:
        cluster.groups.extend(added_groups)
        holders = able
    steps = resize(holders, limits, units, floor)
    reached = total_units(holders, steps)
    if steps != now_steps:
        _apply(holders, steps)
        _record(state, plan.now, current, reached, wanted.reason or _limits_reason(limits), holders, steps)
        log.info("managed scaling %s: %d -> %d unit(s): %s", cluster.id, current, reached,
                 state["decisions"][-1]["reason"])
    state["target_units"] = reached
    if state != (cluster.scaling_state or {}):
        cluster.scaling_state = state


def _wanted(current: int, holders: list[Holder], live: list[Instance], load: Load | None, limits: Limits,
            pace: Pace, state: dict, now: datetime) -> Wanted:
    """The units the load calls for (current: no change), keeping in `state` since
    when there has been a backlog or spare capacity."""
    within = min(max(current, limits.minimum), limits.maximum)
    if within != current:
        return Wanted(within, _limits_reason(limits))
    if load is None:
        return Wanted(current)
    if load.backlog:
        state.pop("spare_since", None)
        due = max(_since(state, "backlog_since", now) + timedelta(seconds=pace.backlog_s),
                  _after(state.get("last_out_at"), pace.out_cooldown_s))
        covered_mb = load.pending_mb * pace.backlog_percent // 100
        needed = max(1, math.ceil(covered_mb / _mb_per_unit(_growing(holders, limits))))
        missing = needed - _launching_units(holders, live, limits.unit_type)
        reason = load.describe() + ("" if pace.backlog_percent == 100 else
                                    f"; covering {pace.backlog_percent}% of it at once (UtilizationPerformanceIndex)")
        return Wanted(current + missing, reason, due) if missing > 0 else Wanted(current)
    state.pop("backlog_since", None)
    used = math.ceil(load.allocated_mb / _running_mb_per_unit(holders, live, limits.unit_type))
    target = max(limits.minimum, used)
    if target >= current:
        state.pop("spare_since", None)
        return Wanted(current)
    due = max(_since(state, "spare_since", now) + timedelta(seconds=pace.spare_s),
              _after(state.get("last_out_at"), pace.in_cooldown_s),
              _after(state.get("last_in_at"), pace.in_cooldown_s))
    return Wanted(target, f"YARN's allocations ({load.allocated_mb} MB) need {used} of the {current} unit(s), "
                          f"the rest spare for {pace.spare_s:g} s", due)


def _missing_task_groups(cluster: Cluster, holders: list[Holder], limits: Limits, wanted: int, floor: int,
                         now: datetime) -> list[InstanceGroup]:
    """The task instance groups growth needs and the cluster lacks, not yet attached
    (asked when the groups it has cannot reach `wanted`). EMR's managed scaling adds
    task capacity to a cluster of instance groups that has no task group for it: when
    core capacity is capped (MaximumCoreCapacityUnits) an On-Demand task group, when
    On-Demand capacity is capped (MaximumOnDemandCapacityUnits) a Spot one, of the
    core group's instance type. A cluster of instance fleets grows only the fleets it
    has."""
    core = next((g for g in cluster.groups if g.role == "CORE" and g.state != "TERMINATED"), None)
    if cluster.fleets or core is None:
        return []
    added = []
    for market in ("ON_DEMAND", "SPOT"):
        if any(h.role == "TASK" and h.market == market for h in holders):
            continue
        group = _task_group(core, market, now)
        trial = holders_of([*cluster.groups, *added, group], [], limits.unit_type)
        steps = resize(trial, limits, wanted, floor)
        if steps[group.id] > 0:
            added.append(group)
        if total_units(trial, steps) >= wanted:
            break
    return added


def _task_group(core: InstanceGroup, market: str, now: datetime) -> InstanceGroup:
    """A task group like the one AddInstanceGroups makes, empty until managed scaling
    sets its count; its nodes are configured as the core group's."""
    return InstanceGroup(
        id=ids.instance_group_id(), cluster_id=core.cluster_id, role="TASK", market=market, bid_price=None,
        name=f"Task ({'Spot' if market == 'SPOT' else 'On-Demand'}, added by managed scaling)",
        instance_type=core.instance_type, requested_count=0, state="PROVISIONING", created_at=now,
        configurations=list(core.configurations or []), ebs_configuration=core.ebs_configuration)


def _load(live: list[Instance]) -> Load | None:
    master = next((n for n in live if n.role == "MASTER" and n.state == "RUNNING"), None)
    yarn = (((master.agent_report or {}).get("cluster_report") or {}).get("yarn_metrics")) if master else None
    return Load.of(yarn) if yarn else None


def _since(state: dict, key: str, now: datetime) -> datetime:
    """When a condition first held, kept in the record (so a restart goes on counting)."""
    if key not in state:
        state[key] = stamp(now)
    return moment(state[key])


def _after(text: str | None, seconds: float) -> datetime:
    """When a cooldown from the recorded time `text` ends (long ago if never)."""
    at = moment(text)
    return _LONG_AGO if at is None else at + timedelta(seconds=seconds)


def _growing(holders: list[Holder], limits: Limits) -> Holder:
    """The holder that growth fills first (core, unless capped; then task)."""
    core_units = sum(h.units for h in holders if h.role == "CORE")
    for holder in holders:
        if holder.role != "CORE" or core_units < limits.core:
            return holder
    return holders[-1]


def _mb_per_unit(holder: Holder) -> float:
    return max(1.0, holder.step_mb / holder.step_units)


def _running_mb_per_unit(holders: list[Holder], live: list[Instance], unit_type: str) -> float:
    """What a unit of the nodes running now offers YARN (the type mix as it is)."""
    running = _running_workers(holders, live)
    units = sum(node_units(n, unit_type) for n in running)
    if not units:
        return _mb_per_unit(holders[0])
    return max(1.0, sum(yarn_mb(n.instance_type) for n in running) / units)


def _launching_units(holders: list[Holder], live: list[Instance], unit_type: str) -> int:
    """Units asked for and not yet running: they will take some of the backlog."""
    running = sum(node_units(n, unit_type) for n in _running_workers(holders, live))
    return max(0, sum(h.units for h in holders) - running)


def _running_workers(holders: list[Holder], live: list[Instance]) -> list[Instance]:
    return [n for n in live if n.state == "RUNNING" and staying(n) and any(h.holds(n) for h in holders)]


def _apply(holders: list[Holder], steps: dict[str, int]) -> None:
    """Write the new intent, exactly as the resize operations do."""
    for holder in holders:
        if isinstance(holder.row, InstanceGroup):
            holder.row.requested_count = steps[holder.key]
    fleets = {h.row.id: h.row for h in holders if not isinstance(h.row, InstanceGroup)}
    for fleet_id, fleet in fleets.items():
        fleet.set_targets(steps.get(f"{fleet_id}/ON_DEMAND", fleet.target_on_demand),
                          steps.get(f"{fleet_id}/SPOT", fleet.target_spot))


def _record(state: dict, now: datetime, before: int, after: int, reason: str, holders: list[Holder],
            steps: dict[str, int]) -> None:
    # MOVE: as many units, moved within the limits (core or on-demand over its cap).
    direction = "OUT" if after > before else "IN" if after < before else "MOVE"
    state["last_out_at" if direction == "OUT" else "last_in_at"] = stamp(now)
    state.pop("backlog_since" if direction == "OUT" else "spare_since", None)
    decision = {"at": stamp(now), "direction": direction, "from_units": before, "to_units": after,
                "reason": reason, "changes": {h.key: [h.steps, steps[h.key]] for h in holders
                                              if steps[h.key] != h.steps}}
    state["decisions"] = [*state.get("decisions", []), decision][-KEPT_DECISIONS:]


def _limits_reason(limits: Limits) -> str:
    return (f"Within ComputeLimits: {limits.minimum}-{limits.maximum} {limits.unit_type}, at most "
            f"{limits.on_demand} On-Demand and {limits.core} core unit(s)")
