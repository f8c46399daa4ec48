"""The control loop's timings, in one place: how long a node may take to start, how
long an agent may stay silent, how a failing provider call is retried, how long a
stop may take, how managed scaling waits before and between its decisions, how long
cluster metrics are kept. The server builds them from its options; tests pass small
ones with a fake clock, so a timeout is a clock moved forward, not a wait."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ControlSettings:
    # A node not RUNNING this long after it was launched has failed (whatever held
    # it up: a provider that keeps failing, a bootstrap action, its daemons).
    start_timeout_s: float = 180.0
    # A RUNNING node whose agent has not reported for this long is lost, even if its
    # processes are still in the process table (a hung or stopped agent). Generous:
    # an agent's loop also ships logs, each upload allowed 30 s.
    heartbeat_timeout_s: float = 60.0
    # SIGTERM, then SIGKILL after this long.
    stop_grace_s: float = 10.0
    # A failed provider call for a node is retried after base, 2×base, 4×base… up to max.
    retry_base_s: float = 1.0
    retry_max_s: float = 30.0
    # How often a live cluster's nodes are looked at when nothing wakes it sooner
    # (a node's processes may die without telling anyone).
    watch_s: float = 1.0
    # How long a leaving node may take to decommission when its ShrinkPolicy gives
    # no DecommissionTimeout: EMR's default (YARN's graceful decommission timeout).
    decommission_timeout_s: int = 3600

    # Managed scaling (managed_scaling.py). EMR evaluates its metrics every 5-10 s
    # and does not publish its own waits; these are elmr's. A backlog (containers
    # or applications YARN cannot place yet) scales out once it has lasted this long:
    # Spark asks for executors in a ramp, and YARN places them within a few of its
    # NodeManagers' one-second heartbeats.
    scale_out_backlog_s: float = 5.0
    # No second scale-out this soon after one (nodes still launching already count
    # toward a backlog, so this only damps a backlog that keeps growing).
    scale_out_cooldown_s: float = 30.0
    # Capacity beyond what YARN has allocated scales in once it has been spare this
    # long (Spark gives back an idle executor after 60 s), and not within this long
    # of any resize. `elmr server --scaling-cooldown SECONDS` sets these two and the
    # scale-out cooldown (tests and demos; the backlog's wait stays).
    scale_in_after_s: float = 120.0
    scale_in_cooldown_s: float = 120.0

    # One-minute cluster metrics (cluster_metrics.py) are kept this long: CloudWatch
    # keeps one-minute data points for 15 days.
    metric_retention_s: float = 15 * 24 * 3600.0

    def retry_delay_s(self, failed_attempts: int) -> float:
        return min(self.retry_base_s * 2 ** max(failed_attempts - 1, 0), self.retry_max_s)
