"""Automatic scaling: an instance group's custom policy (PutAutoScalingPolicy), its
rules evaluated on the cluster's own metrics (cluster_metrics.py) as CloudWatch
alarms with simple scaling actions, as EMR does.

- The loop attaches a policy on its first pass over the group (ListInstanceGroups
  then reads ATTACHED, store/scaling_records.py); a cluster with a managed scaling
  policy has its rules left alone.
- A rule's alarm breaches when its Statistic (AVERAGE unless given) over each of
  the last EvaluationPeriods complete periods of Period seconds (aligned to the clock,
  as CloudWatch aligns them) compares with Threshold by ComparisonOperator. A period
  without a sample does not breach (CloudWatch's missing data). An alarm is
  evaluated once on each new complete period, so it acts at most once a period.
  Its Dimensions name the cluster; elmr reads this cluster's metrics whatever they say.
- The first breaching rule, in the policy's order, scales the group: CHANGE_IN_CAPACITY
  adds ScalingAdjustment instances (removes them when negative),
  PERCENT_CHANGE_IN_CAPACITY that percentage of the group's count (rounded as EC2
  Auto Scaling rounds: to one instance below one, toward zero above), EXACT_CAPACITY
  sets it; the result kept within Constraints' MinCapacity and MaxCapacity (and a
  core group at its HDFS floor, scaling_units.core_floor). It writes the group's
  requested count, as ModifyInstanceGroups does.
- No rule fires while the group resizes, nor within CoolDown seconds (of the rule
  that fired last) of that resize completing.
"""

import logging
import math
import operator
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from elmr.control.cluster_metrics import statistic
from elmr.control.plan import Plan
from elmr.control.scaling_units import core_floor
from elmr.store.models import Cluster, InstanceGroup
from elmr.store.scaling_records import moment, policy_fingerprint, stamp

log = logging.getLogger("elmr.scaling")
COMPARISONS = {"GREATER_THAN_OR_EQUAL": operator.ge, "GREATER_THAN": operator.gt,
               "LESS_THAN": operator.lt, "LESS_THAN_OR_EQUAL": operator.le}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def evaluate(session: Session, cluster: Cluster, group: InstanceGroup, plan: Plan) -> None:
    """One evaluation of `group`'s policy, if it has one."""
    policy = group.auto_scaling_policy
    if not policy or cluster.managed_scaling_policy or group.state == "TERMINATED":
        return
    state = dict(group.auto_scaling_state or {})
    fingerprint = policy_fingerprint(policy)
    if state.get("attached") != fingerprint:
        state = {key: state[key] for key in ("last_activity", "completed_at") if key in state}
        state["attached"] = fingerprint
    if cluster.state in ("RUNNING", "WAITING") and group.state == "RUNNING":
        _evaluate_rules(session, cluster, group, policy, state, plan)
    if state != (group.auto_scaling_state or {}):
        group.auto_scaling_state = state


def _evaluate_rules(session: Session, cluster: Cluster, group: InstanceGroup, policy: dict, state: dict,
                    plan: Plan) -> None:
    activity = state.get("last_activity")
    if activity is not None:
        state.setdefault("completed_at", stamp(plan.now))  # the group is RUNNING again
        cooled = moment(state["completed_at"]) + timedelta(seconds=activity["cooldown_s"])
        if plan.now < cooled:
            plan.recheck(cooled)
            return
    due = _due(policy["Rules"], state, plan.now)
    breaching = [rule for rule in due if alarm_breaches(session, cluster.id, _alarm(rule), plan.now)]
    if due:
        state["breaching"] = [rule["Name"] for rule in breaching]
    for rule in breaching:
        count = adjusted_count(group.requested_count, rule["Action"]["SimpleScalingPolicyConfiguration"],
                               policy["Constraints"])
        if group.role == "CORE":
            count = max(count, core_floor(cluster))
        if count != group.requested_count:
            log.info("automatic scaling %s %s: rule %s, %d -> %d instance(s)",
                     cluster.id, group.id, rule["Name"], group.requested_count, count)
            state["last_activity"] = {
                "rule": rule["Name"], "at": stamp(plan.now), "from": group.requested_count, "to": count,
                "cooldown_s": rule["Action"]["SimpleScalingPolicyConfiguration"].get("CoolDown", 0)}
            state.pop("completed_at", None)
            group.requested_count = count
            return
    plan.recheck(_next_minute(plan.now))  # a new minute of data completes a period


def _due(rules: list[dict], state: dict, now: datetime) -> list[dict]:
    """The rules whose alarm has a complete period it has not been evaluated on: an
    alarm acts at most once per period, on each new period of data."""
    evaluated = state["evaluated"] = dict(state.get("evaluated") or {})  # a copy: the row's is compared
    due = []
    for rule in rules:
        end = stamp(_last_period_end(_alarm(rule)["Period"], now))
        if evaluated.get(rule["Name"]) != end:
            evaluated[rule["Name"]] = end
            due.append(rule)
    return due


def alarm_breaches(session: Session, cluster_id: str, alarm: dict, now: datetime) -> bool:
    """Whether the alarm's condition held in each of its last EvaluationPeriods
    complete periods."""
    period_s = alarm["Period"]
    compare = COMPARISONS[alarm["ComparisonOperator"]]
    end = _last_period_end(period_s, now)
    for _ in range(alarm.get("EvaluationPeriods") or 1):
        start = end - timedelta(seconds=period_s)
        value = statistic(session, cluster_id, alarm["MetricName"], start, end, alarm.get("Statistic") or "AVERAGE")
        if value is None or not compare(value, alarm["Threshold"]):
            return False
        end = start
    return True


def adjusted_count(count: int, action: dict, constraints: dict) -> int:
    adjustment = action["ScalingAdjustment"]
    kind = action.get("AdjustmentType") or "CHANGE_IN_CAPACITY"
    if kind == "EXACT_CAPACITY":
        wanted = adjustment
    elif kind == "PERCENT_CHANGE_IN_CAPACITY":
        wanted = count + _percent_change(count, adjustment)
    else:
        wanted = count + adjustment
    return min(max(wanted, constraints["MinCapacity"]), constraints["MaxCapacity"])


def _percent_change(count: int, percent: int) -> int:
    change = count * percent / 100
    if 0 < abs(change) < 1:
        return 1 if change > 0 else -1
    return math.trunc(change)


def _last_period_end(period_s: int, now: datetime) -> datetime:
    """Periods are aligned to the clock (every `period_s` seconds from the epoch)."""
    elapsed_s = (now - _EPOCH).total_seconds()
    return _EPOCH + timedelta(seconds=elapsed_s // period_s * period_s)


def _alarm(rule: dict) -> dict:
    return rule["Trigger"]["CloudWatchAlarmDefinition"]


def _next_minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)
