"""The control loop's timings, in one place: how long a node may take to start, how
long an agent may stay silent, how a failing provider call is retried, how long a
stop may take. The server builds them from its options; tests pass small ones with
a fake clock, so a timeout is a clock moved forward, not a wait."""

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

    def retry_delay_s(self, failed_attempts: int) -> float:
        return min(self.retry_base_s * 2 ** max(failed_attempts - 1, 0), self.retry_max_s)
