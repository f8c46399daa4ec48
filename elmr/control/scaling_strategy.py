"""Managed scaling's strategy: how eagerly a cluster follows its load, from the
ManagedScalingPolicy's ScalingStrategy and UtilizationPerformanceIndex (EMR's
Advanced Scaling, releases 7.0 and later). managed_scaling.py reads it when it
decides; the API checks the values (service/capacity_rules.py).

EMR documents the index as a utilization-performance scale, 1, 25, 50, 75 or 100:
1 is utilization optimized (no over-provisioning: the cluster scales up less
aggressively, so workload spikes do not ramp resources up too quickly), 50 balances
utilization and job performance, 100 is performance optimized (the cluster scales up
aggressively so jobs complete quickly); the values between are middle ground. EMR
publishes no formula, so elmr's reading is three knobs:

- the share of a backlog one scale-out covers: the index in percent (100: the whole
  backlog at once; 1: one step at a time, each after the scale-out cooldown);
- how long a backlog must last before a scale-out (× scale_out_backlog_s): longer at
  the cost-saving end, so a short spike passes without new nodes;
- how long capacity must be spare before a scale-in, and the cooldown after a resize
  before one (× scale_in_after_s and scale_in_cooldown_s): sooner at the cost-saving
  end, longer at the performance end.

DEFAULT (or no ScalingStrategy) is managed scaling as it was before Advanced Scaling,
which EMR describes as scaling up aggressively and down cautiously: the whole
backlog at once, the base waits.
"""

from dataclasses import dataclass

from elmr.control.settings import ControlSettings
from elmr.store.scaling_records import UTILIZATION_PERFORMANCE_INDEXES

ADVANCED = "ADVANCED"
# An ADVANCED policy that names no index: the balanced setting, the one EMR's
# documentation recommends to start from.
BALANCED_INDEX = 50

# The index's values (UTILIZATION_PERFORMANCE_INDEXES) -> (× the backlog's wait,
# × the scale-in waits); the share of a backlog covered at once is the index, in
# percent. The seconds in the comments are at the server's default waits.
_FACTORS = {
    1: (3.0, 0.25),  # utilization optimized: 15 s of backlog, 30 s of spare capacity
    25: (2.0, 0.5),
    50: (1.0, 1.0),  # balanced: the base waits, half the backlog at a time
    75: (1.0, 1.5),
    100: (1.0, 2.0),  # performance optimized: the whole backlog at once, capacity kept 240 s
}


@dataclass(frozen=True)
class Pace:
    """How closely managed scaling follows the load: the share of a backlog one
    scale-out covers (at least one step), and its waits in seconds."""

    backlog_percent: int
    backlog_s: float  # a backlog lasts this long before a scale-out
    out_cooldown_s: float  # no scale-out this soon after another
    spare_s: float  # capacity is spare this long before a scale-in
    in_cooldown_s: float  # no scale-in this soon after any resize


def pace(policy: dict, settings: ControlSettings) -> Pace:
    """The pace a stored ManagedScalingPolicy asks for, on the server's base waits."""
    if policy.get("ScalingStrategy") == ADVANCED:
        asked = policy.get("UtilizationPerformanceIndex", BALANCED_INDEX)
        # The API takes only the documented values; a policy stored before it checked
        # them is read at the nearest one.
        index = min(UTILIZATION_PERFORMANCE_INDEXES, key=lambda value: abs(value - asked))
        backlog_factor, scale_in_factor = _FACTORS[index]
    else:  # DEFAULT
        index, backlog_factor, scale_in_factor = 100, 1.0, 1.0
    return Pace(backlog_percent=index, backlog_s=settings.scale_out_backlog_s * backlog_factor,
                out_cooldown_s=settings.scale_out_cooldown_s, spare_s=settings.scale_in_after_s * scale_in_factor,
                in_cooldown_s=settings.scale_in_cooldown_s * scale_in_factor)
