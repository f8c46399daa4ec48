"""What the control loop records of its scaling, and how the API reads it back. The
API records a policy as given (Cluster.managed_scaling_policy,
InstanceGroup.auto_scaling_policy); only the loop writes these records:

- `Cluster.scaling_state` (control/managed_scaling.py, control/cluster_metrics.py):
  `backlog_since` / `spare_since` (since when YARN has had work it cannot place, or
  capacity it does not use), `last_out_at` / `last_in_at`, `target_units`, the last
  `decisions` ({at, direction, from_units, to_units, reason, changes}), `limited`
  (why the last wanted change could not be made), `sampled_at` (the master's last
  heartbeat sampled into the cluster's metrics) and `pruned_at`.
- `InstanceGroup.auto_scaling_state` (control/auto_scaling.py): `attached` (the
  fingerprint of the policy the loop evaluates), the `last_activity` ({rule, at,
  from, to, cooldown_s}), `completed_at` (when the group had that count again) and
  the last rule `breaches` it saw.

Times are ISO 8601 strings, as the rows keep JSON.
"""

import hashlib
import json
from datetime import datetime

from elmr.store.models import InstanceGroup

# A ManagedScalingPolicy's UtilizationPerformanceIndex: the values EMR documents for
# Advanced Scaling (the API refuses others; control/scaling_strategy.py reads them).
UTILIZATION_PERFORMANCE_INDEXES = (1, 25, 50, 75, 100)


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def policy_fingerprint(policy: dict) -> str:
    """Tells one policy from the next PutAutoScalingPolicy's (the loop attaches each)."""
    return hashlib.sha256(json.dumps(policy, sort_keys=True).encode()).hexdigest()[:16]


def auto_scaling_status(group: InstanceGroup) -> dict:
    """EMR's AutoScalingPolicyStatus: PENDING from PutAutoScalingPolicy until the loop
    evaluates the policy (ATTACHED), DETACHED once the group has ended."""
    if group.state == "TERMINATED":
        return {"State": "DETACHED", "StateChangeReason": {
            "Message": "The instance group has terminated; its policy is no longer evaluated."}}
    attached = (group.auto_scaling_state or {}).get("attached")
    if attached == policy_fingerprint(group.auto_scaling_policy):
        return {"State": "ATTACHED"}
    return {"State": "PENDING", "StateChangeReason": {
        "Code": "USER_REQUEST", "Message": "The policy is being attached to the instance group."}}
